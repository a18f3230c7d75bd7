// Focal loss on soft multi-labels (seed 002 §2.2, eq. 1–2; Lin et al. 2017): down-weights the classes already right.
//
// Per sample: FL = −Σ_c w_c (1 − p̂_c)^γ log p̂_c with p̂_c = y_c p_c + (1 − y_c)(1 − p_c) (eq. 2's p̂; for hard
// labels this is Lin et al.'s p_t). γ = 0 gives cross-entropy on p̂. Default γ = 2 (seed 002 Table 2).
import { tf } from '../tf/runtime.js';
import type { Loss } from './loss.js';
import { MultiLabelOptions, reduceClasses, softTargets, targetProbability } from './multi-label.js';

export interface FocalOptions extends MultiLabelOptions {
  gamma?: number;
}

/** −(1 − p̂)^γ log p̂ per class, [B, C]. */
export function focalTerm(logits: tf.Tensor2D, y: tf.Tensor2D, gamma: number): tf.Tensor2D {
  const { pHat, logPHat } = targetProbability(logits, y);
  return tf.neg(tf.mul(tf.pow(tf.sub(1, pHat), gamma), logPHat)) as tf.Tensor2D;
}

export class FocalLoss implements Loss {
  readonly name = 'focal';
  constructor(private readonly options: FocalOptions = {}) {}

  variables(): tf.Variable[] {
    return [];
  }

  compute(logits: tf.Tensor2D, labels: tf.Tensor): tf.Scalar {
    const y = softTargets(logits, labels, this.name);
    return reduceClasses(focalTerm(logits, y, this.options.gamma ?? 2), this.options);
  }
}
