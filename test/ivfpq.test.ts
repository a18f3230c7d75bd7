// IVF<n>,PQ<m>[,RFlat]: the quantisers against brute-force references, the scan against an independent search over
// the reconstructed rows, the index inside a gallery (append, remove, stale, damaged, descriptors on disk) and the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Gallery } from '../src/api.js';
import { IvfPqIndex, parseIndexSpec, rowsInMemory, type IvfPqSpec } from '../src/index/ann.js';
import { kmeans, ProductQuantizer, CentroidSearch, sampleIndices, seededRandom } from '../src/index/quantizers.js';
import { innerProductTable, TopHeap } from '../src/index/ivfpq-scan.js';
import { GallerySearcher } from '../src/search/gallery-search.js';
import { encodeNpy } from '../src/formats/npy.js';
import { gaussian, mulberry32 } from '../src/util/random.js';
import { l2NormalizeRows } from '../src/util/vectors.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/visid.js');

function clustered(n: number, dim: number, clusters: number, seed: number, spread = 0.35): Float32Array {
  const g = gaussian(mulberry32(seed));
  const c = gaussian(mulberry32(1000 + clusters));
  const centres = l2NormalizeRows(Float32Array.from({ length: clusters * dim }, () => c()), dim);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const k = i % clusters;
    for (let j = 0; j < dim; j++) out[i * dim + j] = centres[k * dim + j]! + (spread * g()) / Math.sqrt(dim);
  }
  return l2NormalizeRows(out, dim);
}

const dot = (a: Float32Array, ao: number, b: Float32Array, bo: number, n: number) => {
  let s = 0;
  for (let j = 0; j < n; j++) s += a[ao + j]! * b[bo + j]!;
  return s;
};

/** Brute-force top-k of one query by inner product over `rows` (ties: lower row). */
function bruteTop(q: Float32Array, qo: number, rows: Float32Array, dim: number, k: number): number[] {
  const n = rows.length / dim;
  return Array.from({ length: n }, (_, i) => [i, dot(q, qo, rows, i * dim, dim)] as const)
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, k)
    .map((x) => x[0]);
}

test('sampling is seeded and distinct; k-means finds well-separated centres; the centroid search is the brute-force nearest', async () => {
  const a = sampleIndices(1000, 100, seededRandom(7));
  assert.deepEqual(a, sampleIndices(1000, 100, seededRandom(7)));
  assert.equal(new Set(a).size, 100);
  assert.ok(a.every((v, i) => v >= 0 && v < 1000 && (i === 0 || v > a[i - 1]!)));
  // Lloyd's fixed point: after convergence every centroid is the mean of the points nearest to it, and more
  // iterations never raise the sum of squared distances (checked with a brute-force assignment).
  const dim = 2;
  const g = gaussian(mulberry32(3));
  const pts = Float32Array.from({ length: 400 * dim }, (_, i) => (i % 8 < 4 ? 0 : 6) + g());
  const sse = (c: Float32Array) => {
    let total = 0;
    const assign: number[] = [];
    for (let i = 0; i < 400; i++) {
      let best = 0;
      let bestD = Infinity;
      for (let k = 0; k < c.length / dim; k++) {
        const d = (pts[i * 2]! - c[k * 2]!) ** 2 + (pts[i * 2 + 1]! - c[k * 2 + 1]!) ** 2;
        if (d < bestD) (bestD = d), (best = k);
      }
      total += bestD;
      assign.push(best);
    }
    return { total, assign };
  };
  const one = await kmeans(pts, dim, 5, { iterations: 1, seed: 1 });
  const many = await kmeans(pts, dim, 5, { iterations: 60, seed: 1 });
  assert.ok(sse(many).total <= sse(one).total + 1e-6, `SSE ${sse(many).total} after 60 iterations vs ${sse(one).total} after 1`);
  const { assign } = sse(many);
  for (let k = 0; k < 5; k++) {
    const mine = assign.flatMap((c, i) => (c === k ? [i] : []));
    assert.ok(mine.length > 0, `centroid ${k} is empty`);
    for (let j = 0; j < dim; j++) {
      const mean = mine.reduce((acc, i) => acc + pts[i * dim + j]!, 0) / mine.length;
      assert.ok(Math.abs(many[k * dim + j]! - mean) < 1e-4, `centroid ${k} is not its points' mean`);
    }
  }
  await assert.rejects(kmeans(pts.subarray(0, 6), dim, 5), /at least 5 points/);
  const x = clustered(200, 8, 5, 4);
  const cents = clustered(16, 8, 16, 5);
  const search = await CentroidSearch.create(cents, 8);
  const { indices, dots } = await search.nearestWithDots(x, 3);
  for (let i = 0; i < 200; i++) {
    const d2 = Array.from({ length: 16 }, (_, c) => [c, cents.subarray(c * 8, c * 8 + 8).reduce((s, v, j) => s + (v - x[i * 8 + j]!) ** 2, 0)] as const).sort((p, q) => p[1] - q[1]);
    assert.deepEqual(Array.from(indices.subarray(i * 3, i * 3 + 3)), d2.slice(0, 3).map((p) => p[0]), `row ${i}`);
    assert.ok(Math.abs(dots[i * 3]! - dot(x, i * 8, cents, indices[i * 3]! * 8, 8)) < 1e-4);
  }
  await search.close();
});

