// The shape every loss shares (embeddings, labels → scalar), its reducers, and the distances pair losses use.
import { tf } from '../tf/runtime.js';

/**
 * A training loss. `labels` is an int32 vector of class ids for identity losses, or a [B, C] float matrix of
 * (soft) targets for multi-label losses. Losses that own parameters (class weights, centres, a learnable scale or
 * β) expose them through `variables()` so the trainer optimises and checkpoints them with the model.
 */
export interface Loss {
  readonly name: string;
  compute(embeddings: tf.Tensor2D, labels: tf.Tensor): tf.Scalar;
  variables(): tf.Variable[];
}

/** Turns per-sample losses into the batch loss. */
export type Reducer = (perSample: tf.Tensor1D) => tf.Scalar;

export const meanReducer: Reducer = (perSample) => tf.mean(perSample) as tf.Scalar;

/**
 * Seed 002 §2.4: "we always remove the max loss value in each minibatch losses from the summation of losses", so a
 * mislabelled outlier image cannot dominate a batch: (Σ losses − max loss) / (B − 1).
 */
export const outlierRemovalReducer: Reducer = (perSample) => {
  const n = perSample.shape[0];
  if (n < 2) return tf.mean(perSample) as tf.Scalar;
  return tf.div(tf.sub(tf.sum(perSample), tf.max(perSample)), n - 1) as tf.Scalar;
};

export function reducerByName(name: 'mean' | 'outlier-removal' | undefined): Reducer {
  return name === 'outlier-removal' ? outlierRemovalReducer : meanReducer;
}

/** Rows scaled to unit L2 norm (ε guards the zero vector). */
export function l2Normalize(x: tf.Tensor2D, axis = 1): tf.Tensor2D {
  return tf.div(x, tf.sqrt(tf.maximum(tf.sum(tf.square(x), axis, true), 1e-12))) as tf.Tensor2D;
}

/**
 * All pairwise Euclidean distances of the rows, [B, B]: ‖a‖² + ‖b‖² − 2a·b, clamped at 0; the square root is taken
 * of max(d², 1e-12) so the diagonal has a zero, not an infinite, gradient.
 */
export function pairwiseDistances(x: tf.Tensor2D, squared = false): tf.Tensor2D {
  const norms = tf.sum(tf.square(x), 1, true);
  const d2 = tf.relu(tf.sub(tf.add(norms, tf.transpose(norms)), tf.mul(2, tf.matMul(x, x, false, true)))) as tf.Tensor2D;
  return squared ? d2 : (tf.sqrt(tf.maximum(d2, 1e-12)) as tf.Tensor2D);
}

/** Picks entries (i, j) of a [B, B] matrix as a vector (differentiable through gather). */
export function pickPairs(matrix: tf.Tensor2D, rows: Int32Array, cols: Int32Array): tf.Tensor1D {
  const n = matrix.shape[1];
  const flat = Int32Array.from(rows, (r, k) => r * n + cols[k]!);
  return tf.gather(tf.reshape(matrix, [-1]), tf.tensor1d(flat, 'int32')) as tf.Tensor1D;
}

/** A copy of `t` outside the gradient tape (tfjs has no stopGradient): for masks and branch conditions. */
export function detached<T extends tf.Tensor>(t: T): T {
  return tf.tensor(t.dataSync(), t.shape, t.dtype) as T;
}

/** Class ids as a JS array, checked: integer labels for identity losses. */
export function classIds(labels: tf.Tensor, lossName: string): Int32Array {
  if (labels.rank !== 1) throw new Error(`${lossName} needs a vector of class ids, got labels of shape [${labels.shape}]`);
  return Int32Array.from(labels.dataSync() as ArrayLike<number>);
}
