// Making copy-detection scores comparable across queries: seed 004's descriptor stretching and ISC's score normalisation, from each query's similarities to a background set.
import { VisidError } from '../util/errors.js';

/**
 * Seed 004 §3.4, eq. (6): q̂ = α · s_n(q) · q, with s_n(q) the mean of q's top-n inner products with the
 * background (training) descriptors. `topSimilarities` holds each query's background similarities, best first,
 * n or more per row; returns α · s_n per query.
 */
export function stretchFactors(topSimilarities: Float32Array, perRow: number, n = 5, alpha = 2.5): Float32Array {
  if (!Number.isInteger(n) || n < 1 || n > perRow) throw new VisidError('E_INPUT', `stretching needs 1 ≤ n ≤ ${perRow} background neighbours, got n = ${n}`);
  const rows = topSimilarities.length / perRow;
  const out = new Float32Array(rows);
  for (let q = 0; q < rows; q++) {
    let sum = 0;
    for (let j = 0; j < n; j++) sum += topSimilarities[q * perRow + j]!;
    out[q] = (alpha * sum) / n;
  }
  return out;
}

/**
 * The descriptor track's score of a stretched query against a reference, from their cosine c (both unit-length):
 * −‖q̂ − r‖ = −√(f² + 1 − 2f·c) with f = α·s_n(q) (seed 004 eq. 7), negated so that higher is a better match.
 */
export function stretchedScore(cosine: number, factor: number): number {
  return -Math.sqrt(Math.max(0, factor * factor + 1 - 2 * factor * cosine));
}

/** q̂ = f · q for each row (the stretched query descriptors, for a descriptor-track submission). */
export function stretchDescriptors(queries: Float32Array, dim: number, factors: Float32Array): Float32Array {
  if (queries.length !== factors.length * dim) throw new VisidError('E_DIM', `${queries.length / dim} queries but ${factors.length} stretch factors`);
  return queries.map((v, i) => v * factors[Math.floor(i / dim)]!);
}

/**
 * Score normalisation of the matching setting: a query–reference score minus the query's similarity to its n-th
 * nearest background descriptor, so a query that resembles everything no longer outranks one with a true copy.
 */
export function normalizedScore(cosine: number, nthBackgroundSimilarity: number): number {
  return cosine - nthBackgroundSimilarity;
}
