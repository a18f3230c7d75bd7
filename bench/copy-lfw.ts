// Benchmark: the DISC-like copy-detection set of issue 16 §1, built from the real LFW photos (seeded): one photo each
// of `--references` distinct people as references, one photo each of `--distractors` other people as distractor
// queries, the photos of the people left as the background/training part; the queries are edited copies made with
// configs/augment/copy-benchmark.yaml (0–6 edits a copy, 3.2 on average, at full strength; the chain recorded per query in
// queries.csv). Scores pHash and the named models (off the shelf, multi-scale as copy-detect does) by µAP and
// recall@P90, overall and per edit, so a user sees which edits still break a descriptor.
// Usage: VISID_SHARED=../shared node dist/bench/copy-lfw.js [--references 5000] [--distractors 500]
//        [--copies 1] [--background 2000] [--models photo,copy,<file.onnx>] [--multi-scale] [--seed 1] [--max-side 250]
//        [--verify <k>] [--keypoint-candidates <n>] [--no-phash] [--query-stride <s>] [--reuse] [--save <dir>]
//        [--verify-features <n>] [--verify-threshold <t>]   (--reuse keeps the benchmark and the galleries already embedded)
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import type { StepSpec } from '../src/augment/pipeline.js';
import { loadDataset } from '../src/data/load.js';
import { Embedder } from '../src/models/embedder.js';
import { resolveModelName } from '../src/models/registry.js';
import { indexDataset } from '../src/pipeline/index-dataset.js';
import { copyDetect, ISC_SCALES } from '../src/jobs/copy-detection/pipeline.js';
import { Gallery } from '../src/index/gallery.js';
import { writeCopyBenchmark, type CopyBenchmarkLayout } from '../src/jobs/copy-detection/benchmark.js';
import { formatEditTable, perEditScores, readQueryEdits } from '../src/jobs/copy-detection/per-edit.js';
import { matchesCsv, microAveragePrecision, readTruthCsv, recallAtPrecision } from '../src/eval/copy-detection.js';
import { createProgress } from '../src/util/progress.js';
import { flags, helpAndExit } from './common.js';

helpAndExit(import.meta.url);
const args = flags(process.argv.slice(2));
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const shared = path.resolve(process.env['VISID_SHARED'] ?? path.join(root, '../shared'));
const images = path.join(shared, 'data', 'lfw', 'images');
const references = Number(args['references'] ?? 5000);
const distractors = Number(args['distractors'] ?? 500);
const copies = Number(args['copies'] ?? 1);
const background = Number(args['background'] ?? 2000);
const seed = Number(args['seed'] ?? 1);
const maxSide = Number(args['max-side'] ?? 250);
const models = (args['models'] ?? 'photo').split(',').filter(Boolean);
const out = path.join(root, 'bench', 'out', `copy-lfw-${references}-${distractors}-${copies}-s${seed}`);

