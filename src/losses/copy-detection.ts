// Seed 004 §3.2's combined loss: batch-hard triplet on the pooled feature, cross-entropy on the projector's output and on the reduced descriptor, and a soft cross-entropy from the projector's predictions to the descriptor's.
//
// L = w_t · triplet(f) + w_p · CE(W_p·p, y) + w_e · CE(W_e·e, y) + w_s · Σ_c −softmax(W_p·p)_c · log softmax(W_e·e)_c
// with f the pooled feature (L2-normalised; the descriptor e itself when the feature is a frozen backbone's, which
// no gradient could move), p the projector's output (8192-d in the seed), e the reduced descriptor (256-d), W_p and
// W_e bias-free linear classifiers over the training images (every image its own class). The 8192-d predictions are
// the soft labels of the 256-d ones ("regarded as labels"): the teacher side carries no gradient. Without a
// projector (a plain FC-BN head: the seed notes the projector helps only with many training images) the two
// projection terms drop out and L = w_t · triplet + w_e · CE(W_e·e, y).
import { tf } from '../tf/runtime.js';
import { BatchHardMiner } from '../miners/batch-hard.js';
import type { NetOutputs } from '../models/networks.js';
import { classIds, detached, l2Normalize, type Loss } from './loss.js';
import { TripletLoss } from './triplet.js';

export interface CopyDetectionLossOptions {
  numClasses: number;
  embeddingDim: number;
  /** The projector's output size; undefined for heads without a projector. */
  projectionDim?: number;
  /** Triplet margin (default 0.3) or 'soft'. */
  margin?: number | 'soft';
  weights?: { triplet?: number; projection?: number; embedding?: number; soft?: number };
  seed?: number;
}

/** A loss that needs a network's intermediate outputs, not only its embedding. */
export interface TappedLoss extends Loss {
  computeTapped(outputs: NetOutputs, labels: tf.Tensor): tf.Scalar;
}

export function isTappedLoss(loss: Loss): loss is TappedLoss {
  return typeof (loss as Partial<TappedLoss>).computeTapped === 'function';
}

export class CopyDetectionLoss implements TappedLoss {
  readonly name = 'copy-detection';
  readonly projectionClassifier?: tf.Variable;
  readonly embeddingClassifier: tf.Variable;
  private readonly triplet: TripletLoss;
  private readonly w: { triplet: number; projection: number; embedding: number; soft: number };

  constructor(private readonly options: CopyDetectionLossOptions) {
    const seed = options.seed ?? 1;
    if (options.projectionDim) this.projectionClassifier = tf.variable(tf.randomNormal([options.projectionDim, options.numClasses], 0, Math.sqrt(1 / options.projectionDim), 'float32', seed + 11));
    this.embeddingClassifier = tf.variable(tf.randomNormal([options.embeddingDim, options.numClasses], 0, Math.sqrt(1 / options.embeddingDim), 'float32', seed + 13));
    this.triplet = new TripletLoss({ margin: options.margin ?? 0.3, miner: new BatchHardMiner() });
    this.w = { triplet: 1, projection: 1, embedding: 1, soft: 1, ...options.weights };
  }

  variables(): tf.Variable[] {
    return this.projectionClassifier ? [this.projectionClassifier, this.embeddingClassifier] : [this.embeddingClassifier];
  }

  compute(): tf.Scalar {
    throw new Error('the copy-detection loss needs the network’s intermediate outputs (the trainer passes them)');
  }

  computeTapped(outputs: NetOutputs, labels: tf.Tensor): tf.Scalar {
    if (!outputs.projection !== !this.projectionClassifier) throw new Error(`the copy-detection loss was built ${this.projectionClassifier ? 'for a projector head but got no projection' : 'without a projector but got a projection'}`);
    const ids = classIds(labels, this.name);
    const onehot = tf.oneHot(tf.tensor1d(ids, 'int32'), this.options.numClasses);
    const logitsE = tf.matMul(outputs.embedding, this.embeddingClassifier as unknown as tf.Tensor2D);
    const tri = this.triplet.compute(l2Normalize(outputs.features ?? outputs.embedding), labels);
    const terms = [tf.mul(this.w.triplet, tri), tf.mul(this.w.embedding, tf.losses.softmaxCrossEntropy(onehot, logitsE))];
    if (outputs.projection && this.projectionClassifier) {
      const logitsP = tf.matMul(outputs.projection, this.projectionClassifier as unknown as tf.Tensor2D);
      const teacher = detached(tf.softmax(logitsP));
      const soft = tf.mean(tf.neg(tf.sum(tf.mul(teacher, tf.logSoftmax(logitsE)), 1)));
      terms.push(tf.mul(this.w.projection, tf.losses.softmaxCrossEntropy(onehot, logitsP)), tf.mul(this.w.soft, soft));
    }
    return tf.addN(terms) as tf.Scalar;
  }
}
