// 1:1 verification evaluation exactly as insightface's: k-fold threshold choice, accuracy ± std, TAR at FAR, ROC.
import { VisidError } from '../util/errors.js';
import { lineChart } from './chart.js';

export interface VerificationFold {
  /** Threshold on the distance chosen on the other folds (same when distance < threshold). */
  threshold: number;
  accuracy: number;
}

export interface VerificationReport {
  folds: VerificationFold[];
  /** Mean and (population) standard deviation of the per-fold test accuracies. */
  accuracy: number;
  accuracyStd: number;
  /** Mean over folds of the threshold chosen on the training folds. */
  threshold: number;
  /** TAR at each requested FAR (insightface's calculate_val: threshold interpolated on the training folds). */
  tarAtFar: Record<string, { tar: number; tarStd: number; far: number }>;
  /** Area under the ROC curve over all pairs. */
  auc: number;
  /** ROC points (FAR, TAR), from the strictest threshold to the loosest, over all pairs. */
  roc: Array<[number, number]>;
}

export interface VerificationOptions {
  folds?: number;
  /** Distance thresholds tried; default insightface's 0, 0.01, …, 3.99 (squared L2 of unit vectors spans [0, 4]). */
  thresholds?: number[];
  /** FAR targets for TAR@FAR (default 1e-3 and 1e-2). */
  farTargets?: number[];
}

const DEFAULT_THRESHOLDS = Array.from({ length: 400 }, (_, i) => i / 100);

/** Squared L2 distance between unit vectors from their cosine similarity: ‖a − b‖² = 2 − 2 cos. */
export function cosineToSquaredDistance(cos: number): number {
  return 2 - 2 * cos;
}

function accuracyAt(threshold: number, dist: number[], same: boolean[], idx: number[]): number {
  let correct = 0;
  for (const i of idx) if (dist[i]! < threshold === same[i]) correct++;
  return correct / idx.length;
}

function tarFarAt(threshold: number, dist: number[], same: boolean[], idx: number[]): { tar: number; far: number } {
  let ta = 0, fa = 0, nSame = 0, nDiff = 0;
  for (const i of idx) {
    const accept = dist[i]! < threshold;
    if (same[i]) {
      nSame++;
      if (accept) ta++;
    } else {
      nDiff++;
      if (accept) fa++;
    }
  }
  // insightface divides by the counts as they are (a fold without pairs of a kind would divide by zero).
  return { tar: nSame ? ta / nSame : 0, far: nDiff ? fa / nDiff : 0 };
}

/** Contiguous folds, like sklearn's KFold(n_splits, shuffle=False): the first n % k folds get one extra pair. */
export function kFoldSplits(n: number, k: number): number[][] {
  if (!Number.isInteger(k) || k < 2) throw new VisidError('E_INPUT', `folds must be an integer ≥ 2, got ${k}`);
  if (n < k) throw new VisidError('E_INPUT', `${n} pairs cannot be split into ${k} folds`);
  const folds: number[][] = [];
  let start = 0;
  for (let f = 0; f < k; f++) {
    const size = Math.floor(n / k) + (f < n % k ? 1 : 0);
    folds.push(Array.from({ length: size }, (_, i) => start + i));
    start += size;
  }
  return folds;
}

/**
 * Evaluates verification pairs given their distances (smaller = more alike) and ground truth.
 * For each fold: the threshold with the best accuracy on the other folds (the first of equals, as numpy's argmax),
 * then the accuracy on the fold (insightface's calculate_roc). TAR@FAR: on the other folds, the threshold whose
 * FAR equals the target by linear interpolation (0 if the target FAR is never reached), then TAR on the fold
 * (insightface's calculate_val).
 */
