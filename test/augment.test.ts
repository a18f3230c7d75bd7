// Every augmentation op: output size, determinism under a seed, and a property worked out by hand that can fail.
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import sharp from 'sharp';
import { AugmentPipeline, type StepSpec } from '../src/augment/pipeline.js';
import type { RgbImage } from '../src/augment/op.js';
import { mulberry32 } from '../src/util/random.js';
import { noiseImage as noise, solidImage as solid, tempDir } from './helpers.js';


async function op(spec: StepSpec): Promise<AugmentPipeline> {
  return AugmentPipeline.create([spec]);
}

const px = (img: RgbImage, x: number, y: number) => Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));

test('every op keeps (or sets) the size and is deterministic under a seed', async () => {
  const img = noise(40, 30);
  const specs: StepSpec[] = [
    { op: 'HorizontalFlip' }, { op: 'Resize', height: 20, width: 25 }, { op: 'RandomResizedCrop', height: 16, width: 16 },
    { op: 'RandomBrightness' }, { op: 'RandomContrast' }, { op: 'RandomGamma' }, { op: 'Darken' }, { op: 'Grayscale' },
    { op: 'ColorJitter' }, { op: 'GaussianBlur' }, { op: 'ShiftScaleRotate' }, { op: 'Rotate' }, { op: 'Perspective' },
    { op: 'Pad', pad: 3 }, { op: 'CoarseDropout' }, { op: 'RedOcclusion' },
    { op: 'OneOf', ops: [{ op: 'Rotate' }, { op: 'GaussianBlur' }] },
  ];
  const sizes: Record<string, [number, number]> = { Resize: [25, 20], RandomResizedCrop: [16, 16], Pad: [46, 36] };
  for (const s of specs) {
    const p = await op(s);
    const a = p.applySeeded(img, 7, 3);
    const b = p.applySeeded(img, 7, 3);
    const [w, h] = sizes[s.op] ?? [40, 30];
    assert.deepEqual([a.width, a.height, a.data.length], [w, h, w * h * 3], s.op);
    assert.ok(Buffer.from(a.data).equals(Buffer.from(b.data)), `${s.op} not deterministic`);
  }
});

test('flips and photometric ops, by hand', async () => {
  const img = noise(9, 5);
  const flip = await op({ op: 'HorizontalFlip' });
  const once = flip.applySeeded(img, 1, 0);
  assert.deepEqual(px(once, 0, 2), px(img, 8, 2));
  assert.ok(Buffer.from(flip.applySeeded(once, 1, 0).data).equals(Buffer.from(img.data)), 'flip twice is the identity');
  const grey = solid(4, 4, [100, 100, 100]);
  assert.deepEqual(px((await op({ op: 'RandomBrightness', limit: [0.1, 0.1] })).applySeeded(grey, 1, 0), 0, 0), [126, 126, 126]); // 100 + 25.5
  assert.deepEqual(px((await op({ op: 'RandomContrast', limit: [0.5, 0.5] })).applySeeded(grey, 1, 0), 1, 1), [150, 150, 150]);
  assert.deepEqual(px((await op({ op: 'RandomGamma', gammaLimit: [200, 200] })).applySeeded(solid(2, 2, [128, 128, 128]), 1, 0), 0, 0), [64, 64, 64]); // 255·(128/255)²
  assert.deepEqual(px((await op({ op: 'Darken', factor: [0.25, 0.25] })).applySeeded(solid(2, 2, [200, 40, 8]), 1, 0), 0, 0), [50, 10, 2]);
  assert.deepEqual(px((await op({ op: 'Grayscale' })).applySeeded(solid(2, 2, [255, 0, 0]), 1, 0), 0, 0), [76, 76, 76]); // 0.299·255
  const still = (await op({ op: 'ColorJitter', brightness: 0, contrast: 0, saturation: 0, hue: 0 })).applySeeded(img, 1, 0);
  assert.ok(Buffer.from(still.data).equals(Buffer.from(img.data)), 'zero jitter is the identity');
  const hue = (await op({ op: 'ColorJitter', brightness: 0, contrast: 0, saturation: 0, hue: 0.5 })).applySeeded(solid(2, 2, [200, 50, 50]), 3, 0);
  assert.notDeepEqual(px(hue, 0, 0), [200, 50, 50]);
  await assert.rejects(op({ op: 'Darken', factor: [0.5, 2] }), /Darken.*factor/);
});

