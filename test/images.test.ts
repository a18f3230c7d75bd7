import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { decodeRgb, ImagePool, preprocessImage, rgbToTensor, VisidError } from '../src/api.js';
import type { PreprocessSpec } from '../src/api.js';
import { assertClose, tempDir, writeSolid } from './helpers.js';

const RGB: [number, number, number] = [200, 100, 50];

test('decodes JPEG, PNG, WebP, TIFF, GIF (and AVIF where sharp has it) to 8-bit RGB', async (t) => {
  const dir = tempDir(t);
  const formats = ['png', 'webp', 'tiff', 'gif', 'jpg'];
  if (sharp.format.heif.output.file) formats.push('avif');
  for (const ext of formats) {
    const file = await writeSolid(path.join(dir, `c.${ext}`), RGB, 10, 6);
    const img = await decodeRgb(file);
    assert.equal(img.width, 10, ext);
    assert.equal(img.height, 6, ext);
    assert.equal(img.data.length, 10 * 6 * 3, ext);
    // Lossless formats keep the colour exactly; GIF's palette and lossy codecs come close.
    const tol = ext === 'png' || ext === 'tiff' ? 0 : 12;
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(img.data[c]! - RGB[c]!) <= tol, `${ext} channel ${c}: ${img.data[c]}`);
  }
});

test('grey, alpha, CMYK and 16-bit inputs all become 8-bit RGB', async (t) => {
  const dir = tempDir(t);
  const grey = path.join(dir, 'g.png');
  await sharp({ create: { width: 4, height: 4, channels: 3, background: { r: 90, g: 90, b: 90 } } }).toColourspace('b-w').png().toFile(grey);
  assert.deepEqual([...(await decodeRgb(grey)).data.slice(0, 3)], [90, 90, 90]);

  // Fully transparent pixels are flattened onto white.
  const alpha = path.join(dir, 'a.png');
  await sharp({ create: { width: 4, height: 4, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toFile(alpha);
  assert.deepEqual([...(await decodeRgb(alpha)).data.slice(0, 3)], [255, 255, 255]);

  const cmyk = path.join(dir, 'c.jpg');
  await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 200, g: 30, b: 30 } } }).toColourspace('cmyk').jpeg().toFile(cmyk);
  assert.equal((await sharp(cmyk).metadata()).space, 'cmyk');
  const px = (await decodeRgb(cmyk)).data;
  assert.ok(px[0]! > 150 && px[1]! < 90 && px[2]! < 90, `CMYK red decoded as ${[...px.slice(0, 3)]}`);

  const deep = path.join(dir, 'd16.png');
  await sharp({ create: { width: 4, height: 4, channels: 3, background: { r: 255, g: 128, b: 0 } } }).toColourspace('rgb16').png().toFile(deep);
  assert.equal((await sharp(deep).metadata()).depth, 'ushort');
  const d = (await decodeRgb(deep)).data;
  assert.ok(Math.abs(d[0]! - 255) <= 1 && Math.abs(d[1]! - 128) <= 1 && d[2]! <= 1, `16-bit decoded as ${[...d.slice(0, 3)]}`);
});

test('EXIF orientation is applied (orientation 6 = rotate 90° clockwise)', async (t) => {
  const dir = tempDir(t);
  // 4 wide × 2 high: left half red, right half blue.
  const raw = Buffer.alloc(4 * 2 * 3);
  for (let y = 0; y < 2; y++) for (let x = 0; x < 4; x++) raw.set(x < 2 ? [255, 0, 0] : [0, 0, 255], (y * 4 + x) * 3);
  const file = path.join(dir, 'o.png');
  await sharp(raw, { raw: { width: 4, height: 2, channels: 3 } }).withMetadata({ orientation: 6 }).png().toFile(file);
  const img = await decodeRgb(file);
  assert.equal(img.width, 2);
  assert.equal(img.height, 4);
  // After a clockwise quarter turn, the old left (red) is at the top.
  assert.deepEqual([...img.data.slice(0, 3)], [255, 0, 0]);
  assert.deepEqual([...img.data.slice(img.data.length - 3)], [0, 0, 255]);
});

