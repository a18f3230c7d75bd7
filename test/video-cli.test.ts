// The video path end to end through the CLI on real labelled photos: demo data → classifier → videos → index → search → eval; resume, fusion, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from './helpers.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/visid.js');
const run = promisify(execFile);
const SHARED = process.env.VISID_SHARED ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared');
const PEOPLE = path.join(SHARED, 'data', 'faces-deepface');

async function visid(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { ...process.env, FORCE_COLOR: '0' }, maxBuffer: 1 << 24 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('visid video demo → search → eval → index resume → fuse on real photos made into videos by ffmpeg', async (t) => {
  const dir = tempDir(t);
  const out = path.join(dir, 'demo');
  const people = await fs.access(PEOPLE).then(() => ['--people', PEOPLE], () => []);
  const demo = await visid(['video', 'demo', '-o', out, '--clips', '8', '--epochs', '20', '--quiet', ...people]);
  assert.equal(demo.code, 0, demo.stderr);
  const map = Number(/mAP\s+([\d.]+)/.exec(demo.stdout)?.[1]);
  const lrap = Number(/LRAP\s+([\d.]+) over (\d+) frames/.exec(demo.stdout)?.[1]);
  // 8 clips × 3 shots × 2 s at 10 fps = 480 frames; a trained classifier ranks clips far better than chance.
  assert.match(demo.stdout, /LRAP\s+[\d.]+ over 480 frames/);
  t.diagnostic(`video demo LRAP ${lrap}, mAP ${map}`);
  assert.ok(lrap > 0.8, `LRAP ${lrap}`);
  assert.ok(map > 0.6, `mAP ${map}`);
  const index = path.join(out, 'index');

  const search = await visid(['video', 'search', index, '--feature', 'Sneaker', 'Bag', '--k', '3', '--format', 'json']);
  assert.equal(search.code, 0, search.stderr);
  const results = JSON.parse(search.stdout) as Array<{ feature: string; number: number; ranking: Array<{ clip: string; score: number }> }>;
  assert.deepEqual(results.map((r) => r.feature), ['footwear: Sneaker', 'accessory: Bag']);
  // The classifier's validation thresholds (in its card) mark each ranked clip detected or not.
  const card = JSON.parse(await fs.readFile(path.join(out, 'classifier.json'), 'utf8')) as { classes: string[]; thresholds: number[] };
  for (const r of results) {
    const t = card.thresholds[card.classes.indexOf(r.feature)]!;
    for (const c of r.ranking as Array<{ score: number; detected?: boolean }>) assert.equal(c.detected, c.score >= t);
    assert.equal(r.ranking.length, 3);
    for (let i = 1; i < 3; i++) assert.ok(r.ranking[i - 1]!.score >= r.ranking[i]!.score);
  }
  const trec = await visid(['video', 'search', index, '-f', 'footwear: Sneaker', '-k', '2', '--format', 'trec', '--run-id', 'demo1']);
  assert.match(trec.stdout, /^8 Q0 clip\d{3} 1 [\d.]+ demo1\n8 Q0 clip\d{3} 2 [\d.]+ demo1\n$/);
  const tsv = await visid(['video', 'search', index, '-k', '1']);
  assert.equal(tsv.stdout.trim().split('\n').length, 1 + (people.length ? 11 : 10));

  const ev = await visid(['video', 'eval', index, '--truth', path.join(out, 'truth.csv'), '--aggregate', 'mean', '--json']);
  assert.equal(ev.code, 0, ev.stderr);
  const report = JSON.parse(ev.stdout);
  assert.equal(report.frames, 480);
  assert.ok(report.perFeature.every((f: { feature: string }) => !f.feature.endsWith(': none')));

  // Re-running the index with the same videos resumes: nothing to do.
  const videos = path.join(out, 'videos');
  const again = await visid(['video', 'index', videos, '-m', path.join(out, 'classifier.onnx'), '-o', index, '--quiet']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /0 videos indexed \(0 frames.*8 already there/);
  const otherSampling = await visid(['video', 'index', videos, '-m', path.join(out, 'classifier.onnx'), '-o', index, '--fps', '5', '--quiet']);
  assert.notEqual(otherSampling.code, 0);
  assert.match(otherSampling.stderr, /the index samples/);

  // Fusing an index with itself (any weights) leaves every score as it was.
  const fused = path.join(dir, 'fused');
  const fuse = await visid(['video', 'fuse', index, index, '--weights', '2,1', '-o', fused]);
  assert.equal(fuse.code, 0, fuse.stderr);
  const a = await visid(['video', 'search', index, '-f', 'Bag', '-k', '8', '--format', 'json']);
  const b = await visid(['video', 'search', fused, '-f', 'Bag', '-k', '8', '--format', 'json']);
  const sa = JSON.parse(a.stdout)[0].ranking, sb = JSON.parse(b.stdout)[0].ranking;
  assert.deepEqual(sb.map((r: { clip: string }) => r.clip), sa.map((r: { clip: string }) => r.clip));
  sb.forEach((r: { score: number }, i: number) => assert.ok(Math.abs(r.score - sa[i].score) < 1e-6));

  // Bad input: an unknown feature, a video that is not one, a label outside the set.
  const unknown = await visid(['video', 'search', index, '-f', 'tsunami']);
  assert.match(unknown.stderr, /unknown feature 'tsunami'/);
  const notVideo = path.join(dir, 'fake.mp4');
  await fs.writeFile(notVideo, 'not a video');
  const bad = await visid(['video', 'index', notVideo, '-m', path.join(out, 'classifier.onnx'), '-o', path.join(dir, 'bad-index'), '--quiet']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /fake\.mp4/);
  const badLabels = path.join(dir, 'labels.csv');
  await fs.writeFile(badLabels, 'image,label\nfm00000.png,volcano\n');
  const train = await visid(['video', 'train', path.join(out, 'train'), '--labels', badLabels, '--label-set', path.join(out, 'labels.txt'), '-o', path.join(dir, 'c.onnx'), '--quiet']);
  assert.notEqual(train.code, 0);
  assert.match(train.stderr, /labels\.csv:2: unknown label 'volcano'/);
});
