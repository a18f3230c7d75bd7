// The copy augmentations of seed 004 Fig. 3: size and determinism under a seed, and one hand property each that can fail.
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { AugmentPipeline, type StepSpec } from '../src/augment/pipeline.js';
import type { RgbImage } from '../src/augment/op.js';
import { mulberry32 } from '../src/util/random.js';
import { noiseImage as noise, solidImage as solid, tempDir, writeSolid } from './helpers.js';


const one = (spec: StepSpec, baseDir?: string) => AugmentPipeline.create([spec], baseDir);

/** The bounding box of the pixels where a and b differ (undefined when none do). */
function changedBox(a: RgbImage, b: RgbImage): { x0: number; y0: number; x1: number; y1: number; count: number } | undefined {
  let box: { x0: number; y0: number; x1: number; y1: number; count: number } | undefined;
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const i = (y * a.width + x) * 3;
      if (a.data[i] === b.data[i] && a.data[i + 1] === b.data[i + 1] && a.data[i + 2] === b.data[i + 2]) continue;
      box = box ? { x0: Math.min(box.x0, x), y0: Math.min(box.y0, y), x1: Math.max(box.x1, x), y1: Math.max(box.y1, y), count: box.count + 1 } : { x0: x, y0: y, x1: x, y1: y, count: 1 };
    }
  }
  return box;
}

const meanAbs = (a: RgbImage, b: RgbImage) => a.data.reduce((s, v, i) => s + Math.abs(v - b.data[i]!), 0) / a.data.length;

test('copy ops keep (or set) the size and are deterministic under a seed; different seeds differ', async () => {
  const img = noise(64, 48);
  const specs: StepSpec[] = [
    { op: 'Pixelize' }, { op: 'PixelShuffle' }, { op: 'JpegQuality' }, { op: 'EmojiOverlay' }, { op: 'TextOverlay' },
    { op: 'ImageOverlay' }, { op: 'ImageUnderlay' }, { op: 'Pad', pad: [0.1, 0.2], fill: 'random' },
  ];
  for (const s of specs) {
    const p = await one(s);
    const a = p.applySeeded(img, 11, 2);
    const b = p.applySeeded(img, 11, 2);
    if (s.op !== 'Pad') assert.deepEqual([a.width, a.height, a.data.length], [64, 48, 64 * 48 * 3], s.op);
    assert.ok(Buffer.from(a.data).equals(Buffer.from(b.data)), `${s.op} is not deterministic`);
    const others = [1, 2, 3, 4, 5].map((k) => p.applySeeded(img, 11 + k, 2));
    assert.ok(others.some((o) => o.width !== a.width || !Buffer.from(o.data).equals(Buffer.from(a.data))), `${s.op} ignores the seed`);
  }
});

test('Pixelize: every block is one flat colour, the mean of the source block', async () => {
  const img = noise(20, 12, 3);
  const out = (await one({ op: 'Pixelize', ratio: [0.25, 0.25] })).applySeeded(img, 1, 0);
  // ratio 0.25 → 4×4 blocks; check each block is constant and block (1, 2) by hand.
  for (let by = 0; by < 12; by += 4) {
    for (let bx = 0; bx < 20; bx += 4) {
      const first = Array.from(out.data.subarray((by * 20 + bx) * 3, (by * 20 + bx) * 3 + 3));
      for (let y = by; y < by + 4; y++) for (let x = bx; x < bx + 4; x++) assert.deepEqual(Array.from(out.data.subarray((y * 20 + x) * 3, (y * 20 + x) * 3 + 3)), first);
    }
  }
  for (let c = 0; c < 3; c++) {
    let sum = 0;
    for (let y = 8; y < 12; y++) for (let x = 4; x < 8; x++) sum += img.data[(y * 20 + x) * 3 + c]!;
    assert.equal(out.data[(8 * 20 + 4) * 3 + c], Math.round(sum / 16));
  }
});

