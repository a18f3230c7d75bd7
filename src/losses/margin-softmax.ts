// The margin-softmax family — NormFace, SphereFace, ArcFace, CosFace, combined margins, sub-centre ArcFace — as one formula.
//
// Seed 003 ch. 2 (margin-based classification) and seed 000 §2.3: features and class weights are L2-normalised so
// a logit is s·cos θ_j; the target class's logit becomes s·(ψ(θ) − m3) with ψ(θ) = cos(m1·θ + m2). With m1 = 1,
// m2 = m3 = 0 it is NormFace; m1 > 1 is SphereFace (A-Softmax); m2 is ArcFace's additive angular margin; m3 is
// CosFace / AM-softmax's additive cosine margin.
// Two branches keep ψ monotonic in θ so a larger angle never earns a smaller loss:
//  - m1 > 1 (SphereFace): ψ(θ) = (−1)^k cos(m1·θ + m2) − 2k with k = ⌊(m1·θ + m2)/π⌋.
//  - m1 = 1 and θ + m2 > π (ArcFace): ψ(θ) = cos θ − m2·sin m2, the usual fallback (insightface's `cos − mm`).
// Sub-centre ArcFace keeps K weight vectors per class and uses the largest cosine among them.
import { tf } from '../tf/runtime.js';
import { classIds, detached, l2Normalize, Loss, meanReducer, Reducer } from './loss.js';

export interface MarginSoftmaxOptions {
  numClasses: number;
  embeddingDim: number;
  /** Scale s (default 30). */
  scale?: number;
  /** Learn s, starting from `scale`. */
  learnableScale?: boolean;
  /** Multiplicative angular margin (SphereFace), integer ≥ 1. */
  m1?: number;
  /** Additive angular margin (ArcFace), radians. */
  m2?: number;
  /** Additive cosine margin (CosFace). */
  m3?: number;
  /** Sub-centres per class (sub-centre ArcFace, default 1). */
  subCenters?: number;
  reducer?: Reducer;
  seed?: number;
  name?: string;
}

export class MarginSoftmaxLoss implements Loss {
  readonly name: string;
  readonly m1: number;
  readonly m2: number;
  readonly m3: number;
  readonly subCenters: number;
  readonly numClasses: number;
  /** Class weights, [D, C·K] (column c·K + k is sub-centre k of class c). */
  readonly weights: tf.Variable;
  readonly scale: tf.Variable;
  private readonly reducer: Reducer;

  constructor(options: MarginSoftmaxOptions) {
    this.m1 = options.m1 ?? 1;
    this.m2 = options.m2 ?? 0;
    this.m3 = options.m3 ?? 0;
    if (!Number.isInteger(this.m1) || this.m1 < 1) throw new Error(`m1 must be an integer ≥ 1, got ${this.m1}`);
    this.subCenters = options.subCenters ?? 1;
    this.numClasses = options.numClasses;
    this.name = options.name ?? 'margin-softmax';
    this.reducer = options.reducer ?? meanReducer;
    const cols = options.numClasses * this.subCenters;
    this.weights = tf.variable(tf.randomNormal([options.embeddingDim, cols], 0, Math.sqrt(2 / (options.embeddingDim + cols)), 'float32', options.seed ?? 1), true);
    this.scale = tf.variable(tf.scalar(options.scale ?? 30), options.learnableScale ?? false);
  }

  variables(): tf.Variable[] {
    return this.scale.trainable ? [this.weights, this.scale] : [this.weights];
  }

  /** cos θ between each embedding and each class (the best sub-centre), [B, C]. */
  cosines(embeddings: tf.Tensor2D): tf.Tensor2D {
    const cos = tf.matMul(l2Normalize(embeddings), l2Normalize(this.weights as unknown as tf.Tensor2D, 0)) as tf.Tensor2D;
    if (this.subCenters === 1) return cos;
    return tf.max(tf.reshape(cos, [-1, this.numClasses, this.subCenters]), 2) as tf.Tensor2D;
  }

