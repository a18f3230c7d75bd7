// The shape every miner shares: a distance matrix and labels in, the chosen triplets out.
//
// Miners are selection, not arithmetic: they read the batch's [B, B] distance matrix in JS (B ≤ a few hundred, so
// this is cheap) and return index triplets; the loss then gathers those distances from the differentiable matrix.

export interface Triplets {
  anchors: Int32Array;
  positives: Int32Array;
  negatives: Int32Array;
}

export interface Miner {
  readonly name: string;
  /** `distances` is row-major [n, n]; labels[i] is row i's class. */
  mine(distances: Float32Array, labels: Int32Array): Triplets;
}

/** Every (anchor, positive) pair of a batch: same label, different rows, in row order. */
export function* positivePairs(labels: Int32Array): Generator<[number, number]> {
  for (let a = 0; a < labels.length; a++) for (let p = 0; p < labels.length; p++) if (p !== a && labels[p] === labels[a]) yield [a, p];
}

export function tripletsFrom(list: [number, number, number][]): Triplets {
  return {
    anchors: Int32Array.from(list, (t) => t[0]),
    positives: Int32Array.from(list, (t) => t[1]),
    negatives: Int32Array.from(list, (t) => t[2]),
  };
}

/** Pair lists implied by triplets (each distinct (a,p) and (a,n) once), for the pair-based losses. */
export function pairsOf(t: Triplets): { positive: [Int32Array, Int32Array]; negative: [Int32Array, Int32Array] } {
  const uniq = (a: Int32Array, b: Int32Array): [Int32Array, Int32Array] => {
    const seen = new Set<string>();
    const ra: number[] = [];
    const rb: number[] = [];
    for (let i = 0; i < a.length; i++) {
      const key = `${a[i]},${b[i]}`;
      if (seen.has(key)) continue;
      seen.add(key);
      ra.push(a[i]!);
      rb.push(b[i]!);
    }
    return [Int32Array.from(ra), Int32Array.from(rb)];
  };
  return { positive: uniq(t.anchors, t.positives), negative: uniq(t.anchors, t.negatives) };
}

/** Every (anchor, positive) with anchor ≠ positive, and every (anchor, negative) pair, of a batch. */
export function allPairs(labels: Int32Array): { positive: [Int32Array, Int32Array]; negative: [Int32Array, Int32Array] } {
  const pa: number[] = [];
  const pb: number[] = [];
  const na: number[] = [];
  const nb: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    for (let j = 0; j < labels.length; j++) {
      if (i === j) continue;
      if (labels[i] === labels[j]) {
        pa.push(i);
        pb.push(j);
      } else {
        na.push(i);
        nb.push(j);
      }
    }
  }
  return { positive: [Int32Array.from(pa), Int32Array.from(pb)], negative: [Int32Array.from(na), Int32Array.from(nb)] };
}
