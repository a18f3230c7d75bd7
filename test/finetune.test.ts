// Fine-tuning a pretrained photo backbone: blocks and what trains, the exported ONNX model equals the tfjs forward
// of the trained network, frozen layers keep their pretrained weights, the backbone's rate ratio, data-parallel
// replicas equal one replica where nothing depends on the batch split, and config errors name the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { tf, initTf } from '../src/tf/runtime.js';
import { readNsfwjsModel } from '../src/models/keras-layers-onnx.js';
import { kerasBlocks, trainableLayers } from '../src/models/keras-backbone.js';
import { buildNet } from '../src/models/networks.js';
import { createOptimizer } from '../src/train/optimizers.js';
import { readConfigFile, validateConfig } from '../src/train/config.js';
import { loadedNetSpec, train } from '../src/train/trainer.js';
import { mulberry32 } from '../src/util/random.js';
import { assertClose, tempDir } from './helpers.js';

/** 3 classes × 6 noisy photos of a class colour, 72×72 JPEG, in a folder per label. */
async function photos(dir: string): Promise<string> {
  const root = path.join(dir, 'photos');
  const rnd = mulberry32(5);
  const colours = [[200, 40, 40], [40, 200, 60], [50, 60, 210]];
  for (let c = 0; c < 3; c++) {
    await fs.mkdir(path.join(root, `class${c}`), { recursive: true });
    for (let i = 0; i < 6; i++) {
      const px = new Uint8Array(72 * 72 * 3);
      for (let p = 0; p < 72 * 72; p++) for (let k = 0; k < 3; k++) px[3 * p + k] = Math.max(0, Math.min(255, colours[c]![k]! + (rnd() - 0.5) * 120));
      await sharp(Buffer.from(px), { raw: { width: 72, height: 72, channels: 3 } }).jpeg().toFile(path.join(root, `class${c}`, `${i}.jpg`));
    }
  }
  return root;
}

