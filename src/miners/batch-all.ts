// Batch-all mining (Hermans et al. 2017): every valid (anchor, positive, negative) triplet of the batch.
import { Miner, positivePairs, Triplets, tripletsFrom } from './miner.js';

export class BatchAllMiner implements Miner {
  readonly name = 'batch-all';
  /** With a margin, keep only the triplets that still violate it (d_ap − d_an + margin > 0). */
  constructor(private readonly margin?: number) {}

  mine(d: Float32Array, labels: Int32Array): Triplets {
    const n = labels.length;
    const out: [number, number, number][] = [];
    for (const [a, p] of positivePairs(labels)) {
      for (let q = 0; q < n; q++) {
        if (labels[q] === labels[a]) continue;
        if (this.margin !== undefined && d[a * n + p]! - d[a * n + q]! + this.margin <= 0) continue;
        out.push([a, p, q]);
      }
    }
    return tripletsFrom(out);
  }
}
