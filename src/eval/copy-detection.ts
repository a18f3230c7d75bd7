// Copy-detection metrics as the ISC2021 evaluation defines them: micro-average precision and recall at a precision, over one global list of (query, reference, score).
import { promises as fs } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { VisidError } from '../util/errors.js';

export interface CopyMatch {
  query: string;
  reference: string;
  score: number;
  /** Geometrically verified keypoint matches, when local verification checked this pair. */
  inliers?: number;
}

export interface CopyPair {
  query: string;
  reference: string;
}

export interface PrecisionRecall {
  /** Precision and recall after each cut-off of the globally ranked list (index i = the first i + 1 predictions). */
  precisions: Float64Array;
  recalls: Float64Array;
  /** The ranked scores, and whether each prediction is a true pair. */
  scores: Float64Array;
  correct: Uint8Array;
  /** Ground-truth pairs (the recall denominator). */
  positives: number;
}

const key = (p: CopyPair) => `${p.query}\u0000${p.reference}`;

/** The ground truth as a set; rows without a reference (distractor queries, as in ISC's files) are skipped. Duplicates are an error. */
function truthSet(truth: readonly CopyPair[]): Set<string> {
  const set = new Set<string>();
  for (const t of truth) {
    if (!t.reference) continue;
    const k = key(t);
    if (set.has(k)) throw new VisidError('E_INPUT', `ground truth lists the pair (${t.query}, ${t.reference}) twice`);
    set.add(k);
  }
  return set;
}

/**
 * All predictions of all queries ranked together by decreasing score; among equal scores wrong pairs come first
 * (ISC2021's pessimistic order, so giving every pair one score cannot win); precision and recall at every cut-off,
 * recall counted against all ground-truth pairs. A pair predicted twice, or a score that is not a finite number, is an error.
 */
export function precisionRecallCurve(matches: readonly CopyMatch[], truth: readonly CopyPair[]): PrecisionRecall {
  const gt = truthSet(truth);
  if (gt.size === 0) throw new VisidError('E_INPUT', 'ground truth has no (query, reference) pair: recall is undefined');
  const seen = new Set<string>();
  const rows = matches.map((m, i) => {
    if (typeof m.score !== 'number' || !Number.isFinite(m.score)) throw new VisidError('E_INPUT', `prediction ${i + 1} (${m.query}, ${m.reference}) has no finite score: ${m.score}`);
    const k = key(m);
    if (seen.has(k)) throw new VisidError('E_INPUT', `the pair (${m.query}, ${m.reference}) is predicted twice`);
    seen.add(k);
    return { score: m.score, correct: gt.has(k) ? 1 : 0 };
  });
  rows.sort((a, b) => b.score - a.score || a.correct - b.correct);
  const n = rows.length;
  const precisions = new Float64Array(n);
  const recalls = new Float64Array(n);
  let tp = 0;
  rows.forEach((r, i) => {
    tp += r.correct;
    precisions[i] = tp / (i + 1);
    recalls[i] = tp / gt.size;
  });
  return { precisions, recalls, scores: Float64Array.from(rows, (r) => r.score), correct: Uint8Array.from(rows, (r) => r.correct), positives: gt.size };
}

/** µAP = Σ_i (recall_i − recall_{i−1}) · precision_i over the globally ranked predictions (0 for no predictions). */
export function microAveragePrecision(matches: readonly CopyMatch[], truth: readonly CopyPair[]): number {
  const { precisions, recalls } = precisionRecallCurve(matches, truth);
  let ap = 0;
  let previous = 0;
  for (let i = 0; i < recalls.length; i++) {
    ap += (recalls[i]! - previous) * precisions[i]!;
    previous = recalls[i]!;
  }
  return ap;
}

/** The largest recall at any cut-off whose precision is ≥ `precision` (0 when none reaches it). */
export function recallAtPrecision(matches: readonly CopyMatch[], truth: readonly CopyPair[], precision = 0.9): number {
  if (!(precision >= 0 && precision <= 1)) throw new VisidError('E_INPUT', `precision must lie in [0, 1], got ${precision}`);
  const curve = precisionRecallCurve(matches, truth);
  let best = 0;
  for (let i = 0; i < curve.recalls.length; i++) if (curve.precisions[i]! >= precision && curve.recalls[i]! > best) best = curve.recalls[i]!;
  return best;
}

/** The score threshold of the cut-off that gives recallAtPrecision (undefined when none reaches the precision). */
export function thresholdAtPrecision(matches: readonly CopyMatch[], truth: readonly CopyPair[], precision = 0.9): number | undefined {
  const curve = precisionRecallCurve(matches, truth);
  let best = -1;
  for (let i = 0; i < curve.recalls.length; i++) if (curve.precisions[i]! >= precision && (best < 0 || curve.recalls[i]! > curve.recalls[best]!)) best = i;
  return best < 0 ? undefined : curve.scores[best];
}

function readCsv(text: string, file: string): Record<string, string>[] {
  try {
    return parse(text, { columns: true, skip_empty_lines: true, trim: true }) as Record<string, string>[];
  } catch (err) {
    throw new VisidError('E_INPUT', `not a valid CSV: ${(err as Error).message}`, { item: file });
  }
}

async function readText(file: string, what: string): Promise<string> {
  return fs.readFile(file, 'utf8').catch(() => {
    throw new VisidError('E_NOT_FOUND', `${what} file does not exist`, { item: file });
  });
}

/** Reads `query_id,reference_id,score` rows; errors name the file and line. */
export async function readMatchesCsv(file: string): Promise<CopyMatch[]> {
  const rows = readCsv(await readText(file, 'matches'), file);
  return rows.map((r, i) => {
    if (r.query_id === undefined || r.reference_id === undefined || r.score === undefined) throw new VisidError('E_INPUT', `line ${i + 2}: needs query_id, reference_id and score columns`, { item: file });
    const score = Number(r.score);
    if (r.score === '' || !Number.isFinite(score)) throw new VisidError('E_INPUT', `line ${i + 2}: score '${r.score}' is not a number`, { item: file });
    if (r.inliers !== undefined && r.inliers !== '' && !/^\d+$/.test(r.inliers)) throw new VisidError('E_INPUT', `line ${i + 2}: inliers '${r.inliers}' is not a count`, { item: file });
    return { query: r.query_id, reference: r.reference_id, score, ...(r.inliers ? { inliers: Number(r.inliers) } : {}) };
  });
}

/** Reads `query_id,reference_id` ground truth (an empty reference_id marks a query with no copy). */
export async function readTruthCsv(file: string): Promise<CopyPair[]> {
  const rows = readCsv(await readText(file, 'ground-truth'), file);
  return rows.map((r, i) => {
    if (r.query_id === undefined || r.reference_id === undefined) throw new VisidError('E_INPUT', `line ${i + 2}: needs query_id and reference_id columns`, { item: file });
    return { query: r.query_id, reference: r.reference_id };
  });
}

/** The CSV text of a match list (`query_id,reference_id,score`), ids quoted when they hold a comma or quote. */
export function matchesCsv(matches: readonly CopyMatch[]): string {
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  // An inliers column only when local verification ran (empty for the pairs it did not check).
  const withInliers = matches.some((m) => m.inliers !== undefined);
  const row = (m: CopyMatch) => `${q(m.query)},${q(m.reference)},${m.score}${withInliers ? `,${m.inliers ?? ''}` : ''}`;
  return `query_id,reference_id,score${withInliers ? ',inliers' : ''}\n` + matches.map(row).join('\n') + (matches.length ? '\n' : '');
}
