// Checks one gallery item (an `visid import` line, a segment's metadata row): every attribute has the type and
// range a manifest row would give it, so a search never returns a label that is a number, an object or a path
// outside the data root.
import path from 'node:path';
import { VisidError } from '../util/errors.js';
import type { ItemAttributes } from '../data/item.js';

/** What is stored per gallery row besides its descriptor. */
export interface GalleryItem extends ItemAttributes {
  id: string;
  /** Image path, relative to the gallery's dataRoot when it has one. */
  path?: string;
}

const KEYS = new Set(['id', 'path', 'label', 'labels', 'lat', 'lon', 'utmEast', 'utmNorth', 'utmZone', 'heading', 'split', 'group']);

/** A text attribute: a string (a finite number is converted explicitly, as a CSV cell would be); no NUL. */
function text(v: unknown, key: string, where: string): string {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') throw new VisidError('E_INPUT', `'${key}' must be a string, not ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`, { item: where });
  if (v.includes('\0')) throw new VisidError('E_INPUT', `'${key}' contains a NUL byte`, { item: where });
  return v;
}

function number(v: unknown, key: string, where: string, min = -Infinity, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new VisidError('E_INPUT', `'${key}' must be a finite number, not ${JSON.stringify(v)}`, { item: where });
  if (v < min || v > max) throw new VisidError('E_INPUT', `'${key}' ${v} is outside [${min}, ${max}]`, { item: where });
  return v;
}

/** The item `raw` describes, checked attribute by attribute; `where` (file:line) names it in errors. */
export function validateGalleryItem(raw: unknown, where: string, options: { absolutePaths?: boolean } = {}): GalleryItem {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new VisidError('E_INPUT', 'an item must be a JSON object', { item: where });
  const o = raw as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KEYS.has(key)) throw new VisidError('E_INPUT', `unknown attribute '${key}' (allowed: ${[...KEYS].join(', ')})`, { item: where });
  }
  if (o['id'] === undefined) throw new VisidError('E_INPUT', 'each item needs an "id" string', { item: where });
  const id = text(o['id'], 'id', where);
  if (id.length === 0 || id.length > 4096) throw new VisidError('E_INPUT', `'id' must be 1 to 4096 characters`, { item: where });
  if (/[\n\r]/.test(id)) throw new VisidError('E_INPUT', `'id' contains a line break`, { item: where });
  const item: GalleryItem = { id };
  if (o['path'] !== undefined) {
    const p = text(o['path'], 'path', where);
    // Item paths are relative to the gallery's data root; thumbnails are served only from inside it.
    // (Segments written by visid itself may hold absolute paths: server uploads, images outside the data root.)
    if ((path.isAbsolute(p) && !options.absolutePaths) || p.split(/[\\/]/).includes('..')) throw new VisidError('E_PATH_ESCAPE', `'path' must be relative to the data root, without '..': '${p}'`, { item: where });
    item.path = p;
  }
  if (o['label'] !== undefined) item.label = text(o['label'], 'label', where);
  if (o['labels'] !== undefined) {
    if (!Array.isArray(o['labels'])) throw new VisidError('E_INPUT', `'labels' must be an array of strings`, { item: where });
    item.labels = o['labels'].map((l, i) => text(l, `labels[${i}]`, where));
  }
  if ((o['lat'] === undefined) !== (o['lon'] === undefined)) throw new VisidError('E_INPUT', `'lat' and 'lon' must be given together`, { item: where });
  if (o['lat'] !== undefined) {
    item.lat = number(o['lat'], 'lat', where, -90, 90);
    item.lon = number(o['lon'], 'lon', where, -180, 180);
  }
  if ((o['utmEast'] === undefined) !== (o['utmNorth'] === undefined)) throw new VisidError('E_INPUT', `'utmEast' and 'utmNorth' must be given together`, { item: where });
  if (o['utmEast'] !== undefined) {
    item.utmEast = number(o['utmEast'], 'utmEast', where);
    item.utmNorth = number(o['utmNorth'], 'utmNorth', where);
  }
  if (o['utmZone'] !== undefined) item.utmZone = text(o['utmZone'], 'utmZone', where);
  if (o['heading'] !== undefined) item.heading = number(o['heading'], 'heading', where);
  if (o['split'] !== undefined) item.split = text(o['split'], 'split', where);
  if (o['group'] !== undefined) item.group = text(o['group'], 'group', where);
  return item;
}
