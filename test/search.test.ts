import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { evaluateRetrieval, ExactIndex, Gallery, GallerySearcher, labelVoting, mulberry32, parseMetrics, uniqueLabelRanking, VisidError } from '../src/api.js';
import type { Metric } from '../src/api.js';
import { tempDir } from './helpers.js';

function randomMatrix(rows: number, dim: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: rows * dim }, () => r() * 2 - 1);
}

/** Brute-force reference in float64: scores for every pair, sorted with ties to the lower index. */
function reference(g: Float32Array, q: Float32Array, dim: number, k: number, metric: Metric): { idx: number[][]; val: number[][] } {
  const n = g.length / dim;
  const nq = q.length / dim;
  const norm = (v: Float32Array, i: number) => Math.hypot(...v.subarray(i * dim, (i + 1) * dim));
  const idx: number[][] = [];
  const val: number[][] = [];
  for (let a = 0; a < nq; a++) {
    const scores: Array<[number, number]> = [];
    for (let b = 0; b < n; b++) {
      let s = 0;
      let d2 = 0;
      for (let j = 0; j < dim; j++) {
        s += q[a * dim + j]! * g[b * dim + j]!;
        d2 += (q[a * dim + j]! - g[b * dim + j]!) ** 2;
      }
      if (metric === 'cosine') s /= norm(q, a) * norm(g, b);
      scores.push([metric === 'l2' ? -d2 : s, b]);
    }
    scores.sort((x, y) => y[0] - x[0] || x[1] - y[1]);
    idx.push(scores.slice(0, k).map((s) => s[1]));
    val.push(scores.slice(0, k).map((s) => (metric === 'l2' ? -s[0] : s[0])));
  }
  return { idx, val };
}

for (const metric of ['cosine', 'ip', 'l2'] as Metric[]) {
  test(`exact ${metric} search matches brute force, blocked or not`, async () => {
    const dim = 16;
    const g = randomMatrix(500, dim, 1);
    const q = randomMatrix(37, dim, 2);
    const k = 7;
    const ref = reference(g, q, dim, k, metric);
    for (const opts of [{}, { blockRows: 64 }, { blockRows: 3, scoreMemoryBytes: 4 * 3 * 5 }]) {
      const index = await ExactIndex.create(g, dim, { metric, ...opts });
      const res = await index.search(q, k);
      await index.close();
      for (let a = 0; a < 37; a++) {
        assert.deepEqual([...res.indices.subarray(a * k, (a + 1) * k)], ref.idx[a], `${metric} ${JSON.stringify(opts)} query ${a}`);
        const got = metric === 'l2' ? res.distances! : res.scores;
        for (let j = 0; j < k; j++) assert.ok(Math.abs(got[a * k + j]! - ref.val[a]![j]!) < 1e-4, `${metric} value ${got[a * k + j]} vs ${ref.val[a]![j]}`);
      }
    }
  });
}

test('exact search: equal scores rank the lower row first; k beyond the gallery pads with -1', async () => {
  const g = Float32Array.from([1, 0, 0, 1, 1, 0, 1, 0]); // rows 0, 2, 3 identical
  const index = await ExactIndex.create(g, 2, { metric: 'ip', blockRows: 2 });
  const res = await index.search(Float32Array.from([1, 0]), 6);
  assert.deepEqual([...res.indices], [0, 2, 3, 1, -1, -1]);
  assert.deepEqual([...res.scores.subarray(0, 4)], [1, 1, 1, 0]);
  await assert.rejects(index.search(Float32Array.from([1, 0, 1]), 2), (e: VisidError) => e.code === 'E_DIM');
  await assert.rejects(index.search(Float32Array.from([NaN, 0]), 2), (e: VisidError) => e.code === 'E_NAN');
  await assert.rejects(index.search(Float32Array.from([1, 0]), 0), /positive integer/);
});

