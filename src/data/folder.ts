// Reads a folder-per-label data set (root/<label>/*.jpg, also Hotel-ID's train_images/<hotel_id>/*.jpg).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { VisidError } from '../util/errors.js';
import { Dataset, Item, isImageFile } from './item.js';
import { isInside, itemId } from './paths.js';
import { parseGeoFileName } from './geo-names.js';

/**
 * An image file of the data set, or undefined for what is not one (hidden, wrong extension). A symbolic link is
 * followed only when it stays inside the data root (as manifests require), and only regular files are images:
 * a link to /etc/passwd, /dev/zero or a FIFO is refused by name before anything opens it.
 */
function kindOf(e: { isFIFO(): boolean; isSocket(): boolean; isBlockDevice(): boolean; isCharacterDevice(): boolean; isDirectory(): boolean }): string {
  if (e.isFIFO()) return 'a FIFO';
  if (e.isSocket()) return 'a socket';
  if (e.isBlockDevice() || e.isCharacterDevice()) return 'a device';
  return e.isDirectory() ? 'a folder' : 'not a file';
}

async function imageFile(full: string, e: import('node:fs').Dirent, realRoot: string): Promise<string | undefined> {
  if (!isImageFile(e.name)) return undefined;
  if (e.isFile()) return full;
  if (e.isSymbolicLink()) {
    const real = await fs.realpath(full).catch(() => {
      throw new VisidError('E_NOT_FOUND', 'symbolic link to nothing', { item: full });
    });
    if (!isInside(realRoot, real)) throw new VisidError('E_PATH_ESCAPE', 'symbolic link leads outside the data root', { item: full });
    const target = await fs.stat(real);
    if (!target.isFile()) throw new VisidError('E_DATASET', `not a regular file (a link to ${kindOf(target)})`, { item: full });
    return full;
  }
  throw new VisidError('E_DATASET', `not a regular file (${kindOf(e)})`, { item: full });
}

export interface ReadFolderOptions {
  /**
   * Called for each entry the data set must not or cannot read (a FIFO, socket or device, a link leading outside the
   * root or to nothing, a folder that cannot be listed), which is then left out. Without it the first one stops the
   * read with its error.
   */
  onRefused?: (item: string, error: VisidError) => void;
}

/** Runs `read`; a refusal goes to `onRefused` (and yields undefined) when one is given, else it is thrown. */
async function refusable<T>(item: string, options: ReadFolderOptions, read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    if (!options.onRefused) throw err;
    const error = err instanceof VisidError ? err : new VisidError('E_DATASET', `cannot be read: ${(err as Error).message}`, { item, cause: err });
    options.onRefused(item, error);
    return undefined;
  }
}

async function sortedEntries(dir: string): Promise<import('node:fs').Dirent[]> {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new VisidError('E_DATASET', `folder cannot be listed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { item: dir, cause: err });
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function listImages(dir: string, realRoot: string, options: ReadFolderOptions): Promise<string[]> {
  const out: string[] = [];
  const entries = (await refusable(dir, options, () => sortedEntries(dir))) ?? [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listImages(full, realRoot, options)));
    else {
      const file = await refusable(full, options, () => imageFile(full, e, realRoot));
      if (file) out.push(file);
    }
  }
  return out;
}

/** Coordinates (and heading) from a geo-localization benchmark's file name, when it has them. */
function located(file: string): Partial<Item> {
  const g = parseGeoFileName(file);
  if (!g) return {};
  return { lat: g.lat, lon: g.lon, utmEast: g.utmEast, utmNorth: g.utmNorth, utmZone: g.utmZone, ...(g.heading === undefined ? {} : { heading: g.heading }) };
}

/**
 * Items of a folder data set. Files named like the geo-localization benchmarks'
 * (`@UTM_east@UTM_north@zone@letter@lat@lon@…`) carry those coordinates. Images directly in the root have no label; images anywhere below
 * `root/<label>/` get that label. A root holding `train_images/` (Hotel-ID's layout) is read from there,
 * with ids still relative to the given root.
 */
export async function readFolderDataset(root: string, options: ReadFolderOptions = {}): Promise<Dataset> {
  const absRoot = path.resolve(root);
  let stat;
  try {
    stat = await fs.stat(absRoot);
  } catch {
    throw new VisidError('E_NOT_FOUND', 'data folder does not exist', { item: absRoot });
  }
  if (!stat.isDirectory()) throw new VisidError('E_DATASET', 'not a folder', { item: absRoot });

  let labelRoot = absRoot;
  const hotel = path.join(absRoot, 'train_images');
  if ((await fs.stat(hotel).catch(() => undefined))?.isDirectory()) labelRoot = hotel;

  const realRoot = await fs.realpath(absRoot);
  const items: Item[] = [];
  const entries = await sortedEntries(labelRoot);
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = path.join(labelRoot, e.name);
    if (e.isDirectory()) {
      for (const file of await listImages(full, realRoot, options)) items.push({ id: itemId(absRoot, file), path: file, label: e.name, ...located(file) });
    } else if (await refusable(full, options, () => imageFile(full, e, realRoot))) {
      items.push({ id: itemId(absRoot, full), path: full, ...located(full) });
    }
  }
  if (items.length === 0) throw new VisidError('E_DATASET', 'no images found (expected <root>/<label>/*.jpg)', { item: absRoot });
  return { root: absRoot, source: absRoot, items };
}
