// Semi-hard mining (FaceNet, Schroff et al. 2015, seed 003 ch. 2): per (anchor, positive), the nearest negative farther than the positive.
//
// FaceNet picks negatives with d_ap < d_an (inside the margin band d_an < d_ap + α when one exists): hard enough to
// teach, not so hard that training collapses. Pairs with no negative farther than their positive are skipped.
import { Miner, positivePairs, Triplets, tripletsFrom } from './miner.js';

export class SemiHardMiner implements Miner {
  readonly name = 'semi-hard';
  constructor(private readonly margin = 0.2) {}

  mine(d: Float32Array, labels: Int32Array): Triplets {
    const n = labels.length;
    const out: [number, number, number][] = [];
    for (const [a, p] of positivePairs(labels)) {
      const dap = d[a * n + p]!;
      let best = -1;
      for (let q = 0; q < n; q++) {
        if (labels[q] === labels[a]) continue;
        const daq = d[a * n + q]!;
        if (daq <= dap || daq >= dap + this.margin) continue;
        if (best < 0 || daq < d[a * n + best]!) best = q;
      }
      if (best >= 0) out.push([a, p, best]);
    }
    return tripletsFrom(out);
  }
}
