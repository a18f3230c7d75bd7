// Copy detection: µAP and recall@P90 on lists worked by hand, stretching and normalisation against hand numbers, matching, perceptual hashes.
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import sharp from 'sharp';
// The package root's API, as the issue asks (the functions live in src/eval/copy-detection.ts).
import { microAveragePrecision, recallAtPrecision, thresholdAtPrecision, matchesCsv, readMatchesCsv, readTruthCsv, type CopyMatch } from '../src/api.js';
import { stretchFactors, stretchedScore, stretchDescriptors, normalizedScore } from '../src/search/stretch.js';
import { matchCopies } from '../src/jobs/copy-detection/match.js';
import { dct1d, dhashBits, hammingDistance, perceptualHash } from '../src/models/perceptual-hash.js';
import { matchHashes } from '../src/jobs/copy-detection/hash-match.js';
import { promises as fs } from 'node:fs';
import { tempDir } from './helpers.js';

const m = (query: string, reference: string, score: number): CopyMatch => ({ query, reference, score });
const truth = [
  { query: 'q1', reference: 'r1' },
  { query: 'q2', reference: 'r2' },
  { query: 'q3', reference: 'r3' },
  { query: 'q4', reference: '' }, // a distractor query, as ISC's files mark it
];

test('µAP by hand: one global ranking, recall over all true pairs (q3 never found), a distractor costs precision', () => {
  const matches = [m('q1', 'r1', 0.9), m('q2', 'r9', 0.8), m('q2', 'r2', 0.7), m('q4', 'r1', 0.6)];
  // ✓ ✗ ✓ ✗ → precision 1, 1/2, 2/3, 1/2; recall 1/3, 1/3, 2/3, 2/3 → µAP = 1/3·1 + 1/3·2/3 = 5/9.
  assert.ok(Math.abs(microAveragePrecision(matches, truth) - 5 / 9) < 1e-12);
  assert.ok(Math.abs(recallAtPrecision(matches, truth) - 1 / 3) < 1e-12);
  assert.ok(Math.abs(recallAtPrecision(matches, truth, 0.6) - 2 / 3) < 1e-12);
  assert.equal(thresholdAtPrecision(matches, truth, 0.6), 0.7);
  // The order of the input list does not matter.
  assert.ok(Math.abs(microAveragePrecision([...matches].reverse(), truth) - 5 / 9) < 1e-12);
});

test('µAP ties: wrong pairs rank first among equal scores, so a constant score cannot win', () => {
  const tied = [m('q1', 'r1', 0.5), m('q2', 'r9', 0.5)];
  // ✗ then ✓: precision 0, 1/2; recall 0, 1/3 → µAP 1/6 (the optimistic order would give 1/3).
  assert.ok(Math.abs(microAveragePrecision(tied, truth) - 1 / 6) < 1e-12);
  assert.equal(recallAtPrecision(tied, truth), 0);
  const allSame = [m('q1', 'r1', 1), m('q2', 'r2', 1), m('q3', 'r3', 1), m('q4', 'r1', 1)];
  // ✗ ✓ ✓ ✓ → precision 0, 1/2, 2/3, 3/4; recall 0, 1/3, 2/3, 1 → (1/2 + 2/3 + 3/4)/3.
  assert.ok(Math.abs(microAveragePrecision(allSame, truth) - (1 / 2 + 2 / 3 + 3 / 4) / 3) < 1e-12);
});

