// Domain-adversarial training (seed 001 §3; Ganin & Lempitsky 2015): a task loss plus a domain classifier behind a gradient reversal layer.
//
// L = L_task(labelled rows) + w · BCE(domain classifier(GRL_λ(e)), domain). The classifier (FC-ReLU-FC → 1 logit)
// learns to tell the domains apart; the reversed gradient pushes the embedding to make them indistinguishable,
// e.g. day and night photos of one place (seed 001 uses a few target-domain images this way).
// Labels: an int32 [B, 2] matrix — column 0 the class id (−1 for unlabelled target images), column 1 the domain
// (0 = source, 1 = target); a plain class-id vector means "all source".
import { tf } from '../tf/runtime.js';
import { gradientReversal } from '../models/gradient-reversal.js';
import { Dense } from '../models/layers.js';
import type { Loss } from './loss.js';

export interface DomainAdversarialOptions {
  task: Loss;
  embeddingDim: number;
  hidden?: number;
  /** GRL factor λ (default 1). */
  lambda?: number;
  /** Weight w of the domain term (default 0.1). */
  weight?: number;
  seed?: number;
}

export class DomainAdversarialLoss implements Loss {
  readonly name = 'domain-adversarial';
  private readonly fc1: Dense;
  private readonly fc2: Dense;
  constructor(private readonly options: DomainAdversarialOptions) {
    const h = options.hidden ?? 64;
    this.fc1 = new Dense('domain.fc1', options.embeddingDim, h, options.seed ?? 1);
    this.fc2 = new Dense('domain.fc2', h, 1, (options.seed ?? 1) + 1);
  }

  variables(): tf.Variable[] {
    return [...this.options.task.variables(), ...this.fc1.params().map((p) => p.variable), ...this.fc2.params().map((p) => p.variable)];
  }

  /** The domain classifier's logits, [B]; `reverse` puts the gradient reversal layer in front. */
  domainLogits(embeddings: tf.Tensor2D, reverse = true): tf.Tensor1D {
    const input = reverse ? gradientReversal(embeddings, this.options.lambda ?? 1) : embeddings;
    return tf.reshape(this.fc2.apply(tf.relu(this.fc1.apply(input))), [-1]) as tf.Tensor1D;
  }

  /** Mean BCE of the domain classifier. */
  domainLoss(embeddings: tf.Tensor2D, domains: Float32Array, reverse = true): tf.Scalar {
    const z = this.domainLogits(embeddings, reverse);
    const d = tf.tensor1d(domains);
    return tf.mean(tf.add(tf.mul(d, tf.softplus(tf.neg(z))), tf.mul(tf.sub(1, d), tf.softplus(z)))) as tf.Scalar;
  }

  compute(embeddings: tf.Tensor2D, labels: tf.Tensor): tf.Scalar {
    let classes: Int32Array;
    let domains: Float32Array;
    if (labels.rank === 1) {
      classes = Int32Array.from(labels.dataSync() as ArrayLike<number>);
      domains = new Float32Array(classes.length);
    } else {
      const v = labels.dataSync() as ArrayLike<number>;
      const n = labels.shape[0]!;
      classes = Int32Array.from({ length: n }, (_, i) => v[2 * i]!);
      domains = Float32Array.from({ length: n }, (_, i) => v[2 * i + 1]!);
    }
    const labelled = Array.from(classes.keys()).filter((i) => classes[i]! >= 0);
    const domainTerm = tf.mul(this.options.weight ?? 0.1, this.domainLoss(embeddings, domains));
    if (labelled.length === 0) return domainTerm as tf.Scalar;
    const idx = tf.tensor1d(Int32Array.from(labelled), 'int32');
    const task = this.options.task.compute(tf.gather(embeddings, idx) as tf.Tensor2D, tf.tensor1d(Int32Array.from(labelled, (i) => classes[i]!), 'int32'));
    return tf.add(task, domainTerm) as tf.Scalar;
  }
}
