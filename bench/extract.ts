// Benchmark: images/s of `visid index` (decode + preprocess + ResNet-50-shaped ONNX) against a bare onnxruntime
// session fed pre-made tensors, same batch size and threads. Usage: node dist/bench/extract.js [--images 2000] [--runs 3]
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { writeSyntheticDataset } from '../src/demo/synthetic.js';
import { buildResNet50 } from './resnet50.js';
import { helpAndExit, flags, median, mib, peakRssKb } from './common.js';

helpAndExit(import.meta.url);

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const out = path.join(repo, 'bench', 'out');
const opts = flags(process.argv.slice(2));
const images = Number(opts['images'] ?? 2000);
const runs = Number(opts['runs'] ?? 3);
const batch = Number(opts['batch'] ?? 32);
const threads = Number(opts['threads'] ?? 2);

async function prepare(): Promise<{ model: string; data: string }> {
  await fs.mkdir(out, { recursive: true });
  const model = path.join(out, 'resnet50-random.onnx');
  if (!(await fs.access(model).then(() => true, () => false))) {
    await fs.writeFile(model, buildResNet50());
  }
  await fs.writeFile(
    path.join(out, 'resnet50-random.json'),
    JSON.stringify({ name: 'resnet50-random', inputSize: [224, 224], layout: 'NCHW', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], resize: 'shorter-crop', outputDim: 2048 }),
  );
  const data = path.join(out, `jpegs-${images}`);
  if (!(await fs.access(path.join(data, 'gallery')).then(() => true, () => false))) {
    process.stderr.write(`writing ${images} JPEGs of 640×480 to ${data} ...\n`);
    const classes = Math.ceil(images / 20);
    await writeSyntheticDataset(data, { classes, galleryPerClass: 20, queriesPerClass: 0, width: 640, height: 480, seed: 11 });
  }
  return { model, data: path.join(data, 'gallery') };
}

/** The reference: onnxruntime alone on ready-made input tensors (no decoding), same batch and threads. */
async function bareOrt(model: string): Promise<number> {
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const input = new Float32Array(batch * 3 * 224 * 224);
  for (let i = 0; i < input.length; i++) input[i] = Math.sin(i) * 2;
  const full = new ort.Tensor('float32', input, [batch, 3, 224, 224]);
  await session.run({ image: full });
  const t0 = performance.now();
  for (let done = 0; done < images; done += batch) {
    const n = Math.min(batch, images - done);
    const t = n === batch ? full : new ort.Tensor('float32', input.subarray(0, n * 3 * 224 * 224), [n, 3, 224, 224]);
    await session.run({ image: t });
  }
  const rate = images / ((performance.now() - t0) / 1000);
  await session.release();
  return rate;
}

/** `visid index` as a user runs it, in a child process; returns images/s and its peak memory. */
async function visidIndex(model: string, data: string): Promise<{ rate: number; maxRssKb: number }> {
  const gallery = path.join(out, 'extract-gallery');
  await fs.rm(gallery, { recursive: true, force: true });
  const args = ['--import', path.join(here, 'report-rss.js'), path.join(repo, 'bin', 'visid.js'), 'index', data, '--model', model, '--out', gallery, '--batch', String(batch), '--threads', String(threads), '-q'];
  const t0 = performance.now();
  const stderr = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolve(err) : reject(new Error(`visid index failed (${code}): ${err}`))));
  });
  const seconds = (performance.now() - t0) / 1000;
  const maxRssKb = Number(/VISID_BENCH_MAXRSS_KB=(\d+)/.exec(stderr)?.[1] ?? NaN);
  return { rate: images / seconds, maxRssKb };
}

const { model, data } = await prepare();
const count = (await fs.readdir(data, { recursive: true })).filter((f) => String(f).endsWith('.jpg')).length;
if (count < images) throw new Error(`expected ${images} JPEGs in ${data}, found ${count}: delete bench/out and rerun`);
console.log(`extract benchmark: ${images} JPEGs 640×480, ResNet-50-shaped ONNX (random weights), batch ${batch}, ${threads} onnxruntime threads, ${runs} runs each`);
const ref: number[] = [];
const vis: number[] = [];
const rss: number[] = [];
for (let r = 0; r < runs; r++) {
  ref.push(await bareOrt(model));
  const v = await visidIndex(model, data);
  vis.push(v.rate);
  rss.push(v.maxRssKb);
  console.log(`  run ${r + 1}: bare onnxruntime ${ref.at(-1)!.toFixed(2)} img/s, visid index ${v.rate.toFixed(2)} img/s, visid peak RSS ${mib(v.maxRssKb)}`);
}
const ratio = median(vis) / median(ref);
console.log(`bare onnxruntime (pre-made tensors): median ${median(ref).toFixed(2)} img/s; peak RSS of this process ${mib(peakRssKb())}`);
console.log(`visid index (decode+preprocess+embed+store): median ${median(vis).toFixed(2)} img/s; peak RSS ${mib(Math.max(...rss))}`);
console.log(`ratio visid/bare = ${ratio.toFixed(3)} (target >= 0.9)`);