test('PixelShuffle: the same multiset of pixels, and only about `factor` of them moved', async (t) => {
  const img = noise(30, 20, 5);
  const out = (await one({ op: 'PixelShuffle', factor: [0.2, 0.2] })).applySeeded(img, 4, 0);
  const triples = (m: RgbImage) => Array.from({ length: m.width * m.height }, (_, i) => m.data[3 * i]! * 65536 + m.data[3 * i + 1]! * 256 + m.data[3 * i + 2]!).sort((a, b) => a - b);
  assert.deepEqual(triples(out), triples(img));
  const moved = changedBox(img, out)!.count;
  t.diagnostic(`moved ${moved} of 600`);
  assert.ok(moved > 0 && moved <= Math.round(0.2 * 600), `moved ${moved}`);
  assert.ok(moved >= 0.15 * 600, `a 20% shuffle of random pixels moves almost all picks, moved ${moved}`);
});

test('JpegQuality: a flat image survives, detail is lost more at low quality than at high', async (t) => {
  const flat = solid(32, 32, [90, 140, 200]);
  const q10 = await one({ op: 'JpegQuality', quality: [10, 10] });
  const q90 = await one({ op: 'JpegQuality', quality: [90, 90] });
  // A flat image stays flat (its DC coefficient is quantised: the colour may shift a little, uniformly).
  const f = q10.applySeeded(flat, 1, 0);
  for (let c = 0; c < 3; c++) {
    const ch = f.data.filter((_, i) => i % 3 === c);
    assert.ok(Math.max(...ch) - Math.min(...ch) <= 2, `channel ${c} not flat`);
  }
  assert.ok(meanAbs(f, flat) < 8);
  const detail = noise(32, 32, 9);
  const e10 = meanAbs(q10.applySeeded(detail, 1, 0), detail);
  const e90 = meanAbs(q90.applySeeded(detail, 1, 0), detail);
  t.diagnostic(`mean error at q10 ${e10}, q90 ${e90}`);
  assert.ok(e10 > e90 + 10, `error at q10 ${e10} vs q90 ${e90}`);
});

test('EmojiOverlay: only a square box of the drawn size changes, and it does change', async () => {
  const img = solid(100, 80, [30, 30, 30]);
  const p = await one({ op: 'EmojiOverlay', size: [0.2, 0.3], opacity: [1, 1] });
  for (let s = 0; s < 5; s++) {
    const box = changedBox(img, p.applySeeded(img, s, 0))!;
    assert.ok(box, 'the emoji drew nothing');
    assert.ok(box.x1 - box.x0 + 1 <= 24 && box.y1 - box.y0 + 1 <= 24, `box ${JSON.stringify(box)} larger than 0.3 × 80`);
    assert.ok(box.count >= 0.2 * 16 * 16, `emoji covers too little: ${box.count}`);
  }
});

test('TextOverlay: glyphs in one tint colour inside a line no taller than the drawn height', async () => {
  const img = solid(120, 90, [0, 0, 0]);
  const p = await one({ op: 'TextOverlay', height: [0.1, 0.15], opacity: [1, 1] });
  for (let s = 0; s < 5; s++) {
    const out = p.applySeeded(img, s, 0);
    const box = changedBox(img, out)!;
    assert.ok(box && box.count > 20, 'no text drawn');
    assert.ok(box.y1 - box.y0 + 1 <= Math.round(0.15 * 90) + 1, `text too tall: ${JSON.stringify(box)}`);
    // On black, a glyph pixel is alpha × tint: every changed pixel is a multiple of the brightest one.
    let brightest = [0, 0, 0];
    for (let i = 0; i < out.data.length; i += 3) if (out.data[i]! + out.data[i + 1]! + out.data[i + 2]! > brightest[0]! + brightest[1]! + brightest[2]!) brightest = [out.data[i]!, out.data[i + 1]!, out.data[i + 2]!];
    const norm = Math.hypot(...brightest);
    for (let i = 0; i < out.data.length; i += 3) {
      const v = [out.data[i]!, out.data[i + 1]!, out.data[i + 2]!];
      const n = Math.hypot(...v);
      if (n < 40) continue; // faint antialiased edges are dominated by rounding
      const cos = (v[0]! * brightest[0]! + v[1]! * brightest[1]! + v[2]! * brightest[2]!) / (n * norm);
      assert.ok(cos > 0.98, `pixel ${v} is not a shade of ${brightest}`);
    }
  }
});

