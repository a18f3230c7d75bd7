// Benchmark: approximate search (HNSW through usearch, visid's `HNSW32` index) against faiss' IndexHNSWFlat (Debian's
// python3-faiss) on the same clustered vectors, same M, efConstruction, efSearch and threads, in one command:
// recall@10 against exact search, queries/s per efSearch (median of several runs), build time, index bytes, RSS;
// and SQ8 storage (HNSW32,SQ8 vs faiss IndexHNSWSQ) with the bytes against float32; and IVF-PQ (visid's
// `IVF<n>,PQ<m>` and `…,RFlat` against faiss' index_factory of the same spec, trained on the same number of rows)
// per nprobe.
// Usage: node dist/bench/ann.js [--n 1000000] [--dim 128] [--queries 1000] [--m 32] [--ef-construction 128]
//        [--ef 32,64,128,256] [--runs 5] [--clusters 1000] [--no-sq8] [--no-hnsw] [--no-ivf]
//        [--ivf IVF4096,PQ32] [--nprobe 8,16,32,64,128] [--refine-factor 4] [--python /usr/bin/python3]
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gallery } from '../src/index/gallery.js';
import { parseIndexSpec } from '../src/index/ann.js';
import { GallerySearcher } from '../src/search/gallery-search.js';
import { encodeNpy } from '../src/formats/npy.js';
import { writeFileAtomic } from '../src/util/atomic.js';
import { gaussian, mulberry32 } from '../src/util/random.js';
import { l2NormalizeRows } from '../src/util/vectors.js';
import { flags, helpAndExit, median } from './common.js';

helpAndExit(import.meta.url);
const args = flags(process.argv.slice(2));
const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, '../../bench/out/ann');
const n = Number(args['n'] ?? 1_000_000);
const dim = Number(args['dim'] ?? 128);
const nq = Number(args['queries'] ?? 1000);
const m = Number(args['m'] ?? 32);
const efc = Number(args['ef-construction'] ?? 128);
const efs = (args['ef'] ?? '32,64,128,256').split(',').map(Number);
const runs = Number(args['runs'] ?? 5);
const clusters = Number(args['clusters'] ?? 1000);
const sq8 = !args['no-sq8'];
const hnsw = !args['no-hnsw'];
const ivf = args['no-ivf'] ? undefined : (args['ivf'] ?? 'IVF4096,PQ32');
const nprobes = (args['nprobe'] ?? '8,16,32,64,128').split(',').map(Number);
const refineFactor = Number(args['refine-factor'] ?? 4);
const threads = os.availableParallelism();

/** Unit vectors around random centres (descriptor sets are clustered, not uniform), seeded. */
function clustered(count: number, seed: number): Float32Array {
  const g = gaussian(mulberry32(seed));
  const c = gaussian(mulberry32(99));
  const centres = l2NormalizeRows(Float32Array.from({ length: clusters * dim }, () => c()), dim);
  const v = new Float32Array(count * dim);
  for (let i = 0; i < count; i++) {
    const k = Math.floor(mulberry32(seed * 7919 + i)() * clusters);
    for (let j = 0; j < dim; j++) v[i * dim + j] = centres[k * dim + j]! + (0.35 * g()) / Math.sqrt(dim);
  }
  return l2NormalizeRows(v, dim);
}

await fs.mkdir(out, { recursive: true });
const base = clustered(n, 1);
const queries = clustered(nq, 2);
const baseFile = path.join(out, `base-${n}x${dim}.npy`);
const queryFile = path.join(out, `queries-${nq}x${dim}.npy`);
await writeFileAtomic(baseFile, encodeNpy(base, [n, dim]));
await writeFileAtomic(queryFile, encodeNpy(queries, [nq, dim]));
console.log(`ann benchmark: ${n} × ${dim} clustered unit vectors (${clusters} centres), ${nq} queries, top-10, M ${m}, efConstruction ${efc}, ${threads} threads; median of ${runs} runs`);

const py = args['python'] ?? '/usr/bin/python3';
const faissRun = !hnsw ? undefined : spawnSync(py, [path.join(here, '../../bench/py/ann_faiss.py'), baseFile, queryFile, String(m), String(efc), efs.join(','), String(runs), String(threads), sq8 ? '1' : '0'], { encoding: 'utf8', maxBuffer: 1 << 24 });
type FaissRows = { build_s: number; rows: Array<{ ef: number; recall: number; qps: number }> };
const faiss = faissRun?.status === 0 ? (JSON.parse(faissRun.stdout.trim().split('\n').at(-1)!) as { flat: FaissRows; sq8?: FaissRows; max_rss_kb: number }) : undefined;
if (faissRun && !faiss) console.log(`faiss: not run (${(faissRun.stderr || 'python3-faiss missing: apt-get install python3-faiss').trim().split('\n').at(-1)})`);

const dir = path.join(out, `gallery-${n}x${dim}`);
await fs.rm(dir, { recursive: true, force: true });
const gallery = await Gallery.create(dir, { dim, model: { id: 'bench-ann' } });
for (let s = 0; s < n; s += 200_000) {
  const rows = Math.min(200_000, n - s);
  await gallery.append(base.subarray(s * dim, (s + rows) * dim), Array.from({ length: rows }, (_, i) => ({ id: `v${s + i}` })));
}
const exact = await GallerySearcher.create(gallery, { exact: true });
const truth = (await exact.search(queries, { k: 10 })).map((h) => new Set(h.map((x) => x.row)));
await exact.close();

