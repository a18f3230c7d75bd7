// The shipped copy descriptor (`--model copy`, issue 16 §2): it resolves offline from models/ (nothing built or
// downloaded), its card records how it was trained, it gives unit 256-d descriptors at any scale, and on real LFW
// photos a re-encoded, slightly cropped copy finds its own original among others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { Embedder } from '../src/models/embedder.js';
import { findModel, resolveModelName } from '../src/models/registry.js';
import { tempDir } from './helpers.js';

const SHARED = path.resolve(process.env['VISID_SHARED'] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../shared'));
const LFW = path.join(SHARED, 'data', 'lfw', 'images');
const SKIP_LFW = existsSync(LFW) ? false : `LFW not found at ${LFW} (set VISID_SHARED)`;

test('--model copy resolves offline to the shipped file; its card says how it was trained', async () => {
  const m = findModel('copy')!;
  assert.equal(m.build, undefined, 'shipped, not built');
  const file = await resolveModelName('copy');
  assert.match(file, /models\/visid-copy-mobilenetv2-v1\.onnx$/);
  assert.ok(existsSync(file));
  const card = JSON.parse(await fs.readFile(file.replace(/\.onnx$/, '.json'), 'utf8'));
  assert.equal(card.outputDim, 256);
  assert.deepEqual(card.inputSize, m.inputSize);
  assert.equal(card.net.type, 'pretrained');
  assert.equal(card.net.backbone, 'photo-small');
  assert.match(card.training.command, /visid train --config configs\/copy-descriptor\.yaml/);
  assert.equal(card.training.loss.name, 'multi-similarity');
});

test('the copy model on real photos: unit 256-d descriptors at one and several scales; a re-encoded crop finds its original', { skip: SKIP_LFW }, async (t) => {
  const people = (await fs.readdir(LFW)).sort().filter((_, i) => i % 97 === 0).slice(0, 8);
  const originals = await Promise.all(people.map(async (p) => path.join(LFW, p, (await fs.readdir(path.join(LFW, p))).sort()[0]!)));
  const dir = tempDir(t);
  const copies: string[] = [];
  for (const [i, f] of originals.entries()) {
    const out = path.join(dir, `copy${i}.jpg`);
    await sharp(f).extract({ left: 15, top: 10, width: 220, height: 225 }).jpeg({ quality: 25 }).toFile(out);
    copies.push(out);
  }
  const e = await Embedder.load(await resolveModelName('copy'));
  try {
    const a = await e.embedFiles(originals);
    const b = await e.embedFiles(copies);
    const multi = await e.embedFiles(copies.slice(0, 2), { scales: [1, 1.25] });
    for (const v of [a.vectors, b.vectors, multi.vectors]) {
      assert.ok(v.every(Number.isFinite));
      for (let r = 0; r < v.length / 256; r++) assert.ok(Math.abs(Math.hypot(...v.subarray(r * 256, (r + 1) * 256)) - 1) < 1e-4);
    }
    let found = 0;
    for (let q = 0; q < copies.length; q++) {
      let best = -1;
      let bestSim = -Infinity;
      for (let r = 0; r < originals.length; r++) {
        let s = 0;
        for (let d = 0; d < 256; d++) s += b.vectors[q * 256 + d]! * a.vectors[r * 256 + d]!;
        if (s > bestSim) (bestSim = s), (best = r);
      }
      if (best === q) found++;
    }
    assert.equal(found, copies.length, `${found} of ${copies.length} copies found their original`);
  } finally {
    await e.close();
  }
});
