// Re-ranking by local features: mutual nearest neighbours between the dense local descriptors of a backbone's feature map (query vs each candidate).
import { VisidError } from '../util/errors.js';

export interface LocalDescriptors {
  /** Row-major n × c, each row L2-normalised. */
  data: Float32Array;
  n: number;
  c: number;
}

/**
 * Local descriptors of a [C, H, W] feature map: the C-vector at every position (after `pool` × `pool` average
 * pooling, which keeps matching affordable), L2-normalised; all-zero positions are dropped.
 */
export function localDescriptors(map: Float32Array, c: number, h: number, w: number, pool = 1): LocalDescriptors {
  if (map.length !== c * h * w) throw new VisidError('E_DIM', `feature map has ${map.length} values, [${c}, ${h}, ${w}] needs ${c * h * w}`);
  if (!(Number.isInteger(pool) && pool >= 1)) throw new VisidError('E_INPUT', `pool must be a positive integer, got ${pool}`);
  const ph = Math.floor(h / pool) || 1;
  const pw = Math.floor(w / pool) || 1;
  const rows: number[][] = [];
  for (let y = 0; y < ph; y++) {
    for (let x = 0; x < pw; x++) {
      const v = new Array<number>(c).fill(0);
      let count = 0;
      for (let dy = 0; dy < pool; dy++) {
        for (let dx = 0; dx < pool; dx++) {
          const yy = y * pool + dy;
          const xx = x * pool + dx;
          if (yy >= h || xx >= w) continue;
          count++;
          for (let ch = 0; ch < c; ch++) v[ch]! += map[ch * h * w + yy * w + xx]!;
        }
      }
      const norm = Math.hypot(...v);
      if (norm > 1e-12 && count > 0) rows.push(v.map((a) => a / norm));
    }
  }
  const data = new Float32Array(rows.length * c);
  rows.forEach((r, i) => data.set(r, i * c));
  return { data, n: rows.length, c };
}

/** The number of mutual nearest neighbours between two sets (each one's best match is the other) with cosine ≥ minSimilarity. */
export function mutualNearestNeighbours(a: LocalDescriptors, b: LocalDescriptors, minSimilarity = 0): number {
  if (a.c !== b.c) throw new VisidError('E_DIM', `local descriptors of length ${a.c} and ${b.c}`);
  if (a.n === 0 || b.n === 0) return 0;
  const c = a.c;
  const bestOfA = new Int32Array(a.n).fill(-1);
  const bestSimA = new Float32Array(a.n).fill(-Infinity);
  const bestOfB = new Int32Array(b.n).fill(-1);
  const bestSimB = new Float32Array(b.n).fill(-Infinity);
  for (let i = 0; i < a.n; i++) {
    const ai = i * c;
    for (let j = 0; j < b.n; j++) {
      const bj = j * c;
      let s = 0;
      for (let d = 0; d < c; d++) s += a.data[ai + d]! * b.data[bj + d]!;
      if (s > bestSimA[i]!) {
        bestSimA[i] = s;
        bestOfA[i] = j;
      }
      if (s > bestSimB[j]!) {
        bestSimB[j] = s;
        bestOfB[j] = i;
      }
    }
  }
  let count = 0;
  for (let i = 0; i < a.n; i++) {
    const j = bestOfA[i]!;
    if (j >= 0 && bestOfB[j] === i && bestSimA[i]! >= minSimilarity) count++;
  }
  return count;
}

export interface RerankCandidate {
  id: string;
  score: number;
}

/** Candidates re-ordered by their mutual-nearest-neighbour count with the query (more first), ties by the global score. */
export function rerankByLocalMatches(query: LocalDescriptors, candidates: readonly RerankCandidate[], local: (id: string) => LocalDescriptors, minSimilarity = 0): Array<RerankCandidate & { matches: number }> {
  return candidates
    .map((cand, i) => ({ ...cand, matches: mutualNearestNeighbours(query, local(cand.id), minSimilarity), i }))
    .sort((x, y) => y.matches - x.matches || y.score - x.score || x.i - y.i)
    .map(({ i: _i, ...rest }) => rest);
}
