// Copy-detection scores per edit: for each edit that some copy went through, µAP and recall@P90 over the copies that
// had it plus every distractor query (the negatives) — so a user sees which edits still break the descriptor.
import { promises as fs } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { VisidError } from '../../util/errors.js';
import { microAveragePrecision, recallAtPrecision, type CopyMatch, type CopyPair } from '../../eval/copy-detection.js';

export interface QueryEdits {
  query: string;
  /** Empty for a distractor query. */
  reference: string;
  source: string;
  edits: string[];
}

/** Reads the queries.csv a copy benchmark writes (query_id, source, reference_id, edits ;-separated). */
export async function readQueryEdits(file: string): Promise<QueryEdits[]> {
  const text = await fs.readFile(file, 'utf8').catch(() => {
    throw new VisidError('E_NOT_FOUND', 'query edits file does not exist', { item: file });
  });
  let rows: Record<string, string>[];
  try {
    rows = parse(text, { columns: true, skip_empty_lines: true }) as Record<string, string>[];
  } catch (err) {
    throw new VisidError('E_INPUT', `query edits file is not valid CSV: ${(err as Error).message}`, { item: file });
  }
  return rows.map((r, i) => {
    if (typeof r['query_id'] !== 'string' || r['query_id'] === '' || r['edits'] === undefined) throw new VisidError('E_INPUT', 'each row needs query_id and edits columns', { item: `${file}:${i + 2}` });
    return { query: r['query_id'], reference: r['reference_id'] ?? '', source: r['source'] ?? '', edits: r['edits'] ? r['edits'].split(';') : [] };
  });
}

export interface EditScore {
  edit: string;
  /** Copies that went through this edit. */
  copies: number;
  microAP: number;
  recallAtP90: number;
}

/** One row per edit (and `(all)` first), worst µAP last; copies with no edit count under `(none)`. */
export function perEditScores(matches: readonly CopyMatch[], truth: readonly CopyPair[], queries: readonly QueryEdits[]): EditScore[] {
  const distractors = new Set(queries.filter((q) => !q.reference).map((q) => q.query));
  const byEdit = new Map<string, Set<string>>();
  for (const q of queries) {
    if (!q.reference) continue;
    for (const e of q.edits.length ? new Set(q.edits) : ['(none)']) (byEdit.get(e) ?? byEdit.set(e, new Set()).get(e)!).add(q.query);
  }
  const score = (edit: string, copies: Set<string>): EditScore => {
    const keep = (q: string) => copies.has(q) || distractors.has(q);
    const m = matches.filter((x) => keep(x.query));
    const t = truth.filter((x) => keep(x.query));
    return { edit, copies: copies.size, microAP: microAveragePrecision(m, t), recallAtP90: recallAtPrecision(m, t, 0.9) };
  };
  const all = score('(all)', new Set(queries.filter((q) => q.reference).map((q) => q.query)));
  const rows = [...byEdit.entries()].map(([e, qs]) => score(e, qs)).sort((a, b) => b.microAP - a.microAP || a.edit.localeCompare(b.edit));
  return [all, ...rows];
}

export function formatEditTable(rows: readonly EditScore[]): string {
  return ['| edit | copies | µAP | recall@P90 |', '|---|---|---|---|', ...rows.map((r) => `| ${r.edit} | ${r.copies} | ${r.microAP.toFixed(3)} | ${r.recallAtP90.toFixed(3)} |`)].join('\n') + '\n';
}
