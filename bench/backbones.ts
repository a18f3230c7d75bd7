// Benchmark: the shipped and built models off the shelf on real photos, to choose `photo`: (1) LFW retrieval of
// unseen people (the evaluation half of bench/finetune: one photo a query, the rest of their photos the gallery),
// R@1 / MAP@5; (2) copy detection on LFW photos (100 references, 2 edited copies each through
// configs/augment/copy-detection.yaml, 100 distractor queries), µAP and recall@P90, with pHash as the reference;
// and images/s of each model.
// Usage: node dist/bench/backbones.js [--models photo,photo-inceptionv3,mobilenet-wider,random-conv,fashion-mnist]
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import type { StepSpec } from '../src/augment/pipeline.js';
import { loadDataset } from '../src/data/load.js';
import { Embedder } from '../src/models/embedder.js';
import { resolveModelName } from '../src/models/registry.js';
import { indexDataset } from '../src/pipeline/index-dataset.js';
import { retrievalMetrics } from '../src/eval/in-memory.js';
import { copyDetect } from '../src/jobs/copy-detection/pipeline.js';
import { writeCopyBenchmark } from '../src/jobs/copy-detection/benchmark.js';
import { microAveragePrecision, readTruthCsv, recallAtPrecision } from '../src/eval/copy-detection.js';
import { mulberry32 } from '../src/util/random.js';
import { flags } from './common.js';

const args = flags(process.argv.slice(2));
if (args['help']) {
  process.stdout.write('usage: node dist/bench/backbones.js [--models photo,photo-inceptionv3,mobilenet-wider,random-conv,fashion-mnist]\n  models off the shelf on LFW photos: unseen-people retrieval and copy detection ($VISID_SHARED/data/lfw)\n');
  process.exit(0);
}
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const shared = path.resolve(process.env['VISID_SHARED'] ?? path.join(root, '../shared'));
const images = path.join(shared, 'data', 'lfw', 'images');
const out = path.join(root, 'bench', 'out', 'backbones');
const models = (args['models'] ?? 'photo,photo-inceptionv3,mobilenet-wider,random-conv,fashion-mnist').split(',');

// (1) The unseen half of bench/finetune's split.
const people: Array<[string, string[]]> = [];
for (const p of (await fs.readdir(images)).sort()) {
  const files = (await fs.readdir(path.join(images, p))).filter((f) => f.endsWith('.jpg')).sort();
  if (files.length >= 4) people.push([p, files.map((f) => path.join(images, p, f))]);
}
const rnd = mulberry32(7);
const test = [...people].sort(() => rnd() - 0.5).slice(people.length >> 1);
const queries = test.map(([, f]) => f[0]!);
const gallery = test.flatMap(([, f], i) => f.slice(1).map((file) => ({ file, label: i })));

// (2) A copy-detection set from one photo each of 300 people.
const flat = path.join(out, 'photos');
await fs.rm(flat, { recursive: true, force: true });
await fs.mkdir(flat, { recursive: true });
const everyone = (await fs.readdir(images)).sort().filter((_, i) => i % 19 === 0).slice(0, 300);
for (const p of everyone) await fs.symlink(path.join(images, p, (await fs.readdir(path.join(images, p))).sort()[0]!), path.join(flat, `${p}.jpg`));
const pipeline = YAML.parse(await fs.readFile(path.join(root, 'configs/augment/copy-detection.yaml'), 'utf8')) as StepSpec[];
const layout = await writeCopyBenchmark(flat, path.join(out, 'copy'), { pipeline, seed: 1, references: 100, distractors: 100, copies: 2 });
const truth = await readTruthCsv(layout.truth);

console.log(`LFW unseen people: ${queries.length} queries, ${gallery.length} gallery photos; copy detection: ${layout.counts.references} references, ${layout.counts.copies} copies + ${layout.counts.distractorQueries} distractors`);
const ph = (await copyDetect({ refs: layout.refs, queries: layout.queries, hash: 'phash', quiet: true })).matches;
console.log(`pHash: copy µAP ${microAveragePrecision(ph, truth).toFixed(4)}, recall@P90 ${recallAtPrecision(ph, truth, 0.9).toFixed(4)}`);
console.log('| model | people R@1 | R@5 | MAP@5 | copy µAP | recall@P90 | images/s |\n|---|---|---|---|---|---|---|');
for (const name of models) {
  const e = await Embedder.load(await resolveModelName(name));
  const t0 = performance.now();
  const q = await e.embedFiles(queries);
  const g = await e.embedFiles(gallery.map((x) => x.file));
  const rate = (queries.length + gallery.length) / ((performance.now() - t0) / 1000);
  const r = await retrievalMetrics(q.vectors.length / queries.length, { vectors: q.vectors, labels: Int32Array.from(test.map((_, i) => i)) }, { vectors: g.vectors, labels: Int32Array.from(gallery.map((x) => x.label)) });
  const dir = path.join(out, `refs-${name}`);
  await fs.rm(dir, { recursive: true, force: true });
  await indexDataset(await loadDataset(layout.refs), e, dir);
  await e.close();
  const m = (await copyDetect({ refs: dir, queries: layout.queries, quiet: true })).matches;
  console.log(`| ${name} | ${r['recall@1'].toFixed(4)} | ${r['recall@5'].toFixed(4)} | ${r['map@5'].toFixed(4)} | ${microAveragePrecision(m, truth).toFixed(4)} | ${recallAtPrecision(m, truth, 0.9).toFixed(4)} | ${rate.toFixed(1)} |`);
}
process.exit(0);
