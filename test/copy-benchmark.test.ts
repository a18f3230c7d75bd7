// The copy benchmark builder on a person-per-folder layout (LFW's): seeded and deterministic, one photo per person
// for references and distractors, the background from other people, every query's source and edit chain recorded;
// and the per-edit scores against hand-worked µAP values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { writeCopyBenchmark } from '../src/jobs/copy-detection/benchmark.js';
import { perEditScores, readQueryEdits } from '../src/jobs/copy-detection/per-edit.js';
import type { StepSpec } from '../src/augment/pipeline.js';

const pipeline: StepSpec[] = [
  { op: 'RandomResizedCrop', p: 0.7, height: 64, width: 64, scale: [0.1, 1] },
  { op: 'OneOf', p: 0.8, ops: [{ op: 'Rotate', limit: 40 }, { op: 'Grayscale' }, { op: 'Pixelize', ratio: [0.1, 0.3] }] },
  { op: 'JpegQuality', p: 0.5, quality: [10, 30] },
];

test('copy benchmark from person folders: deterministic, one photo per person, disjoint people, edits recorded per query', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'visid-copybench-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const photos = path.join(dir, 'photos');
  for (let p = 0; p < 14; p++) {
    await fs.mkdir(path.join(photos, `Person_${p}`), { recursive: true });
    for (let k = 0; k < 2; k++) {
      const px = Buffer.alloc(48 * 40 * 3, (p * 37 + k * 91) % 256);
      for (let i = 0; i < px.length; i += 7) px[i] = (i * (p + 3)) % 251;
      await sharp(px, { raw: { width: 48, height: 40, channels: 3 } }).jpeg().toFile(path.join(photos, `Person_${p}`, `Person_${p}_000${k + 1}.jpg`));
    }
  }
  const build = (out: string) => writeCopyBenchmark(photos, path.join(dir, out), { pipeline, seed: 3, references: 5, distractors: 3, copies: 2, onePerGroup: true, tiles: 1 });
  const a = await build('a');
  const b = await build('b');
  assert.deepEqual(a.counts, { references: 5, copies: 10, distractorQueries: 6, background: 12, train: 12 });
  const digest = async (root: string) => {
    const h = createHash('sha256');
    for (const sub of ['refs', 'queries', 'background']) for (const f of (await fs.readdir(path.join(root, sub))).sort()) h.update(f).update(await fs.readFile(path.join(root, sub, f)));
    return h.update(await fs.readFile(path.join(root, 'queries.csv'))).update(await fs.readFile(path.join(root, 'truth.csv'))).digest('hex');
  };
  assert.equal(await digest(path.join(dir, 'a')), await digest(path.join(dir, 'b')), 'same seed, same files');
  const q = await readQueryEdits(a.queries_csv);
  assert.equal(q.length, 16);
  const person = (src: string) => src.split('/')[0]!;
  const refPeople = new Set(q.filter((x) => x.reference).map((x) => person(x.source)));
  const disPeople = new Set(q.filter((x) => !x.reference).map((x) => person(x.source)));
  assert.equal(refPeople.size, 5, 'five distinct people as references');
  assert.equal(disPeople.size, 3);
  assert.ok([...disPeople].every((p) => !refPeople.has(p)));
  const bg = await fs.readdir(a.background);
  assert.ok(bg.every((f) => !refPeople.has(f.split('__')[0]!) && !disPeople.has(f.split('__')[0]!)), 'background people are disjoint');
  // Each copy's reference is the photo of its source: the reference file holds that person's photo (same pixels modulo JPEG).
  for (const x of q) {
    assert.ok(x.edits.every((e) => ['RandomResizedCrop', 'Rotate', 'Grayscale', 'Pixelize', 'JpegQuality'].includes(e)), x.edits.join(';'));
    assert.ok(x.source.startsWith('Person_'));
  }
  assert.ok(q.some((x) => x.edits.length >= 2), 'edits combine');
});

test('per-edit µAP and recall@P90: hand-worked values', () => {
  const queries = [
    { query: 'q1', reference: 'r1', source: 's1', edits: ['A'] },
    { query: 'q2', reference: 'r2', source: 's2', edits: ['A', 'B'] },
    { query: 'q3', reference: '', source: 's3', edits: ['B'] },
    { query: 'q4', reference: 'r3', source: 's4', edits: [] },
  ];
  const truth = queries.map((x) => ({ query: x.query, reference: x.reference }));
  const matches = [
    { query: 'q1', reference: 'r1', score: 0.9 },
    { query: 'q3', reference: 'r1', score: 0.7 },
    { query: 'q2', reference: 'r2', score: 0.5 },
    { query: 'q4', reference: 'r3', score: 0.95 },
  ];
  const rows = Object.fromEntries(perEditScores(matches, truth, queries).map((r) => [r.edit, r]));
  // A: q1, q2 and the distractor q3 — ranked right (0.9), wrong (0.7), right (0.5): µAP = (1/1 + 2/3) / 2.
  assert.ok(Math.abs(rows['A']!.microAP - (1 + 2 / 3) / 2) < 1e-9);
  // B: q2 and q3 — wrong first, then right: µAP = (1/2) / 1; recall at precision 0.9: 0.
  assert.ok(Math.abs(rows['B']!.microAP - 0.5) < 1e-9);
  assert.equal(rows['B']!.recallAtP90, 0);
  assert.equal(rows['(none)']!.copies, 1);
  assert.equal(rows['(none)']!.microAP, 1);
  assert.equal(rows['(all)']!.copies, 3);
  // all: 0.95 right, 0.9 right, 0.7 wrong, 0.5 right: (1 + 1 + 3/4) / 3.
  assert.ok(Math.abs(rows['(all)']!.microAP - (1 + 1 + 3 / 4) / 3) < 1e-9);
});
