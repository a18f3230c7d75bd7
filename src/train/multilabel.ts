// Trains a multi-label classifier head on frozen backbone features with soft targets (seed 002 §2.1–2.4): BCE / focal / class-balanced / reduced focal, none-class weights, outlier removal; per-class F1 thresholds on validation.
import { tf } from '../tf/runtime.js';
import { buildHead, type EmbeddingNet } from '../models/networks.js';
import type { Loss } from '../losses/loss.js';
import { meanReducer, outlierRemovalReducer } from '../losses/loss.js';
import { SoftBceLoss } from '../losses/bce.js';
import { FocalLoss } from '../losses/focal.js';
import { ClassBalancedFocalLoss } from '../losses/class-balanced-focal.js';
import { ReducedFocalLoss } from '../losses/reduced-focal.js';
import { createOptimizer } from './optimizers.js';
import { mulberry32 } from '../util/random.js';
import { VisidError } from '../util/errors.js';
import { f1Thresholds, labelRankingAveragePrecision } from '../eval/multilabel.js';

export type MultiLabelLossName = 'bce' | 'focal' | 'class-balanced-focal' | 'reduced-focal';
export const MULTI_LABEL_LOSSES: readonly MultiLabelLossName[] = ['bce', 'focal', 'class-balanced-focal', 'reduced-focal'];

export interface MultiLabelLossSpec {
  name: MultiLabelLossName;
  /** Focusing parameter γ (seed 002 Table 2: 2). */
  gamma?: number;
  /** Class-balanced β (Table 2: 0.999, 0.9999). */
  beta?: number;
  /** Reduced focal threshold th (Table 2: 0.3, 0.5, 0.7) and which side gets the focal term. */
  threshold?: number;
  form?: 'seed' | 'original';
  /** Multiply the none classes' losses by this (Table 2: 0.1, 0.01). */
  noneWeight?: number;
  /** Drop the largest per-sample loss of every batch (seed 002 §2.4). */
  outlierRemoval?: boolean;
}

export type MultiLabelHeadKind = 'linear' | 'fc-bn' | 'mlp';

export interface MultiLabelData {
  /** Row-major samples × dim features (the frozen backbone's outputs). */
  features: Float32Array;
  /** Row-major samples × classes soft targets in [0, 1]. */
  targets: Float32Array;
  dim: number;
  classes: number;
}

export interface MultiLabelTrainOptions {
  loss: MultiLabelLossSpec;
  /** Which classes are "none" classes (for noneWeight). */
  noneClasses?: boolean[];
  /** n_c for the class-balanced loss; default: each class's count of positive targets (y > 0) in the training data, at least 1. */
  classCounts?: number[];
  /**
   * linear: one FC (each class its own column: with Adam, per-class loss weights then cancel out); fc-bn: FC + BN;
   * mlp: FC(256)-BN-LeakyReLU-FC(256)-FC(C), a shared hidden layer, where class weights do shift the balance.
   */
  head?: MultiLabelHeadKind;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  seed?: number;
  /** Validation data (for LRAP per epoch, the best epoch, and the thresholds); none → thresholds 0.5. */
  val?: MultiLabelData;
  onEpoch?: (record: MultiLabelEpoch) => void;
}

export interface MultiLabelEpoch {
  epoch: number;
  loss: number;
  valLrap?: number;
  seconds: number;
}

export interface MultiLabelTrainResult {
  net: EmbeddingNet;
  history: MultiLabelEpoch[];
  /** Per-class decision thresholds on the sigmoid (F1-optimal on validation). */
  thresholds: number[];
  /** LRAP of the kept weights on validation. */
  valLrap?: number;
  bestEpoch: number;
}

function checkData(d: MultiLabelData, what: string): number {
  const n = d.features.length / d.dim;
  if (!Number.isInteger(n) || n * d.classes !== d.targets.length) throw new VisidError('E_DIM', `${what}: ${d.features.length} feature values and ${d.targets.length} targets do not make whole samples of ${d.dim} features and ${d.classes} classes`);
  if (n === 0) throw new VisidError('E_INPUT', `${what}: no samples`);
  for (let i = 0; i < d.targets.length; i++) {
    const y = d.targets[i]!;
    if (!(y >= 0 && y <= 1)) throw new VisidError('E_INPUT', `${what}: target of sample ${Math.floor(i / d.classes)}, class ${i % d.classes} is ${y}, not in [0, 1]`);
  }
  for (let i = 0; i < d.features.length; i++) if (!Number.isFinite(d.features[i]!)) throw new VisidError('E_NAN', `${what}: feature of sample ${Math.floor(i / d.dim)} is not finite`);
  return n;
}

/** The loss of a spec, with its class weights and reducer. */
export function createMultiLabelLoss(spec: MultiLabelLossSpec, classes: number, noneClasses?: boolean[], classCounts?: number[]): Loss {
  const classWeights = spec.noneWeight !== undefined && noneClasses ? noneClasses.map((none) => (none ? spec.noneWeight! : 1)) : undefined;
  if (classWeights && classWeights.length !== classes) throw new VisidError('E_DIM', `${classWeights.length} none flags for ${classes} classes`);
  const reducer = spec.outlierRemoval ? outlierRemovalReducer : meanReducer;
  const common = { classWeights, reducer };
  switch (spec.name) {
    case 'bce':
      return new SoftBceLoss(common);
    case 'focal':
      return new FocalLoss({ ...common, gamma: spec.gamma });
    case 'class-balanced-focal':
      if (!classCounts || classCounts.length !== classes) throw new VisidError('E_INPUT', `class-balanced focal needs one count per class (${classes})`);
      return new ClassBalancedFocalLoss({ ...common, gamma: spec.gamma, beta: spec.beta, classCounts });
    case 'reduced-focal':
      return new ReducedFocalLoss({ ...common, gamma: spec.gamma, threshold: spec.threshold, form: spec.form });
    default:
      throw new VisidError('E_INPUT', `unknown multi-label loss '${String((spec as { name: unknown }).name)}' (${MULTI_LABEL_LOSSES.join(', ')})`);
  }
}