test('uniqueLabelRanking keeps each label at its best hit; labelVoting sums scores', () => {
  const hits = [
    { row: 0, id: 'a1', label: 'A', score: 0.9 },
    { row: 1, id: 'a2', label: 'A', score: 0.8 },
    { row: 2, id: 'b1', label: 'B', score: 0.7 },
    { row: 3, id: 'x', score: 0.65 },
    { row: 4, id: 'c1', label: 'C', score: 0.6 },
    { row: 5, id: 'c2', label: 'C', score: 0.55 },
    { row: 6, id: 'c3', label: 'C', score: 0.5 },
  ];
  assert.deepEqual(uniqueLabelRanking(hits, 5).map((h) => [h.label, h.score, h.id, h.count]), [
    ['A', 0.9, 'a1', 2],
    ['B', 0.7, 'b1', 1],
    ['C', 0.6, 'c1', 3],
  ]);
  assert.deepEqual(uniqueLabelRanking(hits, 2).map((h) => h.label), ['A', 'B']);
  // Votes: C = 1.65, A = 1.7, B = 0.7.
  const votes = labelVoting(hits, 3);
  assert.deepEqual(votes.map((v) => v.label), ['A', 'C', 'B']);
  assert.ok(Math.abs(votes[1]!.score - 1.65) < 1e-12);
});

async function labelledGallery(t: Parameters<typeof tempDir>[0]) {
  const dir = path.join(tempDir(t), 'g');
  const g = await Gallery.create(dir, { dim: 2, model: { id: 'm' } });
  // Angles 0°, 10°, 20° (label A), 80°, 90° (label B), 45° (label C).
  const deg = [0, 10, 20, 80, 90, 45];
  const vec = Float32Array.from(deg.flatMap((d) => [Math.cos((d * Math.PI) / 180), Math.sin((d * Math.PI) / 180)]));
  await g.append(vec, [
    { id: 'a0', label: 'A', utmEast: 0, utmNorth: 0 },
    { id: 'a10', label: 'A', utmEast: 10, utmNorth: 0 },
    { id: 'a20', label: 'A', utmEast: 100, utmNorth: 0 },
    { id: 'b80', label: 'B', utmEast: 200, utmNorth: 0 },
    { id: 'b90', label: 'B', utmEast: 210, utmNorth: 0 },
    { id: 'c45', label: 'C', utmEast: 400, utmNorth: 0 },
  ]);
  return g;
}

const at = (d: number) => [Math.cos((d * Math.PI) / 180), Math.sin((d * Math.PI) / 180)];

test('gallery search: ids, labels, scores; unique labels widen until k labels are found', async (t) => {
  const s = await GallerySearcher.create(await labelledGallery(t));
  const hits = await s.search(Float32Array.from(at(5)), { k: 3 });
  assert.deepEqual(hits[0]!.map((h) => h.id), ['a0', 'a10', 'a20']);
  assert.ok(Math.abs(hits[0]![0]!.score - Math.cos((5 * Math.PI) / 180)) < 1e-6);
  const labels = await s.searchLabels(Float32Array.from(at(5)), { k: 3 });
  assert.deepEqual(labels[0]!.map((l) => l.label), ['A', 'C', 'B']);
  const excluded = await s.search(Float32Array.from(at(0)), { k: 2, excludeIds: ['a0'] });
  assert.deepEqual(excluded[0]!.map((h) => h.id), ['a10', 'a20']);
  const l2 = await GallerySearcher.create(s.gallery, { metric: 'l2' });
  const near = await l2.search(Float32Array.from(at(88)), { k: 2 });
  assert.deepEqual(near[0]!.map((h) => h.id), ['b90', 'b80']);
  // Scores are negated squared distances: |q − b90|² = 2 − 2cos 2°.
  assert.ok(Math.abs(-near[0]![0]!.score - (2 - 2 * Math.cos((2 * Math.PI) / 180))) < 1e-5);
  await s.close();
  await l2.close();
});

test('an empty gallery answers every query with no hits and no labels', async (t) => {
  const g = await Gallery.create(path.join(tempDir(t), 'empty'), { dim: 2, model: { id: 'm' } });
  const s = await GallerySearcher.create(g);
  assert.deepEqual(await s.search(Float32Array.from([1, 0, 0, 1]), { k: 3 }), [[], []]);
  assert.deepEqual(await s.searchLabels(Float32Array.from([1, 0]), { k: 5 }), [[]]);
  await s.close();
});

