// Local verification (issue 16 §3): ORB + RANSAC finds many inliers between a photo and an edited copy of it
// (rotated, cropped, mirrored, re-encoded) and next to none against a different photo; the re-ranking stage lifts the
// true reference above a distractor; loading OpenCV leaves the process's error handlers as they were.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import sharp from 'sharp';
import { loadOpenCv, localFeatures, orbFeatures, verifiedMatches } from '../src/search/geometric-verification.js';
import { matchesCsv, readMatchesCsv } from '../src/eval/copy-detection.js';
import { verifiedScore, verifyMatches } from '../src/jobs/copy-detection/verify.js';
import { KeypointVoteIndex } from '../src/search/keypoint-index.js';
import { mulberry32 } from '../src/util/random.js';
import { tempDir } from './helpers.js';

/** A 240×200 picture of random overlapping rectangles (corners everywhere: what ORB finds). */
async function texture(file: string, seed: number): Promise<string> {
  const rnd = mulberry32(seed);
  const w = 240;
  const h = 200;
  const px = new Uint8Array(w * h * 3).fill(128);
  for (let r = 0; r < 60; r++) {
    const x0 = Math.floor(rnd() * w);
    const y0 = Math.floor(rnd() * h);
    const x1 = Math.min(w, x0 + 8 + Math.floor(rnd() * 50));
    const y1 = Math.min(h, y0 + 8 + Math.floor(rnd() * 50));
    const c = [rnd() * 255, rnd() * 255, rnd() * 255];
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) for (let k = 0; k < 3; k++) px[(y * w + x) * 3 + k] = c[k]!;
  }
  await sharp(Buffer.from(px), { raw: { width: w, height: h, channels: 3 } }).png().toFile(file);
  return file;
}

async function greyFeatures(file: string) {
  const { data, info } = await sharp(file).greyscale().extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  return orbFeatures(new Uint8Array(data), info.width, info.height, 500);
}

test('ORB + RANSAC: an edited copy keeps many inliers, another photo almost none; OpenCV leaves the error handlers alone', async (t) => {
  const listeners = [process.listeners('uncaughtException').length, process.listeners('unhandledRejection').length];
  await loadOpenCv();
  assert.deepEqual([process.listeners('uncaughtException').length, process.listeners('unhandledRejection').length], listeners);
  const dir = tempDir(t);
  const original = await texture(path.join(dir, 'a.png'), 1);
  const other = await texture(path.join(dir, 'b.png'), 2);
  // The copy: rotated 15°, cropped to its middle, re-encoded as a poor JPEG.
  const copy = path.join(dir, 'copy.jpg');
  await sharp(await sharp(original).rotate(15, { background: '#000' }).toBuffer()).extract({ left: 30, top: 30, width: 200, height: 160 }).jpeg({ quality: 40 }).toFile(copy);
  const [fa, fb, fc] = await Promise.all([greyFeatures(original), greyFeatures(other), greyFeatures(copy)]);
  assert.ok(fa.count > 100 && fa.descriptors.length === fa.count * 32 && fa.points.length === 2 * fa.count);
  const same = await verifiedMatches(fc, fa);
  const different = await verifiedMatches(fc, fb);
  t.diagnostic(`ORB inliers: copy ${same}, other ${different}; keypoints ${fa.count}`);
  assert.ok(same >= 20, `copy ↔ original: ${same} inliers`);
  assert.ok((await verifiedMatches(fc, fa, { strict: false })) >= same, 'the strict checks only remove matches');
  assert.ok(different < 12, `copy ↔ another photo: ${different} inliers`);
  assert.equal(await verifiedMatches({ ...fa, count: 3, points: fa.points.slice(0, 6), descriptors: fa.descriptors.slice(0, 96) }, fa), 0, 'too few keypoints: 0');
  await assert.rejects(orbFeatures(new Uint8Array(10), 4, 4), /grey image of 10 bytes is not 4 × 4/);
});

