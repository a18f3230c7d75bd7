// Contrastive loss (Hadsell et al. 2006; seed 003 ch. 2): pull positives within m_pos, push negatives beyond m_neg.
//
// L = ( Σ_pos [d_ij − m_pos]₊² + Σ_neg [m_neg − d_ij]₊² ) / (#pos + #neg), d = Euclidean distance; all pairs of the
// batch unless a miner picks them (its triplets' (a,p) and (a,n) pairs are used).
import { tf } from '../tf/runtime.js';
import type { Miner } from '../miners/miner.js';
import { allPairs, pairsOf } from '../miners/miner.js';
import { classIds, Loss, pairwiseDistances, pickPairs } from './loss.js';

export interface ContrastiveOptions {
  posMargin?: number;
  negMargin?: number;
  miner?: Miner;
}

export class ContrastiveLoss implements Loss {
  readonly name = 'contrastive';
  constructor(private readonly options: ContrastiveOptions = {}) {}

  variables(): tf.Variable[] {
    return [];
  }

  compute(embeddings: tf.Tensor2D, labels: tf.Tensor): tf.Scalar {
    const ids = classIds(labels, this.name);
    const d = pairwiseDistances(embeddings);
    const pairs = this.options.miner ? pairsOf(this.options.miner.mine(d.dataSync() as Float32Array, ids)) : allPairs(ids);
    const count = pairs.positive[0].length + pairs.negative[0].length;
    if (count === 0) return tf.mul(tf.sum(embeddings), 0) as tf.Scalar;
    const parts: tf.Tensor[] = [];
    if (pairs.positive[0].length) parts.push(tf.sum(tf.square(tf.relu(tf.sub(pickPairs(d, ...pairs.positive), this.options.posMargin ?? 0)))));
    if (pairs.negative[0].length) parts.push(tf.sum(tf.square(tf.relu(tf.sub(this.options.negMargin ?? 1, pickPairs(d, ...pairs.negative))))));
    return tf.div(tf.addN(parts), count) as tf.Scalar;
  }
}
