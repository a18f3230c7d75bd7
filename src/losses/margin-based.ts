// Margin-based loss (Wu et al. 2017, "Sampling matters"; seed 003 ch. 2) with a learnable boundary β.
//
// For a pair (i, j) with y_ij = +1 (same class) or −1: ℓ = [α + y_ij (D_ij − β)]₊, D the plain Euclidean distance.
// β is learned (initialised at 1.2; one per class when `perClassBeta`, indexed by the anchor's class) and the loss
// adds ν·β as the paper's regulariser. Normalised by the number of pairs with a non-zero loss, as the paper's code does.
// Pairs come from the miner's triplets (default: distance-weighted sampling) or, without a miner, from all pairs.
import { tf } from '../tf/runtime.js';
import type { Miner } from '../miners/miner.js';
import { allPairs, pairsOf } from '../miners/miner.js';
import { classIds, Loss, pairwiseDistances, pickPairs } from './loss.js';

export interface MarginBasedOptions {
  alpha?: number;
  betaInit?: number;
  /** Regularisation weight ν on β (default 0). */
  nu?: number;
  perClassBeta?: { numClasses: number };
  learnableBeta?: boolean;
  miner?: Miner;
}

export class MarginBasedLoss implements Loss {
  readonly name = 'margin-based';
  readonly beta: tf.Variable;
  constructor(private readonly options: MarginBasedOptions = {}) {
    const n = options.perClassBeta?.numClasses ?? 1;
    this.beta = tf.variable(tf.fill([n], options.betaInit ?? 1.2), options.learnableBeta ?? true);
  }

  variables(): tf.Variable[] {
    return this.beta.trainable ? [this.beta] : [];
  }

  compute(embeddings: tf.Tensor2D, labels: tf.Tensor): tf.Scalar {
    const ids = classIds(labels, this.name);
    const d = pairwiseDistances(embeddings);
    const pairs = this.options.miner ? pairsOf(this.options.miner.mine(d.dataSync() as Float32Array, ids)) : allPairs(ids);
    const alpha = this.options.alpha ?? 0.2;
    const betaOf = (anchors: Int32Array): tf.Tensor1D =>
      this.options.perClassBeta ? (tf.gather(this.beta, tf.tensor1d(Int32Array.from(anchors, (a) => ids[a]!), 'int32')) as tf.Tensor1D) : (tf.tile(this.beta, [anchors.length]) as tf.Tensor1D);
    const terms: tf.Tensor1D[] = [];
    const betas: tf.Tensor1D[] = [];
    if (pairs.positive[0].length) {
      const b = betaOf(pairs.positive[0]);
      terms.push(tf.relu(tf.add(alpha, tf.sub(pickPairs(d, ...pairs.positive), b))) as tf.Tensor1D);
      betas.push(b);
    }
    if (pairs.negative[0].length) {
      const b = betaOf(pairs.negative[0]);
      terms.push(tf.relu(tf.sub(alpha, tf.sub(pickPairs(d, ...pairs.negative), b))) as tf.Tensor1D);
      betas.push(b);
    }
    if (terms.length === 0) return tf.mul(tf.sum(embeddings), 0) as tf.Scalar;
    const all = tf.concat(terms);
    const active = Math.max(1, (tf.greater(all, 0).sum().dataSync() as Int32Array)[0]!);
    let loss = tf.div(tf.sum(all), active);
    const nu = this.options.nu ?? 0;
    if (nu > 0) loss = tf.add(loss, tf.div(tf.mul(nu, tf.sum(tf.concat(betas))), active));
    return loss as tf.Scalar;
  }
}