test('blur: a solid image is unchanged, a dot spreads symmetrically', async () => {
  const blur = await op({ op: 'GaussianBlur', sigma: [1, 1] });
  assert.ok(Buffer.from(blur.applySeeded(solid(7, 7, [90, 90, 90]), 1, 0).data).equals(Buffer.from(solid(7, 7, [90, 90, 90]).data)));
  const dot = solid(9, 9, [0, 0, 0]);
  dot.data.set([255, 255, 255], (4 * 9 + 4) * 3);
  const out = blur.applySeeded(dot, 1, 0);
  assert.ok(px(out, 4, 4)[0]! < 255 && px(out, 4, 4)[0]! > 0);
  assert.deepEqual(px(out, 3, 4), px(out, 5, 4));
  assert.deepEqual(px(out, 4, 3), px(out, 4, 5));
});

test('geometric ops: zero limits are the identity, exact rotations move pixels where they should', async () => {
  const img = noise(12, 12, 5);
  for (const s of [{ op: 'ShiftScaleRotate', shiftLimit: 0, scaleLimit: 0, rotateLimit: 0 }, { op: 'Perspective', scale: [0, 0] }, { op: 'Rotate', limit: [0, 0] }]) {
    assert.ok(Buffer.from((await op(s)).applySeeded(img, 1, 0).data).equals(Buffer.from(img.data)), `${s.op} with zero limits`);
  }
  // 180° about the centre: (x, y) → (11 − x, 11 − y).
  const r180 = (await op({ op: 'Rotate', limit: [180, 180] })).applySeeded(img, 1, 0);
  assert.deepEqual(px(r180, 2, 3), px(img, 9, 8));
  // A shift by exactly 1/4 of the width moves content right by 3 px (reflect border).
  const shifted = (await op({ op: 'ShiftScaleRotate', shiftLimit: [0.25, 0.25], scaleLimit: 0, rotateLimit: 0 })).applySeeded(img, 1, 0);
  assert.deepEqual(px(shifted, 7, 6), px(img, 4, 3));
  const padded = (await op({ op: 'Pad', pad: 2, fill: [1, 2, 3] })).applySeeded(img, 1, 0);
  assert.deepEqual(px(padded, 0, 0), [1, 2, 3]);
  assert.deepEqual(px(padded, 2, 2), px(img, 0, 0));
  assert.deepEqual(px(padded, 13, 13), px(img, 11, 11));
  const crop = (await op({ op: 'RandomResizedCrop', height: 6, width: 6 })).applySeeded(solid(30, 20, [10, 200, 30]), 4, 0);
  assert.deepEqual(px(crop, 3, 3), [10, 200, 30]);
});

