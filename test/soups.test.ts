// Model soups (uniform, greedy) and snapshot ensembles: selection rules and exported graphs checked by hand.
import test from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { tf, initTf } from '../src/tf/runtime.js';
import { averageWeights, greedySoup, type Weights } from '../src/train/soups.js';
import { buildCnn } from '../src/models/networks.js';
import { cnnEnsembleToOnnx } from '../src/models/export-onnx.js';
import { assertClose } from './helpers.js';

const w = (a: number[], b: number[]): Weights => new Map([['a', Float32Array.from(a)], ['b', Float32Array.from(b)]]);

test('uniform soup: element-wise mean; mismatched checkpoints are refused', () => {
  const soup = averageWeights([w([1, 2], [3]), w([3, 6], [5]), w([2, 1], [1])]);
  assert.deepEqual(Array.from(soup.get('a')!), [2, 3]);
  assert.deepEqual(Array.from(soup.get('b')!), [3]);
  assert.throws(() => averageWeights([w([1, 2], [3]), new Map([['a', Float32Array.from([1])], ['b', Float32Array.from([1])]])]), /does not match the first one at 'a'/);
});

test('greedy soup: best first, then each checkpoint only if the soup does not get worse', async () => {
  // Score = −|a − 4|: the soup should gather the checkpoints whose average moves a toward 4.
  const evaluate = async (x: Weights) => -Math.abs(x.get('a')![0]! - 4);
  const candidates = [
    { epoch: 0, weights: w([0], [0]), score: -4 },
    { epoch: 1, weights: w([5], [0]), score: -1 },
    { epoch: 2, weights: w([3], [0]), score: -1.5 },
    { epoch: 3, weights: w([10], [0]), score: -6 },
  ];
  const soup = await greedySoup(candidates, evaluate);
  // Start with epoch 1 (a = 5, −1); + epoch 2 → a = 4 (0) kept; + epoch 0 → a = 8/3 (−1.33) rejected;
  // + epoch 3 → a = 6 (−2) rejected.
  assert.deepEqual(soup.members, [1, 2]);
  assert.equal(Math.abs(soup.score), 0);
  assert.deepEqual(Array.from(soup.weights.get('a')!), [4]);
});

test('snapshot ensemble ONNX = concatenated L2-normalised member descriptors / √M', async () => {
  await initTf('wasm');
  const nets = [1, 2].map((seed) => buildCnn({ type: 'resnet', input: [8, 8, 3], widths: [4], blocksPerStage: 1, embeddingDim: 3, seed }));
  const x = Float32Array.from({ length: 3 * 64 }, (_, i) => Math.sin(i));
  const nhwc = new Float32Array(3 * 64);
  for (let c = 0; c < 3; c++) for (let p = 0; p < 64; p++) nhwc[p * 3 + c] = x[c * 64 + p]!;
  const want: number[] = [];
  for (const net of nets) {
    const y = Array.from(net.apply(tf.tensor4d(nhwc, [1, 8, 8, 3]), false).dataSync());
    const n = Math.hypot(...y);
    want.push(...y.map((v) => v / n / Math.SQRT2));
  }
  const session = await ort.InferenceSession.create(cnnEnsembleToOnnx(nets, 'ens'));
  const got = (await session.run({ pixels: new ort.Tensor('float32', x, [1, 3, 8, 8]) })).descriptor!.data as Float32Array;
  assertClose(got, want, 1e-5);
});

test('visid train soup --epochs 4,5 reaches the soup command (train has an --epochs of its own)', async () => {
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const bin = fileURLToPath(new URL('../../bin/visid.js', import.meta.url));
  const r = spawnSync(process.execPath, [bin, 'train', 'soup', '/nonexistent-run', '--epochs', '4,5'], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /not a visid training run/);
  assert.doesNotMatch(r.stderr, /is not a positive integer/);
});