test('product quantiser: each byte is the nearest codeword of its sub-space; the lookup table sums to q · decode(code)', async () => {
  const dim = 16;
  const m = 4;
  const x = clustered(2000, dim, 20, 6, 0.8);
  const pq = await ProductQuantizer.train(x, dim, m, { iterations: 8, seed: 2 });
  const codes = await pq.encode(x);
  const dsub = dim / m;
  for (let i = 0; i < 300; i++) {
    for (let s = 0; s < m; s++) {
      let best = -1;
      let bestD = Infinity;
      for (let c = 0; c < 256; c++) {
        let d = 0;
        for (let j = 0; j < dsub; j++) d += (x[i * dim + s * dsub + j]! - pq.codebooks[(s * 256 + c) * dsub + j]!) ** 2;
        if (d < bestD - 1e-7) (bestD = d), (best = c);
      }
      const got = codes[i * m + s]!;
      let dGot = 0;
      for (let j = 0; j < dsub; j++) dGot += (x[i * dim + s * dsub + j]! - pq.codebooks[(s * 256 + got) * dsub + j]!) ** 2;
      assert.ok(got === best || Math.abs(dGot - bestD) < 1e-5, `row ${i} sub-space ${s}: ${got} vs nearest ${best}`);
    }
  }
  // Asymmetric distance: Σ_s lut[s][code_s] = q · reconstruction (the formula the scan relies on), for dsub 4 and 2.
  for (const [d, mm] of [[16, 4], [16, 8]] as const) {
    const p2 = mm === m ? pq : await ProductQuantizer.train(x, d, mm, { iterations: 4, seed: 3 });
    const c2 = mm === m ? codes : await p2.encode(x);
    const q = clustered(1, d, 1, 9);
    const lut = new Float32Array(mm * 256);
    innerProductTable(q, 0, p2.codebooks, mm, d / mm, lut);
    for (let i = 0; i < 50; i++) {
      const code = c2.subarray(i * mm, (i + 1) * mm);
      let s = 0;
      for (let k = 0; k < mm; k++) s += lut[k * 256 + code[k]!]!;
      assert.ok(Math.abs(s - dot(q, 0, p2.decode(code), 0, d)) < 1e-5);
    }
  }
  const h = new TopHeap(3);
  [0.5, 0.1, 0.9, 0.7, 0.2, 0.9].forEach((v, i) => h.push(v, i));
  const rows = new Int32Array(4);
  const scores = new Float32Array(4);
  h.writeSorted(rows, scores, 0);
  assert.deepEqual(Array.from(rows.subarray(0, 3)), [2, 5, 3]);
});

