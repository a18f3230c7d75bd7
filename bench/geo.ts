// Benchmark: geo-localization (seed 001) on the demo layout built from the shared photos — Recall@1/5 of each step
// for two backbones (visid's untrained random convolutions; face-api's trained MobileNetV1) (baseline; CosPlace head with CosFace / ArcFace / SphereFace; multi-scale avg/sum/max/min; α-QE, DBA, local
// re-ranking; night queries with darkening and GRL; NIF / SIF fusion) and queries/s of search and of each re-rank.
// Usage: node dist/bench/geo.js [--runs 3] [--epochs 5]   (photos: $VISID_SHARED/data/faces-deepface)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeGeoDemo } from '../src/jobs/geo/demo.js';
import { loadDataset } from '../src/data/load.js';
import type { Dataset } from '../src/data/item.js';
import { mobileNetModelPath, untrainedFeatureMapModelPath, untrainedModelPath } from '../src/models/default-files.js';
import { embedItems, rerank, retrieve, scoreGeo, trainGeoModel, type RankedHit, type RerankKind } from '../src/jobs/geo/pipeline.js';
import { nearestIndicesFirst, sharedIndicesFirst } from '../src/search/prediction-fusion.js';
import type { FusionMode } from '../src/util/vectors.js';
import { helpAndExit, flags, median } from './common.js';

helpAndExit(import.meta.url);

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const opts = flags(process.argv.slice(2));
const runs = Number(opts['runs'] ?? 3);
const epochs = Number(opts['epochs'] ?? 5);
const shared = process.env.VISID_SHARED ?? path.resolve(root, '../shared');
const out = path.resolve(root, 'bench/out/geo');

const layout = await writeGeoDemo(path.join(shared, 'data', 'faces-deepface'), path.join(out, 'data'));
const database = await loadDataset(layout.database);
const queries = await loadDataset(layout.queries);
const night = await loadDataset(layout.night);
const nightQueries = await loadDataset(layout.nightQueries);
console.log(`data: ${layout.places} places, ${database.items.length} database images, ${queries.items.length} queries (${layout.counts.withoutPositive} without a positive: always misses, so R@N ≤ ${((queries.items.length - layout.counts.withoutPositive) / queries.items.length).toFixed(3)}), ${night.items.length} night images for GRL`);
const ids = database.items.map((it) => it.id);
const K = 20;
const grouping = { cellMeters: 10, headingDegrees: 360, groupsPerAxis: 2, headingGroups: 1, minImagesPerClass: 1 };

function show(step: string, ranked: RankedHit[][], qs: Dataset = queries, qps?: number): void {
  const s = scoreGeo(ranked, qs.items, database.items);
  console.log(`${step.padEnd(62)} R@1 ${(100 * s.recalls[1]!).toFixed(1).padStart(5)}  R@5 ${(100 * s.recalls[5]!).toFixed(1).padStart(5)}  median error ${s.medianErrorMeters.toFixed(1).padStart(6)} m${qps ? `  ${qps.toFixed(0)} queries/s` : ''}`);
}

/** Database descriptors by model and options: the day and night steps of one model share them. */
const databaseVectors = new Map<string, Promise<Float32Array>>();
async function embedBoth(model: string, o: { scales?: number[]; fusion?: FusionMode; brightness?: number } = {}, qs: Dataset = queries) {
  const key = JSON.stringify([model, o.scales, o.fusion, o.brightness]);
  if (!databaseVectors.has(key)) databaseVectors.set(key, embedItems(model, database.items, { ...o, quiet: true }));
  const dv = await databaseVectors.get(key)!;
  const qv = await embedItems(model, qs.items, { ...o, quiet: true });
  return { dv, qv, dim: dv.length / database.items.length };
}

/** Median seconds of `runs` calls. */
async function time<T>(f: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const t: number[] = [];
  let value!: T;
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    value = await f();
    t.push((performance.now() - s) / 1000);
  }
  return { value, seconds: median(t) };
}

for (const [bname, backbone, pooled, trainEpochs] of [
  ['random-conv (untrained)', await untrainedFeatureMapModelPath(), await untrainedModelPath(), epochs],
  ['MobileNetV1 (face-api SSD, trained on WIDER FACE)', await mobileNetModelPath(), await mobileNetModelPath({ pooled: true }), 2 * epochs],
] as const) {
  console.log(`\n— backbone: ${bname}; CosPlace heads trained ${trainEpochs} epochs`);
  await steps(backbone, pooled, trainEpochs, bname.startsWith('random') ? 'random' : 'mobilenet');
}

