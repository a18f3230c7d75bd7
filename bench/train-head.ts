// Benchmark: one ArcFace training step of a head on frozen features (batch 256, 2048 → FC-BN → 512 → 3,116 classes,
// SGD with momentum) on each TensorFlow.js backend and with visid's data-parallel replicas, against the same step in
// PyTorch (Debian's python3-torch, all cores) and in numpy, in one command. Target: visid ≤ 1.5 × PyTorch's time.
// Usage: node dist/bench/train-head.js [--runs 5] [--batch 256] [--classes 3116] [--cpu-runs 2] [--workers 2] [--python /usr/bin/python3]
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf, initTf, hasTfjsNode, TrainBackend } from '../src/tf/runtime.js';
import { buildHead } from '../src/models/networks.js';
import { arcFace } from '../src/losses/margin-softmax.js';
import { createOptimizer } from '../src/train/optimizers.js';
import { DataParallel } from '../src/train/parallel.js';
import { flags, median } from './common.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const opts = flags(process.argv.slice(2));
if (opts['help']) {
  process.stdout.write('usage: node dist/bench/train-head.js [--runs 5] [--batch 256] [--classes 3116] [--cpu-runs 2] [--workers 2] [--python /usr/bin/python3]\n  one ArcFace head step per tfjs backend and with data-parallel workers, against PyTorch and numpy\n');
  process.exit(0);
}
const runs = Number(opts['runs'] ?? 5);
const B = Number(opts['batch'] ?? 256);
const D = 2048;
const E = 512;
const C = Number(opts['classes'] ?? 3116);

async function tfStep(backend: TrainBackend, n: number): Promise<{ ms: number[]; loss: number }> {
  await initTf(backend);
  const head = buildHead({ type: 'head', input: D, kind: 'fc-bn', embeddingDim: E, seed: 1 });
  const loss = arcFace({ numClasses: C, embeddingDim: E, scale: 30, m2: 0.5, seed: 2 });
  const opt = createOptimizer({ kind: 'sgd', momentum: 0.9 }, 0.01);
  const x = tf.randomNormal([B, D], 0, 1, 'float32', 3);
  const y = tf.tensor1d(Int32Array.from({ length: B }, (_, i) => (i * 7919) % C), 'int32');
  const vars = [...head.trainable(), ...loss.variables()];
  const step = () => opt.step(() => loss.compute(head.apply(x, true) as tf.Tensor2D, y), vars, 0.01);
  const first = step();
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    step();
    ms.push(performance.now() - t0);
  }
  tf.dispose([x, y]);
  return { ms, loss: first };
}

function numpyStep(threads?: number): { ms: number[]; numpy: string; blas: string } | { error: string } {
  const candidates = opts['python'] ? [opts['python']] : ['/usr/bin/python3', 'python3'];
  const env = threads ? { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) } : process.env;
  for (const py of candidates) {
    const r = spawnSync(py, [path.resolve(here, '../../bench/py/arcface_step.py'), String(B), String(D), String(E), String(C), String(runs)], { encoding: 'utf8', env });
    if (r.status === 0) return { ...(JSON.parse(r.stdout.trim()) as { ms: number[]; numpy: string; blas: string }), numpy: `${py} numpy ${JSON.parse(r.stdout.trim()).numpy}` };
  }
  return { error: 'no python3 with numpy (apt-get install python3-numpy libopenblas0-pthread)' };
}

const gflop = (2 * B * D * E * 2 + 2 * B * E * C * 3) / 1e9;
console.log(`ArcFace step: batch ${B}, ${D} → FC-BN → ${E} → ${C} classes, SGD momentum; ≈ ${gflop.toFixed(2)} GFLOP per step; median of ${runs} runs`);
const np = numpyStep();
let npMs: number | undefined;
if ('error' in np) console.log(`numpy: ${np.error}`);
else {
  npMs = median(np.ms);
  console.log(`numpy (${np.numpy}, all cores): ${npMs.toFixed(1)} ms/step, ${((B * 1000) / npMs).toFixed(0)} samples/s`);
}
// tfjs' wasm backend runs on one thread in Node: numpy on one BLAS thread is the per-core comparison.
const np1 = numpyStep(1);
const np1Ms = 'error' in np1 ? undefined : median(np1.ms);
if (np1Ms) console.log(`numpy (one thread): ${np1Ms.toFixed(1)} ms/step, ${((B * 1000) / np1Ms).toFixed(0)} samples/s`);
const torch = spawnSync(opts['python'] ?? '/usr/bin/python3', [path.resolve(here, '../../bench/py/finetune_torch.py'), 'head', String(B), String(D), String(E), String(C), String(runs), String(os.availableParallelism())], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
const torchMs = torch.status === 0 ? median((JSON.parse(torch.stdout.trim()) as { ms: number[] }).ms) : undefined;
console.log(torchMs ? `PyTorch (${os.availableParallelism()} threads): ${torchMs.toFixed(1)} ms/step, ${((B * 1000) / torchMs).toFixed(0)} samples/s` : `PyTorch: not available (${(torch.stderr || 'apt-get install python3-torch').trim().split('\n').at(-1)})`);
const vsTorch = (ms: number) => (torchMs ? `  ${(ms / torchMs).toFixed(2)}× PyTorch's time (target ≤ 1.5)` : '');
// visid's data-parallel replicas (one wasm thread each): the same step over shards of the batch.
{
  const workers = Number(opts['workers'] ?? os.availableParallelism());
  const spec = { type: 'head', input: D, kind: 'fc-bn', embeddingDim: E, seed: 1 } as const;
  const dp = await DataParallel.start(workers, { spec, loss: { name: 'arcface', scale: 30, m2: 0.5 }, numClasses: C, embeddingDim: E, seed: 2, optimizer: { kind: 'sgd', momentum: 0.9 }, lr: 0.01, groups: [], backend: 'wasm' });
  const x = Float32Array.from({ length: B * D }, (_, i) => Math.sin(i * 12.9898) * 1.3);
  const y = Int32Array.from({ length: B }, (_, i) => (i * 7919) % C);
  await dp.step(x, [B, D], y, 0.01);
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await dp.step(x, [B, D], y, 0.01);
    ms.push(performance.now() - t0);
  }
  await dp.close();
  const m = median(ms);
  console.log(`visid wasm, ${workers} data-parallel workers: ${m.toFixed(1)} ms/step, ${((B * 1000) / m).toFixed(0)} samples/s${vsTorch(m)}`);
}
const backends: TrainBackend[] = ['wasm', 'cpu', ...(hasTfjsNode() ? (['tensorflow'] as TrainBackend[]) : [])];
for (const b of backends) {
  const r = await tfStep(b, b === 'cpu' ? Number(opts['cpu-runs'] ?? 2) : runs);
  const ms = median(r.ms);
  const ratio = npMs ? `  ${(ms / npMs).toFixed(2)}× numpy's time${np1Ms ? ` (${(ms / np1Ms).toFixed(2)}× one-thread numpy)` : ''}` : '';
  console.log(`tfjs ${b.padEnd(10)}: ${ms.toFixed(1)} ms/step, ${((B * 1000) / ms).toFixed(0)} samples/s, ${(gflop / (ms / 1000)).toFixed(1)} GFLOP/s${ratio}${vsTorch(ms)}  (first-step loss ${r.loss.toFixed(3)})`);
}
if (!hasTfjsNode()) console.log('tfjs tensorflow: @tensorflow/tfjs-node is not installed (it cannot install offline); skipped');
