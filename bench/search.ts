// Benchmark: exact top-10 over 100,000 × 512 normalised vectors, 1,000 batched queries: visid's ExactIndex against
// faiss IndexFlatIP (Debian's python3-faiss) on the same data in the same command.
// Usage: node dist/bench/search.js [--n 100000] [--dim 512] [--queries 1000] [--runs 5] [--no-install]
import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExactIndex } from '../src/search/exact.js';
import { encodeNpy } from '../src/formats/npy.js';
import { gaussian, mulberry32 } from '../src/util/random.js';
import { l2NormalizeRows } from '../src/util/vectors.js';
import { helpAndExit, flags, median, mib, peakRssKb } from './common.js';

helpAndExit(import.meta.url);

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, '../../bench/out');
const opts = flags(process.argv.slice(2));
const n = Number(opts['n'] ?? 100_000);
const dim = Number(opts['dim'] ?? 512);
const nq = Number(opts['queries'] ?? 1000);
const runs = Number(opts['runs'] ?? 5);
const k = 10;

function randomUnitRows(rows: number, seed: number): Float32Array {
  const r = gaussian(mulberry32(seed));
  const m = new Float32Array(rows * dim);
  for (let i = 0; i < m.length; i++) m[i] = r();
  return l2NormalizeRows(m, dim);
}

/** A Python that imports faiss: Debian's python3-faiss lives under /usr/bin/python3. */
function findFaissPython(): string | undefined {
  for (const py of ['/usr/bin/python3', 'python3']) {
    if (spawnSync(py, ['-c', 'import faiss, numpy'], { stdio: 'ignore' }).status === 0) return py;
  }
  return undefined;
}

function installFaiss(): void {
  // faiss links BLAS through Debian's alternatives: without OpenBLAS it gets the reference BLAS, ~30× slower.
  console.log('installing python3-faiss and libopenblas0-pthread from Debian (bench only, not CI) ...');
  execFileSync('apt-get', ['install', '-y', '-qq', 'python3-faiss', 'python3-numpy', 'libopenblas0-pthread'], { stdio: 'inherit' });
}

const FAISS_SCRIPT = `
import json, resource, sys, time
import numpy as np, faiss
g = np.load(sys.argv[1]); q = np.load(sys.argv[2]); k = int(sys.argv[3]); runs = int(sys.argv[4])
index = faiss.IndexFlatIP(g.shape[1]); index.add(g)
index.search(q[:10], k)
rates = []
for _ in range(runs):
    t = time.perf_counter(); D, I = index.search(q, k); rates.append(len(q) / (time.perf_counter() - t))
json.dump({"rates": rates, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "threads": faiss.omp_get_max_threads(),
           "ids": I.tolist()}, sys.stdout)
`;

await fs.mkdir(out, { recursive: true });
const gallery = randomUnitRows(n, 1);
const queries = randomUnitRows(nq, 2);
console.log(`search benchmark: exact top-${k}, ${n} × ${dim} float32 normalised vectors, ${nq} queries in one batch, ${runs} runs each`);

const index = await ExactIndex.create(gallery, dim, { metric: 'ip' });
await index.search(queries.subarray(0, 10 * dim), k);
const rates: number[] = [];
let last = await index.search(queries, k);
for (let r = 0; r < runs; r++) {
  const t = performance.now();
  last = await index.search(queries, k);
  rates.push(nq / ((performance.now() - t) / 1000));
}
// One query at a time: the latency a server sees.
const single: number[] = [];
for (let i = 0; i < 20; i++) {
  const t = performance.now();
  await index.search(queries.subarray(i * dim, (i + 1) * dim), k);
  single.push(performance.now() - t);
}
await index.close();
const visidRss = peakRssKb();
console.log(`visid ExactIndex (onnxruntime Gemm+TopK, blocked): median ${median(rates).toFixed(0)} queries/s  [${rates.map((x) => x.toFixed(0)).join(', ')}]`);
console.log(`visid single-query latency: median ${median(single).toFixed(1)} ms`);
console.log(`visid peak RSS (whole process, data included): ${mib(visidRss)}`);

let py = findFaissPython();
if (!py && opts['no-install'] !== 'true') {
  installFaiss();
  py = findFaissPython();
}
if (!py) {
  console.log('faiss: not available (install Debian python3-faiss python3-numpy libopenblas0-pthread); no ratio');
} else {
  const gFile = path.join(out, 'search-gallery.npy');
  const qFile = path.join(out, 'search-queries.npy');
  await fs.writeFile(gFile, Buffer.concat(encodeNpy(gallery, [n, dim]).map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))));
  await fs.writeFile(qFile, Buffer.concat(encodeNpy(queries, [nq, dim]).map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))));
  const blas = spawnSync('update-alternatives', ['--query', 'libblas.so.3-x86_64-linux-gnu'], { encoding: 'utf8' }).stdout?.match(/^Value: (.*)$/m)?.[1] ?? 'unknown';
  const res = spawnSync(py, ['-c', FAISS_SCRIPT, gFile, qFile, String(k), String(runs)], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (res.status !== 0) throw new Error(`faiss run failed: ${res.stderr}`);
  const f = JSON.parse(res.stdout) as { rates: number[]; maxrss_kb: number; threads: number; ids: number[][] };
  // Same answers? Compare the top-10 sets (float rounding may swap exact near-ties).
  let same = 0;
  for (let q = 0; q < nq; q++) {
    const a = new Set(Array.from(last.indices.subarray(q * k, (q + 1) * k)));
    same += f.ids[q]!.filter((id) => a.has(id)).length;
  }
  console.log(`faiss IndexFlatIP (${f.threads} OpenMP threads, BLAS: ${blas}): median ${median(f.rates).toFixed(0)} queries/s  [${f.rates.map((x) => x.toFixed(0)).join(', ')}]`);
  console.log(`faiss peak RSS (python process, data included): ${mib(f.maxrss_kb)}`);
  console.log(`agreement: ${((100 * same) / (nq * k)).toFixed(2)}% of top-${k} ids identical`);
  console.log(`ratio visid/faiss = ${(median(rates) / median(f.rates)).toFixed(2)} (target >= 1.0)`);
}