if (hnsw) console.log('| index | build s | index MiB | efSearch | recall@10 visid | recall@10 faiss | queries/s visid | queries/s faiss | visid / faiss q/s |\n|---|---|---|---|---|---|---|---|---|');
for (const spec of !hnsw ? [] : sq8 ? ['HNSW32', 'HNSW32,SQ8'] : ['HNSW32']) {
  const t0 = performance.now();
  await gallery.setIndex(parseIndexSpec(spec.replace('32', String(m))), { efConstruction: efc });
  const build = (performance.now() - t0) / 1000;
  const searcher = await GallerySearcher.create(gallery);
  const ref = spec.endsWith('SQ8') ? faiss?.sq8 : faiss?.flat;
  for (const ef of efs) {
    const times: number[] = [];
    let hits: Awaited<ReturnType<GallerySearcher['search']>> = [];
    for (let r = 0; r < runs; r++) {
      const t = performance.now();
      hits = await searcher.search(queries, { k: 10, ef });
      times.push(performance.now() - t);
    }
    let found = 0;
    hits.forEach((h, q) => (found += h.filter((x) => truth[q]!.has(x.row)).length));
    const qps = nq / (median(times) / 1000);
    const f = ref?.rows.find((r) => r.ef === ef);
    console.log(`| ${spec.replace('32', String(m))} | ${build.toFixed(1)} (faiss ${ref ? ref.build_s.toFixed(1) : '—'}) | ${(searcher.ann!.meta.bytes / 2 ** 20).toFixed(0)} | ${ef} | ${(found / (nq * 10)).toFixed(4)} | ${f ? f.recall.toFixed(4) : '—'} | ${qps.toFixed(0)} | ${f ? f.qps.toFixed(0) : '—'} | ${f ? (qps / f.qps).toFixed(2) : '—'} |`);
  }
  await searcher.close();
}
if (ivf) {
  // faiss trains on as many rows as visid (64 per list by default), drawn the same way (seeded sample).
  const lists = Number(/^IVF(\d+)/i.exec(ivf)![1]);
  const trainRows = Math.min(n, Math.max(64 * lists, 256));
  console.log(`\n${ivf}: trained on ${trainRows} rows; RFlat re-ranks ${refineFactor}·k candidates exactly (faiss IndexRefineFlat k_factor ${refineFactor})`);
  console.log('| index | build s | index MiB | nprobe | recall@10 visid | recall@10 faiss | queries/s visid | queries/s faiss | visid / faiss q/s |\n|---|---|---|---|---|---|---|---|---|');
  for (const spec of [ivf, `${ivf},RFlat`]) {
    const f = spawnSync(py, [path.join(here, '../../bench/py/ivfpq_faiss.py'), baseFile, queryFile, spec, nprobes.join(','), String(runs), String(threads), String(trainRows), String(refineFactor)], { encoding: 'utf8', maxBuffer: 1 << 24 });
    const ref = f.status === 0 ? (JSON.parse(f.stdout.trim().split('\n').at(-1)!) as { build_s: number; rows: Array<{ nprobe: number; recall: number; qps: number }>; max_rss_kb: number }) : undefined;
    if (!ref) console.log(`faiss ${spec}: not run (${(f.stderr || 'python3-faiss missing').trim().split('\n').at(-1)})`);
    const t0 = performance.now();
    await gallery.setIndex(parseIndexSpec(spec));
    const build = (performance.now() - t0) / 1000;
    const searcher = await GallerySearcher.create(gallery);
    await searcher.search(queries, { k: 10, nprobe: nprobes[0], refineFactor }); // warm-up: scan threads, JIT
    for (const nprobe of nprobes) {
      const times: number[] = [];
      let hits: Awaited<ReturnType<GallerySearcher['search']>> = [];
      for (let r = 0; r < runs; r++) {
        const t = performance.now();
        hits = await searcher.search(queries, { k: 10, nprobe, refineFactor });
        times.push(performance.now() - t);
      }
      let found = 0;
      hits.forEach((h, q) => (found += h.filter((x) => truth[q]!.has(x.row)).length));
      const qps = nq / (median(times) / 1000);
      const r = ref?.rows.find((x) => x.nprobe === nprobe);
      console.log(`| ${spec} | ${build.toFixed(1)} (faiss ${ref ? ref.build_s.toFixed(1) : '—'}) | ${(searcher.ann!.meta.bytes / 2 ** 20).toFixed(0)} | ${nprobe} | ${(found / (nq * 10)).toFixed(4)} | ${r ? r.recall.toFixed(4) : '—'} | ${qps.toFixed(0)} | ${r ? r.qps.toFixed(0) : '—'} | ${r ? (qps / r.qps).toFixed(2) : '—'} |`);
    }
    await searcher.close();
    if (ref) console.log(`faiss ${spec} max RSS ${(ref.max_rss_kb / 1024).toFixed(0)} MiB`);
  }
}
console.log(`float32 vectors: ${((n * dim * 4) / 2 ** 20).toFixed(0)} MiB; visid RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB (holds the gallery's float rows too); faiss max RSS ${faiss ? (faiss.max_rss_kb / 1024).toFixed(0) : '—'} MiB`);