test('evaluateRetrieval: label relevance and geo relevance, worked by hand', async (t) => {
  const s = await GallerySearcher.create(await labelledGallery(t));
  // q1 at 52° → ranking c45 (7°), b80 (28°), a20 (32°), b90 (38°), a10, a0. First B at rank 2 → MAP@5 = 1/2.
  // q2 at 14° → a10 (4°), a20 (6°), a0 (14°), c45, ... label A at rank 1.
  const vectors = Float32Array.from([...at(52), ...at(14)]);
  const queries = [
    { id: 'q1', label: 'B' },
    { id: 'q2', label: 'A' },
  ];
  const report = await evaluateRetrieval(s, queries, vectors, parseMetrics('map@5,recall@1,recall@2,precision@2,mAP'));
  assert.equal(report.relevance, 'label');
  assert.equal(report.metrics['map@5'], (1 / 2 + 1) / 2);
  assert.equal(report.metrics['recall@1'], 1 / 2);
  assert.equal(report.metrics['recall@2'], 1);
  assert.equal(report.metrics['precision@2'], (1 / 2 + 2 / 2) / 2);
  // AP(q1): B at ranks 2 and 4 → (1/2 + 2/4)/2 = 0.5; AP(q2): A at ranks 1, 2, 3 → 1.
  assert.equal(report.metrics['mAP'], (0.5 + 1) / 2);

  // Geo: q at (5, 0) has a0 and a10 within 25 m.
  const geo = await evaluateRetrieval(s, [{ id: 'g', utmEast: 5, utmNorth: 0 }], Float32Array.from(at(85)), parseMetrics('recall@1,recall@5'));
  assert.equal(geo.relevance, 'geo');
  // Ranking at 85°: b80/b90 (tie at 5°: b80 first), c45, a20, a10 → first positive a10 at rank 5.
  assert.deepEqual(geo.metrics, { 'recall@1': 0, 'recall@5': 1 });
  await assert.rejects(evaluateRetrieval(s, [{ id: 'nolabel' }], Float32Array.from(at(0)), parseMetrics('map@5')), /no label/);
  await s.close();
});

test('parseMetrics accepts map@K, recall@K, precision@K, mAP and names what it refuses', () => {
  assert.deepEqual(parseMetrics('map@5, Recall@1,mAP').map((m) => [m.name, m.k]), [
    ['map', 5],
    ['recall', 1],
    ['mAP', undefined],
  ]);
  assert.throws(() => parseMetrics('ndcg@3'), /unknown metric 'ndcg@3'/);
  assert.throws(() => parseMetrics('recall@0'), /at least 1/);
});

test('SearchBatcher: concurrent searches, batched into shared passes, get exactly their own top-k', async (t) => {
  const { SearchBatcher } = await import('../src/server/batcher.js');
  const g = await labelledGallery(t);
  const s = await GallerySearcher.create(g);
  const batcher = new SearchBatcher(() => s, 4, 100);
  const angles = [0, 12, 33, 47, 60, 85, 91, 5, 70, 25];
  const ks = [1, 2, 3, 6, 1, 2, 3, 4, 5, 6];
  const batched = await Promise.all(angles.map((a, i) => batcher.search(Float32Array.from(at(a)), ks[i]!)));
  for (let i = 0; i < angles.length; i++) {
    const [direct] = await s.search(Float32Array.from(at(angles[i]!)), { k: ks[i] });
    assert.deepEqual(batched[i]!.map((h) => h.id), direct!.map((h) => h.id), `query ${i}`);
    // The matrix product may round differently for another batch size: scores agree to float precision.
    batched[i]!.forEach((h, j) => assert.ok(Math.abs(h.score - direct![j]!.score) < 1e-6));
  }
  const full = new SearchBatcher(() => s, 4, 0);
  await assert.rejects(full.search(Float32Array.from(at(0)), 1), (e: VisidError) => e.code === 'E_LOCKED');
  await s.close();
});

test('evaluation curves: Recall@k by k and 11-point interpolated precision–recall, worked by hand', async (t) => {
  const s = await GallerySearcher.create(await labelledGallery(t));
  // q at 52° (label B): ranking c45, b80, a20, b90, a10, a0 → first B at rank 2; B at ranks 2 and 4.
  const r = await evaluateRetrieval(s, [{ id: 'q', label: 'B' }], Float32Array.from(at(52)), parseMetrics('recall@1'), { curveDepth: 6 });
  assert.deepEqual(r.recallCurve, [0, 1, 1, 1, 1, 1]);
  // Points (recall, precision): (0.5, 1/2), (1, 2/4) → interpolated precision 0.5 at every recall level.
  assert.deepEqual(r.prCurve!.map(([, p]) => p), Array(11).fill(0.5));
  await s.close();
});