test('AKAZE features: 61-byte descriptors, capped at the strongest n; a blurred, shrunk copy still verifies; mixed detectors are refused', async (t) => {
  const dir = tempDir(t);
  const original = await texture(path.join(dir, 'a.png'), 5);
  const other = await texture(path.join(dir, 'b.png'), 6);
  // Blur σ 2 and half size, enlarged again for the keypoints: what leaves ORB's FAST corners little to find.
  const copy = path.join(dir, 'copy.jpg');
  await sharp(original).blur(2).resize(120).jpeg({ quality: 40 }).toFile(copy);
  const akaze = async (file: string, side: number, features = 500) => {
    const { data, info } = await sharp(file).greyscale().resize(side, side, { fit: 'inside' }).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    return localFeatures(new Uint8Array(data), info.width, info.height, { detector: 'akaze', features });
  };
  const [fa, fb, fc] = await Promise.all([akaze(original, 400), akaze(other, 400), akaze(copy, 400)]);
  assert.equal(fa.bytes, 61);
  assert.ok(fa.count > 100 && fa.descriptors.length === fa.count * 61 && fa.points.length === 2 * fa.count, `${fa.count} keypoints`);
  const capped = await akaze(original, 400, 40);
  assert.equal(capped.count, 40, 'capped at the 40 strongest');
  const same = await verifiedMatches(fc, fa);
  const different = await verifiedMatches(fc, fb);
  t.diagnostic(`AKAZE inliers: copy ${same}, other ${different}; keypoints ${fa.count}`);
  assert.ok(same >= 20, `blurred copy ↔ original: ${same} inliers`);
  assert.ok(different < 12, `blurred copy ↔ another photo: ${different} inliers`);
  // A homography no copy has (everything squashed onto a line) is refused when strict: the copy's points matched
  // against themselves collapsed to x = 0.
  const squashed = { ...fc, points: fc.points.map((v, i) => (i % 2 === 0 ? v * 1e-3 : v)) };
  assert.ok((await verifiedMatches(squashed, fc, { strict: false })) > 20, 'loose: the degenerate map has inliers');
  assert.equal(await verifiedMatches(squashed, fc), 0, 'strict: refused');
  const orb = await greyFeatures(original);
  await assert.rejects(verifiedMatches(orb, fa), /61 bytes cannot be matched|32 and 61 bytes/);
  assert.throws(() => KeypointVoteIndex.build([orb, fa], ['o', 'a']), /reference a: 61-byte descriptors among 32-byte ones/);
  const index = KeypointVoteIndex.build([fa, fb], ['a', 'b'], { threads: 1 });
  assert.equal(index.search(fc, 1)[0]!.id, 'a');
  assert.throws(() => index.search(orb, 1), /32 bytes against an index of 61-byte/);
  // A reference whose every keypoint is there twice (one corner at two scales) still gets the votes: Lowe's test
  // compares with the nearest code of another reference, not with its own twin.
  const twice = { ...fa, count: 2 * fa.count, points: Float32Array.from([...fa.points, ...fa.points]), descriptors: Uint8Array.from([...fa.descriptors, ...fa.descriptors]) };
  const doubled = KeypointVoteIndex.build([twice, fb], ['a', 'b'], { threads: 1 });
  const votes = doubled.search(fa, 2);
  assert.equal(votes[0]!.id, 'a');
  t.diagnostic(`twin votes ${votes[0]!.votes} of ${fa.count}`);
  assert.ok(votes[0]!.votes > 0.5 * fa.count, `${votes[0]!.votes} of ${fa.count} keypoints vote for their own twin-coded reference`);
});

test('verified score: the descriptor score below the minimum inliers, else inliers + half the descriptor score', () => {
  assert.equal(verifiedScore(0.7, 5), 0.7);
  assert.equal(verifiedScore(0.7, 6), 6.35);
  assert.equal(verifiedScore(-0.2, 40), 39.9);
  assert.equal(verifiedScore(0.5, 9, { minInliers: 10 }), 0.5);
  assert.equal(verifiedScore(0.5, 10, { minInliers: 10, descriptorWeight: 0 }), 10);
  // Any verified pair outranks any unverified cosine (≤ 1).
  assert.ok(verifiedScore(-1, 6) > 1);
});

