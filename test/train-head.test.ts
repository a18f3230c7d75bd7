// Heads on a frozen ONNX backbone: features extracted once and cached, a head trained on them, one merged model out.
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { writeFashionMnistDemo } from '../src/demo/fashion-mnist.js';
import { OnnxGraph } from '../src/formats/onnx-graph.js';
import { validateConfig } from '../src/train/config.js';
import { train } from '../src/train/trainer.js';
import { Embedder } from '../src/models/embedder.js';
import { retrievalMetrics } from '../src/eval/in-memory.js';
import { tempDir } from './helpers.js';

/** An ONNX "backbone" whose features are the grey pixels of a 28×28 image (784-d), with its card. */
async function writePixelBackbone(dir: string): Promise<string> {
  const g = new OnnxGraph('pixels');
  g.node('Flatten', [g.node('ReduceMean', [g.input('pixels', ['N', 3, 28, 28])], { axes: [1], keepdims: 1 })], { axis: 1 }, ['features']);
  g.output('features', ['N', 784]);
  const backbone = path.join(dir, 'pixels.onnx');
  await fs.writeFile(backbone, g.toBytes());
  await fs.writeFile(path.join(dir, 'pixels.json'), JSON.stringify({ inputSize: [28, 28], mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], resize: 'exact' }));
  return backbone;
}

test('in-memory retrieval metrics on a hand-made set', async () => {
  // 1-d "embeddings" on a circle: angles 0°, 10° (label 0), 90°, 100° (label 1), 170° (label 0).
  const deg = [0, 10, 90, 100, 170];
  const v = Float32Array.from(deg.flatMap((d) => [Math.cos((d * Math.PI) / 180), Math.sin((d * Math.PI) / 180)]));
  const m = await retrievalMetrics(2, { vectors: v, labels: [0, 0, 1, 1, 0] });
  // Leave-one-out nearest: 0→10 ✓, 10→0 ✓, 90→100 ✓, 100→90 ✓, 170→100 ✗ (label 1): R@1 = 4/5.
  assert.equal(m['recall@1'], 0.8);
  // 170°'s label ranking: 1 (100°), then 0 (90°? no: 90° is label 1; then 10° label 0) → MAP@5 = (4 + 1/2)/5.
  assert.equal(m['map@5'], 0.9);
  assert.equal(m['recall@5'], 1);
});

test('a head on a frozen backbone: cached features, better retrieval, one ONNX model for the Embedder', async (t) => {
  const dir = tempDir(t);
  const dirs = await writeFashionMnistDemo(path.join(dir, 'data'), { galleryPerClass: 150, queriesPerClass: 0 });
  // A frozen "backbone" whose features are the grey pixels (784-d): raw-pixel retrieval is the baseline a learned
  // metric must beat.
  const backbone = await writePixelBackbone(dir);
  const config = validateConfig(
    { data: dirs.gallery, out: path.join(dir, 'run'), valFraction: 0.25, model: { type: 'head', backbone, kind: 'fc-bn', views: 3 }, embeddingDim: 32, loss: { name: 'cosface', scale: 16, m3: 0.2 }, epochs: 8, batchSize: 32, lr: 0.001, seed: 3 },
    'test',
  );
  const run = await train(config, { quiet: true });
  const last = run.history.at(-1)!;
  t.diagnostic(`head: untrained R@1 ${run.untrained['recall@1']} → ${last['recall@1']}`);
  assert.ok(last['recall@1'] >= run.untrained['recall@1'] + 0.03, `head training did not help: ${run.untrained['recall@1']} → ${last['recall@1']}`);
  const cache = path.join(dir, 'run', 'features', 'train.npy');
  const before = (await fs.stat(cache)).mtimeMs;
  // 1500 images × 3 views (image, mirror, a random resized crop) × 784-d float32, after the 128-byte .npy header.
  assert.equal((await fs.stat(cache)).size, 128 + 1500 * 3 * 784 * 4);
  await train({ ...config, epochs: 1 }, { quiet: true });
  assert.equal((await fs.stat(cache)).mtimeMs, before, 'the second run re-extracted features instead of using the cache');
  const card = JSON.parse(await fs.readFile(path.join(dir, 'run', 'model.json'), 'utf8'));
  assert.equal(card.backbone.file, backbone);
  assert.equal(card.inputSize[0], 28);
  const embedder = await Embedder.load(run.modelPath);
  const { vectors } = await embedder.embedFiles([path.join(dirs.gallery, 'Bag', (await fs.readdir(path.join(dirs.gallery, 'Bag')))[0]!)]);
  await embedder.close();
  assert.equal(vectors.length, 32);
});