const layoutFile = path.join(out, 'layout.json');
let layout: CopyBenchmarkLayout;
if (args['reuse'] && (await fs.stat(layoutFile).catch(() => undefined))) layout = JSON.parse(await fs.readFile(layoutFile, 'utf8')) as CopyBenchmarkLayout;
else {
  const pipeline = YAML.parse(await fs.readFile(path.join(root, 'configs/augment/copy-benchmark.yaml'), 'utf8')) as StepSpec[];
  const t0 = performance.now();
  const progress = createProgress({ label: 'writing the benchmark', total: references + (references + distractors) * copies + background, unit: 'images' });
  let last = 0;
  layout = await writeCopyBenchmark(images, path.join(out, 'data'), { pipeline, seed, references, distractors, copies, onePerGroup: true, background, maxSide, tiles: 1, onProgress: (d) => (progress.tick(d - last), (last = d)) });
  progress.done();
  await fs.writeFile(layoutFile, JSON.stringify(layout, null, 2));
  console.log(`built in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
// --query-stride s: score every s-th query only (the same subset for every method; verification is ~0.3 s a query).
const stride = Number(args['query-stride'] ?? 1);
const allTruth = await readTruthCsv(layout.truth);
const subset = new Set(allTruth.map((t) => t.query).sort().filter((_, i) => i % stride === 0));
const truth = allTruth.filter((t) => subset.has(t.query));
const edits = (await readQueryEdits(layout.queries_csv)).filter((q) => subset.has(q.query));
if (stride > 1) console.log(`scored on every ${stride}th query: ${subset.size} of ${allTruth.length} (${truth.filter((t) => t.reference).length} copies)`);
console.log(`LFW copy benchmark (seed ${seed}): ${layout.counts.references} references (one photo each of distinct people), ${layout.counts.copies} edited copies + ${layout.counts.distractorQueries} edited distractor photos of other people as queries, ${layout.counts.background} background photos of the people left; edits: configs/augment/copy-benchmark.yaml`);

const report = (name: string, all: Awaited<ReturnType<typeof copyDetect>>['matches']) => {
  const matches = stride > 1 ? all.filter((m) => subset.has(m.query)) : all;
  console.log(`\n${name}: µAP ${microAveragePrecision(matches, truth).toFixed(4)}, recall@P90 ${recallAtPrecision(matches, truth, 0.9).toFixed(4)}`);
  process.stdout.write(formatEditTable(perEditScores(matches, truth, edits)));
};
// --verify k: also each query's top k re-scored by local verification (ORB + RANSAC), timed.
const verifyK = args['verify'] ? Number(args['verify']) : 0;
// --keypoint-candidates n: the verification also checks the n references the query's ORB keypoints vote for.
const keypointK = args['keypoint-candidates'] ? Number(args['keypoint-candidates']) : undefined;
const withVerify = async (name: string, o: Parameters<typeof copyDetect>[0]) => {
  report(name, (await copyDetect(o)).matches);
  if (!verifyK) return;
  // --verify-features n / --verify-threshold t: keypoints per image and AKAZE's threshold for the verification.
  const featureOptions = { ...(args['verify-features'] ? { features: Number(args['verify-features']) } : {}), ...(args['verify-threshold'] ? { threshold: Number(args['verify-threshold']) } : {}) };
  const r = await copyDetect({ ...o, verify: { topK: verifyK, keypointCandidates: keypointK, quiet: false, ...featureOptions, ...(stride > 1 ? { onlyQueries: subset } : {}) } });
  if (args['save']) {
    // --save dir: the verified matches (with their inlier counts) for offline study of the fusion.
    await fs.mkdir(String(args['save']), { recursive: true });
    await fs.writeFile(path.join(String(args['save']), `${name.replace(/[^A-Za-z0-9]+/g, '_')}.csv`), matchesCsv(r.matches));
  }
  report(`${name} + local verification of the top ${verifyK}${keypointK ? ` and of the ${keypointK} references most keypoints vote for` : ''} (${r.verifiedPairs} pairs in ${r.verifySeconds!.toFixed(0)} s)`, r.matches);
};
// --no-phash: skip the hash baseline (e.g. when only a new model is being measured).
if (!args['no-phash']) await withVerify('pHash (64-bit, Hamming)', { refs: layout.refs, queries: layout.queries, hash: 'phash', quiet: true });
// Each model embeds the references, the queries and the background once (galleries under bench/out), at one scale
// and, with --multi-scale, at seed 004 §5's four (fused by averaging); then every scoring reads those galleries.
const scaleSets: Array<{ tag: string; scales: number[] }> = [{ tag: '1 scale', scales: [1] }, ...(args['multi-scale'] ? [{ tag: 'multi-scale (ISC 200–400 px)', scales: ISC_SCALES }] : [])];
for (const name of models) {
  const modelPath = await resolveModelName(name);
  const short = path.basename(name).replace(/\.onnx$/i, '').replace(/[^A-Za-z0-9._-]/g, '_');
  for (const { tag, scales } of scaleSets) {
    const e = await Embedder.load(modelPath);
    const galleries: Record<string, string> = {};
    for (const part of ['refs', 'queries', 'background'] as const) {
      const dir = path.join(out, `${part}-${short}-${scales.length}s`);
      galleries[part] = dir;
      if (args['reuse'] && (await Gallery.exists(dir))) continue;
      await fs.rm(dir, { recursive: true, force: true });
      const t0 = performance.now();
      await indexDataset(await loadDataset(layout[part]), e, dir, { scales });
      console.log(`(${name}, ${tag}: ${part} embedded in ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }
    await e.close();
    const base = { refs: galleries['refs']!, queries: galleries['queries']!, quiet: true };
    await withVerify(`${name}, ${tag} (raw cosine)`, base);
    report(`${name}, ${tag} (stretched against the background photos)`, (await copyDetect({ ...base, background: galleries['background'], scoring: 'stretch' })).matches);
    report(`${name}, ${tag} (centred on the background mean, then stretched)`, (await copyDetect({ ...base, background: galleries['background'], scoring: 'stretch', center: true })).matches);
    report(`${name}, ${tag} (score minus the 5th background similarity)`, (await copyDetect({ ...base, background: galleries['background'], scoring: 'normalize' })).matches);
  }
}
process.exit(0);