test('IVF-PQ search = an independent top-k over centroid + decoded residual when every list is probed; RFlat with a wide re-rank = exact', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'visid-ivf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dim = 32;
  const n = 3000;
  const x = clustered(n, dim, 30, 10);
  const spec = parseIndexSpec('IVF16,PQ8') as IvfPqSpec;
  const index = await IvfPqIndex.build(dir, spec, rowsInMemory(x, dim), 'commit-1', { seed: 5, kmeansIterations: 8 });
  const reopened = (await IvfPqIndex.open(dir, { galleryUpdatedAt: 'commit-1', rows: n, dim }))!;
  // Reconstruct every row from the file's parts, independently of the scan: centroid(list) + decode(code).
  const parts = (reopened as unknown as { parts: { centroids: Float32Array; pq: ProductQuantizer; listStart: Uint32Array; ids: Uint32Array; codes: Uint8Array; m: number } }).parts;
  const recon = new Float32Array(n * dim);
  for (let l = 0; l < 16; l++) {
    for (let e = parts.listStart[l]!; e < parts.listStart[l + 1]!; e++) {
      const r = parts.pq.decode(parts.codes.subarray(e * parts.m, (e + 1) * parts.m));
      for (let j = 0; j < dim; j++) recon[parts.ids[e]! * dim + j] = parts.centroids[l * dim + j]! + r[j]!;
    }
  }
  assert.equal(new Set(parts.ids).size, n, 'every row in exactly one list');
  const q = clustered(40, dim, 30, 11);
  const overlap: number[] = [];
  for (const [threads, kernel] of [[1, true], [2, true], [1, false]] as const) {
    const got = await reopened.search(q, 10, { nprobe: 16, threads, kernel });
    for (let i = 0; i < 40; i++) {
      const want = bruteTop(q, i * dim, recon, dim, 10);
      const have = Array.from(got.indices.subarray(i * 10, i * 10 + 10));
      // Float sums in another order may swap near-ties: compare scores, and require most ids.
      overlap.push(have.filter((r) => want.includes(r)).length);
      assert.ok(have.filter((r) => want.includes(r)).length >= 9, `query ${i} (${threads} threads, ${kernel ? 'wasm' : 'js'}): ${have} vs ${want}`);
      for (let j = 0; j < 10; j++) assert.ok(Math.abs(got.scores[i * 10 + j]! - dot(q, i * dim, recon, have[j]! * dim, dim)) < 1e-4);
    }
  }
  t.diagnostic(`ids shared with the independent top-10: min ${Math.min(...overlap)}, ${overlap.filter((o) => o < 10).length} of ${overlap.length} queries below 10`);
  // 64 queries or more go through the scan threads: the same answers as one thread, and the WebAssembly kernel
  // the same as the JavaScript loop (same float32 tables; sums may differ in the last bit, so compare ids).
  const many = clustered(100, dim, 30, 12);
  const one = await reopened.search(many, 5, { nprobe: 4, threads: 1 });
  const two = await reopened.search(many, 5, { nprobe: 4, threads: 2 });
  assert.deepEqual(Array.from(two.indices), Array.from(one.indices));
  const js = await reopened.search(many, 5, { nprobe: 4, threads: 2, kernel: false });
  let same = 0;
  for (let i = 0; i < 500; i++) if (js.indices[i] === one.indices[i]) same++;
  t.diagnostic(`kernel and JS agree on ${same} / 500 ids`);
  // Where an id differs, it is a near-tie swapped: the score at every rank is the same to float precision.
  for (let i = 0; i < 500; i++) assert.ok(Math.abs(js.scores[i]! - one.scores[i]!) < 1e-5, `rank ${i % 5} of query ${Math.floor(i / 5)}: JS ${js.indices[i]} (${js.scores[i]}) vs kernel ${one.indices[i]} (${one.scores[i]})`);
  // Concurrent searches share the kernel's scratch memory: they are queued, not interleaved.
  const [c1, c2] = await Promise.all([reopened.search(many, 5, { nprobe: 4 }), reopened.search(q, 5, { nprobe: 4 })]);
  assert.deepEqual(Array.from(c1.indices), Array.from(one.indices));
  assert.deepEqual(Array.from(c2.indices), Array.from((await reopened.search(q, 5, { nprobe: 4 })).indices));
  // RFlat re-ranking every candidate of every list is exact search.
  const refined = await IvfPqIndex.build(dir, parseIndexSpec('IVF16,PQ8,RFlat') as IvfPqSpec, rowsInMemory(x, dim), 'commit-2', { seed: 5, kmeansIterations: 8 });
  const r = await refined.search(q, 10, { nprobe: 16, refineFactor: n / 10, rows: rowsInMemory(x, dim) });
  for (let i = 0; i < 40; i++) assert.deepEqual(Array.from(r.indices.subarray(i * 10, i * 10 + 10)), bruteTop(q, i * dim, x, dim, 10));
  await Promise.all([index.close(), reopened.close(), refined.close()]);
  await assert.rejects(IvfPqIndex.build(dir, parseIndexSpec('IVF4096,PQ8') as IvfPqSpec, rowsInMemory(x, dim), 'c'), /needs at least 4096 rows/);
  await assert.rejects(IvfPqIndex.build(dir, parseIndexSpec('IVF16,PQ5') as IvfPqSpec, rowsInMemory(x, dim), 'c'), /divisible by 5/);
});