test('µAP edge cases: all correct, all wrong, nothing predicted; duplicates and bad scores are errors', () => {
  assert.equal(microAveragePrecision([m('q1', 'r1', 0.3), m('q2', 'r2', 0.2), m('q3', 'r3', 0.1)], truth), 1);
  assert.equal(recallAtPrecision([m('q1', 'r1', 0.3), m('q2', 'r2', 0.2), m('q3', 'r3', 0.1)], truth), 1);
  assert.equal(microAveragePrecision([m('q1', 'r2', 0.3), m('q4', 'r1', 0.2)], truth), 0);
  assert.equal(recallAtPrecision([m('q1', 'r2', 0.3)], truth), 0);
  assert.equal(microAveragePrecision([], truth), 0);
  assert.throws(() => microAveragePrecision([m('q1', 'r1', 0.3), m('q1', 'r1', 0.2)], truth), /\(q1, r1\) is predicted twice/);
  assert.throws(() => microAveragePrecision([m('q1', 'r1', NaN)], truth), /no finite score/);
  assert.throws(() => microAveragePrecision([m('q1', 'r1', 1)], [{ query: 'q4', reference: '' }]), /recall is undefined/);
  assert.throws(() => microAveragePrecision([], [truth[0]!, truth[0]!]), /twice/);
});

test('match and truth CSV files round-trip; bad rows are named by line', async (t) => {
  const dir = tempDir(t);
  const matches = [m('q1', 'r1', 0.9), m('q,2', 'r"2', -1.5)];
  await fs.writeFile(path.join(dir, 'm.csv'), matchesCsv(matches));
  assert.deepEqual(await readMatchesCsv(path.join(dir, 'm.csv')), matches);
  await fs.writeFile(path.join(dir, 'bad.csv'), 'query_id,reference_id,score\nq1,r1,0.5\nq2,r2,high\n');
  await assert.rejects(readMatchesCsv(path.join(dir, 'bad.csv')), /line 3: score 'high'/);
  await fs.writeFile(path.join(dir, 'gt.csv'), 'query_id,reference_id\nq1,r1\nq4,\n');
  assert.deepEqual(await readTruthCsv(path.join(dir, 'gt.csv')), [{ query: 'q1', reference: 'r1' }, { query: 'q4', reference: '' }]);
});

test('descriptor stretching and score normalisation against hand-computed numbers', () => {
  // q1 = (1, 0), q2 = (0, 1); background (1, 0), (0.6, 0.8), (0, 1).
  // q1's background similarities, best first: 1, 0.6, 0 → s_2 = 0.8 → f = 2.5 · 0.8 = 2.0.
  // q2's: 1, 0.8, 0 → s_2 = 0.9 → f = 2.25.
  const top = Float32Array.from([1, 0.6, 0, 1, 0.8, 0]);
  const f = stretchFactors(top, 3, 2, 2.5);
  assert.ok(Math.abs(f[0]! - 2) < 1e-6 && Math.abs(f[1]! - 2.25) < 1e-6);
  // −‖2·(1,0) − (0.6,0.8)‖ = −‖(1.4, −0.8)‖ = −√2.6.
  assert.ok(Math.abs(stretchedScore(0.6, 2) + Math.sqrt(2.6)) < 1e-12);
  assert.deepEqual(Array.from(stretchDescriptors(Float32Array.from([1, 0, 0, 1]), 2, Float32Array.from([2, 2.25]))), [2, 0, 0, 2.25]);
  assert.throws(() => stretchFactors(top, 3, 4), /n = 4/);
  // Normalisation: cosine minus the n-th background similarity: q1·r(1,0) = 1, its 2nd neighbour 0.6 → 0.4.
  assert.ok(Math.abs(normalizedScore(1, 0.6) - 0.4) < 1e-12);
});

