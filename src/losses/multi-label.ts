// Shared parts of the multi-label losses (seed 002 §2.2): sigmoid probabilities, p̂, per-class weights, targets checks.
import { tf } from '../tf/runtime.js';
import { meanReducer, Reducer } from './loss.js';

export interface MultiLabelOptions {
  /** Per-class weights w_c multiplying each class's term (seed 002 §2.4: ×0.1 on the five "none" classes). */
  classWeights?: number[];
  reducer?: Reducer;
}

/** Checks that labels are a [B, C] matrix of soft targets in [0, 1] matching the logits. */
export function softTargets(logits: tf.Tensor2D, labels: tf.Tensor, lossName: string): tf.Tensor2D {
  if (labels.rank !== 2 || labels.shape[0] !== logits.shape[0] || labels.shape[1] !== logits.shape[1]) {
    throw new Error(`${lossName} needs [B, C] soft targets matching the logits [${logits.shape}], got [${labels.shape}]`);
  }
  return labels.toFloat() as tf.Tensor2D;
}

/**
 * p̂ = y·p + (1 − y)·(1 − p), p = sigmoid(logit): the probability given to the target. For hard labels it is Lin et
 * al.'s p_t; for a soft target y it is the expected agreement. Returned with log p̂, computed stably from logits.
 */
export function targetProbability(logits: tf.Tensor2D, y: tf.Tensor2D): { pHat: tf.Tensor2D; logPHat: tf.Tensor2D } {
  const p = tf.sigmoid(logits);
  const pHat = tf.add(tf.mul(y, p), tf.mul(tf.sub(1, y), tf.sub(1, p))) as tf.Tensor2D;
  return { pHat, logPHat: tf.log(tf.clipByValue(pHat, 1e-7, 1)) as tf.Tensor2D };
}

/** Σ_c w_c · term[b, c] per sample, then the reducer over the batch. */
export function reduceClasses(term: tf.Tensor2D, options: MultiLabelOptions, extraWeights?: number[]): tf.Scalar {
  const c = term.shape[1];
  let w: number[] | undefined = options.classWeights;
  if (w && w.length !== c) throw new Error(`classWeights has ${w.length} entries for ${c} classes`);
  if (extraWeights) w = extraWeights.map((v, i) => v * (w?.[i] ?? 1));
  const weighted = w ? tf.mul(term, tf.tensor1d(w)) : term;
  return (options.reducer ?? meanReducer)(tf.sum(weighted, 1) as tf.Tensor1D);
}
