// Distance-weighted sampling (Wu et al. 2017, "Sampling matters", seed 003 ch. 2): negatives drawn with weight 1/q(d).
//
// On the unit sphere in R^n, pairwise distances of random points have density q(d) ∝ d^(n−2) (1 − d²/4)^((n−3)/2).
// Sampling a negative with probability ∝ min(λ, q(d)^−1) spreads the chosen negatives over all distances instead of
// the concentrated ~√2 band; d is clipped below at `cutoff` (0.5) and negatives beyond `nonzeroLossCutoff` (1.4),
// which give no loss, are never drawn. The embeddings must be L2-normalised. One negative per (anchor, positive).
import { mulberry32 } from '../util/random.js';
import { Miner, Triplets, tripletsFrom } from './miner.js';

export interface DistanceWeightedOptions {
  /** Embedding dimension n of the unit sphere. */
  dim: number;
  cutoff?: number;
  nonzeroLossCutoff?: number;
  seed?: number;
}

export class DistanceWeightedMiner implements Miner {
  readonly name = 'distance-weighted';
  private readonly random: () => number;
  constructor(private readonly options: DistanceWeightedOptions) {
    this.random = mulberry32(options.seed ?? 1);
  }

  /** log of the sampling weight 1/q(d) up to a constant, for d clipped at the cutoff. */
  logWeight(distance: number): number {
    const n = this.options.dim;
    const d = Math.max(distance, this.options.cutoff ?? 0.5);
    const logQ = (n - 2) * Math.log(d) + ((n - 3) / 2) * Math.log(Math.max(1 - 0.25 * d * d, 1e-8));
    return -logQ;
  }

  mine(d: Float32Array, labels: Int32Array): Triplets {
    const n = labels.length;
    const far = this.options.nonzeroLossCutoff ?? 1.4;
    const out: [number, number, number][] = [];
    for (let a = 0; a < n; a++) {
      const candidates: number[] = [];
      const logs: number[] = [];
      for (let q = 0; q < n; q++) {
        if (labels[q] === labels[a] || d[a * n + q]! >= far) continue;
        candidates.push(q);
        logs.push(this.logWeight(d[a * n + q]!));
      }
      // Normalise in log space: the weights span hundreds of orders of magnitude for large n.
      const top = Math.max(...logs);
      const weights = logs.map((l) => Math.exp(l - top));
      const total = weights.reduce((s, w) => s + w, 0);
      for (let p = 0; p < n; p++) {
        if (p === a || labels[p] !== labels[a]) continue;
        if (candidates.length === 0) continue;
        let r = this.random() * total;
        let pick = candidates.length - 1;
        for (let i = 0; i < weights.length; i++) {
          r -= weights[i]!;
          if (r <= 0) {
            pick = i;
            break;
          }
        }
        out.push([a, p, candidates[pick]!]);
      }
    }
    return tripletsFrom(out);
  }
}
