// Benchmark: copy detection on real photos (seed 004 Table 2's ablation) — pHash / dHash / blockhash; raw backbone
// descriptor; + multi-scale; + stretching (and score normalisation); + trained head — µAP and recall@P90 of each;
// then matching speed: queries/s of raw and stretched matching, on the real set and at 1,000 × 100,000 × 256-d.
// Usage: node dist/bench/copy.js [--runs 3] [--epochs 30] [--views 10] [--seed 1]   (photos: $VISID_SHARED/data/faces-deepface)
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { writeCopyBenchmark } from '../src/jobs/copy-detection/benchmark.js';
import type { StepSpec } from '../src/augment/pipeline.js';
import { loadDataset } from '../src/data/load.js';
import { Embedder } from '../src/models/embedder.js';
import { untrainedModelPath, defaultModelPath, mobileNetModelPath } from '../src/models/default-files.js';
import { indexDataset } from '../src/pipeline/index-dataset.js';
import { copyDetect, ISC_SCALES } from '../src/jobs/copy-detection/pipeline.js';
import { microAveragePrecision, readTruthCsv, recallAtPrecision, type CopyMatch } from '../src/eval/copy-detection.js';
import { matchCopies } from '../src/jobs/copy-detection/match.js';
import { validateConfig } from '../src/train/config.js';
import { train } from '../src/train/trainer.js';
import { mulberry32 } from '../src/util/random.js';
import { l2NormalizeRows } from '../src/util/vectors.js';
import { helpAndExit, flags, median } from './common.js';

helpAndExit(import.meta.url);

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const opts = flags(process.argv.slice(2));
const runs = Number(opts['runs'] ?? 3);
const epochs = Number(opts['epochs'] ?? 30);
const views = Number(opts['views'] ?? 10);
const seed = Number(opts['seed'] ?? 1);
const shared = process.env.VISID_SHARED ?? path.resolve(root, '../shared');
const photos = path.join(shared, 'data', 'faces-deepface');
const out = path.resolve(root, 'bench/out/copy');

const copyPipeline = YAML.parse(await fs.readFile(path.join(root, 'configs/augment/copy-detection.yaml'), 'utf8')) as StepSpec[];
const t0 = performance.now();
const layout = await writeCopyBenchmark(photos, path.join(out, 'data'), { pipeline: copyPipeline, seed });
const truth = await readTruthCsv(layout.truth);
console.log(`data: ${layout.counts.references} references; ${layout.counts.copies} copies + ${layout.counts.distractorQueries} distractor queries; ` +
  `${layout.counts.background} background photos (${layout.counts.train} training tiles); built in ${((performance.now() - t0) / 1000).toFixed(1)} s from ${photos}`);

const rows: Array<{ step: string; uap: number; r90: number }> = [];
function report(step: string, matches: CopyMatch[]): void {
  const uap = microAveragePrecision(matches, truth);
  const r90 = recallAtPrecision(matches, truth, 0.9);
  rows.push({ step, uap, r90 });
  console.log(`${step.padEnd(86)} µAP ${uap.toFixed(4)}  recall@P90 ${r90.toFixed(4)}`);
}