test('verifyMatches lifts the true reference (a mirrored, cropped copy) above a distractor that scored higher', async (t) => {
  const dir = tempDir(t);
  const refs = { a: await texture(path.join(dir, 'ra.png'), 3), b: await texture(path.join(dir, 'rb.png'), 4) };
  const query = path.join(dir, 'q.jpg');
  await sharp(refs.a).flop().extract({ left: 20, top: 10, width: 180, height: 170 }).jpeg({ quality: 60 }).toFile(query);
  const matches = [
    { query: 'q', reference: 'b', score: 0.9 },
    { query: 'q', reference: 'a', score: 0.5 },
    { query: 'q', reference: 'c', score: 0.1 },
  ];
  const paths: Record<string, string> = { ...refs, c: refs.b };
  const v = await verifyMatches(matches, () => query, (id) => paths[id]!, { topK: 2, quiet: true });
  assert.equal(v.verifiedPairs, 2);
  const byRef = Object.fromEntries(v.matches.map((m) => [m.reference, m.score]));
  assert.ok(byRef['a']! > byRef['b']!, `true reference ${byRef['a']} above the distractor ${byRef['b']}`);
  assert.equal(byRef['b'], 0.9, 'the distractor gains nothing');
  const inliers = Object.fromEntries(v.matches.map((m) => [m.reference, m.inliers]));
  t.diagnostic(`inliers ${JSON.stringify(inliers)}`);
  assert.ok(inliers['a']! >= 12 && inliers['b']! < 6 && inliers['c'] === undefined, JSON.stringify(inliers));
  // The matches file keeps the inlier counts (empty where nothing was verified) and reads them back.
  const csv = path.join(dir, 'm.csv');
  await import('node:fs').then((fs) => fs.promises.writeFile(csv, matchesCsv(v.matches)));
  assert.deepEqual(await readMatchesCsv(csv), v.matches);
  // Two verification threads (the default here) and this thread alone give the same matches, in the same order.
  assert.deepEqual((await verifyMatches(matches, () => query, (id) => paths[id]!, { topK: 2, threads: 1, quiet: true })).matches, v.matches);
  assert.equal(byRef['c'], 0.1, 'beyond the top k: untouched');
  // Without the mirrored query, the mirrored copy is not verified.
  const plain = await verifyMatches(matches, () => query, (id) => paths[id]!, { topK: 2, mirror: false, quiet: true });
  assert.equal(plain.matches.find((m) => m.reference === 'a')!.score, 0.5);
  await assert.rejects(verifyMatches(matches, () => path.join(dir, 'missing.jpg'), (id) => paths[id]!, { quiet: true }), /does not exist/);
});

test('keypoint votes: an edited copy votes for its own reference among five; copy-detect --verify --keypoint-candidates finds it past pHash', async (t) => {
  const dir = tempDir(t);
  const refsDir = path.join(dir, 'refs');
  const queriesDir = path.join(dir, 'queries');
  await Promise.all([refsDir, queriesDir].map((d) => import('node:fs').then((fs) => fs.promises.mkdir(d, { recursive: true }))));
  const refs = [];
  for (let i = 0; i < 5; i++) refs.push(await texture(path.join(refsDir, `r${i}.png`), 10 + i));
  // The copy of r3: a 60 % crop, rotated 10°, pasted on a grey frame — its pHash is far from r3's.
  const crop = await sharp(refs[3]!).extract({ left: 40, top: 30, width: 150, height: 130 }).rotate(10, { background: '#808080' }).toBuffer();
  await sharp({ create: { width: 260, height: 240, channels: 3, background: '#404040' } }).composite([{ input: crop, left: 50, top: 40 }]).jpeg({ quality: 70 }).toFile(path.join(queriesDir, 'q.jpg'));
  const feats = await Promise.all(refs.map(greyFeatures));
  const index = KeypointVoteIndex.build(feats, refs.map((_, i) => `r${i}`), { threads: 1 });
  assert.equal(index.size, feats.reduce((a, f) => a + f.count, 0));
  const votes = index.search(await greyFeatures(path.join(queriesDir, 'q.jpg')), 3);
  assert.equal(votes[0]!.id, 'r3', JSON.stringify(votes));
  assert.ok(votes.every((v, i) => i === 0 || v.votes <= votes[i - 1]!.votes));
  // End to end: a decoy reference (the query itself, heavily blurred: the same pHash, no keypoints) is pHash's one
  // candidate; the keypoint candidate brings r3 in and verification puts it first.
  await sharp(path.join(queriesDir, 'q.jpg')).blur(8).png().toFile(path.join(refsDir, 'decoy.png'));
  const { copyDetect } = await import('../src/jobs/copy-detection/pipeline.js');
  const plain = await copyDetect({ refs: refsDir, queries: queriesDir, hash: 'phash', k: 1, quiet: true });
  assert.equal(plain.matches[0]!.reference, 'decoy.png', 'pHash alone picks the decoy');
  const r = await copyDetect({ refs: refsDir, queries: queriesDir, hash: 'phash', k: 1, verify: { topK: 1, keypointCandidates: 1 }, quiet: true });
  const best = [...r.matches].sort((a, b) => b.score - a.score)[0]!;
  assert.equal(best.reference, 'r3.png');
  assert.ok(best.score > 1, `verified score ${best.score}`);
});