test('matchCopies: raw, stretched and normalised scores of every query’s top-k, by hand', async () => {
  const queries = { ids: ['q1', 'q2'], vectors: Float32Array.from([1, 0, 0, 1]) };
  const refs = { ids: ['r1', 'r2'], vectors: Float32Array.from([0.6, 0.8, 1, 0]) };
  const background = { ids: ['b1', 'b2', 'b3'], vectors: Float32Array.from([1, 0, 0.6, 0.8, 0, 1]) };
  const close = (got: CopyMatch[], want: CopyMatch[]) => {
    assert.equal(got.length, want.length);
    got.forEach((g, i) => {
      assert.equal(`${g.query}/${g.reference}`, `${want[i]!.query}/${want[i]!.reference}`);
      assert.ok(Math.abs(g.score - want[i]!.score) < 1e-5, `${g.query}/${g.reference}: ${g.score} vs ${want[i]!.score}`);
    });
  };
  close(await matchCopies(queries, refs, 2, { k: 2 }), [m('q1', 'r2', 1), m('q1', 'r1', 0.6), m('q2', 'r1', 0.8), m('q2', 'r2', 0)]);
  close(await matchCopies(queries, refs, 2, { k: 2, scoring: 'stretch', background, n: 2 }), [
    m('q1', 'r2', -1), m('q1', 'r1', -Math.sqrt(2.6)), m('q2', 'r1', -Math.sqrt(2.4625)), m('q2', 'r2', -Math.sqrt(6.0625)),
  ]);
  close(await matchCopies(queries, refs, 2, { k: 1, scoring: 'normalize', background, n: 2 }), [m('q1', 'r2', 0.4), m('q2', 'r1', 0)]);
  await assert.rejects(matchCopies(queries, refs, 2, { scoring: 'stretch' }), /needs a background set/);
  await assert.rejects(matchCopies(queries, { ids: ['r1'], vectors: Float32Array.from([1, 0, 0]) }, 2), /1 ids but 1.5/);
});

test('perceptual hashes: DCT and dHash by hand; pHash survives re-encoding and brightening but not a different picture', async (t) => {
  const d = dct1d([1, 2]);
  assert.ok(Math.abs(d[0]! - 3 / Math.SQRT2) < 1e-12 && Math.abs(d[1]! - (1 - 2) / Math.SQRT2) < 1e-12);
  const rising = Array.from({ length: 72 }, (_, i) => i % 9);
  assert.ok(dhashBits(rising).every((b) => b === 1));
  assert.ok(dhashBits(rising.map((v) => 8 - v)).every((b) => b === 0));
  const dir = tempDir(t);
  const scene = (cx: number, colour: string): Buffer => Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="200" height="150"><rect width="200" height="150" fill="#dde"/><circle cx="${cx}" cy="60" r="40" fill="${colour}"/><rect x="20" y="100" width="160" height="30" fill="#333"/><polygon points="150,10 190,60 120,70" fill="#2a6"/></svg>`);
  const a = path.join(dir, 'a.png');
  await sharp(scene(60, '#c33')).png().toFile(a);
  const copy = await sharp(a).modulate({ brightness: 1.15 }).jpeg({ quality: 30 }).toBuffer();
  const other = await sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="200" height="150"><rect width="200" height="150" fill="#222"/><rect x="10" y="0" width="40" height="150" fill="#eee"/><circle cx="140" cy="110" r="30" fill="#fd4"/><rect x="90" y="10" width="100" height="40" fill="#888"/></svg>`)).png().toBuffer();
  for (const kind of ['phash', 'dhash', 'blockhash'] as const) {
    const ha = await perceptualHash(a, kind);
    const near = hammingDistance(ha, await perceptualHash(copy, kind));
    const far = hammingDistance(ha, await perceptualHash(other, kind));
    t.diagnostic(`${kind}: copy ${near}, other ${far}`);
    assert.ok(near <= 6 && far >= 14, `${kind}: copy ${near}, other ${far}`);
  }
  const matches = matchHashes({ ids: ['q'], hashes: [await perceptualHash(copy)] }, { ids: ['a', 'o'], hashes: [await perceptualHash(a), await perceptualHash(other)] }, 2);
  assert.equal(matches[0]!.reference, 'a');
  assert.ok(matches[0]!.score > matches[1]!.score);
  await fs.writeFile(path.join(dir, 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0x00]));
  await assert.rejects(perceptualHash(path.join(dir, 'broken.jpg')), /broken\.jpg|cannot decode/);
});