test('IVF-PQ in a gallery: RFlat recall ≥ 0.95; append codes the new rows; remove renumbers; stale and damaged files fall back to exact', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'visid-ivf-g-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dim = 32;
  const n = 6000;
  const x = clustered(n, dim, 120, 20);
  const g = await Gallery.create(path.join(dir, 'g'), { dim, model: { id: 'synthetic' } });
  await g.append(x, Array.from({ length: n }, (_, i) => ({ id: `v${i}` })));
  // Seeded quantisers trained and searched on one thread: the recall below is a fixed figure, 0.994 at nprobe 8 and
  // 32 (0.995 and 0.998 with other data seeds; the former 60-cluster set measured 0.969, under 2 % from the bound).
  await g.setIndex(parseIndexSpec('IVF32,PQ16,RFlat'), { kmeansIterations: 8, seed: 1234, threads: 1 });
  const q = clustered(100, dim, 120, 21);
  const exact = await GallerySearcher.create(g, { exact: true });
  const truth = (await exact.search(q, { k: 10 })).map((h) => h.map((x) => x.id));
  const recall = async (s: GallerySearcher, nprobe: number) => {
    const got = await s.search(q, { k: 10, nprobe, threads: 1 });
    let hit = 0;
    got.forEach((h, i) => (hit += h.filter((x) => truth[i]!.includes(x.id)).length));
    return hit / (100 * 10);
  };
  const s = await GallerySearcher.create(g);
  assert.ok(s.ann instanceof IvfPqIndex);
  const r8 = await recall(s, 8);
  const r32 = await recall(s, 32);
  t.diagnostic(`recall@10 at nprobe 8: ${r8}, 32: ${r32}`);
  assert.ok(r8 >= 0.95, `recall@10 at nprobe 8: ${r8}`);
  assert.ok(r32 >= 0.95, `recall@10 at nprobe 32: ${r32}`);
  await s.close();
  // Append: the new rows are coded into the existing lists (the quantisers are kept).
  const before = await fs.readFile(path.join(g.dir, 'ann.ivfpq'));
  const extra = clustered(500, dim, 120, 22, 0.6);
  await g.append(extra, Array.from({ length: 500 }, (_, i) => ({ id: `x${i}` })));
  const after = await fs.readFile(path.join(g.dir, 'ann.ivfpq'));
  assert.deepEqual(after.subarray(32, 32 + 32 * dim * 4), before.subarray(32, 32 + 32 * dim * 4), 'centroids unchanged by an append');
  const s2 = await GallerySearcher.create(g);
  assert.ok(s2.ann);
  const self = await s2.search(extra.subarray(0, 20 * dim), { k: 1, nprobe: 32 });
  self.forEach((h, i) => assert.equal(h[0]!.id, `x${i}`));
  await s2.close();
  // Remove: rows renumber; a removed id is never returned and the others still are.
  await g.remove(['x3', 'v0']);
  const s3 = await GallerySearcher.create(await Gallery.open(g.dir));
  assert.ok(s3.ann, s3.annProblem);
  const hits = await s3.search(extra.subarray(0, 5 * dim), { k: 3, nprobe: 32 });
  assert.ok(hits.every((h) => h.every((x) => x.id !== 'x3')));
  assert.equal(hits[4]![0]!.id, 'x4');
  await s3.close();
  // Stale (a crash between index and commit) and damaged: exact search, with the reason.
  const meta = JSON.parse(await fs.readFile(path.join(g.dir, 'ann.json'), 'utf8'));
  await fs.writeFile(path.join(g.dir, 'ann.json'), JSON.stringify({ ...meta, galleryUpdatedAt: '2000-01-01T00:00:00.000Z' }));
  const stale = await GallerySearcher.create(await Gallery.open(g.dir));
  assert.equal(stale.ann, undefined);
  assert.match(stale.annProblem!, /stale/);
  await fs.writeFile(path.join(g.dir, 'ann.json'), JSON.stringify(meta));
  await fs.truncate(path.join(g.dir, 'ann.ivfpq'), 1000);
  const damaged = await GallerySearcher.create(await Gallery.open(g.dir));
  assert.match(damaged.annProblem!, /index file is 1000 bytes/);
  assert.equal((await damaged.search(x.subarray(dim, 2 * dim), { k: 1 }))[0]![0]!.id, 'v1');
  // A wrong-sized but checksummed-looking file is refused by its own checks too.
  await g.setIndex(parseIndexSpec('Flat'));
  await assert.rejects(fs.stat(path.join(g.dir, 'ann.ivfpq')));
});

