// Gradient reversal layer (Ganin & Lempitsky 2015; seed 001 §3): identity forward, −λ·gradient backward.
//
// Put between the descriptor and a domain classifier, it makes the backbone *maximise* the domain classifier's loss
// while the classifier minimises it, so descriptors stop encoding the domain (day/night, source/target).
import { tf } from '../tf/runtime.js';

export function gradientReversal(x: tf.Tensor, lambda = 1): tf.Tensor {
  const f = tf.customGrad(((input: tf.Tensor) => ({ value: tf.clone(input), gradFunc: (dy: tf.Tensor) => tf.mul(dy, -lambda) })) as never);
  return (f as (t: tf.Tensor) => tf.Tensor)(x);
}
