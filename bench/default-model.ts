// Benchmark: the embedded default model's retrieval quality against the same network untrained, visid's untrained
// random-conv reference, and raw-pixel cosine search — on the demo split (Fashion-MNIST test images shipped in
// data/fashion-mnist-mini: 100 gallery + 100 query images per class) and, when Debian's dataset-fashion-mnist is
// installed, on the whole test set (500 + 500 per class). Models run through the Embedder on real PNG files.
// Usage: node dist/bench/default-model.js [--full /usr/share/datasets/fashion-mnist]
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFashionMnistDemo, FASHION_MNIST_MINI } from '../src/demo/fashion-mnist.js';
import { loadDataset } from '../src/data/load.js';
import { Embedder } from '../src/models/embedder.js';
import { defaultModelPath, untrainedModelPath } from '../src/models/default-files.js';
import { buildNet, NetSpec } from '../src/models/networks.js';
import { cnnToOnnx } from '../src/models/export-onnx.js';
import { initTf } from '../src/tf/runtime.js';
import { retrievalMetrics } from '../src/eval/in-memory.js';
import { decodeRgb } from '../src/images/decode.js';
import { DEBIAN_FASHION_MNIST } from '../src/data/idx.js';
import { helpAndExit, flags } from './common.js';

helpAndExit(import.meta.url);

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, '../../bench/out/default-model');
const opts = flags(process.argv.slice(2));

async function untrainedTwin(): Promise<string> {
  const card = JSON.parse(await fs.readFile((await defaultModelPath()).replace(/\.onnx$/, '.json'), 'utf8')) as Record<string, unknown> & { net: NetSpec };
  await initTf('wasm');
  const file = path.join(out, 'untrained-twin.onnx');
  await fs.mkdir(out, { recursive: true });
  await fs.writeFile(file, cnnToOnnx(buildNet(card.net), 'untrained-twin'));
  await fs.writeFile(file.replace(/\.onnx$/, '.json'), JSON.stringify({ ...card, name: 'untrained twin', description: 'the default architecture at its initial (seeded) weights' }));
  return file;
}

async function evaluateSplit(label: string, dirs: { gallery: string; queries: string }): Promise<void> {
  const gallery = await loadDataset(dirs.gallery);
  const queries = await loadDataset(dirs.queries);
  const classes = [...new Set(gallery.items.map((i) => i.label!))].sort();
  const ids = (items: { label?: string }[]) => Int32Array.from(items, (it) => classes.indexOf(it.label!));
  const gl = ids(gallery.items);
  const ql = ids(queries.items);
  console.log(`\n${label}: ${gallery.items.length} gallery / ${queries.items.length} query images, ${classes.length} classes`);
  console.log('model                               recall@1  recall@5  map@5');
  const row = (name: string, m: { 'recall@1': number; 'recall@5': number; 'map@5': number }) =>
    console.log(`${name.padEnd(36)}${m['recall@1'].toFixed(4).padStart(8)}  ${m['recall@5'].toFixed(4).padStart(8)}  ${m['map@5'].toFixed(4)}`);
  for (const [name, file] of [
    ['default (trained by visid)', await defaultModelPath()],
    ['same network, untrained', await untrainedTwin()],
    ['untrained random-conv reference', await untrainedModelPath()],
  ] as const) {
    const e = await Embedder.load(file);
    const g = await e.embedFiles(gallery.items.map((i) => i.path));
    const q = await e.embedFiles(queries.items.map((i) => i.path));
    row(name, await retrievalMetrics(e.dim!, { vectors: q.vectors, labels: ql }, { vectors: g.vectors, labels: gl }));
    await e.close();
  }
  // Raw pixels: the 784 grey values as the descriptor, cosine similarity.
  const pixels = async (items: { path: string }[]) => {
    const rows = await Promise.all(items.map(async (it) => (await decodeRgb(it.path)).data.filter((_, i) => i % 3 === 0)));
    const v = new Float32Array(rows.length * 784);
    rows.forEach((r, i) => v.set(Array.from(r, (x) => x / 255), i * 784));
    return v;
  };
  row('raw-pixel cosine', await retrievalMetrics(784, { vectors: await pixels(queries.items), labels: ql }, { vectors: await pixels(gallery.items), labels: gl }));
}

await evaluateSplit('demo split (data/fashion-mnist-mini test images)', await writeFashionMnistDemo(path.join(out, 'demo'), { source: FASHION_MNIST_MINI }));
const full = opts['full'] ?? DEBIAN_FASHION_MNIST;
if (await fs.access(path.join(full, 't10k-images-idx3-ubyte.gz')).then(() => true, () => false)) {
  await evaluateSplit(`whole Fashion-MNIST test set (${full})`, await writeFashionMnistDemo(path.join(out, 'full'), { source: full, galleryPerClass: 500, queriesPerClass: 500 }));
} else console.log(`\n(whole test set skipped: ${full} not found — apt-get install dataset-fashion-mnist)`);
