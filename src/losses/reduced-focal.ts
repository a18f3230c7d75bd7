// Reduced focal loss (seed 002 eq. 4–6; Sergievskiy & Ponamarev 2019): cross-entropy on one side of a threshold th, a focal term on the other.
//
// Seed 002 as printed: RFL = −Σ_c (w1 log p̂_c + w2 ((1 − p̂_c)/th)^γ log p̂_c), w1 = [p̂_c > th], w2 = [p̂_c ≤ th].
// Sergievskiy & Ponamarev's original swaps the sides: plain −log p̂ below th (hard samples keep their full
// gradient) and the reduced ((1 − p̂)/th)^γ weight above it. The seed's form is the default (`form: 'seed'`); the
// original is `form: 'original'`. Both are continuous at p̂ = th only when ((1 − th)/th)^γ = 1, i.e. th = 0.5.
import { tf } from '../tf/runtime.js';
import { detached, type Loss } from './loss.js';
import { MultiLabelOptions, reduceClasses, softTargets, targetProbability } from './multi-label.js';

export interface ReducedFocalOptions extends MultiLabelOptions {
  threshold?: number;
  gamma?: number;
  form?: 'seed' | 'original';
}

export class ReducedFocalLoss implements Loss {
  readonly name = 'reduced-focal';
  constructor(private readonly options: ReducedFocalOptions = {}) {}

  variables(): tf.Variable[] {
    return [];
  }

  compute(logits: tf.Tensor2D, labels: tf.Tensor): tf.Scalar {
    const y = softTargets(logits, labels, this.name);
    const th = this.options.threshold ?? 0.5;
    const gamma = this.options.gamma ?? 2;
    const { pHat, logPHat } = targetProbability(logits, y);
    const reduced = tf.pow(tf.div(tf.sub(1, pHat), th), gamma);
    const above = tf.greater(detached(pHat), th);
    const weight = this.options.form === 'original' ? tf.where(above, reduced, tf.onesLike(reduced)) : tf.where(above, tf.onesLike(reduced), reduced);
    return reduceClasses(tf.neg(tf.mul(weight, logPHat)) as tf.Tensor2D, this.options);
  }
}
