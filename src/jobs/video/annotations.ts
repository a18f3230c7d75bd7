// LADI-style annotation files (one row per annotator's answer) → one soft label vector per image (seed 002 §2.1).
import { promises as fs } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { VisidError } from '../../util/errors.js';
import { softLabelVector } from '../../data/soft-labels.js';
import type { LabelSet } from './label-set.js';

export interface SoftLabelledImage {
  image: string;
  /** One value per class of the label set: the class's votes over the largest count. */
  target: Float32Array;
  /** Every vote cast for the image (class names). */
  votes: string[];
}

const IMAGE_COLUMNS = ['image', 'img_url', 'url', 'file', 'path', 'image_id'];
const LABEL_COLUMNS = ['label', 'labels', 'answer', 'response'];
const CATEGORY_COLUMNS = ['category'];

function column(header: string[], names: string[]): number {
  return header.findIndex((h) => names.includes(h.trim().toLowerCase()));
}

/** A label cell: one name, "a|b", or a Python-style list "['a', 'b']" (LADI's Answer column). */
export function splitLabelCell(cell: string): string[] {
  const t = cell.trim();
  if (!t) return [];
  if (t.startsWith('[') && t.endsWith(']')) {
    return [...t.slice(1, -1).matchAll(/'([^']*)'|"([^"]*)"/g)].map((m) => (m[1] ?? m[2] ?? '').trim()).filter(Boolean);
  }
  return t.split('|').map((s) => s.trim()).filter(Boolean);
}

/** The label set's name for an answer: exact, "category: answer", or a feature name unique in the set. */
function resolve(set: LabelSet, answer: string, category: string | undefined, where: string): string {
  if (set.names.includes(answer)) return answer;
  if (category) {
    const qualified = `${category.trim()}: ${answer}`;
    if (set.names.includes(qualified)) return qualified;
  }
  const byFeature = set.names.filter((n) => n.slice(n.indexOf(':') + 1).trim() === answer);
  if (byFeature.length === 1) return byFeature[0]!;
  throw new VisidError('E_INPUT', byFeature.length > 1
    ? `label '${answer}' names ${byFeature.length} classes (${byFeature.join(', ')}); add a category column or qualify it`
    : `unknown label '${answer}' (not one of the ${set.names.length} classes)`, { item: where });
}

/**
 * Reads votes (CSV or TSV with a header: an image column — image, img_url, url, file or path —, a label column —
 * label, answer or response —, optionally category and annotator columns; one row per annotator, or per answer)
 * and returns one soft label per image, in first-seen order.
 */
export async function readSoftLabels(file: string, set: LabelSet): Promise<SoftLabelledImage[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new VisidError('E_NOT_FOUND', 'annotation file not readable', { item: file, cause: err });
  }
  const delimiter = (text.split('\n')[0] ?? '').includes('\t') ? '\t' : ',';
  let rows: string[][];
  try {
    rows = parse(text, { delimiter, relax_column_count: true, skip_empty_lines: true, bom: true }) as string[][];
  } catch (err) {
    throw new VisidError('E_INPUT', `not a readable CSV/TSV: ${(err as Error).message}`, { item: file });
  }
  const [header, ...body] = rows;
  if (!header) throw new VisidError('E_DATASET', 'annotation file is empty', { item: file });
  const ic = column(header, IMAGE_COLUMNS);
  const lc = column(header, LABEL_COLUMNS);
  const cc = column(header, CATEGORY_COLUMNS);
  if (ic < 0 || lc < 0) throw new VisidError('E_INPUT', `needs an image column (${IMAGE_COLUMNS.join('/')}) and a label column (${LABEL_COLUMNS.join('/')}); header is ${header.join(', ')}`, { item: file });
  const votes = new Map<string, string[]>();
  body.forEach((row, i) => {
    const where = `${file}:${i + 2}`;
    const image = row[ic]?.trim();
    if (!image) throw new VisidError('E_INPUT', 'row has no image', { item: where });
    const list = votes.get(image) ?? [];
    for (const answer of splitLabelCell(row[lc] ?? '')) list.push(resolve(set, answer, cc >= 0 ? row[cc] : undefined, where));
    votes.set(image, list);
  });
  if (votes.size === 0) throw new VisidError('E_DATASET', 'annotation file has no rows', { item: file });
  return [...votes].map(([image, v]) => ({ image, votes: v, target: softLabelVector(v, set.names, image) }));
}