test('descriptors left on disk: rows read back equal, exact search equal, IVF-PQ built and searched the same; memory-only calls refuse by name', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'visid-ivf-disk-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dim = 16;
  const x = clustered(3000, dim, 30, 30);
  const g = await Gallery.create(path.join(dir, 'g'), { dim, model: { id: 'synthetic' } });
  for (let s = 0; s < 3000; s += 1000) await g.append(x.subarray(s * dim, (s + 1000) * dim), Array.from({ length: 1000 }, (_, i) => ({ id: `v${s + i}` })));
  await g.remove(['v5', 'v1500']);
  const mem = await Gallery.open(g.dir);
  const disk = await Gallery.open(g.dir, { vectorsOnDisk: true, verify: true });
  t.after(() => disk.close());
  assert.equal(disk.vectorsOnDisk, true);
  assert.equal(disk.count, 2998);
  assert.throws(() => disk.vectors, /opened with them on disk/);
  const src = disk.rowSource();
  assert.deepEqual(src.read(0, 2998), mem.vectors);
  const pick = [2997, 3, 1500, 0, 1499];
  assert.deepEqual(src.pick(pick), Float32Array.from(pick.flatMap((r) => Array.from(mem.vectors.subarray(r * dim, (r + 1) * dim)))));
  assert.throws(() => src.pick([2998]), /outside/);
  const q = clustered(30, dim, 30, 31);
  const a = await (await GallerySearcher.create(mem, { exact: true })).search(q, { k: 5 });
  const b = await (await GallerySearcher.create(disk, { exact: true, blockRows: 700 })).search(q, { k: 5 });
  assert.deepEqual(b.map((h) => h.map((x) => x.id)), a.map((h) => h.map((x) => x.id)));
  // An index built from the rows on disk is the index built from memory (same seed).
  await disk.setIndex(parseIndexSpec('IVF16,PQ4,RFlat'), { kmeansIterations: 6 });
  const fromDisk = await fs.readFile(path.join(g.dir, 'ann.ivfpq'));
  const again = await Gallery.open(g.dir);
  await again.setIndex(parseIndexSpec('IVF16,PQ4,RFlat'), { kmeansIterations: 6 });
  assert.deepEqual(await fs.readFile(path.join(g.dir, 'ann.ivfpq')), fromDisk);
  // An append on disk joins the rows source; a reopened gallery finds the new rows through the index.
  const reopened = await Gallery.open(g.dir, { vectorsOnDisk: true });
  const extra = clustered(10, dim, 30, 32, 0.9);
  await reopened.append(extra, Array.from({ length: 10 }, (_, i) => ({ id: `x${i}` })));
  assert.deepEqual(reopened.rowSource().read(2998, 10), extra);
  const s = await GallerySearcher.create(await Gallery.open(g.dir, { vectorsOnDisk: true }));
  assert.ok(s.ann, s.annProblem);
  assert.equal((await s.search(extra.subarray(3 * dim, 4 * dim), { k: 1, nprobe: 16 }))[0]![0]!.id, 'x3');
  await s.close();
  await assert.rejects(reopened.compact(), /compaction needs the descriptors in memory/);
  reopened.close();
  // A truncated segment is refused on open, naming the file.
  await fs.truncate(path.join(g.dir, 'seg-000001.vec'), 100);
  await assert.rejects(Gallery.open(g.dir, { vectorsOnDisk: true }), /seg-000001\.vec.*truncated|truncated.*seg-000001/s);
});

