// Approximate search (issue 17): index specs, HNSW through usearch against exact search on clustered data, the
// index kept current through append/remove/compact, and never used when stale or damaged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Gallery } from '../src/api.js';
import { HnswIndex, formatIndexSpec, parseIndexSpec } from '../src/index/ann.js';
import { GallerySearcher } from '../src/search/gallery-search.js';
import { encodeNpy } from '../src/formats/npy.js';
import { gaussian, mulberry32 } from '../src/util/random.js';
import { l2NormalizeRows } from '../src/util/vectors.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/visid.js');

/** `n` unit vectors around `clusters` random centres (the shape of real descriptor sets), seeded. */
function clustered(n: number, dim: number, clusters: number, seed: number, spread = 0.35): Float32Array {
  const g = gaussian(mulberry32(seed));
  const centres = l2NormalizeRows(Float32Array.from({ length: clusters * dim }, () => g()), dim);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = i % clusters;
    for (let j = 0; j < dim; j++) out[i * dim + j] = centres[c * dim + j]! + (spread * g()) / Math.sqrt(dim);
  }
  return l2NormalizeRows(out, dim);
}

function recallAt(approx: number[][], exact: number[][], k: number): number {
  let hit = 0;
  approx.forEach((a, q) => {
    const truth = new Set(exact[q]!.slice(0, k));
    hit += a.slice(0, k).filter((r) => truth.has(r)).length;
  });
  return hit / (approx.length * k);
}

test('index specs parse like faiss factory strings and unknown ones are named', () => {
  assert.deepEqual(parseIndexSpec('Flat'), { kind: 'flat' });
  assert.deepEqual(parseIndexSpec('HNSW32'), { kind: 'hnsw', m: 32, storage: 'f32' });
  assert.deepEqual(parseIndexSpec('hnsw16,SQ8'), { kind: 'hnsw', m: 16, storage: 'i8' });
  assert.equal(formatIndexSpec(parseIndexSpec('HNSW48,F16')), 'HNSW48,F16');
  assert.throws(() => parseIndexSpec('HNSW2'), /4 to 256/);
  assert.deepEqual(parseIndexSpec('IVF4096,PQ32'), { kind: 'ivfpq', lists: 4096, m: 32, refine: false });
  assert.deepEqual(parseIndexSpec('ivf256,pq16x8,RFlat'), { kind: 'ivfpq', lists: 256, m: 16, refine: true });
  assert.equal(formatIndexSpec(parseIndexSpec('IVF1024,PQ8,rflat')), 'IVF1024,PQ8,RFlat');
  assert.throws(() => parseIndexSpec('IVF0,PQ8'), /IVF lists must be/);
  assert.throws(() => parseIndexSpec('IVF64,PQ0'), /PQ sub-quantisers must be/);
  assert.throws(() => parseIndexSpec('IVF64,Flat'), /IVF64,Flat: unknown IVF index spec/);
  assert.throws(() => parseIndexSpec('LSH'), /LSH: unknown index spec/);
});

test('HNSW32 (f32, F16, SQ8) finds ≥ 95 % of the exact top-10 on clustered data; append extends, remove rebuilds', { timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'visid-ann-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dim = 32;
  const n = 10_000;
  const vectors = clustered(n, dim, 100, 1);
  const g = await Gallery.create(path.join(dir, 'g'), { dim, model: { id: 'synthetic' } });
  await g.append(vectors, Array.from({ length: n }, (_, i) => ({ id: `v${i}`, label: `c${i % 100}` })));
  const queries = clustered(300, dim, 100, 2);
  const exact = await GallerySearcher.create(g, { exact: true });
  const truth = (await exact.search(queries, { k: 10 })).map((h) => h.map((x) => x.row));
  // usearch's threaded build inserts rows in whatever order its threads reach them: its graph (and recall) differs
  // from run to run (SQ8 measured 0.953–0.961 on 2 cores with the former 20 000 × 64 set; 0.946 once in CI). Built
  // on one thread the graph is the same every time, so the figure below is fixed: recall@10 0.986 (f32), 0.986
  // (F16), 0.988 (SQ8) on this set, 3.6 points clear of the bound (threaded builds: 0.981–0.989 over 5 runs).
  const sha = async () => JSON.parse(await fs.readFile(path.join(g.dir, 'ann.json'), 'utf8')).sha256 as string;
  for (const spec of ['HNSW32', 'HNSW32,F16', 'HNSW32,SQ8']) {
    await g.setIndex(parseIndexSpec(spec), { threads: 1 });
    const s = await GallerySearcher.create(g);
    assert.equal(s.ann?.meta.spec, spec);
    const hits = await s.search(queries, { k: 10 });
    const r = recallAt(hits.map((h) => h.map((x) => x.row)), truth, 10);
    t.diagnostic(`${spec} recall@10 ${r}`);
    assert.ok(r >= 0.95, `${spec} recall@10 ${r}`);
    // Scores are the cosines of the rows returned.
    const h0 = hits[0]![0]!;
    let dot = 0;
    for (let j = 0; j < dim; j++) dot += queries[j]! * vectors[h0.row * dim + j]!;
    assert.ok(Math.abs(h0.score - dot) < 2e-3, `${spec} score ${h0.score} vs ${dot}`);
  }
  // A single-threaded build is reproducible to the byte.
  const first = await sha();
  await g.setIndex(parseIndexSpec('HNSW32,SQ8'), { threads: 1 });
  assert.equal(await sha(), first, 'two one-thread builds of the same rows give the same index file');
  // Append: the new row is found through the (extended, still current) index.
  const extra = Float32Array.from(queries.subarray(0, dim));
  await g.append(extra, [{ id: 'new', label: 'new' }]);
  const reopened = await Gallery.open(g.dir);
  const s2 = await GallerySearcher.create(reopened);
  assert.ok(s2.ann, 'index current after append');
  assert.equal(s2.ann.meta.rows, n + 1);
  assert.equal((await s2.search(extra, { k: 1 }))[0]![0]!.id, 'new');
  // Remove: rebuilt, the removed id is never returned.
  await reopened.remove(['new']);
  const s3 = await GallerySearcher.create(reopened);
  assert.ok(s3.ann);
  assert.notEqual((await s3.search(extra, { k: 1 }))[0]![0]!.id, 'new');
  await reopened.compact();
  assert.ok((await GallerySearcher.create(await Gallery.open(g.dir))).ann, 'index current after compaction');
  // Flat drops the index files.
  await reopened.setIndex(parseIndexSpec('Flat'));
  assert.deepEqual((await fs.readdir(g.dir)).filter((f) => f.startsWith('ann')), []);
});

