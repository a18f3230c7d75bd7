// Multi-label metrics: label ranking average precision (scikit-learn's definition) and per-class thresholds that maximise F1.
import { VisidError } from '../util/errors.js';

function checkMatrices(name: string, yTrue: ArrayLike<number>[], yScore: ArrayLike<number>[]): number {
  if (yTrue.length !== yScore.length) throw new VisidError('E_DIM', `${name}: ${yTrue.length} label rows but ${yScore.length} score rows`);
  if (yTrue.length === 0) throw new VisidError('E_INPUT', `${name}: no samples`);
  const c = yTrue[0]!.length;
  yTrue.forEach((row, i) => {
    if (row.length !== c || yScore[i]!.length !== c) throw new VisidError('E_DIM', `${name}: row ${i} has ${row.length} labels and ${yScore[i]!.length} scores, expected ${c}`);
    for (let j = 0; j < c; j++) {
      if (!Number.isFinite(yScore[i]![j]!)) throw new VisidError('E_NAN', `${name}: score [${i}, ${j}] is not finite`);
    }
  });
  return c;
}

/**
 * LRAP exactly as scikit-learn's label_ranking_average_precision_score: for each sample with relevant labels Y
 * (y > 0), the mean over j ∈ Y of |{k ∈ Y : s_k ≥ s_j}| / |{k : s_k ≥ s_j}| — ties count as ranked above —; a sample
 * with no relevant label, or with every label relevant, scores 1. The result is the mean over samples.
 */
export function labelRankingAveragePrecision(yTrue: ArrayLike<number>[], yScore: ArrayLike<number>[]): number {
  const c = checkMatrices('labelRankingAveragePrecision', yTrue, yScore);
  let total = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const t = yTrue[i]!;
    const s = yScore[i]!;
    const relevant: number[] = [];
    for (let j = 0; j < c; j++) if (t[j]! > 0) relevant.push(j);
    if (relevant.length === 0 || relevant.length === c) {
      total += 1;
      continue;
    }
    let sum = 0;
    for (const j of relevant) {
      let above = 0;
      let relevantAbove = 0;
      for (let k = 0; k < c; k++) {
        if (s[k]! >= s[j]!) {
          above++;
          if (t[k]! > 0) relevantAbove++;
        }
      }
      sum += relevantAbove / above;
    }
    total += sum / relevant.length;
  }
  return total / yTrue.length;
}

/**
 * Per class, the score threshold that maximises F1 on validation data (positives: y ≥ `positive`), chosen among
 * midpoints between consecutive distinct scores; `fallback` where a class has no positive.
 */
export function f1Thresholds(yTrue: ArrayLike<number>[], yScore: ArrayLike<number>[], options: { positive?: number; fallback?: number } = {}): number[] {
  const c = checkMatrices('f1Thresholds', yTrue, yScore);
  const positive = options.positive ?? 0.5;
  const out: number[] = [];
  for (let j = 0; j < c; j++) {
    const pairs = yTrue.map((t, i) => ({ s: yScore[i]![j]!, p: t[j]! >= positive })).sort((a, b) => b.s - a.s);
    const totalPos = pairs.filter((x) => x.p).length;
    if (totalPos === 0) {
      out.push(options.fallback ?? 0.5);
      continue;
    }
    let best = -1;
    let bestThreshold = options.fallback ?? 0.5;
    let tp = 0;
    for (let i = 0; i < pairs.length; i++) {
      if (pairs[i]!.p) tp++;
      // Cut after position i only between distinct scores (ties fall on the same side).
      if (i + 1 < pairs.length && pairs[i + 1]!.s === pairs[i]!.s) continue;
      const f1 = (2 * tp) / (i + 1 + totalPos);
      if (f1 > best) {
        best = f1;
        bestThreshold = i + 1 < pairs.length ? (pairs[i]!.s + pairs[i + 1]!.s) / 2 : pairs[i]!.s;
      }
    }
    out.push(bestThreshold);
  }
  return out;
}
