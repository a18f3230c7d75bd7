// Binary cross-entropy on soft targets (seed 002 §2.1): each class an independent sigmoid, the target a vote share.
//
// Per sample: Σ_c w_c · −[y_c log p_c + (1 − y_c) log(1 − p_c)], p = sigmoid(logit), computed from logits with
// log p = −softplus(−z) and log(1 − p) = −softplus(z) so saturated logits stay finite.
import { tf } from '../tf/runtime.js';
import type { Loss } from './loss.js';
import { MultiLabelOptions, reduceClasses, softTargets } from './multi-label.js';

export class SoftBceLoss implements Loss {
  readonly name = 'bce';
  constructor(private readonly options: MultiLabelOptions = {}) {}

  variables(): tf.Variable[] {
    return [];
  }

  compute(logits: tf.Tensor2D, labels: tf.Tensor): tf.Scalar {
    const y = softTargets(logits, labels, this.name);
    const term = tf.add(tf.mul(y, tf.softplus(tf.neg(logits))), tf.mul(tf.sub(1, y), tf.softplus(logits))) as tf.Tensor2D;
    return reduceClasses(term, this.options);
  }
}