test('visid reindex --index IVF64,PQ16,RFlat + visid search --query-npy --nprobe: ≥ 0.95 of the --exact ids; info shows the index memory', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'visid-ivf-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dim = 32;
  const n = 5000;
  await fs.writeFile(path.join(dir, 'v.npy'), encodeNpy(clustered(n, dim, 50, 40), [n, dim]));
  await fs.writeFile(path.join(dir, 'items.jsonl'), Array.from({ length: n }, (_, i) => JSON.stringify({ id: `v${i}` })).join('\n'));
  const nq = 100;
  await fs.writeFile(path.join(dir, 'q.npy'), encodeNpy(clustered(nq, dim, 50, 41), [nq, dim]));
  const run = async (...args: string[]) => (await promisify(execFile)(process.execPath, [BIN, ...args], { maxBuffer: 64 * 1024 * 1024 })).stdout;
  const g = path.join(dir, 'g');
  await run('import', g, '--npy', path.join(dir, 'v.npy'), '--meta', path.join(dir, 'items.jsonl'));
  assert.match(await run('reindex', g, '--index', 'IVF64,PQ16,RFlat', '--kmeans-iterations', '8', '-q'), /index IVF64,PQ16,RFlat over 5000 rows/);
  assert.match(await run('info', g), /index\s+IVF64,PQ16,RFlat \(file [\d.]+ MiB, memory [\d.]+ MiB/);
  const ids = (r: { results: Array<{ hits: Array<{ id: string }> }> }) => r.results.map((q) => q.hits.map((h) => h.id));
  const approx = JSON.parse(await run('search', g, '--query-npy', path.join(dir, 'q.npy'), '--k', '10', '--json', '--nprobe', '16', '--vectors-on-disk'));
  const exact = JSON.parse(await run('search', g, '--query-npy', path.join(dir, 'q.npy'), '--k', '10', '--json', '--exact'));
  assert.equal(approx.index, 'IVF64,PQ16,RFlat');
  const truth = ids(exact);
  let hit = 0;
  ids(approx).forEach((a, q) => (hit += a.filter((id) => truth[q]!.includes(id)).length));
  t.diagnostic(`recall@10 ${hit / (nq * 10)}`);
  assert.ok(hit / (nq * 10) >= 0.95, `recall@10 ${hit / (nq * 10)}`);
  await assert.rejects(run('reindex', g, '--index', 'IVF9000,PQ8', '-q'), /needs at least 9000 rows/);
});
