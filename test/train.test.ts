// The training engine: schedules, samplers, optimisers, checkpoints, ONNX export parity, resume, and a real training run.
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { existsSync, promises as fs } from 'node:fs';
import ort from 'onnxruntime-node';
import { tf, initTf } from '../src/tf/runtime.js';
import { learningRate, seed004Ratio, snapshotEpochs } from '../src/train/schedules.js';
import { PKSampler, RandomSampler, ClassBalancedSampler } from '../src/train/samplers.js';
import { createOptimizer } from '../src/train/optimizers.js';
import { readCheckpoint, writeCheckpoint } from '../src/train/checkpoint.js';
import { buildCnn, buildHead } from '../src/models/networks.js';
import { cnnToOnnx, headOnBackboneToOnnx } from '../src/models/export-onnx.js';
import { validateConfig } from '../src/train/config.js';
import { train, TrainingStopped } from '../src/train/trainer.js';
import { Embedder } from '../src/models/embedder.js';
import { assertClose, tempDir, writeChannelMeanModel, writeSolid } from './helpers.js';
import { OnnxGraph } from '../src/formats/onnx-graph.js';
import sharp from 'sharp';
import { mulberry32 } from '../src/util/random.js';

const MINI = path.resolve('data/fashion-mnist-mini');

test.before(async () => {
  await initTf('wasm');
});

test('seed 004 eq. (3) and the cosine schedules, by hand', () => {
  assert.equal(seed004Ratio(0), 0.01);
  assertClose([seed004Ratio(2)], [0.99 * 2 / 5 + 0.01]);
  assert.equal(seed004Ratio(5), 1);
  assert.equal(seed004Ratio(9), 1);
  assert.equal(seed004Ratio(10), 1);
  assertClose([seed004Ratio(15)], [0.75]); // 0.5·(cos(π/3) + 1)
  assertClose([seed004Ratio(24)], [0.5 * (Math.cos((14 / 15) * Math.PI) + 1)]);
  assert.equal(learningRate({ kind: 'seed004' }, 3.5e-4, 15.7, 25), 3.5e-4 * 0.75);
  assertClose([learningRate({ kind: 'cosine' }, 0.1, 0, 10)], [0.1]);
  assertClose([learningRate({ kind: 'cosine', minLr: 0.01 }, 0.1, 5, 10)], [0.055]);
  assertClose([learningRate({ kind: 'cosine', warmupEpochs: 2 }, 0.1, 1, 10)], [0.1 * (1 + 1 / 1000) / 2]);
  assertClose([learningRate({ kind: 'cosine-restarts', cycles: 2 }, 0.1, 5, 10)], [0.1]);
  assertClose([learningRate({ kind: 'cosine-restarts', cycles: 2 }, 0.1, 2.5, 10)], [0.05]);
  assert.deepEqual(snapshotEpochs({ kind: 'cosine-restarts', cycles: 3 }, 12), [3, 7, 11]);
});

test('samplers: PK composition, class balance, determinism per epoch', (t) => {
  const labels = Int32Array.from({ length: 60 }, (_, i) => i % 6);
  const pk = new PKSampler(labels, 3, 4, 7);
  const batches = pk.epoch(0);
  assert.equal(batches.length, 5); // 60 / (3·4)
  for (const b of batches) {
    assert.equal(b.length, 12);
    const counts = new Map<number, number>();
    for (const i of b) counts.set(labels[i]!, (counts.get(labels[i]!) ?? 0) + 1);
    assert.equal(counts.size, 3);
    for (const c of counts.values()) assert.equal(c, 4);
  }
  assert.deepEqual(pk.epoch(0), batches);
  assert.notDeepEqual(pk.epoch(1), batches);
  const random = new RandomSampler(10, 4, 1).epoch(0);
  assert.equal(random.length, 2); // the short last batch is dropped
  assert.equal(new Set(random.flat()).size, 8);
  // Class-balanced: a 95/5 imbalance is drawn near 50/50.
  const skewed = Int32Array.from({ length: 200 }, (_, i) => (i < 190 ? 0 : 1));
  const drawn = new ClassBalancedSampler(skewed, 50, 3).epoch(0).flat();
  const rare = drawn.filter((i) => skewed[i] === 1).length / drawn.length;
  t.diagnostic(`rare class drawn ${rare}`);
  assert.ok(rare > 0.4 && rare < 0.6, `rare class drawn ${rare}`);
});

