// Benchmark: a gallery that is never one array in memory. N × dim clustered unit vectors (10 M × 128 by default,
// 4.8 GiB of float32) are appended chunk by chunk to a gallery opened with its descriptors on disk; an IVF-PQ index
// (`IVF4096,PQ32,RFlat` by default) is trained on a sample read from the segment files and codes every row in
// streamed blocks; 1,000 queries are searched with and without the exact re-rank (float rows read back from disk),
// scored against exact search streamed through the segment files. Prints time, peak RSS per phase, bytes on disk
// and in memory, the per-item costs, and the projection to 100 M items from those measured costs.
// Usage: node dist/bench/ann-large.js [--n 10000000] [--dim 128] [--queries 1000] [--chunk 500000]
//        [--ivf IVF4096,PQ32] [--nprobe 16,32,64,128] [--refine-factor 4] [--runs 3] [--clusters 10000]
//        [--dir bench/out/ann-large] [--reuse]   (--reuse: keep a gallery already built by an earlier run)
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gallery } from '../src/index/gallery.js';
import { formatIndexSpec, IvfPqIndex, parseIndexSpec } from '../src/index/ann.js';
import { GallerySearcher } from '../src/search/gallery-search.js';
import { gaussian, mulberry32 } from '../src/util/random.js';
import { l2NormalizeRows } from '../src/util/vectors.js';
import { flags, helpAndExit, median } from './common.js';

helpAndExit(import.meta.url);
const args = flags(process.argv.slice(2));
const here = path.dirname(fileURLToPath(import.meta.url));
const n = Number(args['n'] ?? 10_000_000);
const dim = Number(args['dim'] ?? 128);
const nq = Number(args['queries'] ?? 1000);
const chunk = Number(args['chunk'] ?? 500_000);
const ivf = args['ivf'] ?? 'IVF4096,PQ32';
const nprobes = (args['nprobe'] ?? '16,32,64,128').split(',').map(Number);
const refineFactor = Number(args['refine-factor'] ?? 4);
const runs = Number(args['runs'] ?? 3);
const clusters = Number(args['clusters'] ?? 10_000);
const dir = path.resolve(args['dir'] ?? path.join(here, '../../bench/out/ann-large'), `gallery-${n}x${dim}`);
const GiB = 2 ** 30;
const MiB = 2 ** 20;

const peak = () => process.resourceUsage().maxRSS * 1024;
const rss = () => process.memoryUsage().rss;
const clock = () => performance.now() / 1000;
const phases: Array<{ phase: string; seconds: number; peakRss: number; rss: number }> = [];
async function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = clock();
  const out = await fn();
  phases.push({ phase: name, seconds: clock() - t0, peakRss: peak(), rss: rss() });
  console.log(`${name}: ${(clock() - t0).toFixed(1)} s, RSS ${(rss() / MiB).toFixed(0)} MiB (peak so far ${(peak() / MiB).toFixed(0)} MiB)`);
  return out;
}

const centres = (() => {
  const c = gaussian(mulberry32(99));
  return l2NormalizeRows(Float32Array.from({ length: clusters * dim }, () => c()), dim);
})();
/** Rows [start, start + count) of the seeded clustered set (each chunk from its own seed: any chunk alone). */
function rows(start: number, count: number, seed: number): Float32Array {
  const g = gaussian(mulberry32(seed * 1_000_003 + start));
  const pick = mulberry32(seed * 7919 + start);
  const v = new Float32Array(count * dim);
  for (let i = 0; i < count; i++) {
    const k = Math.floor(pick() * clusters);
    for (let j = 0; j < dim; j++) v[i * dim + j] = centres[k * dim + j]! + (0.35 * g()) / Math.sqrt(dim);
  }
  return l2NormalizeRows(v, dim);
}

console.log(`ann-large: ${n} × ${dim} clustered unit vectors (${clusters} centres, ${((n * dim * 4) / GiB).toFixed(2)} GiB float32), ${ivf}, ${nq} queries, top-10, ${os.availableParallelism()} threads, ${(os.totalmem() / GiB).toFixed(0)} GiB RAM`);
const reuse = Boolean(args['reuse']) && (await Gallery.exists(dir));
if (!reuse) {
  await fs.rm(dir, { recursive: true, force: true });
  await phase(`append ${n} rows in chunks of ${chunk} (descriptors on disk)`, async () => {
    await Gallery.create(dir, { dim, model: { id: 'bench-ann-large' } });
    const g = await Gallery.open(dir, { vectorsOnDisk: true });
    for (let s = 0; s < n; s += chunk) {
      const count = Math.min(chunk, n - s);
      await g.append(rows(s, count, 1), Array.from({ length: count }, (_, i) => ({ id: `v${s + i}` })));
      process.stderr.write(`\r  ${s + count} / ${n} rows`);
    }
    process.stderr.write('\n');
    g.close();
  });
}
const gallery = await phase('open (items in memory, descriptors on disk)', () => Gallery.open(dir, { vectorsOnDisk: true }));
const queries = rows(0, nq, 2);
const truth = await phase('exact top-10 streamed from the segment files', async () => {
  const exact = await GallerySearcher.create(gallery, { exact: true });
  const hits = await exact.search(queries, { k: 10 });
  await exact.close();
  return hits.map((h) => new Set(h.map((x) => x.row)));
});
const spec = parseIndexSpec(`${ivf},RFlat`);
if (!reuse || formatIndexSpec(gallery.indexSpec) !== `${ivf},RFlat`) {
  await phase(`build ${ivf},RFlat from the segment files`, () =>
    gallery.setIndex(spec, { onProgress: (done, total) => process.stderr.write(`\r  coded ${done} / ${total}`) }).then(() => process.stderr.write('\n')),
  );
}
const searcher = await phase('open the index', () => GallerySearcher.create(gallery));
const index = searcher.ann;
if (!(index instanceof IvfPqIndex)) throw new Error(`no IVF-PQ index: ${searcher.annProblem}`);

