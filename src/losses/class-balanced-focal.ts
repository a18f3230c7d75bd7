// Class-balanced focal loss (seed 002 eq. 3; Cui et al. 2019): each class's focal term weighted by its effective number.
//
// CBFL = −Σ_c (1 − β)/(1 − β^{n_c}) · (1 − p̂_c)^γ log p̂_c, n_c = the number of training samples of class c. The
// weight is used exactly as eq. 3 writes it (not renormalised to sum to C). β → 0 weights every class 1;
// β → 1 weights by 1/n_c.
import { tf } from '../tf/runtime.js';
import type { Loss } from './loss.js';
import { focalTerm } from './focal.js';
import { MultiLabelOptions, reduceClasses, softTargets } from './multi-label.js';

export interface ClassBalancedFocalOptions extends MultiLabelOptions {
  /** Samples per class, n_c (each ≥ 1). */
  classCounts: number[];
  beta?: number;
  gamma?: number;
}

export function classBalancedWeights(counts: number[], beta: number): number[] {
  return counts.map((n, c) => {
    if (!(n >= 1)) throw new Error(`class ${c} has count ${n}; class-balanced weights need n ≥ 1`);
    return beta === 0 ? 1 : (1 - beta) / (1 - beta ** n);
  });
}

export class ClassBalancedFocalLoss implements Loss {
  readonly name = 'class-balanced-focal';
  private readonly weights: number[];
  constructor(private readonly options: ClassBalancedFocalOptions) {
    this.weights = classBalancedWeights(options.classCounts, options.beta ?? 0.999);
  }

  variables(): tf.Variable[] {
    return [];
  }

  compute(logits: tf.Tensor2D, labels: tf.Tensor): tf.Scalar {
    const y = softTargets(logits, labels, this.name);
    if (this.weights.length !== y.shape[1]) throw new Error(`classCounts has ${this.weights.length} entries for ${y.shape[1]} classes`);
    return reduceClasses(focalTerm(logits, y, this.options.gamma ?? 2), this.options, this.weights);
  }
}
