// Miners pick exactly the triplets their rules name on a hand-made distance matrix.
import test from 'node:test';
import assert from 'node:assert/strict';
import { BatchAllMiner } from '../src/miners/batch-all.js';
import { BatchHardMiner } from '../src/miners/batch-hard.js';
import { SemiHardMiner } from '../src/miners/semi-hard.js';
import { DistanceWeightedMiner } from '../src/miners/distance-weighted.js';
import { pairsOf, type Triplets } from '../src/miners/miner.js';

// Labels [A, A, A, B, B]; symmetric distances.
const labels = Int32Array.from([0, 0, 0, 1, 1]);
const D = [
  [0, 0.3, 0.9, 0.5, 1.3],
  [0.3, 0, 0.4, 0.35, 0.85],
  [0.9, 0.4, 0, 1.05, 0.6],
  [0.5, 0.35, 1.05, 0, 0.7],
  [1.3, 0.85, 0.6, 0.7, 0],
];
const flat = Float32Array.from(D.flat());
const list = (t: Triplets) => Array.from(t.anchors, (a, i) => [a, t.positives[i], t.negatives[i]]);

test('batch-hard: farthest positive and nearest negative per anchor', () => {
  assert.deepEqual(list(new BatchHardMiner().mine(flat, labels)), [
    [0, 2, 3], // pos max(0.3, 0.9) = 2; neg min(0.5, 1.3) = 3
    [1, 2, 3], // pos max(0.3, 0.4) = 2; neg min(0.35, 0.85) = 3
    [2, 0, 4], // pos max(0.9, 0.4) = 0; neg min(1.05, 0.6) = 4
    [3, 4, 1], // pos 4; neg min(0.5, 0.35, 1.05) = 1
    [4, 3, 2], // pos 3; neg min(1.3, 0.85, 0.6) = 2
  ]);
});

test('batch-all: every valid triplet, or only the violating ones under a margin', () => {
  // 3 anchors of A × 2 positives × 2 negatives + 2 anchors of B × 1 positive × 3 negatives = 12 + 6.
  assert.equal(new BatchAllMiner().mine(flat, labels).anchors.length, 18);
  // Margin 0.1 keeps d_ap − d_an + 0.1 > 0, worked by hand:
  assert.deepEqual(list(new BatchAllMiner(0.1).mine(flat, labels)), [
    [0, 2, 3], // 0.9 − 0.5 + 0.1 = 0.5
    [1, 0, 3], // 0.3 − 0.35 + 0.1 = 0.05
    [1, 2, 3], // 0.4 − 0.35 + 0.1 = 0.15
    [2, 0, 4], // 0.9 − 0.6 + 0.1 = 0.4
    [3, 4, 0], // 0.7 − 0.5 + 0.1 = 0.3
    [3, 4, 1], // 0.7 − 0.35 + 0.1 = 0.45
    [4, 3, 2], // 0.7 − 0.6 + 0.1 = 0.2
  ]);
});

test('semi-hard: nearest negative with d_ap < d_an < d_ap + margin', () => {
  assert.deepEqual(list(new SemiHardMiner(0.3).mine(flat, labels)), [
    [0, 1, 3], // (0.3, 0.6): 3 at 0.5.            (0,2): (0.9, 1.2) holds no negative
    [1, 0, 3], // (0.3, 0.6): 3 at 0.35.           (1,2): (0.4, 0.7) holds none
    [2, 0, 3], // (0.9, 1.2): 3 at 1.05
    [2, 1, 4], // (0.4, 0.7): 4 at 0.6.            (3,4): (0.7, 1.0) holds none
    [4, 3, 1], // (0.7, 1.0): 1 at 0.85
  ]);
});

test('distance-weighted sampling: only negatives, never beyond the cutoff, favouring rare distances', () => {
  const miner = new DistanceWeightedMiner({ dim: 64, seed: 5, nonzeroLossCutoff: 1.1 });
  for (let run = 0; run < 20; run++) {
    const t = miner.mine(flat, labels);
    // one negative per (anchor, positive): 3·2 + 2·1 = 8, minus anchors whose negatives are all ≥ 1.1 (none here).
    assert.equal(t.anchors.length, 8);
    for (let i = 0; i < t.anchors.length; i++) {
      assert.equal(labels[t.positives[i]!], labels[t.anchors[i]!]);
      assert.notEqual(labels[t.negatives[i]!], labels[t.anchors[i]!]);
      assert.ok(D[t.anchors[i]!]![t.negatives[i]!]! < 1.1);
    }
  }
  // In 64-d, q(d) grows steeply with d below √2, so 1/q favours the nearer negative by orders of magnitude.
  assert.ok(miner.logWeight(0.6) > miner.logWeight(1.0) + 10);
  // Clipped below at 0.5: distances under the cutoff weigh the same.
  assert.equal(miner.logWeight(0.2), miner.logWeight(0.5));
});

test('pairsOf: distinct (a,p) and (a,n) pairs of triplets', () => {
  const p = pairsOf({ anchors: Int32Array.from([0, 0, 1]), positives: Int32Array.from([1, 1, 0]), negatives: Int32Array.from([3, 4, 3]) });
  assert.deepEqual([Array.from(p.positive[0]), Array.from(p.positive[1])], [[0, 1], [1, 0]]);
  assert.deepEqual([Array.from(p.negative[0]), Array.from(p.negative[1])], [[0, 0, 1], [3, 4, 3]]);
});