await index.search(queries, 10, { nprobe: nprobes[0] }); // warm-up: scan threads, the lists into the kernel's memory
console.log(`\n| search | nprobe | recall@10 | queries/s | ms/query |\n|---|---|---|---|---|`);
for (const refine of [false, true]) {
  for (const nprobe of nprobes) {
    const times: number[] = [];
    let found = 0;
    for (let r = 0; r < runs; r++) {
      const t = performance.now();
      const res = refine ? (await searcher.search(queries, { k: 10, nprobe, refineFactor })).map((h) => h.map((x) => x.row)) : toRows(await index.search(queries, 10, { nprobe }));
      times.push(performance.now() - t);
      found = 0;
      res.forEach((h, q) => (found += h.filter((row) => truth[q]!.has(row)).length));
    }
    const ms = median(times);
    console.log(`| ${refine ? `${ivf},RFlat (${refineFactor}·k re-ranked from disk)` : ivf} | ${nprobe} | ${(found / (nq * 10)).toFixed(4)} | ${(nq / (ms / 1000)).toFixed(0)} | ${(ms / nq).toFixed(3)} |`);
  }
}
phases.push({ phase: 'searches', seconds: 0, peakRss: peak(), rss: rss() });
await searcher.close();

const files = await fs.readdir(dir);
const sizeOf = async (re: RegExp) => (await Promise.all(files.filter((f) => re.test(f)).map((f) => fs.stat(path.join(dir, f)).then((s) => s.size)))).reduce((a, b) => a + b, 0);
const vecBytes = await sizeOf(/\.vec$/);
const metaBytes = await sizeOf(/\.jsonl$/);
const indexBytes = await sizeOf(/^ann\.ivfpq$/);
const build = phases.find((p) => p.phase.startsWith('build'));
const maxRss = Math.max(...phases.map((p) => p.peakRss));
console.log(`\non disk: vectors ${(vecBytes / GiB).toFixed(2)} GiB, items ${(metaBytes / MiB).toFixed(0)} MiB, index ${(indexBytes / MiB).toFixed(0)} MiB; index in memory ${(index.memoryBytes / MiB).toFixed(0)} MiB; peak RSS ${(maxRss / MiB).toFixed(0)} MiB (the float rows alone would be ${((n * dim * 4) / MiB).toFixed(0)} MiB)`);
const perItem = { disk: (vecBytes + metaBytes + indexBytes) / n, index: index.memoryBytes / n, rss: maxRss / n, buildSeconds: build ? build.seconds / n : NaN };
console.log(`per item: disk ${perItem.disk.toFixed(0)} B, index memory ${perItem.index.toFixed(1)} B, peak RSS ${perItem.rss.toFixed(0)} B (all of the process, fixed costs included), build ${(perItem.buildSeconds * 1e6).toFixed(1)} µs`);
const big = 100_000_000;
console.log(
  `100 M projection from these costs: disk ${((perItem.disk * big) / GiB).toFixed(0)} GiB, index memory ${((perItem.index * big) / GiB).toFixed(1)} GiB, ` +
    `RSS ~${((perItem.rss * big) / GiB).toFixed(0)} GiB on one machine (or 10 shards of 10 M at ${((perItem.rss * 1e7) / GiB).toFixed(1)} GiB each), ` +
    `build ${build ? ((perItem.buildSeconds * big) / 3600).toFixed(1) : '—'} h on one machine of ${os.availableParallelism()} cores (coding is linear in rows; training fixed)`,
);
console.log(JSON.stringify({ n, dim, ivf, phases, perItem, vecBytes, metaBytes, indexBytes, indexMemory: index.memoryBytes, maxRss }));

function toRows(r: { indices: Int32Array }): number[][] {
  return Array.from({ length: nq }, (_, q) => Array.from(r.indices.subarray(q * 10, q * 10 + 10)).filter((x) => x >= 0));
}
