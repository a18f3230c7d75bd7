// Triplet loss (FaceNet; Hermans et al. 2017 soft margin; seed 003 ch. 2, seed 004 §3.2): anchors nearer their positives than their negatives.
//
// Per mined triplet (a, p, n): hinge [d_ap − d_an + m]₊, or soft margin log(1 + exp(d_ap − d_an)); d is the plain
// Euclidean distance or its square (FaceNet's original). The loss is the mean over the miner's triplets (default:
// batch-hard); a batch with no valid triplet gives 0 with a zero gradient.
import { tf } from '../tf/runtime.js';
import { BatchHardMiner } from '../miners/batch-hard.js';
import type { Miner } from '../miners/miner.js';
import { classIds, Loss, pairwiseDistances, pickPairs } from './loss.js';

export interface TripletOptions {
  /** A fixed margin (default 0.2) or 'soft' for log(1 + exp(d_ap − d_an)). */
  margin?: number | 'soft';
  squared?: boolean;
  miner?: Miner;
}

export class TripletLoss implements Loss {
  readonly name = 'triplet';
  private readonly miner: Miner;
  constructor(private readonly options: TripletOptions = {}) {
    this.miner = options.miner ?? new BatchHardMiner();
  }

  variables(): tf.Variable[] {
    return [];
  }

  compute(embeddings: tf.Tensor2D, labels: tf.Tensor): tf.Scalar {
    const ids = classIds(labels, this.name);
    const d = pairwiseDistances(embeddings, this.options.squared ?? false);
    const t = this.miner.mine(d.dataSync() as Float32Array, ids);
    if (t.anchors.length === 0) return tf.mul(tf.sum(embeddings), 0) as tf.Scalar;
    const diff = tf.sub(pickPairs(d, t.anchors, t.positives), pickPairs(d, t.anchors, t.negatives));
    const margin = this.options.margin ?? 0.2;
    const per = margin === 'soft' ? tf.softplus(diff) : tf.relu(tf.add(diff, margin));
    return tf.mean(per) as tf.Scalar;
  }
}