// --speed-only: skip the ablation (matching speed alone).
if (!('speed-only' in opts)) {
  for (const hash of ['phash', 'dhash', 'blockhash'] as const) {
    report(`${hash} (Hamming)`, (await copyDetect({ refs: layout.refs, queries: layout.queries, hash, quiet: true })).matches);
  }

  /** Indexes folders (ids prefixed by their folder's name) with a model at the given scales into bench/out/copy/<name>. */
  async function index(model: string, folders: string[], name: string, scales: number[]): Promise<string> {
    const dir = path.join(out, 'galleries', name);
    await fs.rm(dir, { recursive: true, force: true });
    const embedder = await Embedder.load(model);
    try {
      const sets = await Promise.all(folders.map((f) => loadDataset(f)));
      const items = sets.flatMap((ds) => ds.items.map((it) => ({ ...it, id: folders.length > 1 ? `${path.basename(ds.root)}/${it.id}` : it.id })));
      await indexDataset({ root: folders.length > 1 ? path.dirname(sets[0]!.root) : sets[0]!.root, source: folders.join(' + '), items }, embedder, dir, { scales, fusion: 'avg' });
    } finally {
      await embedder.close();
    }
    return dir;
  }

  /**
   * The ablation chain for one model: raw; + multi-scale (when the model takes any input size); + stretching; then
   * centred on the background mean, + stretching / + score normalisation. Background = the background photos and
   * the training tiles (never references or queries).
   */
  async function chain(label: string, model: string, multiScale = true): Promise<void> {
    const settings: Array<[string, number[]]> = [['1 scale', [1]]];
    if (multiScale) settings.push(['multi-scale 200/256/320/400', ISC_SCALES]);
    for (const [scaleName, scales] of settings) {
      const tag = `${label.replace(/[^a-z0-9]+/gi, '-')}-${scales.length}`;
      const refs = await index(model, [layout.refs], `${tag}-refs`, scales);
      const background = await index(model, [layout.background, layout.train], `${tag}-background`, scales);
      const base = { refs, queries: layout.queries, background, quiet: true };
      const name = `${label}, ${scaleName}`;
      report(name, (await copyDetect(base)).matches);
      report(`${name} + stretching`, (await copyDetect({ ...base, scoring: 'stretch' })).matches);
      report(`${name}, centred`, (await copyDetect({ ...base, center: true })).matches);
      report(`${name}, centred + stretching`, (await copyDetect({ ...base, center: true, scoring: 'stretch' })).matches);
      report(`${name}, centred + score normalisation`, (await copyDetect({ ...base, center: true, scoring: 'normalize' })).matches);
    }
  }

  const backbone = await untrainedModelPath();
  await chain('random-conv GeM backbone', backbone);
  // The default model takes 28×28 inputs only: one scale.
  await chain('Fashion-MNIST default CNN', await defaultModelPath(), false);
  // A trained backbone that installs offline: face-api's SSD MobileNetV1 (WIDER FACE) + GeM, 1024-d.
  await chain('MobileNetV1 GeM (face-api SSD, trained)', await mobileNetModelPath({ pooled: true }));

  // Trained heads on the random-conv backbone: every training tile its own class, K views through the copy edits
  // (their overlays drawn from the background photos), warm-up + cosine (seed 004 eq. 3), 256-d output.
  const trainPipeline = path.join(out, 'train-pipeline.yaml');
  await fs.writeFile(trainPipeline, YAML.stringify(copyPipeline.map((s) => (s.op === 'OneOf' ? { ...s, ops: (s.ops as StepSpec[]).map((c) => (c.op === 'ImageOverlay' || c.op === 'ImageUnderlay' ? { ...c, dir: layout.background } : c)) } : s))));
  for (const [kind, loss, extra] of [
    ['fc-bn', { name: 'copy-detection', weights: { embedding: 0.2 } }, {}],
    ['projector', { name: 'copy-detection' }, { hiddenDim: 1024, projectorDim: 2048 }],
  ] as const) {
    const t1 = performance.now();
    const result = await train(validateConfig({
      data: layout.train, instances: true, valFraction: 0.15, out: path.join(out, `train-${kind}`),
      model: { type: 'head', backbone, kind, views, ...extra }, embeddingDim: 256, loss,
      sampler: { kind: 'pk', p: 16, k: 4 }, batchSize: 64, epochs, lr: 0.002, optimizer: 'adam',
      schedule: { kind: 'seed004', warmupEpochs: Math.max(1, Math.round(epochs / 10)) }, augment: { pipeline: trainPipeline }, seed, backend: 'wasm',
    }, 'bench', root), { quiet: true });
    const best = result.history.reduce((a, b) => (b['recall@1'] >= a['recall@1'] ? b : a));
    console.log(`trained ${kind} head (${((performance.now() - t1) / 1000).toFixed(0)} s): held-out tile views R@1 ${result.untrained['recall@1'].toFixed(3)} → ${best['recall@1'].toFixed(3)} (epoch ${best.epoch + 1}/${epochs})`);
    await chain(`+ trained ${kind} head (copy-detection loss)`, result.modelPath);
  }

}
// Matching speed: the real set, and a synthetic 1,000 queries × 100,000 references × 256-d with 10,000 background.
async function speed(label: string, nq: number, nr: number, nb: number, dim: number): Promise<void> {
  const rnd = mulberry32(7);
  const vecs = (n: number) => l2NormalizeRows(Float32Array.from({ length: n * dim }, () => rnd() - 0.5), dim);
  const ids = (p: string, n: number) => Array.from({ length: n }, (_, i) => `${p}${i}`);
  const q = { ids: ids('q', nq), vectors: vecs(nq) };
  const r = { ids: ids('r', nr), vectors: vecs(nr) };
  const b = { ids: ids('b', nb), vectors: vecs(nb) };
  const time = async (scoring: 'raw' | 'stretch' | 'normalize') => {
    const t: number[] = [];
    for (let i = 0; i < runs; i++) {
      const s = performance.now();
      await matchCopies(q, r, dim, { k: 10, scoring, background: b });
      t.push((performance.now() - s) / 1000);
    }
    return nq / median(t);
  };
  await matchCopies(q, r, dim, { k: 10, scoring: 'stretch', background: b }); // warm-up: onnxruntime sessions, JIT
  const raw = await time('raw');
  const st = await time('stretch');
  const nz = await time('normalize');
  console.log(`matching ${label}: raw ${raw.toFixed(0)} queries/s; stretched ${st.toFixed(0)} (ratio ${(st / raw).toFixed(2)}); normalised ${nz.toFixed(0)} (ratio ${(nz / raw).toFixed(2)})`);
}
await speed(`${layout.counts.copies + layout.counts.distractorQueries} × ${layout.counts.references} × 256-d (real set size)`, layout.counts.copies + layout.counts.distractorQueries, layout.counts.references, layout.counts.train, 256);
await speed('1,000 × 100,000 × 256-d, background 10,000', 1000, 100_000, 10_000, 256);

await fs.writeFile(path.join(out, 'results.json'), JSON.stringify(rows, null, 2));