export function evaluateVerification(distances: number[], same: boolean[], options: VerificationOptions = {}): VerificationReport {
  if (distances.length !== same.length) throw new VisidError('E_INPUT', `${distances.length} distances but ${same.length} labels`);
  if (distances.some((d) => !Number.isFinite(d))) throw new VisidError('E_NAN', 'a pair distance is not a finite number');
  const thresholds = options.thresholds ?? DEFAULT_THRESHOLDS;
  const folds = kFoldSplits(distances.length, options.folds ?? 10);
  const all = distances.map((_, i) => i);
  const result: VerificationFold[] = [];
  for (const test of folds) {
    const inTest = new Set(test);
    const train = all.filter((i) => !inTest.has(i));
    let best = -1;
    let bestThreshold = thresholds[0]!;
    for (const t of thresholds) {
      const acc = accuracyAt(t, distances, same, train);
      if (acc > best) {
        best = acc;
        bestThreshold = t;
      }
    }
    result.push({ threshold: bestThreshold, accuracy: accuracyAt(bestThreshold, distances, same, test) });
  }
  const accs = result.map((f) => f.accuracy);
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const std = (v: number[]) => Math.sqrt(mean(v.map((x) => (x - mean(v)) ** 2)));

  const tarAtFar: VerificationReport['tarAtFar'] = {};
  for (const target of options.farTargets ?? [1e-3, 1e-2]) {
    const tars: number[] = [];
    const fars: number[] = [];
    for (const test of folds) {
      const inTest = new Set(test);
      const train = all.filter((i) => !inTest.has(i));
      const farTrain = thresholds.map((t) => tarFarAt(t, distances, same, train).far);
      let threshold = 0;
      if (Math.max(...farTrain) >= target) threshold = interpolateThreshold(farTrain, thresholds, target);
      const r = tarFarAt(threshold, distances, same, test);
      tars.push(r.tar);
      fars.push(r.far);
    }
    tarAtFar[String(target)] = { tar: mean(tars), tarStd: std(tars), far: mean(fars) };
  }
  const { auc, roc } = rocCurve(distances, same);
  return { folds: result, accuracy: mean(accs), accuracyStd: std(accs), threshold: mean(result.map((f) => f.threshold)), tarAtFar, auc, roc };
}

/** The threshold at which FAR (non-decreasing in the threshold) reaches `target`, linearly interpolated. */
function interpolateThreshold(far: number[], thresholds: number[], target: number): number {
  for (let i = 0; i < far.length; i++) {
    if (far[i]! === target) return thresholds[i]!;
    if (far[i]! > target) {
      if (i === 0) return thresholds[0]!;
      // Between the last point below the target and this one (the last of any run of equal FARs).
      const f0 = far[i - 1]!, f1 = far[i]!;
      return thresholds[i - 1]! + ((target - f0) * (thresholds[i]! - thresholds[i - 1]!)) / (f1 - f0);
    }
  }
  return thresholds[thresholds.length - 1]!;
}

/** ROC over all distinct distances (accept when distance ≤ t) and its area by the trapezoid rule. */
export function rocCurve(distances: number[], same: boolean[]): { auc: number; roc: Array<[number, number]> } {
  const nSame = same.filter(Boolean).length;
  const nDiff = same.length - nSame;
  if (nSame === 0 || nDiff === 0) throw new VisidError('E_INPUT', 'ROC needs both matched and mismatched pairs');
  const order = distances.map((d, i) => [d, i] as const).sort((a, b) => a[0] - b[0]);
  const roc: Array<[number, number]> = [[0, 0]];
  let tp = 0, fp = 0;
  for (let j = 0; j < order.length; j++) {
    if (same[order[j]![1]]) tp++;
    else fp++;
    // Ties move together: one point per distinct distance.
    if (j + 1 === order.length || order[j + 1]![0] !== order[j]![0]) roc.push([fp / nDiff, tp / nSame]);
  }
  let auc = 0;
  for (let j = 1; j < roc.length; j++) auc += ((roc[j]![0] - roc[j - 1]![0]) * (roc[j]![1] + roc[j - 1]![1])) / 2;
  return { auc, roc };
}

/** A self-contained SVG plot of a ROC curve (FAR on a log axis from 1e-4), for reports. */
export function rocSvg(roc: Array<[number, number]>, title: string): string {
  const points = roc.filter(([f]) => f > 0).map(([f, t]): [number, number] => [Math.log10(Math.max(f, 1e-4)), t]);
  const xTicks = [-4, -3, -2, -1, 0].map((e): [number, string] => [e, e === 0 ? '1' : `1e${e}`]);
  return lineChart(points, title, 'FAR', 'TAR', 0, { xMin: -4, xTicks, colour: '#c0392b' }) + '\n';
}

/**
 * An order of the pairs under which contiguous k-fold splitting gives every fold the same share of matched and
 * mismatched pairs (LFW's pairs.txt is already built that way; a list sorted by label is not).
 * Returns indices into the original list.
 */
export function balancedFoldOrder(same: boolean[], k: number): number[] {
  const pos = same.flatMap((s, i) => (s ? [i] : []));
  const neg = same.flatMap((s, i) => (s ? [] : [i]));
  const folds: number[][] = Array.from({ length: k }, () => []);
  pos.forEach((i, j) => folds[j % k]!.push(i));
  neg.forEach((i, j) => folds[(pos.length + j) % k]!.push(i));
  return folds.flat();
}
