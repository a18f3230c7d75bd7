// Batch-hard mining (Hermans et al. 2017, seed 003 ch. 2, seed 004 §3.2): per anchor, its farthest positive and nearest negative.
import { Miner, Triplets, tripletsFrom } from './miner.js';

export class BatchHardMiner implements Miner {
  readonly name = 'batch-hard';

  mine(d: Float32Array, labels: Int32Array): Triplets {
    const n = labels.length;
    const out: [number, number, number][] = [];
    for (let a = 0; a < n; a++) {
      let hardPos = -1;
      let hardNeg = -1;
      for (let j = 0; j < n; j++) {
        if (j === a) continue;
        const dist = d[a * n + j]!;
        if (labels[j] === labels[a]) {
          if (hardPos < 0 || dist > d[a * n + hardPos]!) hardPos = j;
        } else if (hardNeg < 0 || dist < d[a * n + hardNeg]!) {
          hardNeg = j;
        }
      }
      // An anchor without a positive or a negative in the batch contributes nothing.
      if (hardPos >= 0 && hardNeg >= 0) out.push([a, hardPos, hardNeg]);
    }
    return tripletsFrom(out);
  }
}