test('a stale or damaged index is never used: search is exact and says why', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'visid-ann-stale-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dim = 16;
  const vectors = clustered(500, dim, 10, 3);
  const g = await Gallery.create(path.join(dir, 'g'), { dim, model: { id: 'synthetic' } });
  await g.append(vectors, Array.from({ length: 500 }, (_, i) => ({ id: `v${i}` })));
  await g.setIndex(parseIndexSpec('HNSW16'));
  const meta = JSON.parse(await fs.readFile(path.join(g.dir, 'ann.json'), 'utf8'));
  // A crash after the index was written but before gallery.json committed: the index describes another commit.
  await fs.writeFile(path.join(g.dir, 'ann.json'), JSON.stringify({ ...meta, galleryUpdatedAt: '2000-01-01T00:00:00.000Z' }));
  const stale = await GallerySearcher.create(await Gallery.open(g.dir));
  assert.equal(stale.ann, undefined);
  assert.match(stale.annProblem!, /stale.*visid reindex.*searching exactly/);
  // Truncated index file.
  await fs.writeFile(path.join(g.dir, 'ann.json'), JSON.stringify(meta));
  const file = path.join(g.dir, 'ann.usearch');
  await fs.truncate(file, 100);
  const damaged = await GallerySearcher.create(await Gallery.open(g.dir));
  assert.equal(damaged.ann, undefined);
  assert.match(damaged.annProblem!, /index file is 100 bytes/);
  assert.equal((await damaged.search(vectors.subarray(0, dim), { k: 1 }))[0]![0]!.id, 'v0', 'exact search still answers');
});

test('visid reindex + visid search --query-npy --json: HNSW ids match --exact on clustered data; info shows the index', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'visid-ann-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dim = 32;
  const n = 5000;
  await fs.writeFile(path.join(dir, 'v.npy'), encodeNpy(clustered(n, dim, 50, 4), [n, dim]));
  await fs.writeFile(path.join(dir, 'items.jsonl'), Array.from({ length: n }, (_, i) => JSON.stringify({ id: `v${i}` })).join('\n'));
  const nq = 100;
  await fs.writeFile(path.join(dir, 'q.npy'), encodeNpy(clustered(nq, dim, 50, 5), [nq, dim]));
  const run = async (...args: string[]) => (await promisify(execFile)(process.execPath, [BIN, ...args], { maxBuffer: 64 * 1024 * 1024 })).stdout;
  const g = path.join(dir, 'g');
  await run('import', g, '--npy', path.join(dir, 'v.npy'), '--meta', path.join(dir, 'items.jsonl'));
  assert.match(await run('reindex', g, '--index', 'HNSW32', '-q'), /index HNSW32 over 5000 rows/);
  assert.match(await run('info', g), /index\s+HNSW32 \(/);
  const approx = JSON.parse(await run('search', g, '--query-npy', path.join(dir, 'q.npy'), '--k', '10', '--json'));
  const exact = JSON.parse(await run('search', g, '--query-npy', path.join(dir, 'q.npy'), '--k', '10', '--json', '--exact'));
  assert.equal(approx.index, 'HNSW32');
  assert.equal(exact.index, 'Flat');
  assert.equal(approx.results.length, nq);
  assert.equal(approx.results[3].query, 'row-3');
  const ids = (r: { results: Array<{ hits: Array<{ id: string }> }> }) => r.results.map((q) => q.hits.map((h) => h.id));
  const truth = ids(exact);
  let hit = 0;
  ids(approx).forEach((a, q) => (hit += a.filter((id) => truth[q]!.includes(id)).length));
  t.diagnostic(`recall@10 ${hit / (nq * 10)}`);
  assert.ok(hit / (nq * 10) >= 0.95, `recall@10 ${hit / (nq * 10)}`);
  await assert.rejects(run('search', g, '--query-npy', path.join(dir, 'v.npy'), 'extra.jpg'), /one of the two/);
});

