// Benchmark: training images/s of the default CNN (configs/default-fashion-mnist.yaml's network: 28×28 grey,
// widths 16-32-64, one residual block per stage, ArcFace, Adam) on each TensorFlow.js backend, real Fashion-MNIST batches.
// Usage: node dist/bench/train-cnn.js [--runs 5] [--batch 64] [--cpu-runs 2]
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf, initTf, hasTfjsNode, TrainBackend } from '../src/tf/runtime.js';
import { buildCnn } from '../src/models/networks.js';
import { arcFace } from '../src/losses/margin-softmax.js';
import { createOptimizer } from '../src/train/optimizers.js';
import { loadIdxSplit } from '../src/data/idx.js';
import { imageTrainingSet, pixelStats } from '../src/train/data.js';
import { helpAndExit, flags, median } from './common.js';

helpAndExit(import.meta.url);

const here = path.dirname(fileURLToPath(import.meta.url));
const opts = flags(process.argv.slice(2));
const runs = Number(opts['runs'] ?? 5);
const batch = Number(opts['batch'] ?? 64);
const set = await loadIdxSplit(path.resolve(here, '../../data/fashion-mnist-mini'), 'train');
const data = imageTrainingSet(set, pixelStats(set), { flip: true, shift: 2 });

async function measure(backend: TrainBackend, n: number): Promise<number> {
  await initTf(backend);
  const net = buildCnn({ type: 'resnet', input: [28, 28, 1], widths: [16, 32, 64], blocksPerStage: 1, embeddingDim: 64, seed: 1 });
  const loss = arcFace({ numClasses: 10, embeddingDim: 64, scale: 16, m2: 0.3, seed: 1 });
  const opt = createOptimizer({ kind: 'adam' }, 0.005);
  const vars = [...net.trainable(), ...loss.variables()];
  const step = (i: number) => {
    const idx = Array.from({ length: batch }, (_, j) => (i * batch + j) % set.labels.length);
    const x = data.batch(idx, true, i);
    const y = tf.tensor1d(Int32Array.from(idx, (k) => set.labels[k]!), 'int32');
    opt.step(() => loss.compute(net.apply(x, true), y), vars, 0.005);
    tf.dispose([x, y]);
  };
  step(0);
  const ms: number[] = [];
  for (let i = 1; i <= n; i++) {
    const t0 = performance.now();
    step(i);
    ms.push(performance.now() - t0);
  }
  return (batch * 1000) / median(ms);
}

console.log(`default CNN training step (batch ${batch}, 28×28×1, widths 16-32-64, ArcFace, Adam, flip+shift augmentation), median of ${runs} steps`);
const results: Array<[string, number]> = [];
for (const b of ['wasm', 'cpu', ...(hasTfjsNode() ? ['tensorflow'] : [])] as TrainBackend[]) {
  const ips = await measure(b, b === 'cpu' ? Number(opts['cpu-runs'] ?? 2) : runs);
  results.push([b, ips]);
  console.log(`tfjs ${b.padEnd(10)}: ${ips.toFixed(0)} training images/s`);
}
const wasm = results.find((r) => r[0] === 'wasm')![1];
for (const [b, ips] of results) if (b !== 'wasm') console.log(`wasm / ${b}: ${(wasm / ips).toFixed(1)}×`);
if (!hasTfjsNode()) console.log('tfjs tensorflow: @tensorflow/tfjs-node is not installed (it cannot install offline); skipped');
