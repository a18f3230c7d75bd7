// Re-ranking by descriptor expansion (Radenović et al.): α-query-expansion and database-side augmentation, on L2-normalised descriptors.
import { ExactIndex } from './exact.js';
import { l2NormalizeRows } from '../util/vectors.js';
import { VisidError } from '../util/errors.js';

/**
 * Each row replaced by normalise(x + Σ_{i ≤ k} max(s_i, 0)^α · n_i) over its k nearest rows n_i of `neighbours`
 * (similarities s_i). `skipSelf` drops a row's own entry when neighbours are the rows themselves (DBA).
 */
export async function expandDescriptors(rows: Float32Array, neighbours: Float32Array, dim: number, k: number, alpha: number, skipSelf = false, threads?: number): Promise<Float32Array> {
  if (rows.length % dim !== 0 || neighbours.length % dim !== 0) throw new VisidError('E_DIM', `descriptor arrays are not whole rows of ${dim}`);
  if (!(Number.isInteger(k) && k >= 1)) throw new VisidError('E_INPUT', `expansion k must be a positive integer, got ${k}`);
  if (!(alpha >= 0)) throw new VisidError('E_INPUT', `α must be non-negative, got ${alpha}`);
  const n = rows.length / dim;
  const m = neighbours.length / dim;
  const kk = Math.min(m, k + (skipSelf ? 1 : 0));
  const index = await ExactIndex.create(neighbours, dim, { metric: 'ip', threads });
  try {
    const hits = await index.search(rows, kk);
    const out = Float32Array.from(rows);
    for (let q = 0; q < n; q++) {
      let used = 0;
      for (let j = 0; j < kk && used < k; j++) {
        const r = hits.indices[q * kk + j]!;
        if (r < 0 || (skipSelf && r === q)) continue;
        const w = Math.max(0, hits.scores[q * kk + j]!) ** alpha;
        for (let d = 0; d < dim; d++) out[q * dim + d]! += w * neighbours[r * dim + d]!;
        used++;
      }
    }
    return l2NormalizeRows(out, dim);
  } finally {
    await index.close();
  }
}

/** α-QE: each query expanded with its top-k database descriptors (seed 001 Table 4's re-ranking family; α = 3, k = 2 are common). */
export function alphaQueryExpansion(queries: Float32Array, database: Float32Array, dim: number, k = 2, alpha = 3, threads?: number): Promise<Float32Array> {
  return expandDescriptors(queries, database, dim, k, alpha, false, threads);
}

/** DBA: each database descriptor expanded with its k nearest other database descriptors. */
export function databaseSideAugmentation(database: Float32Array, dim: number, k = 2, alpha = 3, threads?: number): Promise<Float32Array> {
  return expandDescriptors(database, database, dim, k, alpha, true, threads);
}
