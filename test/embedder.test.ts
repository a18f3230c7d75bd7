import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { Embedder, OnnxGraph, VisidError } from '../src/api.js';
import { assertClose, expectedColourDescriptor, tempDir, writeChannelMeanModel, writeSolid } from './helpers.js';

test('descriptors of solid colours equal the hand-computed normalised channel means', async (t) => {
  const dir = tempDir(t);
  const model = await writeChannelMeanModel(dir);
  const colours: [number, number, number][] = [[255, 0, 0], [10, 200, 30], [90, 90, 250], [1, 2, 3], [128, 64, 32]];
  const files = await Promise.all(colours.map((c, i) => writeSolid(path.join(dir, `${i}.png`), c, 20 + i, 12)));
  const embedder = await Embedder.load(model, { workers: 2 });
  try {
    // Batches of 2 over 5 images exercise a partial last batch.
    const res = await embedder.embedFiles(files, { batchSize: 2 });
    assert.equal(embedder.dim, 3);
    assert.deepEqual(res.indices, [0, 1, 2, 3, 4]);
    colours.forEach((c, i) => assertClose(res.vectors.subarray(i * 3, i * 3 + 3), expectedColourDescriptor(c), 1e-5, `image ${i}`));
  } finally {
    await embedder.close();
  }
});

test('mean/std from the card are applied: ((c/255 − mean)/std), then L2-normalised', async (t) => {
  const dir = tempDir(t);
  const model = await writeChannelMeanModel(dir, { mean: [0.5, 0.5, 0.5], std: [0.5, 0.25, 1] });
  const file = await writeSolid(path.join(dir, 'c.png'), [255, 0, 51]);
  // Spinning onnxruntime threads is an option (off by default); the result does not depend on it.
  const embedder = await Embedder.load(model, { workers: 0, spinning: true });
  const res = await embedder.embedFiles([file]);
  await embedder.close();
  const raw = [(1 - 0.5) / 0.5, (0 - 0.5) / 0.25, (0.2 - 0.5) / 1];
  const n = Math.hypot(...raw);
  assertClose(res.vectors, raw.map((v) => v / n), 1e-5);
});

test('NHWC models are fed channels-last', async (t) => {
  const dir = tempDir(t);
  const g = new OnnxGraph('nhwc_mean');
  const x = g.input('img', ['N', 'H', 'W', 3]);
  g.node('ReduceMean', [x], { axes: [1, 2], keepdims: 0 }, ['out']);
  g.output('out', ['N', 3]);
  const model = path.join(dir, 'nhwc.onnx');
  await fs.writeFile(model, g.toBytes());
  const file = await writeSolid(path.join(dir, 'c.png'), [30, 60, 90]);
  const embedder = await Embedder.load(model, { card: { layout: 'NHWC', inputSize: [6, 6], mean: [0, 0, 0], std: [1, 1, 1] }, workers: 0 });
  const res = await embedder.embedFiles([file]);
  await embedder.close();
  assertClose(res.vectors, expectedColourDescriptor([30, 60, 90]));
});

/** A 1×2-pixel model whose descriptor is the 6 raw input values: left/right order is visible. */
async function pixelModel(dir: string): Promise<string> {
  const g = new OnnxGraph('pixels');
  const x = g.input('x', ['N', 3, 1, 2]);
  g.node('Flatten', [x], { axis: 1 }, ['y']);
  g.output('y', ['N', 6]);
  const file = path.join(dir, 'pixels.onnx');
  await fs.writeFile(file, g.toBytes());
  await fs.writeFile(path.join(dir, 'pixels.json'), JSON.stringify({ inputSize: [1, 2], mean: [0, 0, 0], std: [1, 1, 1], resize: 'exact' }));
  return file;
}

test('flip test-time augmentation fuses the mirrored view (avg: normalise, average, normalise)', async (t) => {
  const dir = tempDir(t);
  const model = await pixelModel(dir);
  const img = path.join(dir, 'lr.png');
  await sharp(Buffer.from([255, 0, 0, 0, 0, 255]), { raw: { width: 2, height: 1, channels: 3 } }).png().toFile(img);
  const embedder = await Embedder.load(model, { workers: 0 });
  // NCHW flattening: [R_left, R_right, G_left, G_right, B_left, B_right].
  const plain = await embedder.embedFiles([img]);
  assertClose(plain.vectors, [1, 0, 0, 0, 0, 1].map((v) => v / Math.SQRT2));
  const flipped = await embedder.embedFiles([img], { flip: true });
  // Views [1,0,0,0,0,1]/√2 and [0,1,0,0,1,0]/√2 average to 0.5/√2 everywhere non-green → normalised 0.5.
  assertClose(flipped.vectors, [0.5, 0.5, 0, 0, 0.5, 0.5]);
  const maxFused = await embedder.embedFiles([img], { flip: true, fusion: 'max' });
  assertClose(maxFused.vectors, [1, 1, 0, 0, 1, 1].map((v) => v / Math.SQRT2));
  // This model's input is fixed at 1×2, so other scales are refused.
  await assert.rejects(embedder.embedFiles([img], { scales: [0.5, 1] }), /multi-scale needs a model with dynamic/);
  await embedder.close();
});