test('random resized crop views are seeded: same (seed, item, view) → same bytes, another view → another crop', async (t) => {
  const { randomResizedCropView } = await import('../src/train/views.js');
  const dir = tempDir(t);
  const dirs = await writeFashionMnistDemo(path.join(dir, 'data'), { galleryPerClass: 1, queriesPerClass: 0 });
  const file = path.join(dirs.gallery, 'Bag', (await fs.readdir(path.join(dirs.gallery, 'Bag')))[0]!);
  const a = await randomResizedCropView(file, 1, 0, 2);
  const b = await randomResizedCropView(file, 1, 0, 2);
  const c = await randomResizedCropView(file, 1, 0, 3);
  assert.ok(Buffer.from(a).equals(Buffer.from(b)));
  assert.ok(!Buffer.from(a).equals(Buffer.from(c)));
  await assert.rejects(randomResizedCropView(path.join(dir, 'missing.png'), 1, 0, 2), /cannot read image/);
});

test('an augmentation pipeline in training: CNN batches and head feature views, logged with the run', async (t) => {
  const dir = tempDir(t);
  const pipe = path.join(dir, 'aug.yaml');
  await fs.writeFile(pipe, '- { op: HorizontalFlip, p: 0.5 }\n- { op: RedOcclusion, p: 1.0 }\n');
  const mini = path.resolve('data/fashion-mnist-mini');
  const cnn = await train(validateConfig({ data: mini, out: path.join(dir, 'cnn'), trainPerClass: 10, valPerClass: 5, epochs: 1, batchSize: 20, embeddingDim: 8, model: { type: 'resnet', widths: [4] }, augment: { pipeline: pipe } }, 'test'), { quiet: true });
  assert.equal(cnn.history.length, 1);
  const header = JSON.parse((await fs.readFile(path.join(dir, 'cnn', 'log.jsonl'), 'utf8')).split('\n')[0]!);
  assert.deepEqual(header.augment.map((s: { op: string }) => s.op), ['HorizontalFlip', 'RedOcclusion']);

  const dirs = await writeFashionMnistDemo(path.join(dir, 'data'), { galleryPerClass: 4, queriesPerClass: 0 });
  const backbone = await writePixelBackbone(dir);
  await train(validateConfig({ data: dirs.gallery, out: path.join(dir, 'head'), valFraction: 0.25, model: { type: 'head', backbone, kind: 'linear', views: 2 }, augment: { pipeline: pipe }, embeddingDim: 8, epochs: 1, batchSize: 10 }, 'test'), { quiet: true });
  const meta = JSON.parse(await fs.readFile(path.join(dir, 'head', 'features', 'train.json'), 'utf8'));
  assert.match(meta.pipeline, /RedOcclusion/);
  // View 1 went through the red occlusion: its features differ from view 0's (the plain image).
  const { readNpy } = await import('../src/formats/npy.js');
  const npy = await readNpy(path.join(dir, 'head', 'features', 'train.npy'));
  const v0 = npy.data.subarray(0, 784);
  const v1 = npy.data.subarray(784, 2 * 784);
  assert.ok(v0.some((x, i) => Math.abs(x - v1[i]!) > 0.1));
});
