// Merges per-block top-k candidate lists into one top-k list per query (scores descending, ties to the lower index).

export interface TopK {
  /** Number of queries. */
  nq: number;
  /** Results per query (may exceed the number found: missing slots have index -1). */
  k: number;
  /** nq×k scores, row-major; higher is better. */
  scores: Float32Array;
  /** nq×k gallery row indices, -1 where fewer than k were found. */
  indices: Int32Array;
}

export function emptyTopK(nq: number, k: number): TopK {
  return { nq, k, scores: new Float32Array(nq * k).fill(-Infinity), indices: new Int32Array(nq * k).fill(-1) };
}

/**
 * Merges `kb` candidates per query (scores `s`, indices `idx` local to a block starting at `base`) into `acc`.
 * Both lists are sorted, so a linear merge suffices.
 */
export function mergeTopK(acc: TopK, s: Float32Array | Float64Array, idx: ArrayLike<number | bigint>, kb: number, base: number, queryOffset: number, rows: number): void {
  const k = acc.k;
  const mergedS = new Float32Array(k);
  const mergedI = new Int32Array(k);
  for (let q = 0; q < rows; q++) {
    const row = (queryOffset + q) * k;
    let a = 0;
    let b = 0;
    for (let out = 0; out < k; out++) {
      const sa = a < k ? acc.scores[row + a]! : -Infinity;
      const ia = a < k ? acc.indices[row + a]! : -1;
      const sb = b < kb ? s[q * kb + b]! : -Infinity;
      const ib = b < kb ? Number(idx[q * kb + b]) + base : -1;
      // Take from the accumulator on ties when its index is lower (it always is: blocks come in order).
      const takeA = ia >= 0 && (ib < 0 || sa > sb || (sa === sb && ia < ib));
      if (takeA) {
        mergedS[out] = sa;
        mergedI[out] = ia;
        a++;
      } else if (ib >= 0) {
        mergedS[out] = sb;
        mergedI[out] = ib;
        b++;
      } else {
        mergedS[out] = -Infinity;
        mergedI[out] = -1;
      }
    }
    acc.scores.set(mergedS, row);
    acc.indices.set(mergedI, row);
  }
}