test('truncated, corrupt, empty and oversized images fail with an error naming the file', async (t) => {
  const dir = tempDir(t);
  const good = await writeSolid(path.join(dir, 'good.jpg'), RGB, 64, 64);
  const bytes = await fs.readFile(good);
  const truncated = path.join(dir, 'truncated.jpg');
  await fs.writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
  const corrupt = path.join(dir, 'corrupt.png');
  await fs.writeFile(corrupt, 'this is not an image at all');
  const empty = path.join(dir, 'empty.jpg');
  await fs.writeFile(empty, '');
  for (const f of [truncated, corrupt, empty]) {
    await assert.rejects(decodeRgb(f), (e: VisidError) => e.code === 'E_IMAGE' && e.message.startsWith(f), f);
  }
  await assert.rejects(decodeRgb(good, { maxPixels: 64 * 63 }), (e: VisidError) => e.code === 'E_IMAGE_TOO_LARGE' && e.message.includes('good.jpg'));
  await assert.rejects(decodeRgb(path.join(dir, 'missing.jpg')), (e: VisidError) => e.code === 'E_NOT_FOUND');
});

test('resize: exact stretches, shorter-crop scales the shorter side and crops the centre', async (t) => {
  const dir = tempDir(t);
  // 30 wide × 10 high: left third red, middle green, right third blue.
  const raw = Buffer.alloc(30 * 10 * 3);
  for (let y = 0; y < 10; y++) for (let x = 0; x < 30; x++) raw.set(x < 10 ? [255, 0, 0] : x < 20 ? [0, 255, 0] : [0, 0, 255], (y * 30 + x) * 3);
  const file = path.join(dir, 'bands.png');
  await sharp(raw, { raw: { width: 30, height: 10, channels: 3 } }).png().toFile(file);
  const crop = await decodeRgb(file, { width: 10, height: 10, resize: 'shorter-crop' });
  // Only the green centre survives.
  for (let i = 0; i < crop.data.length; i += 3) assert.deepEqual([...crop.data.slice(i, i + 3)], [0, 255, 0]);
  const exact = await decodeRgb(file, { width: 3, height: 1, resize: 'exact' });
  assert.equal(exact.width, 3);
  assert.ok(exact.data[0]! > 200 && exact.data[4]! > 200 && exact.data[8]! > 200, `${[...exact.data]}`);
});

test('rgbToTensor: (v/255 − mean)/std in NCHW and NHWC, with horizontal flip', () => {
  // 2×1 image: pixel 0 = (255, 0, 51), pixel 1 = (0, 255, 102).
  const rgb = Uint8Array.from([255, 0, 51, 0, 255, 102]);
  const norm = { mean: [0.5, 0.5, 0.5] as const, std: [0.5, 0.25, 0.1] as const };
  // By hand: R: (1−.5)/.5=1, (0−.5)/.5=−1; G: −2, 2; B: (0.2−.5)/.1=−3, (0.4−.5)/.1=−1.
  assertClose(rgbToTensor(rgb, 2, 1, norm, 'NCHW'), [1, -1, -2, 2, -3, -1], 1e-5);
  assertClose(rgbToTensor(rgb, 2, 1, norm, 'NHWC'), [1, -2, -3, -1, 2, -1], 1e-5);
  assertClose(rgbToTensor(rgb, 2, 1, norm, 'NCHW', true), [-1, 1, 2, -2, -1, -3], 1e-5);
});

test('the worker pool gives the same tensors as the main thread and names bad files', async (t) => {
  const dir = tempDir(t);
  const spec: PreprocessSpec = { width: 8, height: 6, resize: 'shorter-crop', layout: 'NCHW', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
  const files = await Promise.all([0, 1, 2, 3, 4].map((i) => writeSolid(path.join(dir, `${i}.jpg`), [i * 40, 255 - i * 40, 128], 40, 30)));
  const bad = path.join(dir, 'bad.jpg');
  await fs.writeFile(bad, 'garbage');
  const pool = new ImagePool({ workers: 2 });
  try {
    const viaPool = await Promise.all(files.map((f) => pool.preprocess(f, spec, true)));
    for (let i = 0; i < files.length; i++) {
      const inline = await preprocessImage(files[i]!, spec, true);
      assert.deepEqual(viaPool[i]!.tensor, inline.tensor);
      assert.deepEqual(viaPool[i]!.flipped, inline.flipped);
    }
    await assert.rejects(pool.preprocess(bad, spec), (e: VisidError) => e instanceof VisidError && e.code === 'E_IMAGE' && e.item === bad);
  } finally {
    await pool.close();
  }
});
