// Multi-label class sets: LADI's 37-class hierarchy (seed 002 Table 1, with its class counts) as the default, or any set read from a file.
import { promises as fs } from 'node:fs';
import { VisidError } from '../../util/errors.js';

export interface LabelClass {
  /** Full name, "category: feature" (LADI's annotation form writes the feature alone under its category). */
  name: string;
  category: string;
  /** A "<category>: none" class (seed 002 §2.4 multiplies their losses by 0.1 or 0.01). */
  none: boolean;
  /** Training-set count n_c, for the class-balanced focal loss (Table 1). */
  count?: number;
}

export interface LabelSet {
  classes: LabelClass[];
  names: string[];
}

/** Seed 002 Table 1: 32 features in 5 categories + 5 "none" classes, with their counts over LADI's 40k annotated images. */
const LADI_TABLE_1: Array<[string, Array<[string, number]>, number]> = [
  ['damage', [['damage (misc)', 24009], ['flooding / water damage', 33120], ['landslide', 2237], ['road washout', 3613], ['rubble / debris', 18186], ['smoke / fire', 1756]], 98412],
  ['environment', [['dirt', 11866], ['grass', 19623], ['lava', 67], ['rocks', 1067], ['sand', 2565], ['shrubs', 13513], ['snow/ice', 116], ['trees', 21183]], 6748],
  ['infrastructure', [['bridge', 3132], ['building', 15133], ['dam / levee', 616], ['pipes', 554], ['utility or power lines / electric towers', 10612], ['railway', 742], ['wireless / radio communication towers', 1136], ['water tower', 749], ['road', 16333]], 11814],
  ['vehicle', [['aircraft', 201], ['boat', 2500], ['car', 13846], ['truck', 7579]], 15420],
  ['water', [['flooding', 4077], ['lake / pond', 5879], ['ocean', 3029], ['puddle', 2386], ['river / stream', 7362]], 13902],
];

function fromClasses(classes: LabelClass[]): LabelSet {
  const names = classes.map((c) => c.name);
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new VisidError('E_DUPLICATE', `class '${n}' appears twice in the label set`);
    seen.add(n);
  }
  if (names.length === 0) throw new VisidError('E_INPUT', 'the label set is empty');
  return { classes, names };
}

/** LADI's 37 classes in Table 1's order: the 32 features (category by category), then the 5 none classes. */
export function ladiLabelSet(): LabelSet {
  const features: LabelClass[] = LADI_TABLE_1.flatMap(([category, list]) => list.map(([feature, count]) => ({ name: `${category}: ${feature}`, category, none: false, count })));
  const nones: LabelClass[] = LADI_TABLE_1.map(([category, , count]) => ({ name: `${category}: none`, category, none: true, count }));
  return fromClasses([...features, ...nones]);
}

/** A class from a line "category: feature[<TAB or ,>count]" (or a bare "feature"); "…: none" marks a none class. */
function parseClassLine(line: string, where: string): LabelClass {
  const m = /^(.*?)(?:[\t,]\s*(\d+))?$/.exec(line.trim())!;
  const name = m[1]!.trim();
  if (!name) throw new VisidError('E_INPUT', 'empty class name', { item: where });
  const colon = name.indexOf(':');
  const category = colon >= 0 ? name.slice(0, colon).trim() : '';
  const feature = colon >= 0 ? name.slice(colon + 1).trim() : name;
  return { name, category, none: feature.toLowerCase() === 'none', count: m[2] === undefined ? undefined : Number(m[2]) };
}

/**
 * Reads a label set: a text file with one class per line ("category: feature", optionally a tab or comma and its
 * training count; '#' comments), or JSON (an array of names or of {name, category?, none?, count?}).
 */
export async function readLabelSet(file: string): Promise<LabelSet> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new VisidError('E_NOT_FOUND', 'label set file not readable', { item: file, cause: err });
  }
  if (file.toLowerCase().endsWith('.json')) {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new VisidError('E_INPUT', `not valid JSON: ${(err as Error).message}`, { item: file });
    }
    if (!Array.isArray(raw)) throw new VisidError('E_INPUT', 'a JSON label set is an array of class names or {name, …} objects', { item: file });
    return fromClasses(raw.map((c, i) => {
      if (typeof c === 'string') return parseClassLine(c, `${file}[${i}]`);
      if (c && typeof c === 'object' && typeof (c as { name?: unknown }).name === 'string') {
        const o = c as Partial<LabelClass> & { name: string };
        const parsed = parseClassLine(o.name, `${file}[${i}]`);
        return { ...parsed, category: o.category ?? parsed.category, none: o.none ?? parsed.none, count: o.count ?? parsed.count };
      }
      throw new VisidError('E_INPUT', 'a class is a name or an object with a name', { item: `${file}[${i}]` });
    }));
  }
  const lines = text.split(/\r?\n/).map((l, i) => ({ l: l.replace(/#.*/, '').trim(), i })).filter((x) => x.l);
  return fromClasses(lines.map(({ l, i }) => parseClassLine(l, `${file}:${i + 1}`)));
}

/** The default set, or the file's. */
export async function loadLabelSet(file?: string): Promise<LabelSet> {
  return file ? readLabelSet(file) : ladiLabelSet();
}

/** Per-class loss weights: `noneWeight` on the none classes, 1 elsewhere (seed 002 Table 2, models C08/C09). */
export function noneClassWeights(set: LabelSet, noneWeight: number): number[] {
  return set.classes.map((c) => (c.none ? noneWeight : 1));
}

/** The class index of a name: exact, or a bare feature that names one class of the set ("flooding" → "water: flooding"). */
export function classIndex(set: LabelSet, name: string): number {
  const exact = set.names.indexOf(name);
  if (exact >= 0) return exact;
  // Case and the spaces around the colon do not matter ("Footwear:sneaker" is "footwear: Sneaker").
  const norm = (s: string) => s.trim().toLowerCase().replace(/\s*:\s*/, ': ').replace(/\s+/g, ' ');
  const wanted = norm(name);
  const matches = set.classes.map((c, i) => ({ c, i })).filter(({ c }) => norm(c.name) === wanted || norm(c.name.slice(c.name.indexOf(':') + 1)) === wanted);
  if (matches.length === 1) return matches[0]!.i;
  if (matches.length > 1) throw new VisidError('E_INPUT', `'${name}' names ${matches.length} classes (${matches.map((m) => m.c.name).join(', ')}); give the category too`);
  throw new VisidError('E_INPUT', `unknown feature '${name}' (not one of the ${set.names.length} classes)`);
}
