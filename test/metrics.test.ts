import { test } from 'node:test';
import assert from 'node:assert/strict';
import { averagePrecision, mapAtK, meanAveragePrecision, precisionAtK, recallAtK } from '../src/api.js';
import { VisidError } from '../src/util/errors.js';

test('mapAtK: 1/rank of the first correct label within k, else 0 (Kaggle MAP@5)', () => {
  // Worked by hand: ranks 1, 3, none, 5, and a hit at rank 6 beyond k=5 → (1 + 1/3 + 0 + 1/5 + 0) / 5.
  const preds = [
    ['a', 'b', 'c', 'd', 'e'],
    ['x', 'y', 'b', 'z', 'w'],
    ['q', 'r', 's', 't', 'u'],
    ['1', '2', '3', '4', 'c'],
    ['1', '2', '3', '4', '5', 'd'],
  ];
  const truths = ['a', 'b', 'zz', 'c', 'd'];
  assert.ok(Math.abs(mapAtK(preds, truths) - (1 + 1 / 3 + 1 / 5) / 5) < 1e-12);
  assert.equal(mapAtK(preds, truths, 1), 1 / 5);
  assert.ok(Math.abs(mapAtK(preds, truths, 6) - (1 + 1 / 3 + 1 / 5 + 1 / 6) / 5) < 1e-12);
});

test('mapAtK: a repeated label counts once (its first appearance)', () => {
  assert.equal(mapAtK([['b', 'a', 'a']], ['a'], 5), 1 / 2);
  assert.equal(mapAtK([['b', 'b', 'a']], ['a'], 5), 1 / 3);
});

test('recallAtK: a query is a hit when any of its first k is relevant', () => {
  const ranked = [
    ['a', 'b', 'c'],
    ['d', 'e', 'f'],
    ['g', 'h', 'i'],
  ];
  const relevant = [['c'], ['d', 'x'], []];
  assert.equal(recallAtK(ranked, relevant, 1), 1 / 3);
  assert.equal(recallAtK(ranked, relevant, 2), 1 / 3);
  assert.equal(recallAtK(ranked, relevant, 3), 2 / 3);
  assert.equal(recallAtK(ranked, relevant, 10), 2 / 3);
});

test('precisionAtK: relevant share of the first k, short lists padded with misses', () => {
  assert.equal(precisionAtK([['a', 'b', 'c', 'd']], [['a', 'c', 'z']], 2), 1 / 2);
  assert.equal(precisionAtK([['a', 'b', 'c', 'd']], [['a', 'c', 'z']], 4), 2 / 4);
  assert.equal(precisionAtK([['a']], [['a']], 5), 1 / 5);
  // Mean over queries: (2/2 + 0/2) / 2.
  assert.equal(precisionAtK([['a', 'b'], ['c', 'd']], [['a', 'b'], ['x']], 2), 0.5);
});

test('averagePrecision: mean of precision at each relevant rank over all relevant ids', () => {
  // Relevant at ranks 1, 3 and one never retrieved: (1/1 + 2/3) / 3.
  assert.ok(Math.abs(averagePrecision(['a', 'x', 'b', 'y'], ['a', 'b', 'c']) - (1 + 2 / 3) / 3) < 1e-12);
  // Textbook example: relevant at ranks 2 and 4 of 4 relevant: (1/2 + 2/4) / 4 = 0.25.
  assert.equal(averagePrecision(['n1', 'r1', 'n2', 'r2'], ['r1', 'r2', 'r3', 'r4']), 0.25);
  assert.equal(averagePrecision(['a', 'b'], []), 0);
  assert.equal(averagePrecision([], ['a']), 0);
  // A repeated relevant id counts once, at its first rank.
  assert.equal(averagePrecision(['a', 'a', 'b'], ['a', 'b']), (1 + 2 / 3) / 2);
});

test('meanAveragePrecision averages AP over queries', () => {
  const map = meanAveragePrecision([['a', 'x'], ['x', 'b']], [['a'], ['b']]);
  assert.equal(map, (1 + 1 / 2) / 2);
});

test('metrics refuse mismatched or empty inputs and bad k', () => {
  assert.throws(() => mapAtK([['a']], ['a', 'b']), VisidError);
  assert.throws(() => recallAtK([], [], 1), /no queries/);
  assert.throws(() => precisionAtK([['a']], [['a']], 0), /positive integer/);
  assert.throws(() => meanAveragePrecision([['a']], []), /1 ranked lists but 0/);
});