test('kill -9 during reindex and during an append to an indexed gallery: it opens consistent and searches', { timeout: 180_000 }, async (t) => {
  const { spawn } = await import('node:child_process');
  const dir = mkdtempSync(path.join(tmpdir(), 'visid-ann-kill-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dim = 32;
  const n = 60_000;
  const vectors = clustered(n, dim, 100, 6);
  await fs.writeFile(path.join(dir, 'v.npy'), encodeNpy(vectors, [n, dim]));
  await fs.writeFile(path.join(dir, 'items.jsonl'), Array.from({ length: n }, (_, i) => JSON.stringify({ id: `v${i}` })).join('\n'));
  const g = path.join(dir, 'g');
  await promisify(execFile)(process.execPath, [BIN, 'import', g, '--npy', path.join(dir, 'v.npy'), '--meta', path.join(dir, 'items.jsonl')]);
  // What a gallery must be after a kill: exact search finds row `row`, and an index it uses is current and answers
  // with the gallery's own rows (each hit's score is the query's cosine with the row it names: a stale or shifted
  // index fails this). Whether HNSW reaches one given row is not asked: a threaded build leaves a few rows in 10⁴
  // unreachable, a different few each build (measured 1–2.5 in 10⁴ on this set), so a self-query is not exact.
  const searches = async (opened: Gallery, row: number, why: string) => {
    const q = vectors.subarray(row * dim, (row + 1) * dim);
    const flat = await GallerySearcher.create(opened, { exact: true });
    assert.equal((await flat.search(q, { k: 1 }))[0]![0]!.id, `v${row}`, why);
    const s = await GallerySearcher.create(opened);
    if (s.ann instanceof HnswIndex) {
      assert.equal(s.ann.meta.rows, opened.count, why);
      const hits = (await s.search(q, { k: 10 }))[0]!;
      assert.equal(hits.length, 10, why);
      for (const h of hits) {
        let dot = 0;
        for (let j = 0; j < dim; j++) dot += q[j]! * opened.vectors[h.row * dim + j]!;
        assert.ok(Math.abs(h.score - dot) < 1e-4, `${why}: row ${h.row} scored ${h.score}, its cosine is ${dot}`);
        assert.equal(h.id, opened.items[h.row]!.id, why);
      }
    }
    return s;
  };
  const killAfter = (args: string[], ms: number) =>
    new Promise<number | null>((resolve) => {
      const p = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore' });
      setTimeout(() => p.kill('SIGKILL'), ms);
      p.on('exit', (code) => resolve(code));
    });
  for (const ms of [300, 900, 1800]) {
    await killAfter(['reindex', g, '--index', 'HNSW32', '-q'], ms);
    const opened = await Gallery.open(g);
    assert.equal(opened.count, n);
    await searches(opened, 5, `after a kill at ${ms} ms`);
  }
  // The same for an IVF-PQ rebuild (training, coding, file, description, commit).
  for (const ms of [400, 1100]) {
    await killAfter(['reindex', g, '--index', 'IVF64,PQ16,RFlat', '--kmeans-iterations', '6', '-q'], ms);
    const opened = await Gallery.open(g);
    const s = await GallerySearcher.create(opened);
    assert.equal((await s.search(vectors.subarray(9 * dim, 10 * dim), { k: 1, nprobe: 64, refineFactor: 50 }))[0]![0]!.id, 'v9', `after a kill at ${ms} ms (${s.ann ? s.ann.meta.spec : s.annProblem ?? 'flat'})`);
    await s.close();
  }
  await promisify(execFile)(process.execPath, [BIN, 'reindex', g, '--index', 'HNSW32', '-q']);
  // An append rewrites the index before its commit: killed anywhere, the gallery is the old or the new one.
  const extra = clustered(20_000, dim, 100, 7);
  await fs.writeFile(path.join(dir, 'x.npy'), encodeNpy(extra, [20_000, dim]));
  await fs.writeFile(path.join(dir, 'x.jsonl'), Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ id: `x${i}` })).join('\n'));
  for (const ms of [400, 1200]) {
    await killAfter(['import', g, '--npy', path.join(dir, 'x.npy'), '--meta', path.join(dir, 'x.jsonl')], ms);
    const opened = await Gallery.open(g);
    assert.ok(opened.count === n || opened.count === n + 20_000, `count ${opened.count}`);
    await searches(opened, 7, `after a kill of an append at ${ms} ms`);
    if (opened.count === n + 20_000) break;
  }
});