/** Sigmoid outputs of the head for every row of `features`, in batches. */
export function predictMultiLabel(net: EmbeddingNet, features: Float32Array, dim: number, batch = 1024): Float32Array {
  const n = features.length / dim;
  const parts: Float32Array[] = [];
  for (let s = 0; s < n; s += batch) {
    const e = Math.min(n, s + batch);
    const out = tf.tidy(() => tf.sigmoid(net.apply(tf.tensor2d(features.subarray(s * dim, e * dim), [e - s, dim]), false)));
    parts.push(out.dataSync() as Float32Array);
    out.dispose();
  }
  const total = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    total.set(p, o);
    o += p.length;
  }
  return total;
}

function rows(m: Float32Array, width: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = 0; i < m.length; i += width) out.push(m.subarray(i, i + width));
  return out;
}

/** Trains the head (Adam, cosine-decayed learning rate), keeps the epoch with the best validation LRAP. */
export async function trainMultiLabelHead(data: MultiLabelData, o: MultiLabelTrainOptions): Promise<MultiLabelTrainResult> {
  const n = checkData(data, 'training data');
  if (o.val) {
    checkData(o.val, 'validation data');
    if (o.val.dim !== data.dim || o.val.classes !== data.classes) throw new VisidError('E_DIM', 'validation data has another feature or class count than the training data');
  }
  const { dim, classes } = data;
  const epochs = o.epochs ?? 30;
  const batchSize = Math.min(o.batchSize ?? 64, n);
  const baseLr = o.lr ?? 1e-3;
  const counts = o.classCounts ?? Array.from({ length: classes }, (_, c) => {
    let k = 0;
    for (let i = 0; i < n; i++) if (data.targets[i * classes + c]! > 0) k++;
    return Math.max(1, k);
  });
  const loss = createMultiLabelLoss(o.loss, classes, o.noneClasses, counts);
  const kind = o.head ?? 'linear';
  const net = kind === 'mlp'
    ? buildHead({ type: 'head', input: dim, kind: 'projector', hiddenDim: 256, projectorDim: 256, embeddingDim: classes, seed: o.seed ?? 1 })
    : buildHead({ type: 'head', input: dim, kind, embeddingDim: classes, seed: o.seed ?? 1 });
  const optimizer = createOptimizer({ kind: 'adam', weightDecay: o.weightDecay ?? 0 }, baseLr);
  const random = mulberry32(o.seed ?? 1);
  const order = Array.from({ length: n }, (_, i) => i);
  const history: MultiLabelEpoch[] = [];
  const valTargets = o.val ? rows(o.val.targets, classes) : undefined;
  let best = { lrap: -Infinity, epoch: 0, weights: net.trainable().map((v) => v.clone()) };
  const stepsPerEpoch = Math.ceil(n / batchSize);
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const t0 = performance.now();
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      let sum = 0;
      for (let s = 0; s < stepsPerEpoch; s++) {
        const idx = order.slice(s * batchSize, Math.min(n, (s + 1) * batchSize));
        if (idx.length < 2 && stepsPerEpoch > 1) continue;
        const x = new Float32Array(idx.length * dim);
        const y = new Float32Array(idx.length * classes);
        idx.forEach((r, b) => {
          x.set(data.features.subarray(r * dim, (r + 1) * dim), b * dim);
          y.set(data.targets.subarray(r * classes, (r + 1) * classes), b * classes);
        });
        const progress = ((epoch - 1) * stepsPerEpoch + s) / (epochs * stepsPerEpoch);
        const lr = baseLr * 0.5 * (1 + Math.cos(Math.PI * progress));
        const xt = tf.tensor2d(x, [idx.length, dim]);
        const yt = tf.tensor2d(y, [idx.length, classes]);
        try {
          sum += optimizer.step(() => loss.compute(net.apply(xt, true), yt), net.trainable(), lr);
        } finally {
          tf.dispose([xt, yt]);
        }
      }
      const record: MultiLabelEpoch = { epoch, loss: sum / stepsPerEpoch, seconds: (performance.now() - t0) / 1000 };
      if (o.val && valTargets) {
        record.valLrap = labelRankingAveragePrecision(valTargets, rows(predictMultiLabel(net, o.val.features, dim), classes));
        if (record.valLrap > best.lrap) {
          tf.dispose(best.weights);
          best = { lrap: record.valLrap, epoch, weights: net.trainable().map((v) => v.clone()) };
        }
      }
      history.push(record);
      o.onEpoch?.(record);
      await new Promise((r) => setImmediate(r));
    }
    if (o.val) net.trainable().forEach((v, i) => v.assign(best.weights[i]!));
  } finally {
    tf.dispose(best.weights);
    optimizer.dispose();
  }
  let thresholds = Array.from({ length: classes }, () => 0.5);
  let valLrap: number | undefined;
  if (o.val && valTargets) {
    const scores = rows(predictMultiLabel(net, o.val.features, dim), classes);
    valLrap = labelRankingAveragePrecision(valTargets, scores);
    thresholds = f1Thresholds(valTargets, scores, { positive: 0.5, fallback: 0.5 });
  }
  return { net, history, thresholds, valLrap, bestEpoch: o.val ? best.epoch : epochs };
}
