// Reads a CSV or JSONL manifest: one image per row with path and optional label(s), coordinates, split and group.
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { parse } from 'csv-parse';
import { parseUtmZone, utmToLatLon } from './utm.js';
import { VisidError } from '../util/errors.js';
import { Dataset, Item } from './item.js';
import { itemId, resolveInsideRoot } from './paths.js';

type Row = Record<string, unknown>;

function optionalNumber(row: Row, key: string, where: string): number | undefined {
  const raw = row[key];
  if (raw === undefined || raw === null || raw === '') return undefined;
  const value = typeof raw === 'number' ? raw : Number(String(raw).trim());
  if (!Number.isFinite(value)) throw new VisidError('E_DATASET', `column '${key}' is not a number: '${String(raw)}'`, { item: where });
  return value;
}

function optionalString(row: Row, key: string, where: string): string | undefined {
  const raw = row[key];
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw === 'object') throw new VisidError('E_DATASET', `column '${key}' must be a string`, { item: where });
  return String(raw).trim();
}

/** Turns one parsed row into an item, checking every field; `where` is "file:line". */
async function rowToItem(row: Row, root: string, where: string): Promise<Item> {
  const rel = optionalString(row, 'path', where);
  if (!rel) throw new VisidError('E_DATASET', `row has no 'path'`, { item: where });
  const file = await resolveInsideRoot(root, rel, where);
  const stat = await fs.stat(file);
  if (!stat.isFile()) throw new VisidError('E_DATASET', `'${rel}' is not a regular file (a folder, device, FIFO or socket)`, { item: where });
  const item: Item = { id: itemId(root, file), path: file };

  const label = optionalString(row, 'label', where);
  if (label !== undefined) item.label = label;
  const rawLabels = row['labels'];
  if (Array.isArray(rawLabels)) item.labels = rawLabels.map((l) => String(l).trim()).filter((l) => l.length > 0);
  else {
    const labels = optionalString(row, 'labels', where);
    if (labels !== undefined) item.labels = labels.split('|').map((l) => l.trim()).filter((l) => l.length > 0);
  }

  const lat = optionalNumber(row, 'lat', where);
  const lon = optionalNumber(row, 'lon', where);
  if ((lat === undefined) !== (lon === undefined)) throw new VisidError('E_DATASET', `'lat' and 'lon' must be given together`, { item: where });
  if (lat !== undefined && lon !== undefined) {
    if (lat < -90 || lat > 90) throw new VisidError('E_DATASET', `latitude ${lat} is outside [-90, 90]`, { item: where });
    if (lon < -180 || lon > 180) throw new VisidError('E_DATASET', `longitude ${lon} is outside [-180, 180]`, { item: where });
    item.lat = lat;
    item.lon = lon;
  }
  const east = optionalNumber(row, 'utm_east', where);
  const north = optionalNumber(row, 'utm_north', where);
  if ((east === undefined) !== (north === undefined)) throw new VisidError('E_DATASET', `'utm_east' and 'utm_north' must be given together`, { item: where });
  if (east !== undefined && north !== undefined) {
    item.utmEast = east;
    item.utmNorth = north;
  }
  const zone = optionalString(row, 'utm_zone', where);
  if (zone !== undefined) {
    let parsed: { zoneNumber: number; zoneLetter: string };
    try {
      parsed = parseUtmZone(zone);
    } catch (err) {
      throw new VisidError('E_DATASET', (err as Error).message, { item: where });
    }
    const { zoneNumber, zoneLetter } = parsed;
    item.utmZone = `${zoneNumber}${zoneLetter}`;
    // A manifest with UTM and its zone but no lat/lon gets them, for maps and GeoJSON.
    if (item.lat === undefined && east !== undefined && north !== undefined) Object.assign(item, utmToLatLon(east, north, zoneNumber, zoneLetter));
  }
  const heading = optionalNumber(row, 'heading', where);
  if (heading !== undefined) item.heading = ((heading % 360) + 360) % 360;
  const split = optionalString(row, 'split', where);
  if (split !== undefined) item.split = split;
  const group = optionalString(row, 'group', where);
  if (group !== undefined) item.group = group;
  return item;
}

async function* csvRows(file: string): AsyncGenerator<{ row: Row; line: number }> {
  const parser = createReadStream(file).pipe(
    parse({ columns: (header: string[]) => header.map((h) => h.trim().toLowerCase()), info: true, skip_empty_lines: true, bom: true, trim: true }),
  );
  try {
    for await (const rec of parser as AsyncIterable<{ record: Row; info: { lines: number } }>) {
      yield { row: rec.record, line: rec.info.lines };
    }
  } catch (err) {
    const e = err as { lines?: number; message?: string };
    throw new VisidError('E_DATASET', `malformed CSV: ${e.message ?? String(err)}`, { item: `${file}:${e.lines ?? '?'}`, cause: err });
  }
}

async function* jsonlRows(file: string): AsyncGenerator<{ row: Row; line: number }> {
  const lines = readline.createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let n = 0;
  for await (const text of lines) {
    n++;
    if (text.trim() === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(text);
    } catch (err) {
      throw new VisidError('E_DATASET', `invalid JSON: ${(err as Error).message}`, { item: `${file}:${n}` });
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      throw new VisidError('E_DATASET', 'each line must be a JSON object', { item: `${file}:${n}` });
    }
    yield { row: row as Row, line: n };
  }
}

/**
 * Reads a manifest (`.csv`, or `.jsonl`/`.ndjson`). Paths are relative to `root`, which defaults to the
 * manifest's folder. Errors name the manifest file and line.
 */
export interface ReadManifestOptions {
  /**
   * Called for each row that cannot or must not be read (its file missing, outside the root, not a regular file, a
   * field out of range), which is then left out; "file:line" names it. Without it the first such row stops the read.
   */
  onRefused?: (item: string, error: VisidError) => void;
}

export async function readManifestDataset(file: string, root?: string, options: ReadManifestOptions = {}): Promise<Dataset> {
  const absFile = path.resolve(file);
  const absRoot = path.resolve(root ?? path.dirname(absFile));
  try {
    await fs.access(absFile);
  } catch {
    throw new VisidError('E_NOT_FOUND', 'manifest does not exist', { item: absFile });
  }
  const ext = path.extname(absFile).toLowerCase();
  const rows = ext === '.csv' ? csvRows(absFile) : ext === '.jsonl' || ext === '.ndjson' ? jsonlRows(absFile) : undefined;
  if (!rows) throw new VisidError('E_DATASET', `unknown manifest type '${ext}' (use .csv or .jsonl)`, { item: absFile });

  const items: Item[] = [];
  const seen = new Map<string, number>();
  for await (const { row, line } of rows) {
    const where = `${absFile}:${line}`;
    let item: Item;
    try {
      item = await rowToItem(row, absRoot, where);
    } catch (err) {
      if (!options.onRefused || !(err instanceof VisidError)) throw err;
      options.onRefused(where, err);
      continue;
    }
    const first = seen.get(item.id);
    if (first !== undefined) throw new VisidError('E_DUPLICATE', `duplicate id '${item.id}' (first on line ${first})`, { item: where });
    seen.set(item.id, line);
    items.push(item);
  }
  if (items.length === 0) throw new VisidError('E_DATASET', 'manifest has no rows', { item: absFile });
  return { root: absRoot, source: absFile, items };
}