  /** ψ(θ) − m3 for the target cosines. */
  targetLogit(cosTarget: tf.Tensor1D): tf.Tensor1D {
    if (this.m1 === 1 && this.m2 === 0) return tf.sub(cosTarget, this.m3) as tf.Tensor1D;
    const theta = tf.acos(tf.clipByValue(cosTarget, -1 + 1e-6, 1 - 1e-6));
    const angle = tf.add(tf.mul(theta, this.m1), this.m2);
    let psi: tf.Tensor;
    if (this.m1 > 1) {
      const k = detached(tf.floor(tf.div(angle, Math.PI)));
      const sign = tf.sub(1, tf.mul(2, tf.mod(k, 2)));
      psi = tf.sub(tf.mul(sign, tf.cos(angle)), tf.mul(2, k));
    } else {
      const fallback = tf.sub(cosTarget, this.m2 * Math.sin(this.m2));
      psi = tf.where(tf.greater(detached(angle), Math.PI), fallback, tf.cos(angle));
    }
    return tf.sub(psi, this.m3) as tf.Tensor1D;
  }

  /** Margin-adjusted, scaled logits for training, [B, C] (ids must be checked class indices). */
  logits(embeddings: tf.Tensor2D, ids: Int32Array): tf.Tensor2D {
    return this.marginLogits(embeddings, this.oneHot(ids));
  }

  private oneHot(ids: Int32Array): tf.Tensor2D {
    return tf.oneHot(tf.tensor1d(ids, 'int32'), this.numClasses, 1, 0, 'float32') as tf.Tensor2D;
  }

  /** s·cos θ_j everywhere, s·(ψ(θ_y) − m3) at each row's target (the one-hot mask). */
  private marginLogits(embeddings: tf.Tensor2D, oneHot: tf.Tensor2D): tf.Tensor2D {
    const cos = this.cosines(embeddings);
    const cosTarget = tf.sum(tf.mul(cos, oneHot), 1) as tf.Tensor1D;
    const delta = tf.sub(this.targetLogit(cosTarget), cosTarget);
    return tf.mul(this.scale, tf.add(cos, tf.mul(oneHot, tf.expandDims(delta, 1)))) as tf.Tensor2D;
  }

  compute(embeddings: tf.Tensor2D, labels: tf.Tensor): tf.Scalar {
    const ids = classIds(labels, this.name);
    for (const id of ids) if (id < 0 || id >= this.numClasses) throw new Error(`${this.name}: label ${id} outside 0..${this.numClasses - 1}`);
    const oneHot = this.oneHot(ids);
    // (log Σ e^logits − target logit is the same number, but tfjs' logSumExp gradient is slower on wasm than this.)
    const perSample = tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(this.marginLogits(embeddings, oneHot))), 1)) as tf.Tensor1D;
    return this.reducer(perSample);
  }
}

type Preset = Omit<MarginSoftmaxOptions, 'm1' | 'm2' | 'm3'>;

/** NormFace (Wang et al. 2017): normalised softmax, no margin. */
export const normFace = (o: Preset): MarginSoftmaxLoss => new MarginSoftmaxLoss({ name: 'normface', ...o });
/** SphereFace (Liu et al. 2017): multiplicative angular margin m1 (default 4). */
export const sphereFace = (o: Preset & { m1?: number }): MarginSoftmaxLoss => new MarginSoftmaxLoss({ name: 'sphereface', m1: 4, ...o });
/** ArcFace (Deng et al. 2019): additive angular margin m2 (default 0.5). */
export const arcFace = (o: Preset & { m2?: number }): MarginSoftmaxLoss => new MarginSoftmaxLoss({ name: 'arcface', m2: 0.5, ...o });
/** CosFace / AM-softmax (Wang et al. 2018): additive cosine margin m3 (default 0.35; seed 001 uses s = 30, m = 0.4). */
export const cosFace = (o: Preset & { m3?: number }): MarginSoftmaxLoss => new MarginSoftmaxLoss({ name: 'cosface', m3: 0.35, ...o });
/** Sub-centre ArcFace (Deng et al. 2020): K sub-centres per class (default 3). */
export const subCenterArcFace = (o: Preset & { m2?: number; subCenters?: number }): MarginSoftmaxLoss =>
  new MarginSoftmaxLoss({ name: 'subcenter-arcface', m2: 0.5, subCenters: 3, ...o });