test('optimisers: one SGD-momentum step with L2 decay and one AdamW step, by hand', () => {
  const w = tf.variable(tf.tensor2d([[1]]));
  const sgd = createOptimizer({ kind: 'sgd', momentum: 0.9, weightDecay: 0.1 }, 0.1);
  // f = w², ∂f = 2w = 2; with decay 2 + 0.1·1 = 2.1; w ← 1 − 0.1·2.1
  sgd.step(() => tf.sum(tf.square(w)) as tf.Scalar, [w], 0.1);
  assertClose(w.dataSync(), [0.79]);
  const v = tf.variable(tf.tensor2d([[1]]));
  const adamw = createOptimizer({ kind: 'adamw', weightDecay: 0.1 }, 0.1);
  // Adam's first step moves by lr·sign(g) = 0.1 → 0.9; decoupled decay then w ← 0.9 − 0.1·0.1·0.9 = 0.891.
  adamw.step(() => tf.sum(tf.square(v)) as tf.Scalar, [v], 0.1);
  assertClose(v.dataSync(), [0.891], 1e-4);
  // The step's learning rate is the one passed in (a schedule), not the one the optimiser was built with:
  // a second SGD step at lr 0.5 from w = 0.79 moves by 0.5·(0.9·2.1 + 2·0.79 + 0.1·0.79).
  sgd.step(() => tf.sum(tf.square(w)) as tf.Scalar, [w], 0.5);
  assertClose(w.dataSync(), [0.79 - 0.5 * (0.9 * 2.1 + 2 * 0.79 + 0.1 * 0.79)], 1e-5);
  const nan = tf.variable(tf.tensor2d([[1]]));
  assert.throws(() => sgd.step(() => tf.div(tf.sum(nan), 0) as tf.Scalar, [nan], 0.1), /loss became Infinity/);
});

test('checkpoints round-trip and refuse corruption', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'a.ckpt');
  const tensors = new Map([['w', { shape: [2, 2], values: Float32Array.from([1, 2, 3, 4]) }], ['b', { shape: [3], values: Float32Array.from([5, 6, 7]) }]]);
  await writeCheckpoint(file, { epoch: 3, metrics: { 'recall@1': 0.5 }, tensors });
  const back = await readCheckpoint(file);
  assert.equal(back.epoch, 3);
  assert.deepEqual(Array.from(back.tensors.get('b')!.values), [5, 6, 7]);
  const bytes = await fs.readFile(file);
  bytes[bytes.length - 2] ^= 0xff;
  await fs.writeFile(file, bytes);
  await assert.rejects(readCheckpoint(file), /checksum mismatch/);
  await fs.writeFile(file, bytes.subarray(0, 20));
  await assert.rejects(readCheckpoint(file), /not a valid visid checkpoint/);
});

/** tfjs inference vs the exported ONNX graph on the same input. */
test('an exported CNN computes what the tfjs network computes (grey and RGB, after BN statistics moved)', async () => {
  for (const channels of [1, 3] as const) {
    const net = buildCnn({ type: 'resnet', input: [12, 10, channels], widths: [4, 6], blocksPerStage: 1, embeddingDim: 5, seed: 3 });
    // Move BN running statistics and GeM's p away from their initial values.
    const rnd = mulberry32(1);
    for (const p of net.params()) p.variable.assign(tf.add(p.variable, tf.mul(tf.randomUniform(p.variable.shape, 0.05, 0.3, 'float32', Math.floor(rnd() * 1e6)), 1)));
    const pixels = Float32Array.from({ length: 2 * 3 * 12 * 10 }, () => rnd() * 2 - 1);
    // The ONNX model takes NCHW RGB; a grey net sees the channel mean.
    const nhwc = new Float32Array(2 * 12 * 10 * channels);
    for (let n = 0; n < 2; n++) for (let y = 0; y < 12; y++) for (let x = 0; x < 10; x++) {
      const rgb = [0, 1, 2].map((c) => pixels[((n * 3 + c) * 12 + y) * 10 + x]!);
      if (channels === 1) nhwc[(n * 12 + y) * 10 + x] = (rgb[0]! + rgb[1]! + rgb[2]!) / 3;
      else for (let c = 0; c < 3; c++) nhwc[((n * 12 + y) * 10 + x) * 3 + c] = rgb[c]!;
    }
    const want = net.apply(tf.tensor4d(nhwc, [2, 12, 10, channels]), false).dataSync();
    const session = await ort.InferenceSession.create(cnnToOnnx(net, 'parity'));
    const got = (await session.run({ pixels: new ort.Tensor('float32', pixels, [2, 3, 12, 10]) })).descriptor!.data as Float32Array;
    assertClose(got, want, 1e-4, `channels=${channels}`);
  }
});