test('ImageOverlay: the pasted photo replaces a box of the drawn width; everything else is untouched', async (t) => {
  const dir = tempDir(t);
  await writeSolid(path.join(dir, 'others', 'green.png'), [0, 255, 0], 40, 20);
  const img = solid(100, 60, [200, 10, 10]);
  const out = (await one({ op: 'ImageOverlay', dir: 'others', size: [0.3, 0.3], opacity: [1, 1] }, dir)).applySeeded(img, 2, 0);
  const box = changedBox(img, out)!;
  assert.equal(box.x1 - box.x0 + 1, 30);
  assert.equal(box.y1 - box.y0 + 1, 15); // aspect 2:1 kept
  assert.equal(box.count, 30 * 15);
  assert.deepEqual(Array.from(out.data.subarray((box.y0 * 100 + box.x0) * 3, (box.y0 * 100 + box.x0) * 3 + 3)), [0, 255, 0]);
});

test('ImageUnderlay: the image, shrunk by s, sits on the other photo, which fills 1 − s² of the frame', async (t) => {
  const dir = tempDir(t);
  await writeSolid(path.join(dir, 'bg', 'green.png'), [0, 255, 0], 50, 50);
  const img = solid(100, 100, [200, 10, 10]);
  const p = await one({ op: 'ImageUnderlay', dir: 'bg', scale: [0.5, 0.8] }, dir);
  for (let s = 0; s < 5; s++) {
    const out = p.applySeeded(img, s, 0);
    let green = 0;
    let red = 0;
    for (let i = 0; i < out.data.length; i += 3) {
      if (out.data[i] === 0 && out.data[i + 1] === 255) green++;
      if (out.data[i] === 200 && out.data[i + 1] === 10) red++;
    }
    assert.equal(green + red, 10000);
    const side = Math.sqrt(red);
    assert.ok(Number.isInteger(side) && side >= 50 && side <= 80, `pasted square side ${side}`);
  }
});

test('Pad with a range and a random fill: the border is one colour, the image intact inside', async () => {
  const img = noise(20, 20, 2);
  const out = (await one({ op: 'Pad', pad: [0.1, 0.3], fill: 'random' })).applySeeded(img, 3, 0);
  const px = (out.width - 20) / 2;
  assert.ok(Number.isInteger(px) && px >= 2 && px <= 6, `pad ${px}`);
  const corner = Array.from(out.data.subarray(0, 3));
  assert.deepEqual(Array.from(out.data.subarray((out.width * out.height - 1) * 3)), corner);
  for (let y = 0; y < 20; y++) assert.ok(Buffer.from(out.data.subarray(((y + px) * out.width + px) * 3, ((y + px) * out.width + px + 20) * 3)).equals(Buffer.from(img.data.subarray(y * 60, y * 60 + 60))));
});

test('the seed 004 copy pipeline in configs/ loads, is seeded, and changes images', async () => {
  const p = await AugmentPipeline.fromFile(path.resolve('configs/augment/copy-detection.yaml'));
  const img = noise(80, 60, 4);
  const outs = Array.from({ length: 8 }, (_, k) => p.applySeeded(img, 5, k));
  assert.ok(Buffer.from(p.applySeeded(img, 5, 3).data).equals(Buffer.from(outs[3]!.data)));
  assert.ok(outs.filter((o) => o.width !== 80 || !Buffer.from(o.data).equals(Buffer.from(img.data))).length >= 6);
});