test('red occlusion: one pure-red rectangle, sides in [1/4, 1/2] of the image, area in [1/16, 1/4]', async () => {
  const red = await op({ op: 'RedOcclusion' });
  for (let sample = 0; sample < 50; sample++) {
    const out = red.applySeeded(solid(64, 48, [120, 120, 120]), 9, sample);
    let minX = 64, maxX = -1, minY = 48, maxY = -1, count = 0;
    for (let y = 0; y < 48; y++) for (let x = 0; x < 64; x++) {
      const [r, g, b] = px(out, x, y);
      if (r === 120) continue;
      assert.deepEqual([r, g, b], [255, 0, 0]);
      count++;
      minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
    }
    const w = maxX - minX + 1;
    const h = maxY - minY + 1;
    assert.equal(count, w * h, 'a filled rectangle');
    assert.ok(w >= 16 && w <= 32 && h >= 12 && h <= 24, `sides ${w}×${h}`);
    assert.ok(count / (64 * 48) >= 1 / 16 - 1e-9 && count / (64 * 48) <= 1 / 4 + 1e-9);
  }
  const holes = (await op({ op: 'CoarseDropout', minHoles: 3, maxHoles: 3, minSize: 2, maxSize: 2, fill: [0, 0, 255] })).applySeeded(solid(40, 40, [0, 0, 0]), 1, 0);
  const blue = Array.from({ length: 1600 }, (_, i) => holes.data[i * 3 + 2]).filter((v) => v === 255).length;
  assert.ok(blue > 0 && blue <= 12, `3 holes of 2×2 px cover at most 12 px, got ${blue}`);
});

test('mask occlusion: a Kaggle-style red mask PNG is resized onto the image', async (t) => {
  const dir = tempDir(t);
  const mask = Buffer.alloc(20 * 10 * 3, 255);
  for (let y = 0; y < 10; y++) for (let x = 0; x < 10; x++) mask.set([255, 0, 0], (y * 20 + x) * 3); // left half red
  await sharp(mask, { raw: { width: 20, height: 10, channels: 3 } }).png().toFile(path.join(dir, '001.png'));
  const p = await AugmentPipeline.create([{ op: 'MaskOcclusion', dir }]);
  const out = p.applySeeded(solid(40, 40, [10, 20, 30]), 1, 0);
  assert.deepEqual(px(out, 5, 30), [255, 0, 0]);
  assert.deepEqual(px(out, 35, 5), [10, 20, 30]);
  await assert.rejects(AugmentPipeline.create([{ op: 'MaskOcclusion', dir: path.join(dir, 'none') }]), /mask folder does not exist/);
});

test('pipelines: probabilities, OneOf weights, seeds, and errors that name the step', async () => {
  const img = noise(8, 8);
  const never = await AugmentPipeline.create([{ op: 'HorizontalFlip', p: 0 }]);
  assert.ok(Buffer.from(never.applySeeded(img, 1, 0).data).equals(Buffer.from(img.data)));
  const first = await AugmentPipeline.create([{ op: 'OneOf', ops: [{ op: 'Grayscale', p: 1 }, { op: 'HorizontalFlip', p: 0 }] }]);
  const g = first.applySeeded(solid(2, 2, [255, 0, 0]), 1, 0);
  assert.deepEqual(px(g, 0, 0), [76, 76, 76]);
  const p = await AugmentPipeline.create([{ op: 'RedOcclusion' }, { op: 'Normalize', mean: [0.5, 0.5, 0.5], std: [0.2, 0.2, 0.2] }]);
  assert.deepEqual(p.normalization, { mean: [0.5, 0.5, 0.5], std: [0.2, 0.2, 0.2] });
  assert.ok(!Buffer.from(p.applySeeded(img, 1, 0).data).equals(Buffer.from(p.applySeeded(img, 1, 1).data)), 'another sample, another rectangle');
  assert.match(p.describe(), /RedOcclusion/);
  await assert.rejects(AugmentPipeline.create([{ op: 'Blurr' }]), /steps\[0\] \(Blurr\): unknown op/);
  await assert.rejects(AugmentPipeline.create([{ op: 'HorizontalFlip', p: 2 }]), /steps\[0\] \(HorizontalFlip\): p must lie in \[0, 1\]/);
  await assert.rejects(AugmentPipeline.create([{ op: 'Resize', height: 0, width: 4 }]), /steps\[0\] \(Resize\): 'height' is out of range/);
  await assert.rejects(AugmentPipeline.create([{ op: 'OneOf', ops: [{ op: 'Rotate', limit: 'x' }] }]), /steps\[0\]\.ops\[0\] \(Rotate\): 'limit'/);
});