test('a head appended to its backbone: one ONNX model equal to backbone → tfjs head, loadable by the Embedder', async (t) => {
  const dir = tempDir(t);
  const backbone = await writeChannelMeanModel(dir, { inputSize: [8, 8] }, 'backbone');
  for (const kind of ['linear', 'fc-bn', 'projector'] as const) {
    const head = buildHead({ type: 'head', input: 3, kind, embeddingDim: 4, prelu: true, dropout: 0.3, hiddenDim: 8, projectorDim: 16, seed: 2 });
    for (const p of head.params()) if (p.name.includes('moving') || p.name.includes('alpha')) p.variable.assign(tf.add(p.variable, 0.2));
    const merged = headOnBackboneToOnnx(head, await fs.readFile(backbone), 'merged');
    const file = path.join(dir, `${kind}.onnx`);
    await fs.writeFile(file, merged);
    await fs.writeFile(path.join(dir, `${kind}.json`), JSON.stringify({ inputSize: [8, 8], mean: [0, 0, 0], std: [1, 1, 1], resize: 'exact', outputDim: 4 }));
    const img = await writeSolid(path.join(dir, 'c.png'), [200, 40, 90], 8, 8);
    const embedder = await Embedder.load(file, { workers: 0 });
    const got = (await embedder.embedFiles([img])).vectors;
    await embedder.close();
    const feats = tf.tensor2d([[200 / 255, 40 / 255, 90 / 255]]);
    const raw = head.apply(feats, false);
    const want = tf.div(raw, tf.norm(raw)).dataSync();
    assertClose(got, want, 1e-4, kind);
  }
});

test('a GeM head on a feature-map backbone: merged ONNX equals GeM + head in tfjs', async (t) => {
  const dir = tempDir(t);
  const g = new OnnxGraph('map_backbone');
  g.node('AveragePool', [g.input('pixels', ['N', 3, 8, 8])], { kernel_shape: [2, 2], strides: [2, 2] }, ['fmap']);
  g.output('fmap', ['N', 3, 4, 4]);
  const head = buildHead({ type: 'head', input: [3, 4, 4], kind: 'linear', embeddingDim: 4, gemP: 2.5, seed: 5 });
  const file = path.join(dir, 'gem.onnx');
  await fs.writeFile(file, headOnBackboneToOnnx(head, g.toBytes(), 'gem'));
  await fs.writeFile(path.join(dir, 'gem.json'), JSON.stringify({ inputSize: [8, 8], mean: [0, 0, 0], std: [1, 1, 1], resize: 'exact', outputDim: 4 }));
  // A 4×8 image: left half one colour, right half another; 2×2 average pooling keeps the two halves.
  const img = path.join(dir, 'two.png');
  const px = Buffer.alloc(8 * 8 * 3);
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) px.set(x < 4 ? [200, 40, 90] : [20, 160, 240], (y * 8 + x) * 3);
  await sharp(px, { raw: { width: 8, height: 8, channels: 3 } }).png().toFile(img);
  const embedder = await Embedder.load(file, { workers: 0 });
  const got = (await embedder.embedFiles([img])).vectors;
  await embedder.close();
  const fmap = new Float32Array(16 * 3);
  for (let p = 0; p < 16; p++) fmap.set((p % 4 < 2 ? [200, 40, 90] : [20, 160, 240]).map((v) => v / 255), p * 3);
  const raw = head.apply(tf.tensor4d(fmap, [1, 4, 4, 3]), false);
  assertClose(got, tf.div(raw, tf.norm(raw)).dataSync(), 1e-4);
});

test('config validation names the bad field', () => {
  assert.throws(() => validateConfig({ data: 'd', out: 'o', loss: { name: 'arcfase' } }, 'c.yaml'), /config field 'loss.name': unknown loss 'arcfase'/);
  assert.throws(() => validateConfig({ data: 'd', out: 'o', epochs: 0 }, 'c.yaml'), /'epochs': must be a positive integer/);
  assert.throws(() => validateConfig({ data: 'd', out: 'o', loss: 'focal' }, 'c.yaml'), /'focal' is a multi-label loss/);
  assert.throws(() => validateConfig({ data: 'd', out: 'o', lerning_rate: 1 }, 'c.yaml'), /'lerning_rate': unknown field/);
  assert.throws(() => validateConfig({ data: 'd', out: 'o', model: { type: 'head' } }, 'c.yaml'), /model.backbone/);
  const ok = validateConfig({ data: 'd', out: 'o', loss: 'triplet', batchSize: 32 }, 'c.yaml', '/base');
  assert.deepEqual(ok.sampler, { kind: 'pk', p: 8, k: 4 });
  assert.equal(ok.data, '/base/d');
});

