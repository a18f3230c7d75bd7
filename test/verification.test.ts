import { test } from 'node:test';
import assert from 'node:assert/strict';
import { balancedFoldOrder, cosineToSquaredDistance, evaluateVerification, kFoldSplits, rocCurve, rocSvg } from '../src/eval/verification.js';

// Two folds of four pairs, worked by hand (see each step below).
const distances = [0.2, 0.8, 1.2, 0.3, /* fold B */ 0.4, 0.9, 1.1, 1.6];
const same = [true, true, false, false, true, true, false, false];
const thresholds = [0.5, 1.0, 1.5];

test('k-fold accuracy: threshold chosen on the other fold, accuracy on this one', () => {
  const r = evaluateVerification(distances, same, { folds: 2, thresholds, farTargets: [0.5, 0.25] });
  // Test A, train B: accuracies on B at 0.5 / 1.0 / 1.5 are 3/4, 4/4, 3/4 → threshold 1.0; on A: 0.2 ✓ 0.8 ✓ 1.2 ✓ 0.3 ✗ → 3/4.
  // Test B, train A: on A 2/4, 3/4, 2/4 → 1.0; on B all four right → 1.
  assert.deepEqual(r.folds, [
    { threshold: 1.0, accuracy: 0.75 },
    { threshold: 1.0, accuracy: 1 },
  ]);
  assert.equal(r.accuracy, 0.875);
  assert.equal(r.accuracyStd, 0.125);
  assert.equal(r.threshold, 1.0);
});

test('TAR@FAR: threshold interpolated on the training folds where FAR meets the target', () => {
  const r = evaluateVerification(distances, same, { folds: 2, thresholds, farTargets: [0.5, 0.25] });
  // FAR 0.5 — test A: FAR on B is 0, 0, 0.5 → threshold 1.5; TAR on A 2/2 (FAR 2/2).
  //           test B: FAR on A is 0.5 at 0.5 → threshold 0.5; TAR on B 1/2 (FAR 0).
  assert.deepEqual(r.tarAtFar['0.5'], { tar: 0.75, tarStd: 0.25, far: 0.5 });
  // FAR 0.25 — test A: between 1.0 (FAR 0) and 1.5 (FAR 0.5) → 1.25; TAR 1, FAR 1. test B: below the first point → 0.5; TAR 0.5.
  assert.deepEqual(r.tarAtFar['0.25'], { tar: 0.75, tarStd: 0.25, far: 0.5 });
});

test('ROC AUC is the probability that a matched pair is closer than a mismatched one', () => {
  // Matched 0.2, 0.8, 0.4, 0.9 against mismatched 1.2, 0.3, 1.1, 1.6: 4 + 3 + 3 + 3 = 13 of 16 orderings right.
  const { auc, roc } = rocCurve(distances, same);
  assert.equal(auc, 13 / 16);
  assert.deepEqual(roc[0], [0, 0]);
  assert.deepEqual(roc.at(-1), [1, 1]);
  assert.match(rocSvg(roc, 'test'), /^<svg[^>]*>.*<polyline points="[\d., ]+"/s);
  assert.throws(() => rocCurve([0.1, 0.2], [true, true]), /both matched and mismatched/);
});

test('folds are contiguous like KFold without shuffling; distances from cosines', () => {
  assert.deepEqual(kFoldSplits(7, 3), [[0, 1, 2], [3, 4], [5, 6]]);
  assert.throws(() => kFoldSplits(3, 5), /cannot be split/);
  assert.equal(cosineToSquaredDistance(1), 0);
  assert.equal(cosineToSquaredDistance(-1), 4);
  assert.throws(() => evaluateVerification([NaN, 1], [true, false], { folds: 2 }), /finite/);
});

test('balancedFoldOrder deals matched and mismatched pairs evenly over contiguous folds', () => {
  // Sorted by label: 4 matched then 6 mismatched; 2 folds of 5 each get 2 matched and 3 mismatched.
  const same = [true, true, true, true, false, false, false, false, false, false];
  const order = balancedFoldOrder(same, 2);
  assert.deepEqual([...order].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  for (const fold of kFoldSplits(10, 2)) assert.equal(fold.filter((i) => same[order[i]!]).length, 2);
});
