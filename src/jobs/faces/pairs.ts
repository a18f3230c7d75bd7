// Reads verification pair lists: LFW's pairs.txt (folds of matched and mismatched pairs) and CSV pair files.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { VisidError } from '../../util/errors.js';

export interface FacePair {
  a: string;
  b: string;
  same: boolean;
}

/**
 * LFW's pairs files: an optional header ("folds n" in View 2's pairs.txt, "n" in View 1's pairsDevTrain.txt and
 * pairsDevTest.txt), then "name i j" (same person, images i and j) or
 * "name1 i name2 j" (different people). Image k of a person is `<root>/<name>/<name>_<kkkk>.jpg`.
 */
export async function readLfwPairs(pairsFile: string, root: string): Promise<FacePair[]> {
  return (await readLfwPairFile(pairsFile, root)).pairs;
}

/** An LFW pairs file with its fold count when its header gives one (View 2's "folds n"). */
export async function readLfwPairFile(pairsFile: string, root: string): Promise<{ pairs: FacePair[]; folds?: number }> {
  const text = await fs.readFile(pairsFile, 'utf8').catch(() => {
    throw new VisidError('E_NOT_FOUND', 'pairs file does not exist', { item: pairsFile });
  });
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const img = (name: string, n: string) => path.join(root, name, `${name}_${String(Number(n)).padStart(4, '0')}.jpg`);
  const pairs: FacePair[] = [];
  let folds: number | undefined;
  lines.forEach((line, i) => {
    if (line === '') return;
    const f = line.split(/\s+/);
    const where = `${pairsFile}:${i + 1}`;
    const isInt = (s: string | undefined) => s !== undefined && /^\d+$/.test(s);
    // Header: "folds n" in View 2's pairs.txt, "n" (pairs of each kind) in View 1's pairsDevTrain/DevTest.txt.
    if (i === 0 && f.length <= 2 && f.every(isInt)) {
      if (f.length === 2) folds = Number(f[0]);
      return;
    }
    // Names are LFW folder names: one path component, never '.', '..' or a path that could leave the root.
    for (const name of f.length === 3 ? [f[0]] : f.length === 4 ? [f[0], f[2]] : []) {
      if (name === undefined || name === '.' || name === '..' || /[\/\\\0]/.test(name)) throw new VisidError('E_PATH_ESCAPE', `'${name}' is not a person's folder name`, { item: where });
    }
    if (f.length === 3 && isInt(f[1]) && isInt(f[2])) pairs.push({ a: img(f[0]!, f[1]!), b: img(f[0]!, f[2]!), same: true });
    else if (f.length === 4 && isInt(f[1]) && isInt(f[3])) pairs.push({ a: img(f[0]!, f[1]!), b: img(f[2]!, f[3]!), same: false });
    else throw new VisidError('E_DATASET', `expected "name i j" or "name1 i name2 j", got "${line}"`, { item: where });
  });
  if (pairs.length === 0) throw new VisidError('E_DATASET', 'no pairs', { item: pairsFile });
  return { pairs, folds };
}

/** A CSV of pairs with a header: two file columns (relative to the CSV's folder) and a Yes/No (or 1/0, true/false) column. */
export async function readCsvPairs(csvFile: string): Promise<FacePair[]> {
  const text = await fs.readFile(csvFile, 'utf8').catch(() => {
    throw new VisidError('E_NOT_FOUND', 'pairs file does not exist', { item: csvFile });
  });
  const dir = path.dirname(csvFile);
  const rows = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  return rows.slice(1).map((row, i) => {
    const [a, b, d] = row.split(',').map((s) => s.trim());
    const where = `${csvFile}:${i + 2}`;
    if (!a || !b || d === undefined) throw new VisidError('E_DATASET', 'expected file_x,file_y,decision', { item: where });
    const yes = /^(yes|1|true|same)$/i.test(d);
    if (!yes && !/^(no|0|false|different)$/i.test(d)) throw new VisidError('E_DATASET', `decision '${d}' is not yes/no`, { item: where });
    return { a: path.join(dir, a), b: path.join(dir, b), same: yes };
  });
}
