// Center loss (Wen et al. 2016; seed 003 ch. 2), weighted and added to a softmax-family loss.
//
// L = L_softmax + λ · ½ · mean_i ‖x_i − c_{y_i}‖². The class centres c are variables learned by the optimiser
// alongside the network (the paper's centre update is plain gradient descent on this term with its own rate α; here
// it shares the trainer's optimiser, which is the form most implementations use).
import { tf } from '../tf/runtime.js';
import { classIds, Loss } from './loss.js';

export interface CenterLossOptions {
  numClasses: number;
  embeddingDim: number;
  /** λ, the centre term's weight (default 0.01). */
  weight?: number;
  /** The softmax-family loss the centre term is added to; omit for the centre term alone. */
  base?: Loss;
}

export class CenterLoss implements Loss {
  readonly name = 'center';
  readonly centers: tf.Variable;
  constructor(private readonly options: CenterLossOptions) {
    this.centers = tf.variable(tf.zeros([options.numClasses, options.embeddingDim]), true);
  }

  variables(): tf.Variable[] {
    return [this.centers, ...(this.options.base?.variables() ?? [])];
  }

  /** ½ · mean ‖x_i − c_{y_i}‖², the centre term alone. */
  centerTerm(embeddings: tf.Tensor2D, ids: Int32Array): tf.Scalar {
    const c = tf.gather(this.centers, tf.tensor1d(ids, 'int32'));
    return tf.mul(0.5, tf.mean(tf.sum(tf.square(tf.sub(embeddings, c)), 1))) as tf.Scalar;
  }

  compute(embeddings: tf.Tensor2D, labels: tf.Tensor): tf.Scalar {
    const ids = classIds(labels, this.name);
    const term = tf.mul(this.options.weight ?? 0.01, this.centerTerm(embeddings, ids));
    return (this.options.base ? tf.add(this.options.base.compute(embeddings, labels), term) : term) as tf.Scalar;
  }
}
