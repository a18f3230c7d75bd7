// Multi-similarity loss (Wang et al. 2019): soft weighting of every positive and negative pair by cosine similarity.
//
// For anchor i with positives P_i and negatives N_i (S = cosine similarity of L2-normalised embeddings):
//   L_i = (1/α) log(1 + Σ_{k∈P_i} e^{−α(S_ik − λ)}) + (1/β) log(1 + Σ_{k∈N_i} e^{β(S_ik − λ)}),  L = mean_i L_i
// Defaults α = 2, β = 50, λ = 0.5 (pytorch-metric-learning's defaults). Pairs are all pairs of the batch.
import { tf } from '../tf/runtime.js';
import { classIds, l2Normalize, Loss } from './loss.js';

export interface MultiSimilarityOptions {
  alpha?: number;
  beta?: number;
  base?: number;
}

export class MultiSimilarityLoss implements Loss {
  readonly name = 'multi-similarity';
  constructor(private readonly options: MultiSimilarityOptions = {}) {}

  variables(): tf.Variable[] {
    return [];
  }

  compute(embeddings: tf.Tensor2D, labels: tf.Tensor): tf.Scalar {
    const ids = classIds(labels, this.name);
    const n = ids.length;
    const alpha = this.options.alpha ?? 2;
    const beta = this.options.beta ?? 50;
    const base = this.options.base ?? 0.5;
    const pos = new Float32Array(n * n);
    const neg = new Float32Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) (ids[i] === ids[j] ? pos : neg)[i * n + j] = 1;
    const x = l2Normalize(embeddings);
    const s = tf.matMul(x, x, false, true);
    const posTerm = tf.div(tf.log1p(tf.sum(tf.mul(tf.tensor2d(pos, [n, n]), tf.exp(tf.mul(-alpha, tf.sub(s, base)))), 1)), alpha);
    const negTerm = tf.div(tf.log1p(tf.sum(tf.mul(tf.tensor2d(neg, [n, n]), tf.exp(tf.mul(beta, tf.sub(s, base)))), 1)), beta);
    return tf.mean(tf.add(posTerm, negTerm)) as tf.Scalar;
  }
}