async function steps(backbone: string, pooled: string, epochs: number, tag: string): Promise<void> {
  const base = await embedBoth(pooled);
  const baseSearch = await time(() => retrieve(base.qv, base.dv, base.dim, ids, K));
  show('baseline: backbone + GeM, no head', baseSearch.value, queries, queries.items.length / baseSearch.seconds);

  const models: Record<string, string> = {};
  for (const loss of ['cosface', 'arcface', 'sphereface'] as const) {
    const t0 = performance.now();
    const m = await trainGeoModel({ train: database, backbone, out: path.join(out, 'models', tag, loss), grouping, loss, epochs, views: 4, quiet: true });
    models[loss] = m.model;
    const e = await embedBoth(m.model);
    show(`CosPlace head, ${loss} (${m.classes} classes, ${((performance.now() - t0) / 1000).toFixed(0)} s to train)`, await retrieve(e.qv, e.dv, e.dim, ids, K));
  }
  const main = await embedBoth(models['cosface']!);
  const mainSearch = await time(() => retrieve(main.qv, main.dv, main.dim, ids, K));
  for (const fusion of ['avg', 'sum', 'max', 'min'] as const) {
    const e = await embedBoth(models['cosface']!, { scales: [0.526, 0.588, 1, 1.7, 1.9], fusion });
    show(`+ multi-scale 0.526/0.588/1/1.7/1.9, ${fusion}`, await retrieve(e.qv, e.dv, e.dim, ids, K));
  }
  for (const [kind, label] of [['qe', 'α-query expansion (k 2, α 3)'], ['dba', 'DBA + α-QE'], ['local', 'local features, MNN over the top 20']] as const) {
    const r = await time(() => rerank({ kind: kind as RerankKind, backbone }, { items: queries.items, vectors: main.qv }, { items: database.items, vectors: main.dv }, main.dim, K, mainSearch.value));
    show(`CosPlace cosface + re-rank: ${label}`, r.value, queries, queries.items.length / (mainSearch.seconds + r.seconds));
  }
  const arc = await embedBoth(models['arcface']!);
  const arcRanked = await retrieve(arc.qv, arc.dv, arc.dim, ids, K);
  const dist = (hits: RankedHit[]) => hits.map((h) => ({ id: h.id, distance: 1 - h.score }));
  show('fusion cosface + arcface: Nearest Indices First', mainSearch.value.map((h, q) => nearestIndicesFirst(dist(h), dist(arcRanked[q]!), K).map((p) => ({ id: p.id, score: 1 - p.distance }))));
  show('fusion cosface + arcface: Shared Indices First (cosface stronger)', mainSearch.value.map((h, q) => sharedIndicesFirst(h.map((x) => x.id), arcRanked[q]!.map((x) => x.id), K).map((id) => ({ id, score: 0 }))));

  // Night: the same places photographed dark (the demo darkens and tints the queries).
  const n0 = await embedBoth(pooled, {}, nightQueries);
  show('night queries: baseline', await retrieve(n0.qv, n0.dv, n0.dim, ids, K), nightQueries);
  const n1 = await embedBoth(models['cosface']!, {}, nightQueries);
  const nightRanked = await retrieve(n1.qv, n1.dv, n1.dim, ids, K);
  show('night queries: CosPlace cosface', nightRanked, nightQueries);
  for (const b of [0.15, 0.3]) {
    const nd = await embedBoth(models['cosface']!, { brightness: b }, nightQueries);
    show(`night queries: + test-time darkening ×${b} (database and queries)`, await retrieve(nd.qv, nd.dv, nd.dim, ids, K), nightQueries);
  }
  const grl = await trainGeoModel({ train: database, backbone, out: path.join(out, 'models', tag, 'grl'), grouping, epochs, views: 4, target: night, quiet: true });
  const ng = await embedBoth(grl.model, {}, nightQueries);
  const grlRanked = await retrieve(ng.qv, ng.dv, ng.dim, ids, K);
  show(`night queries: GRL model (${night.items.length} night images)`, grlRanked, nightQueries);
  show('night queries: NIF of cosface + GRL', nightRanked.map((h, q) => nearestIndicesFirst(dist(h), dist(grlRanked[q]!), K).map((p) => ({ id: p.id, score: 1 - p.distance }))), nightQueries);
  show('night queries: SIF (GRL stronger)', grlRanked.map((h, q) => sharedIndicesFirst(h.map((x) => x.id), nightRanked[q]!.map((x) => x.id), K).map((id) => ({ id, score: 0 }))), nightQueries);
  const gd = await embedBoth(grl.model, {}, queries);
  show('day queries: GRL model', await retrieve(gd.qv, gd.dv, gd.dim, ids, K));
}

// Search speed at scale: 1,000 queries against 100,000 × 128-d database descriptors, and α-QE on top.
const rnd = (n: number) => {
  const v = Float32Array.from({ length: n * 128 }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1);
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let d = 0; d < 128; d++) s += v[r * 128 + d]! ** 2;
    for (let d = 0; d < 128; d++) v[r * 128 + d]! /= Math.sqrt(s);
  }
  return v;
};
const bigDb = rnd(100_000);
const bigQ = rnd(1000).map((x) => x * 0.999);
const bigIds = Array.from({ length: 100_000 }, (_, i) => `d${i}`);
await retrieve(bigQ.subarray(0, 128 * 10), bigDb, 128, bigIds, K); // warm-up
const big = await time(() => retrieve(bigQ, bigDb, 128, bigIds, K));
const bigItems = bigIds.map((id) => ({ id, path: '' }));
const bigQItems = Array.from({ length: 1000 }, (_, i) => ({ id: `q${i}`, path: '' }));
const bigQe = await time(() => rerank({ kind: 'qe' }, { items: bigQItems, vectors: bigQ }, { items: bigItems, vectors: bigDb }, 128, K, big.value));
console.log(`search at scale: 1,000 queries × 100,000 × 128-d top-${K}: ${(1000 / big.seconds).toFixed(0)} queries/s; + α-QE (a second search): ${(1000 / (big.seconds + bigQe.seconds)).toFixed(0)} queries/s (ratio ${(big.seconds / (big.seconds + bigQe.seconds)).toFixed(2)})`);
