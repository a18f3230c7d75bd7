import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expectedColourDescriptor, tempDir, writeChannelMeanModel, writeSolid } from './helpers.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/visid.js');
const run = promisify(execFile);

async function visid(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { ...process.env, FORCE_COLOR: '0' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

type Rgb = [number, number, number];
const REFS: Record<string, Rgb> = { red: [250, 10, 10], green: [10, 240, 10], blue: [0, 20, 250] };
// Two edited copies (a colour shift) and one distractor that copies nothing.
const QUERIES: Record<string, Rgb> = { qa: [235, 30, 20], qb: [20, 30, 230], qz: [128, 128, 128] };
const BACKGROUND: Record<string, Rgb> = { b1: [200, 200, 40], b2: [40, 200, 200] };

const cos = (a: Rgb, b: Rgb) => expectedColourDescriptor(a).reduce((s, v, i) => s + v * expectedColourDescriptor(b)[i]!, 0);

function parseCsv(text: string): { query: string; reference: string; score: number; inliers?: number }[] {
  const [header, ...rows] = text.trim().split('\n');
  assert.match(header!, /^query_id,reference_id,score(,inliers)?$/);
  return rows.map((r) => {
    const [query, reference, score, inliers] = r.split(',');
    return { query: query!, reference: reference!, score: Number(score), ...(inliers === undefined ? {} : { inliers: Number(inliers) }) };
  });
}

async function setup(t: Parameters<typeof tempDir>[0]) {
  const dir = tempDir(t);
  const model = await writeChannelMeanModel(dir);
  const write = async (sub: string, set: Record<string, Rgb>) => {
    for (const [name, rgb] of Object.entries(set)) await writeSolid(path.join(dir, sub, `${name}.png`), rgb);
    return path.join(dir, sub);
  };
  const refsDir = await write('refs', REFS);
  const queries = await write('queries', QUERIES);
  const background = await write('background', BACKGROUND);
  const truth = path.join(dir, 'truth.csv');
  await fs.writeFile(truth, 'query_id,reference_id\nqa.png,red.png\nqb.png,blue.png\nqz.png,\n');
  const gallery = path.join(dir, 'refs-gallery');
  const idx = await visid(['index', refsDir, '--model', model, '--out', gallery, '--quiet']);
  assert.equal(idx.code, 0, idx.stderr);
  return { dir, refsDir, queries, background, truth, gallery };
}

test('visid copy-detect writes every query’s top-k references with their cosine, and visid eval copy scores the file', async (t) => {
  const s = await setup(t);
  const out = path.join(s.dir, 'matches.csv');
  const res = await visid(['copy-detect', '--refs', s.gallery, '--queries', s.queries, '-k', '2', '-o', out, '--truth', s.truth, '--quiet']);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stderr, /3 queries × 3 references → 6 pairs \(raw\).*queries\/s.*6 pairs verified/);
  const rows = parseCsv(await fs.readFile(out, 'utf8'));
  assert.equal(rows.length, 6);
  // Local verification runs by default; flat colours have no keypoints, so every pair keeps its cosine.
  assert.ok(rows.every((r) => r.inliers === 0), JSON.stringify(rows));
  const plainOut = path.join(s.dir, 'plain.csv');
  const plain = await visid(['copy-detect', '--refs', s.gallery, '--queries', s.queries, '-k', '2', '-o', plainOut, '--no-verify', '--quiet']);
  assert.equal(plain.code, 0, plain.stderr);
  assert.doesNotMatch(plain.stderr, /verified/);
  const plainRows = parseCsv(await fs.readFile(plainOut, 'utf8'));
  assert.deepEqual(plainRows, rows.map(({ inliers: _, ...r }) => r), '--no-verify: the same cosines, no inliers column');
  for (const [q, rgb] of Object.entries(QUERIES)) {
    const expected = Object.entries(REFS).map(([r, c]) => ({ reference: `${r}.png`, score: cos(rgb, c) })).sort((a, b) => b.score - a.score).slice(0, 2);
    const got = rows.filter((r) => r.query === `${q}.png`);
    assert.deepEqual(got.map((r) => r.reference), expected.map((e) => e.reference), q);
    got.forEach((r, i) => assert.ok(Math.abs(r.score - expected[i]!.score) < 1e-4, `${q}: ${r.score} vs ${expected[i]!.score}`));
  }
  // Both copies score ≈ 0.999 and every wrong pair (the grey distractor's ≈ 0.6, second choices lower) scores below them: µAP = 1, recall@P90 = 1.
  assert.match(res.stdout, /µAP\s+1\.0000/);
  assert.match(res.stdout, /recall@P90\s+1\.0000/);

  const ev = await visid(['eval', 'copy', '--matches', out, '--truth', s.truth, '--json']);
  assert.equal(ev.code, 0, ev.stderr);
  const m = JSON.parse(ev.stdout);
  assert.equal(m.microAP, 1);
  assert.equal(m.recallAtP90, 1);
  assert.equal(m.predictions, 6);
  assert.equal(m.truthPairs, 2);

  // A truth with a copy nobody predicted halves the recall: µAP = ½ (the two right pairs come first at precision 1 and reach recall 2/4).
  const truth2 = path.join(s.dir, 'truth2.csv');
  await fs.writeFile(truth2, 'query_id,reference_id\nqa.png,red.png\nqb.png,blue.png\nqz.png,\nqx.png,green.png\nqy.png,green.png\n');
  const ev2 = await visid(['eval', 'copy', '--matches', out, '--truth', truth2, '--json']);
  assert.equal(JSON.parse(ev2.stdout).microAP, 0.5);
  assert.equal(JSON.parse(ev2.stdout).recallAtP90, 0.5);
});

test('visid copy-detect --normalize subtracts the query’s similarity to its n-th nearest background image', async (t) => {
  const s = await setup(t);
  const out = path.join(s.dir, 'matches.csv');
  const res = await visid(['copy-detect', '--refs', s.gallery, '--queries', s.queries, '--background', s.background, '--normalize', '-n', '2', '-k', '1', '-o', out, '--quiet']);
  assert.equal(res.code, 0, res.stderr);
  const rows = parseCsv(await fs.readFile(out, 'utf8'));
  for (const [q, rgb] of Object.entries(QUERIES)) {
    const best = Math.max(...Object.values(REFS).map((c) => cos(rgb, c)));
    const secondBackground = Math.min(...Object.values(BACKGROUND).map((c) => cos(rgb, c)));
    const row = rows.find((r) => r.query === `${q}.png`)!;
    assert.ok(Math.abs(row.score - (best - secondBackground)) < 1e-4, `${q}: ${row.score} vs ${best - secondBackground}`);
  }
  const both = await visid(['copy-detect', '--refs', s.gallery, '--queries', s.queries, '--stretch', '--normalize', '-o', out]);
  assert.notEqual(both.code, 0);
  assert.match(both.stderr, /--stretch or --normalize/);
});

test('visid copy-detect --hash matches image folders by perceptual hash; a references folder without --hash is refused', async (t) => {
  const s = await setup(t);
  const out = path.join(s.dir, 'hash.csv');
  const res = await visid(['copy-detect', '--refs', s.refsDir, '--queries', s.queries, '--hash', 'dhash', '-k', '3', '-o', out, '--quiet']);
  assert.equal(res.code, 0, res.stderr);
  const rows = parseCsv(await fs.readFile(out, 'utf8'));
  assert.deepEqual([...new Set(rows.map((r) => r.query))].sort(), ['qa.png', 'qb.png', 'qz.png']);
  assert.ok(rows.every((r) => r.score >= 0 && r.score <= 1), 'hash score is 1 − Hamming distance / 64');
  const refused = await visid(['copy-detect', '--refs', s.refsDir, '--queries', s.queries, '-o', out]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /must be a gallery/);
});
