// Sharded serving on loopback: two `visid serve` shards holding halves of a gallery and a router merging them give
// the same top-k as one server over the whole gallery; a shard down, a replica, a shard that never answers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../src/server/app.js';
import { buildRouter, mergeShardResults, parseShards } from '../src/server/router.js';
import { Gallery } from '../src/api.js';
import { gaussian, mulberry32 } from '../src/util/random.js';
import { l2NormalizeRows } from '../src/util/vectors.js';

const dim = 8;
const n = 200;
let dir: string;
const servers: FastifyInstance[] = [];
let urls: { a: string; b: string; whole: string };
let silent: net.Server;
let silentUrl: string;

async function serveGallery(root: string, rows: number[], vectors: Float32Array): Promise<string> {
  const g = await Gallery.create(path.join(root, 'g'), { dim, model: { id: 'synthetic' } });
  const v = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => v.set(vectors.subarray(r * dim, (r + 1) * dim), i * dim));
  await g.append(v, rows.map((r) => ({ id: `item-${r}`, label: `label-${r % 17}` })));
  const app = await buildServer({ galleries: [g.dir], readOnly: true });
  servers.push(app);
  return app.listen({ port: 0, host: '127.0.0.1' });
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'visid-shards-'));
  const g = gaussian(mulberry32(3));
  const vectors = l2NormalizeRows(Float32Array.from({ length: n * dim }, () => g()), dim);
  const all = [...Array(n).keys()];
  urls = {
    a: await serveGallery(path.join(dir, 'a'), all.filter((r) => r % 2 === 0), vectors),
    b: await serveGallery(path.join(dir, 'b'), all.filter((r) => r % 2 === 1), vectors),
    whole: await serveGallery(path.join(dir, 'whole'), all, vectors),
  };
  // A "shard" that accepts connections and never answers.
  silent = net.createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentUrl = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
});

after(async () => {
  for (const s of servers) await s.close();
  silent?.close();
  rmSync(dir, { recursive: true, force: true });
});

const query = Array.from(l2NormalizeRows(Float32Array.from({ length: dim }, (_, i) => Math.sin(i + 1)), dim));
const search = (app: FastifyInstance, body: object) => app.inject({ method: 'POST', url: '/galleries/g/search', payload: body });

test('shard URLs parse with replicas; bad ones are named', () => {
  assert.deepEqual(parseShards('http://a:1|http://a2:1, http://b:2'), [{ replicas: ['http://a:1', 'http://a2:1'] }, { replicas: ['http://b:2'] }]);
  assert.throws(() => parseShards('ftp://x'), /must be http/);
  assert.throws(() => parseShards('nope'), /not a URL/);
});

test('merging: hits by score; unique labels by their best hit with counts summed', () => {
  const merged = mergeShardResults([
    { shard: 0, uniqueLabels: false, results: [{ id: 'a', score: 0.9 }, { id: 'b', score: 0.5 }] },
    { shard: 1, uniqueLabels: false, results: [{ id: 'c', score: 0.7 }, { id: 'd', score: 0.1 }] },
  ]);
  assert.deepEqual(merged.map((h) => [h.id, h.shard]), [['a', 0], ['c', 1]]);
  const labels = mergeShardResults([
    { shard: 0, uniqueLabels: true, results: [{ id: 'a', label: 'x', score: 0.9, count: 2 }, { id: 'b', label: 'y', score: 0.5, count: 1 }] },
    { shard: 1, uniqueLabels: true, results: [{ id: 'c', label: 'y', score: 0.8, count: 3 }, { id: 'd', label: 'z', score: 0.1, count: 1 }] },
  ]);
  assert.deepEqual(labels.map((h) => [h.label, h.id, h.count]), [['x', 'a', 2], ['y', 'c', 4]]);
});

test('a router over two shards answers what one server over the whole gallery answers', async (t) => {
  // Shard timeouts here are generous (a loaded machine is slow): nothing in this test waits for one to fire.
  const router = await buildRouter({ shards: parseShards(`${urls.a},${urls.b}`), shardTimeoutMs: 30_000 });
  t.after(() => router.close());
  const whole = servers[2]!;
  for (const body of [{ descriptor: query, k: 10 }, { descriptor: query, k: 5, uniqueLabels: true }]) {
    const want = (await search(whole, body)).json();
    const got = (await search(router, body)).json();
    assert.equal(got.complete, true);
    assert.deepEqual(got.shards.map((s: { ok: boolean }) => s.ok), [true, true]);
    assert.deepEqual(got.results.map((h: { id: string }) => h.id), want.results.map((h: { id: string }) => h.id), JSON.stringify(body));
    got.results.forEach((h: { score: number }, i: number) => assert.ok(Math.abs(h.score - want.results[i].score) < 1e-5));
    if (!body.uniqueLabels) assert.ok(got.results[0].thumbnail.startsWith('http://127.0.0.1:'), 'thumbnails point at the shard holding the item');
  }
  const galleries = (await router.inject({ url: '/galleries' })).json();
  assert.deepEqual(galleries, [{ name: 'g', model: 'synthetic', count: n, dim, shards: 2 }]);
  // A bad query is the shards' 400, passed on.
  const bad = await search(router, { descriptor: [1, 2], k: 3 });
  assert.equal(bad.statusCode, 400);
  assert.match(bad.json().error, /dimension 8/);
});

test('a shard down: the other answers and the router says which did not; a replica takes over; a silent shard times out', async (t) => {
  // A closed port refuses at once; the live shard gets a generous timeout (a loaded machine is slow).
  const dead = 'http://127.0.0.1:1';
  const down = await buildRouter({ shards: parseShards(`${urls.a},${dead}`), shardTimeoutMs: 30_000 });
  t.after(() => down.close());
  const r = (await search(down, { descriptor: query, k: 10 })).json();
  assert.equal(r.complete, false);
  assert.deepEqual(r.shards.map((s: { ok: boolean }) => s.ok), [true, false]);
  assert.ok(r.results.every((h: { id: string }) => Number(h.id.slice(5)) % 2 === 0), 'only shard a answered');
  assert.equal((await down.inject({ url: '/health' })).json().status, 'degraded');

  const replica = await buildRouter({ shards: parseShards(`${urls.a},${dead}|${urls.b}`), shardTimeoutMs: 30_000 });
  t.after(() => replica.close());
  const rr = (await search(replica, { descriptor: query, k: 10 })).json();
  assert.equal(rr.complete, true);
  assert.equal(rr.shards[1].url, urls.b);

  // A shard that never answers is given up after the shard timeout and named. Alone (a live shard beside it would
  // have to answer within the same short timeout, which a loaded machine need not do): no shard answered, 503.
  const slow = await buildRouter({ shards: parseShards(silentUrl), shardTimeoutMs: 300 });
  t.after(() => slow.close());
  const rs = await search(slow, { descriptor: query, k: 10 });
  assert.equal(rs.statusCode, 503);
  assert.deepEqual(rs.json().shards.map((s: { ok: boolean }) => s.ok), [false]);
  assert.match(rs.json().shards[0].error, /no answer within 300 ms/);

  const none = await buildRouter({ shards: parseShards(dead), shardTimeoutMs: 500 });
  t.after(() => none.close());
  assert.equal((await search(none, { descriptor: query })).statusCode, 503);
});