/** Two 64×64 NHWC images through the tfjs network and through the exported ONNX model (NCHW): equal to 1e-4. */
async function assertOnnxEqualsTfjs(modelPath: string, net: ReturnType<typeof buildNet>, x: Float32Array): Promise<ort.InferenceSession> {
  const ref = net.apply(tf.tensor4d(x, [2, 64, 64, 3]), false).dataSync();
  const nchw = new Float32Array(x.length);
  for (let n = 0; n < 2; n++) for (let y = 0; y < 64; y++) for (let w = 0; w < 64; w++) for (let c = 0; c < 3; c++) nchw[((n * 3 + c) * 64 + y) * 64 + w] = x[((n * 64 + y) * 64 + w) * 3 + c]!;
  const s = await ort.InferenceSession.create(modelPath);
  const got = (await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', nchw, [2, 3, 64, 64]) }))[s.outputNames[0]!]!.data as Float32Array;
  assertClose(Array.from(got), Array.from(ref), 1e-4, 'ONNX = tfjs');
  return s;
}

test('MobileNetV2 blocks end at its residual adds; last-2-blocks trains block 15 and the tail only', async () => {
  const m = await readNsfwjsModel('mobilenet_v2');
  const blocks = kerasBlocks(m, 'out_relu');
  assert.equal(blocks.flat().length, new Set(blocks.flat()).size);
  // The ten residual adds of MobileNetV2 (blocks 2, 4, 5, 7, 8, 9, 11, 12, 14, 15) close ten blocks; the tail is the 11th.
  assert.equal(blocks.length, 11);
  assert.deepEqual(blocks.slice(0, 10).map((b) => b.at(-1)), ['block_2_add', 'block_4_add', 'block_5_add', 'block_7_add', 'block_8_add', 'block_9_add', 'block_11_add', 'block_12_add', 'block_14_add', 'block_15_add']);
  assert.equal(blocks.at(-1)!.at(-1), 'out_relu');
  const last2 = trainableLayers(m, 'out_relu', 'last-2-blocks');
  assert.ok(last2.has('block_15_expand') && last2.has('block_16_project') && last2.has('Conv_1'));
  assert.ok(!last2.has('block_14_expand') && !last2.has('Conv1'));
  assert.equal(trainableLayers(m, 'out_relu', 'all').size, blocks.flat().length);
  assert.equal(trainableLayers(m, 'out_relu', 'none').size, 0);
  assert.throws(() => trainableLayers(m, 'out_relu', 'last-0-blocks' as never), /trainable must be/);
});

test('fine-tuning photo-small (last 2 blocks): the exported ONNX equals the trained network\'s tfjs forward; frozen layers keep their weights', async (t) => {
  await initTf('wasm');
  const dir = tempDir(t);
  const data = await photos(dir);
  const out = path.join(dir, 'run');
  const config = validateConfig({ data, out, model: { type: 'pretrained', backbone: 'photo-small', trainable: 'last-2-blocks', inputSize: [64, 64] }, embeddingDim: 16, batchSize: 6, epochs: 2, lr: 0.01, valFraction: 0.34, seed: 2 }, 'test');
  const r = await train(config, { quiet: true });
  const card = JSON.parse(await fs.readFile(path.join(out, 'model.json'), 'utf8'));
  assert.deepEqual([card.inputSize, card.mean, card.std, card.resize, card.outputDim], [[64, 64], [0, 0, 0], [1, 1, 1], 'shorter-crop', 16]);
  assert.equal(card.net.type, 'pretrained');
  // The trained network rebuilt from the last checkpoint (= the exported epoch here, or the best one) in tfjs.
  const spec = await loadedNetSpec(card.net);
  const net = buildNet(spec);
  const best = card.training.bestEpoch as number;
  const { readCheckpoint } = await import('../src/train/checkpoint.js');
  const ckpt = await readCheckpoint(path.join(out, 'checkpoints', `epoch-${String(best).padStart(4, '0')}.ckpt`));
  for (const p of net.params()) p.variable.assign(tf.tensor(ckpt.tensors.get(p.name)!.values, p.variable.shape));
  const rnd = mulberry32(9);
  const x = Float32Array.from({ length: 2 * 64 * 64 * 3 }, () => rnd());
  const s = await assertOnnxEqualsTfjs(r.modelPath, net, x);
  // Any input size (multi-scale): 96×80 runs.
  const other = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', new Float32Array(3 * 96 * 80), [1, 3, 96, 80]) });
  assert.equal((other[s.outputNames[0]!]!.data as Float32Array).length, 16);
  // Checkpoints hold what trains (block 15 onwards, GeM, head), not the frozen trunk.
  const names = [...ckpt.tensors.keys()];
  assert.ok(names.some((n) => n.startsWith('backbone.block_16_project.')) && !names.some((n) => n.startsWith('backbone.block_3_')));
  // A frozen layer's weights in the export are the package's; a trainable one's changed.
  const pretrained = (await readNsfwjsModel('mobilenet_v2')).weights;
  const body = net.body.layers[0] as unknown as { currentWeights(): Map<string, { values: Float32Array }> };
  const now = body.currentWeights();
  assert.deepEqual(Array.from(now.get('block_3_expand/kernel')!.values.slice(0, 20)), Array.from((pretrained.get('block_3_expand/kernel')!.values as Float32Array).slice(0, 20)));
  assert.notDeepEqual(Array.from(now.get('Conv_1/kernel')!.values.slice(0, 20)), Array.from((pretrained.get('Conv_1/kernel')!.values as Float32Array).slice(0, 20)));
  await s.release();
});

test('instance fine-tuning (copy descriptor): every photo its own class, projector head; ONNX equals the tfjs forward', async (t) => {
  await initTf('wasm');
  const dir = tempDir(t);
  const data = path.join(dir, 'flat');
  await fs.mkdir(data, { recursive: true });
  // Ten different photos in one folder (no labels: instance training ignores them).
  const rnd = mulberry32(3);
  for (let i = 0; i < 10; i++) {
    const px = new Uint8Array(72 * 72 * 3);
    for (let p = 0; p < 72 * 72; p++) for (let k = 0; k < 3; k++) px[3 * p + k] = Math.max(0, Math.min(255, ((p % 72) * (i + 1) * (k + 1)) % 256 + (rnd() - 0.5) * 40));
    await sharp(Buffer.from(px), { raw: { width: 72, height: 72, channels: 3 } }).jpeg().toFile(path.join(data, `p${i}.jpg`));
  }
  const pipeline = path.join(dir, 'views.yaml');
  await fs.writeFile(pipeline, '- { op: RandomResizedCrop, p: 1, height: 64, width: 64, scale: [0.3, 1.0] }\n- { op: JpegQuality, p: 0.5, quality: [10, 30] }\n');
  const out = path.join(dir, 'run');
  const config = validateConfig(
    { data, out, instances: true, model: { type: 'pretrained', backbone: 'photo-small', trainable: 'last-1-blocks', head: 'projector', hiddenDim: 16, projectorDim: 32, inputSize: [64, 64] }, embeddingDim: 8, loss: 'copy-detection', sampler: { kind: 'pk', p: 4, k: 2 }, batchSize: 8, epochs: 1, lr: 0.01, valFraction: 0.2, augment: { pipeline }, seed: 2 },
    'test',
  );
  const epochs: Array<Record<string, number>> = [];
  const r = await train(config, { quiet: true, onEpoch: (e) => epochs.push(e as unknown as Record<string, number>) });
  // 8 training photos, 4 a batch: an epoch shows each photo once, k = 2 views each (pk over N / P batches).
  assert.equal(epochs.length, 1);
  assert.ok(Number.isFinite(epochs[0]!['loss']));
  const card = JSON.parse(await fs.readFile(path.join(out, 'model.json'), 'utf8'));
  assert.deepEqual([card.net.head, card.net.hiddenDim, card.net.projectorDim, card.outputDim], ['projector', 16, 32, 8]);
  const net = buildNet(await loadedNetSpec(card.net));
  const { readCheckpoint } = await import('../src/train/checkpoint.js');
  const ckpt = await readCheckpoint(path.join(out, 'checkpoints', 'epoch-0001.ckpt'));
  // The classifiers over the 8 training photos (loss.0 on the 32-d projection, loss.1 on the descriptor).
  assert.deepEqual([ckpt.tensors.get('loss.0')!.shape, ckpt.tensors.get('loss.1')!.shape], [[32, 8], [8, 8]]);
  for (const p of net.params()) p.variable.assign(tf.tensor(ckpt.tensors.get(p.name)!.values, p.variable.shape));
  const x = Float32Array.from({ length: 2 * 64 * 64 * 3 }, () => rnd());
  const s = await assertOnnxEqualsTfjs(r.modelPath, net, x);
  await s.release();
});

test('instance fine-tuning config errors name the field', () => {
  const base = { data: 'd', out: 'o', instances: true, augment: { pipeline: 'p.yaml' } };
  assert.throws(() => validateConfig({ ...base, model: { type: 'resnet' } }, 'c.yaml'), /'instances': .*set model.type to head or pretrained/);
  assert.throws(() => validateConfig({ ...base, model: { type: 'pretrained' }, sampler: { kind: 'random' } }, 'c.yaml'), /'sampler': instance fine-tuning needs a pk sampler with k ≥ 2/);
  assert.throws(() => validateConfig({ data: 'd', out: 'o', instances: true, model: { type: 'pretrained' }, sampler: { kind: 'pk', p: 4, k: 2 } }, 'c.yaml'), /'augment.pipeline': instance fine-tuning needs an augmentation pipeline/);
  assert.throws(() => validateConfig({ ...base, model: { type: 'pretrained', head: 'projector', projectorDim: 0 } }, 'c.yaml'), /'model.projectorDim'/);
  const ok = validateConfig({ ...base, model: { type: 'pretrained', head: 'projector' }, sampler: { kind: 'pk', p: 4, k: 2 } }, 'c.yaml');
  assert.equal(ok.instances, true);
});

test('parameter groups: the backbone group moves at lrScale × the rate, with its own state', async () => {
  await initTf('wasm');
  const a = tf.variable(tf.scalar(1));
  const b = tf.variable(tf.scalar(1));
  const opt = createOptimizer({ kind: 'sgd', momentum: 0 }, 0.1, [{ vars: new Set([b.name]), lrScale: 0.1 }]);
  // f = a² + b²: both gradients 2; SGD moves a by 0.2 and b by 0.02.
  opt.step(() => tf.add(tf.square(a), tf.square(b)) as tf.Scalar, [a, b], 0.1);
  assertClose([a.dataSync()[0]!, b.dataSync()[0]!], [0.8, 0.98], 1e-6, 'updates');
  const adam = createOptimizer({ kind: 'adam' }, 0.01, [{ vars: new Set([b.name]), lrScale: 0.1 }]);
  a.assign(tf.scalar(1));
  b.assign(tf.scalar(1));
  adam.step(() => tf.add(tf.square(a), tf.mul(tf.square(b), 100)) as tf.Scalar, [a, b], 0.01);
  // Adam's first step moves every variable by its rate whatever its gradient's size: 0.01 and 0.001.
  assertClose([1 - a.dataSync()[0]!, 1 - b.dataSync()[0]!], [0.01, 0.001], 1e-5, 'Adam rate ratio');
  const weights = await adam.getWeights();
  assert.equal(weights.filter((w) => w.name === 'iter').length, 1);
});

test('data-parallel replicas: 2 workers give what 1 gives when nothing depends on the batch split, and repeat exactly', async (t) => {
  const dir = tempDir(t);
  const data = await photos(dir);
  // Frozen batch norms and a linear head: the loss is a mean over samples, so shard gradients sum to the batch's.
  const base = { data, model: { type: 'pretrained', backbone: 'photo-small', trainable: 'last-2-blocks', head: 'linear', inputSize: [64, 64] }, embeddingDim: 16, batchSize: 6, epochs: 2, lr: 0.01, valFraction: 0.34, seed: 3 };
  const one = await train(validateConfig({ ...base, out: path.join(dir, 'w1') }, 'test'), { quiet: true });
  const two = await train(validateConfig({ ...base, workers: 2, out: path.join(dir, 'w2') }, 'test'), { quiet: true });
  const twoAgain = await train(validateConfig({ ...base, workers: 2, out: path.join(dir, 'w2b') }, 'test'), { quiet: true });
  t.diagnostic(`losses: 1 worker ${one.history.map((h) => h.loss)}, 2 workers ${two.history.map((h) => h.loss)}`);
  assertClose(two.history.map((h) => h.loss), one.history.map((h) => h.loss), 1e-4, 'losses, 2 workers vs 1');
  assert.deepEqual(twoAgain.history.map((h) => h.loss), two.history.map((h) => h.loss));
});

test('configs/finetune-photo.yaml validates; its manifest lists LFW photos of 305 training people', async () => {
  const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
  const file = path.join(repo, 'configs', 'finetune-photo.yaml');
  const config = validateConfig(await readConfigFile(file), file, path.dirname(file));
  assert.equal(config.model.type, 'pretrained');
  assert.equal(config.workers, 2);
  const rows = (await fs.readFile(config.data, 'utf8')).trim().split('\n').slice(1).map((l) => l.split(','));
  assert.equal(new Set(rows.map((r) => r[1])).size, 305);
  assert.ok(rows.every(([p, label]) => p!.startsWith(`${label}/${label}_`)));
  assert.match(config.dataRoot!, /shared\/data\/lfw\/images$/);
});

test('fine-tuning config errors name the field', () => {
  const base = { data: 'd', out: 'o' };
  assert.throws(() => validateConfig({ ...base, model: { type: 'pretrained', trainable: 'most' } }, 'c.yaml'), /'model.trainable': must be all, none or last-<n>-blocks/);
  assert.throws(() => validateConfig({ ...base, model: { type: 'pretrained', backboneLr: -1 } }, 'c.yaml'), /'model.backboneLr': must be a positive number/);
  assert.throws(() => validateConfig({ ...base, model: { type: 'pretrained', head: 'mlp' } }, 'c.yaml'), /'model.head': must be linear, fc-bn or projector/);
  assert.throws(() => validateConfig({ ...base, workers: 0 }, 'c.yaml'), /'workers': must be a positive integer/);
  const ok = validateConfig({ ...base, model: { type: 'pretrained' } }, 'c.yaml');
  assert.deepEqual(ok.model, { type: 'pretrained', trainable: 'last-2-blocks', freezeBn: true, backboneLr: 0.1, head: 'fc-bn', backbone: 'photo' });
});