test('multi-scale runs the model at each scale and fuses the views', async (t) => {
  const dir = tempDir(t);
  const model = await writeChannelMeanModel(dir);
  const file = await writeSolid(path.join(dir, 'c.png'), [40, 80, 120], 64, 64);
  const embedder = await Embedder.load(model, { workers: 0 });
  assert.deepEqual([embedder.spec(0.5).width, embedder.spec(1.9).height], [4, 15]);
  const res = await embedder.embedFiles([file], { scales: [0.5, 1, 1.9], fusion: 'avg' });
  // A solid colour looks the same at every scale, so the fused descriptor is the single-scale one.
  assertClose(res.vectors, expectedColourDescriptor([40, 80, 120]));
  const summed = await embedder.embedFiles([file], { scales: [0.5, 1, 1.9], fusion: 'sum' });
  assertClose(summed.vectors, expectedColourDescriptor([40, 80, 120]).map((v) => 3 * v), 1e-5);
  await embedder.close();
});

test('bad images: the run stops naming the file, or skips it when asked', async (t) => {
  const dir = tempDir(t);
  const model = await writeChannelMeanModel(dir);
  const good = await writeSolid(path.join(dir, 'good.png'), [10, 20, 30]);
  const bad = path.join(dir, 'bad.jpg');
  await fs.writeFile(bad, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
  const embedder = await Embedder.load(model, { workers: 1 });
  await assert.rejects(embedder.embedFiles([good, bad]), (e: VisidError) => e.code === 'E_IMAGE' && e.message.startsWith(bad));
  const skipped: number[] = [];
  const res = await embedder.embedFiles([bad, good, bad], { onError: (i) => skipped.push(i) });
  assert.deepEqual(res.indices, [1]);
  assert.deepEqual(skipped, [0, 2]);
  assertClose(res.vectors, expectedColourDescriptor([10, 20, 30]));
  await embedder.close();
});

test('model problems are reported clearly: missing file, wrong output dim, NaN output, bad card', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(Embedder.load(path.join(dir, 'none.onnx')), (e: VisidError) => e.code === 'E_NOT_FOUND');
  const garbage = path.join(dir, 'garbage.onnx');
  await fs.writeFile(garbage, 'not a model');
  await assert.rejects(Embedder.load(garbage), (e: VisidError) => e.code === 'E_MODEL');

  const wrongDim = await writeChannelMeanModel(dir, { outputDim: 4 }, 'wrongdim');
  const img = await writeSolid(path.join(dir, 'c.png'), [10, 20, 30]);
  const e1 = await Embedder.load(wrongDim, { workers: 0 });
  await assert.rejects(e1.embedFiles([img]), /output has dimension 3, the card says 4/);
  await e1.close();

  // log of a negative input is NaN.
  const g = new OnnxGraph('nan');
  const x = g.input('x', ['N', 3, 'H', 'W']);
  const logged = g.node('Log', [x]);
  g.node('Flatten', [g.node('GlobalAveragePool', [logged])], { axis: 1 }, ['y']);
  g.output('y', ['N', 3]);
  const nanModel = path.join(dir, 'nan.onnx');
  await fs.writeFile(nanModel, g.toBytes());
  const e2 = await Embedder.load(nanModel, { card: { mean: [1, 1, 1], std: [1, 1, 1], inputSize: [4, 4] }, workers: 0 });
  await assert.rejects(e2.embedFiles([img]), (e: VisidError) => e.code === 'E_NAN' && e.message.startsWith(img));
  await e2.close();

  await fs.writeFile(path.join(dir, 'badcard.json'), JSON.stringify({ inputSize: [0, 3] }));
  await fs.copyFile(wrongDim, path.join(dir, 'badcard.onnx'));
  await assert.rejects(Embedder.load(path.join(dir, 'badcard.onnx')), /'inputSize' must be \[height, width\]/);
  // [N, 3, 1, 2] read as NHWC would have 2 channels.
  await assert.rejects(Embedder.load(await pixelModel(dir), { card: { layout: 'NHWC' } }), /has 2 channels in NHWC layout/);
});