test('real training on Fashion-MNIST: Recall@1 beats the untrained network by ≥ 20 points; resume and determinism', async (t) => {
  const dir = tempDir(t);
  const base = { data: MINI, trainPerClass: 250, valPerClass: 30, epochs: 3, batchSize: 64, embeddingDim: 64, lr: 0.005, loss: { name: 'arcface', scale: 16, m2: 0.3 }, model: { type: 'resnet', widths: [16, 32], blocksPerStage: 1 }, augment: { flip: true, shift: 2 }, seed: 1 };
  const started = Date.now();
  const run = await train(validateConfig({ ...base, out: path.join(dir, 'a') }, 'test'), { quiet: true });
  const seconds = (Date.now() - started) / 1000;
  const final = run.history.at(-1)!;
  t.diagnostic(`untrained R@1 ${run.untrained['recall@1'].toFixed(3)} → trained ${final['recall@1'].toFixed(3)} in ${seconds.toFixed(1)} s`);
  assert.ok(final['recall@1'] - run.untrained['recall@1'] >= 0.2, `R@1 ${run.untrained['recall@1']} → ${final['recall@1']}`);
  // The exported model loads in the Embedder and its card says how it was made.
  const card = JSON.parse(await fs.readFile(path.join(dir, 'a', 'model.json'), 'utf8'));
  assert.equal(card.outputDim, 64);
  assert.equal(card.net.type, 'resnet');
  const log = (await fs.readFile(path.join(dir, 'a', 'log.jsonl'), 'utf8')).trim().split('\n');
  assert.equal(log.length, 4);
  const report = await fs.readFile(path.join(dir, 'a', 'report.html'), 'utf8');
  assert.match(report, /<svg/);
  // One epoch convention: 0 = untrained, 1…N trained, the same in log.jsonl, checkpoints, the card and the report.
  assert.deepEqual(log.slice(1).map((l) => (JSON.parse(l) as { epoch: number }).epoch), [1, 2, 3]);
  assert.deepEqual(run.history.map((h) => h.epoch), [1, 2, 3]);
  assert.deepEqual((await fs.readdir(path.join(dir, 'a', 'checkpoints'))).sort(), ['epoch-0001.ckpt', 'epoch-0002.ckpt', 'epoch-0003.ckpt']);
  const best = run.history.reduce((a, b) => (b['recall@1'] >= a['recall@1'] ? b : a));
  assert.equal(card.training.bestEpoch, best.epoch);
  assert.ok(card.training.bestEpoch >= 1 && card.training.bestEpoch <= 3);
  assert.deepEqual([...report.matchAll(/<tr><td>(\d+)<\/td>/g)].map((m) => Number(m[1])), [1, 2, 3]);

  // Same seed, trained in two sessions (2 epochs, then --resume to 3) → the same numbers as one 3-epoch run.
  const short = { ...base, trainPerClass: 60, epochs: 3, out: path.join(dir, 'b') };
  const whole = await train(validateConfig(short, 'test'), { quiet: true });
  const part = { ...short, out: path.join(dir, 'c') };
  await train(validateConfig({ ...part, epochs: 3 }, 'test'), { quiet: true, onEpoch: (r) => { if (r.epoch === 2) throw new Error('stop'); } }).catch((e: Error) => assert.equal(e.message, 'stop'));
  const resumed = await train(validateConfig({ ...part, epochs: 3 }, 'test'), { quiet: true, resume: true });
  assert.equal(resumed.history.length, 3);
  assertClose([resumed.history[2]!.loss, resumed.history[2]!['recall@1']], [whole.history[2]!.loss, whole.history[2]!['recall@1']], 1e-5, 'resumed = uninterrupted');

  // Stopped in the middle of epoch 2 (after 3 of its batches): the batches done are kept (partial.ckpt), and the
  // resumed run goes on from the next batch to the same numbers.
  const mid = { ...short, out: path.join(dir, 'd') };
  let epochsDone = 0;
  let calls = 0;
  await assert.rejects(train(validateConfig(mid, 'test'), { quiet: true, onEpoch: () => epochsDone++, shouldStop: () => epochsDone === 1 && ++calls > 3 }), TrainingStopped);
  assert.ok(existsSync(path.join(dir, 'd', 'checkpoints', 'partial.ckpt')), 'mid-epoch checkpoint written');
  const again = await train(validateConfig(mid, 'test'), { quiet: true, resume: true });
  assert.ok(!existsSync(path.join(dir, 'd', 'checkpoints', 'partial.ckpt')), 'removed once its epoch is done');
  for (let e = 0; e < 3; e++) assertClose([again.history[e]!.loss, again.history[e]!['recall@1']], [whole.history[e]!.loss, whole.history[e]!['recall@1']], 1e-5, `epoch ${e + 1}: resumed mid-epoch = uninterrupted`);
});
