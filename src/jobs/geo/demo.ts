// A geo-localization layout built from real photos with assigned coordinates: every cluster of views of one subject is one place; database/ and queries/ with CosPlace-style file names, night versions for domain shift.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { parse } from 'csv-parse/sync';
import { isImageFile } from '../../data/item.js';
import { geoFileName } from '../../data/geo-names.js';
import { utmToLatLon } from '../../data/utm.js';
import { mulberry32 } from '../../util/random.js';
import { VisidError } from '../../util/errors.js';

export interface GeoDemoOptions {
  seed?: number;
  /** Metres between neighbouring places on the demo's street grid. */
  spacing?: number;
  /** Longest side of the written images. */
  maxSide?: number;
  /** Brightness factor of the night versions (and a blue cast), e.g. 0.3. */
  night?: number;
}

export interface GeoDemoLayout {
  root: string;
  database: string;
  queries: string;
  nightQueries: string;
  /** Unlabelled night images for domain adaptation (gradient reversal). */
  night: string;
  places: number;
  counts: { database: number; queries: number; withoutPositive: number };
}

/** Photo groups: the identity pairs of a deepface-style master.csv (file_x,file_y,Decision) joined transitively; every other photo alone. */
async function photoGroups(dir: string): Promise<string[][]> {
  const photos = (await fs.readdir(dir)).filter(isImageFile).sort();
  if (photos.length === 0) throw new VisidError('E_DATASET', 'no photos', { item: dir });
  const parent = new Map(photos.map((p) => [p, p]));
  const find = (x: string): string => (parent.get(x) === x ? x : find(parent.get(x)!));
  const master = path.join(dir, 'master.csv');
  if (await fs.access(master).then(() => true, () => false)) {
    const rows = parse(await fs.readFile(master, 'utf8'), { columns: true, skip_empty_lines: true }) as Array<Record<string, string>>;
    for (const r of rows) {
      const a = r['file_x'];
      const b = r['file_y'];
      if (r['Decision'] !== 'Yes' || !a || !b || !parent.has(a) || !parent.has(b)) continue;
      parent.set(find(a), find(b));
    }
  }
  const groups = new Map<string, string[]>();
  for (const p of photos) groups.set(find(p), [...(groups.get(find(p)) ?? []), p]);
  // A mirrored duplicate (img11_reflection) joins its original's place.
  for (const p of photos.filter((x) => /_reflection\./.test(x))) {
    const original = p.replace('_reflection', '');
    if (parent.has(original) && find(p) !== find(original)) {
      const from = groups.get(find(p))!;
      groups.delete(find(p));
      groups.get(find(original))!.push(...from);
      parent.set(find(p), find(original));
    }
  }
  return [...groups.values()];
}

/** Three overlapping crops of a photo (left, centre, right), as a panorama gives views of one place at three headings. */
async function views(file: string, maxSide: number): Promise<Buffer[]> {
  const img = sharp(file).rotate();
  const meta = await img.metadata();
  const w = meta.autoOrient?.width ?? meta.width ?? 0;
  const h = meta.autoOrient?.height ?? meta.height ?? 0;
  if (!w || !h) throw new VisidError('E_IMAGE', 'photo has no size', { item: file });
  const cw = Math.max(1, Math.round(w * 0.6));
  return Promise.all([0, (w - cw) / 2, w - cw].map((left) =>
    sharp(file).rotate().extract({ left: Math.round(left), top: 0, width: cw, height: h }).resize(maxSide, maxSide, { fit: 'inside' }).jpeg({ quality: 90 }).toBuffer()));
}

async function nightVersion(jpeg: Buffer, factor: number): Promise<Buffer> {
  // Darker and bluer, like a street at night.
  return sharp(jpeg).linear([factor * 0.8, factor * 0.9, factor * 1.25], [0, 0, 6]).jpeg({ quality: 90 }).toBuffer();
}

/**
 * Writes `out/database`, `out/queries`, `out/queries_night` and `out/night`. Places lie on a grid `spacing` metres
 * apart in UTM zone 10S. A place with several photos (one person): the three views of each photo but the first in
 * the database, within 3 m of the place, with the views' headings; the first photo's centre view is the query,
 * within 5 m. `night/` holds darkened database views for domain adaptation; `queries_night/` the darkened queries.
 */
export async function writeGeoDemo(photosDir: string, out: string, o: GeoDemoOptions = {}): Promise<GeoDemoLayout> {
  const random = mulberry32(o.seed ?? 1);
  const spacing = o.spacing ?? 60;
  const maxSide = o.maxSide ?? 320;
  const nightFactor = o.night ?? 0.3;
  const groups = await photoGroups(photosDir);
  const dirs = { database: path.join(out, 'database'), queries: path.join(out, 'queries'), nightQueries: path.join(out, 'queries_night'), night: path.join(out, 'night') };
  for (const d of Object.values(dirs)) {
    await fs.rm(d, { recursive: true, force: true });
    await fs.mkdir(d, { recursive: true });
  }
  const side = Math.ceil(Math.sqrt(groups.length));
  // Place centres at 5 m past a multiple of 10 m (and 20 m), so a place with ±3 m of jitter stays in one CosPlace cell.
  const origin = { east: 551005, north: 4181005 };
  const at = (place: number, jitter: number) => {
    const e = origin.east + (place % side) * spacing + (random() * 2 - 1) * jitter;
    const n = origin.north + Math.floor(place / side) * spacing + (random() * 2 - 1) * jitter;
    const { lat, lon } = utmToLatLon(e, n, 10, 'S');
    return { utmEast: e, utmNorth: n, utmZone: '10S', lat, lon };
  };
  const counts = { database: 0, queries: 0, withoutPositive: 0 };
  let singles = 0;
  for (const [place, photos] of groups.entries()) {
    const heading0 = Math.floor(random() * 360);
    // A one-photo place: its left and right views in the database, the centre view as the query (the views
    // overlap, as neighbouring panorama crops do); every fifth one is a query whose place is not in the database.
    const single = photos.length === 1;
    const queryOnly = single && singles++ % 5 === 4;
    const queryPhoto = photos[0]!;
    const dbPhotos = single ? (queryOnly ? [] : photos) : photos.slice(1);
    for (const p of dbPhotos) {
      const vs = await views(path.join(photosDir, p), maxSide);
      for (const [v, jpeg] of vs.entries()) {
        if (single && v === 1) continue;
        const g = { ...at(place, 3), heading: (heading0 + (v - 1) * 60 + 360) % 360 };
        const name = geoFileName(g, '.jpg', `${p.replace(/\.[^.]+$/, '')}-v${v}`);
        await fs.writeFile(path.join(dirs.database, name), jpeg);
        if (v !== 1 && random() < 0.25) await fs.writeFile(path.join(dirs.night, `night-${p.replace(/\.[^.]+$/, '')}-v${v}.jpg`), await nightVersion(jpeg, nightFactor));
        counts.database++;
      }
    }
    const jpeg = (await views(path.join(photosDir, queryPhoto), maxSide))[1]!;
    const g = { ...at(place, 5), heading: heading0 };
    const name = geoFileName(g, '.jpg', `${queryPhoto.replace(/\.[^.]+$/, '')}`);
    await fs.writeFile(path.join(dirs.queries, name), jpeg);
    await fs.writeFile(path.join(dirs.nightQueries, name), await nightVersion(jpeg, nightFactor));
    counts.queries++;
    if (dbPhotos.length === 0) counts.withoutPositive++;
  }
  return { root: out, ...dirs, places: groups.length, counts };
}
