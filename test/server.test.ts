import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../src/server/app.js';
import { Limiter } from '../src/server/limiter.js';
import { Gallery, VisidError } from '../src/api.js';
import { expectedColourDescriptor, writeColourGallery, writeSolid } from './helpers.js';

const TOKEN = 'test-token-123';
let dir: string;
let app: FastifyInstance;
let base: string;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'visid-server-'));
  await writeColourGallery(dir);
  await fs.writeFile(path.join(dir, 'secret.txt'), 'top secret');
  app = await buildServer({ galleries: [path.join(dir, 'colours')], token: TOKEN, maxUploadBytes: 4 * 1024 * 1024, maxConcurrent: 1, maxQueue: 1 });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
});

after(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function png(rgb: [number, number, number]): Promise<Blob> {
  const buf = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toBuffer();
  return new Blob([buf], { type: 'image/png' });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const read = async (res: Response): Promise<any> => res.json();

const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

test('health, galleries, openapi and metrics', async () => {
  assert.deepEqual(await read(await fetch(`${base}/health`)), { status: 'ok', galleries: 1 });
  assert.deepEqual(await read(await fetch(`${base}/galleries`)), [{ name: 'colours', model: 'mean', count: 4, dim: 3 }]);
  const spec = await read(await fetch(`${base}/openapi.json`));
  assert.equal(spec.openapi.slice(0, 2), '3.');
  for (const p of ['/galleries/{name}/search', '/galleries/{name}/items', '/galleries/{name}/items/{id}/image']) assert.ok(spec.paths[p], p);
  const m = await (await fetch(`${base}/metrics`)).text();
  assert.match(m, /visid_http_requests_total\{route="\/health",method="GET",status="200"\} 1/);
  assert.match(m, /visid_gallery_items\{gallery="colours"\} 4/);
});

test('search by JSON descriptor: exact ranking and scores, unique labels', async () => {
  const q = expectedColourDescriptor([240, 20, 15]);
  const res = await fetch(`${base}/galleries/colours/search`, json({ descriptor: q, k: 2 }));
  assert.equal(res.status, 200);
  const body = await read(res);
  // Expected order by hand: cosine of the query with each red item's descriptor.
  const cos = (c: [number, number, number]) => expectedColourDescriptor(c).reduce((acc, v, i) => acc + v * q[i]!, 0);
  const reds: Array<[string, number]> = [['red/0.png', cos([250, 10, 10])], ['red/1.png', cos([220, 30, 20])]];
  reds.sort((a, b) => b[1] - a[1]);
  assert.deepEqual(body.results.map((r: { id: string }) => r.id), reds.map((r) => r[0]));
  assert.ok(Math.abs(body.results[0].score - reds[0]![1]) < 1e-5);
  assert.equal(body.results[0].thumbnail, `/galleries/colours/items/${encodeURIComponent(body.results[0].id)}/image`);
  const labels = await read(await fetch(`${base}/galleries/colours/search`, json({ descriptor: q, k: 3, uniqueLabels: true })));
  assert.deepEqual(labels.results.map((r: { label: string }) => r.label)[0], 'red');
  assert.equal(labels.results.length, 3);
});

test('search by uploaded image (multipart)', async () => {
  const form = new FormData();
  form.append('image', await png([5, 235, 5]), 'q.png');
  form.append('k', '1');
  const res = await fetch(`${base}/galleries/colours/search`, { method: 'POST', body: form });
  assert.equal(res.status, 200, await res.clone().text());
  assert.deepEqual((await read(res)).results.map((r: { id: string }) => r.id), ['green/0.png']);
});

test('bad requests: named fields, 404, 413, 415, non-image upload', async () => {
  let res = await fetch(`${base}/galleries/colours/search`, json({ descriptor: [1, 2] }));
  assert.equal(res.status, 400);
  assert.deepEqual(await read(res), { error: "'descriptor' has 2 values; gallery 'colours' has dimension 3", code: 'E_INPUT', field: 'descriptor' });
  res = await fetch(`${base}/galleries/colours/search`, json({ descriptor: [1, 'x', 3] }));
  assert.equal((await read(res)).field, 'descriptor');
  res = await fetch(`${base}/galleries/colours/search`, json({ descriptor: [1, 0, 0], k: 0 }));
  assert.equal((await read(res)).field, 'k');
  res = await fetch(`${base}/galleries/nope/search`, json({ descriptor: [1, 0, 0] }));
  assert.equal(res.status, 404);
  res = await fetch(`${base}/galleries/colours/search`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
  assert.equal(res.status, 415);
  const big = new FormData();
  big.append('image', new Blob([Buffer.alloc(5 * 1024 * 1024, 1)], { type: 'image/png' }), 'big.png');
  res = await fetch(`${base}/galleries/colours/search`, { method: 'POST', body: big });
  assert.equal(res.status, 413);
  const text = new FormData();
  text.append('image', new Blob(['not an image'], { type: 'image/png' }), 'fake.png');
  res = await fetch(`${base}/galleries/colours/search`, { method: 'POST', body: text });
  assert.equal(res.status, 400);
  assert.match((await read(res)).error, /fake\.png: cannot decode image/);
  const none = new FormData();
  none.append('k', '3');
  res = await fetch(`${base}/galleries/colours/search`, { method: 'POST', body: none });
  assert.equal((await read(res)).field, 'image');
});

test('thumbnails come only from items inside the data root; traversal attempts are 404', async () => {
  const res = await fetch(`${base}/galleries/colours/items/${encodeURIComponent('red/0.png')}/image?size=32`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/jpeg');
  const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
  assert.equal(meta.format, 'jpeg');
  assert.ok(meta.width! <= 32);
  for (const attempt of ['..%2Fsecret.txt', '%2E%2E%2F%2E%2E%2Fsecret.txt', encodeURIComponent(path.join(dir, 'secret.txt')), '..%252Fsecret.txt']) {
    const r = await fetch(`${base}/galleries/colours/items/${attempt}/image`);
    assert.equal(r.status, 404, attempt);
  }
});

test('adding and removing items needs the token, persists atomically, and is searchable at once', async () => {
  const form = async () => {
    const f = new FormData();
    f.append('image', await png([250, 250, 0]), 'yellow.png');
    f.append('label', 'yellow');
    return f;
  };
  let res = await fetch(`${base}/galleries/colours/items`, { method: 'POST', body: await form() });
  assert.equal(res.status, 401);
  res = await fetch(`${base}/galleries/colours/items`, { method: 'POST', body: await form(), headers: { authorization: 'Bearer wrong' } });
  assert.equal(res.status, 401);
  res = await fetch(`${base}/galleries/colours/items`, { method: 'POST', body: await form(), headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.status, 200, await res.clone().text());
  const added = (await read(res)).added[0];
  assert.equal(added.label, 'yellow');
  assert.equal((await Gallery.open(path.join(dir, 'colours'))).count, 5);
  const hit = await read(await fetch(`${base}/galleries/colours/search`, json({ descriptor: expectedColourDescriptor([250, 250, 0]), k: 1 })));
  assert.equal(hit.results[0].id, added.id);
  assert.equal((await fetch(`${base}${added.thumbnail}`)).status, 200);

  res = await fetch(`${base}/galleries/colours/items/${encodeURIComponent(added.id)}`, { method: 'DELETE' });
  assert.equal(res.status, 401);
  res = await fetch(`${base}/galleries/colours/items/${encodeURIComponent(added.id)}`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.status, 200);
  assert.equal((await Gallery.open(path.join(dir, 'colours'))).count, 4);
  res = await fetch(`${base}/galleries/colours/items/${encodeURIComponent(added.id)}`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.status, 404);
});

test('a server that changes galleries refuses to start without a token; read-only needs none and refuses writes', async () => {
  await assert.rejects(buildServer({ galleries: [path.join(dir, 'colours')] }), (e: VisidError) => /need a token/.test(e.message));
  const ro = await buildServer({ galleries: [path.join(dir, 'colours')], readOnly: true });
  const url = await ro.listen({ port: 0, host: '127.0.0.1' });
  const res = await fetch(`${url}/galleries/colours/items/x`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.status, 403);
  await ro.close();
});

test('beyond the concurrency limit and queue, requests get 503', async (t) => {
  // The limiter driven by hand (uploads racing each other would test the scheduler instead): with 1 slot and a
  // queue of 1, a held job takes the slot, the next waits, the one after is refused at once.
  const limiter = new Limiter(1, 1);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const started: string[] = [];
  const first = limiter.run(async () => (started.push('first'), await gate, 1));
  const second = limiter.run(async () => (started.push('second'), 2));
  await assert.rejects(limiter.run(async () => 3), (e: VisidError) => e.code === 'E_LOCKED' && /server is busy/.test(e.message));
  assert.deepEqual(started, ['first'], 'the queued job waits for the slot');
  release();
  assert.deepEqual(await Promise.all([first, second]), [1, 2]);
  assert.deepEqual(started, ['first', 'second']);
  // A failed job gives its slot back.
  await assert.rejects(limiter.run(async () => Promise.reject(new Error('boom'))), /boom/);
  assert.equal(await limiter.run(async () => 4), 4);
  // Over HTTP: a server with no slot and no queue turns every upload away with 503; a JSON search (no image work)
  // is still answered.
  const full = await buildServer({ galleries: [path.join(dir, 'colours')], readOnly: true, maxConcurrent: 0, maxQueue: 0 });
  t.after(() => full.close());
  const url = await full.listen({ port: 0, host: '127.0.0.1' });
  const form = new FormData();
  form.append('image', await png([9, 9, 200]), 'q.png');
  const busy = await fetch(`${url}/galleries/colours/search`, { method: 'POST', body: form });
  assert.equal(busy.status, 503);
  assert.match((await read(busy)).error, /server is busy/);
  assert.equal((await fetch(`${url}/galleries/colours/search`, json({ descriptor: [1, 0, 0], k: 1 }))).status, 200);
});

test('items are listed a page at a time, optionally by label', async () => {
  const page = await read(await fetch(`${base}/galleries/colours/items?offset=1&limit=2`));
  assert.equal(page.count, 4);
  assert.deepEqual(page.items.map((i: { id: string }) => i.id), ['green/0.png', 'red/0.png']);
  const reds = await read(await fetch(`${base}/galleries/colours/items?label=red`));
  assert.deepEqual(reds.items.map((i: { id: string }) => i.id), ['red/0.png', 'red/1.png']);
  assert.equal((await fetch(`${base}/galleries/colours/items?limit=0`)).status, 400);
});

const DEEPFACE = path.resolve(process.env['VISID_SHARED'] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../shared'), 'data', 'faces-deepface');

test('POST /verify: same person, different people, and photos without exactly one face', { skip: existsSync(DEEPFACE) ? false : `no shared face data at ${DEEPFACE}` }, async () => {
  const photo = async (name: string) => new Blob([await fs.readFile(path.join(DEEPFACE, name))], { type: 'image/jpeg' });
  const verify = async (a: string, b: string, recognizer?: string) => {
    const f = new FormData();
    f.append('a', await photo(a), a);
    f.append('b', await photo(b), b);
    if (recognizer) f.append('recognizer', recognizer);
    return fetch(`${base}/verify`, { method: 'POST', body: f });
  };
  // img1/img2 and img1/img3 are a "Yes" and a "No" pair of master.csv.
  const same = await read(await verify('img1.jpg', 'img2.jpg'));
  assert.equal(same.same, true);
  assert.ok(same.score >= same.threshold && Math.abs(same.distance - (2 - 2 * same.score)) < 1e-9);
  const diff = await read(await verify('img1.jpg', 'img3.jpg'));
  assert.equal(diff.same, false);
  const two = await verify('couple.jpg', 'img1.jpg');
  assert.equal(two.status, 400);
  assert.match((await read(two)).error, /couple\.jpg: 2 faces found/);
  const f = new FormData();
  f.append('a', await photo('img1.jpg'), 'img1.jpg');
  assert.equal((await read(await fetch(`${base}/verify`, { method: 'POST', body: f }))).field, 'b');
  // The same pipeline as the CLI, with any recognizer: the default is dlib's ResNet; FaceRes on request.
  assert.equal(same.recognizer, 'face-api');
  const faceres = await read(await verify('img1.jpg', 'img2.jpg', 'faceres'));
  assert.equal(faceres.recognizer, 'faceres');
  assert.equal(faceres.same, true);
  assert.notEqual(faceres.score, same.score);
  const unknown = await verify('img1.jpg', 'img2.jpg', 'resnet-9000');
  assert.equal(unknown.status, 400);
  assert.equal((await read(unknown)).field, 'recognizer');
});

test('reports: listed from the folder, served by exact name only; symlinks out of a root are refused', async (t) => {
  const reports = path.join(dir, 'reports');
  await fs.mkdir(reports, { recursive: true });
  await fs.writeFile(path.join(reports, 'a.html'), '<!doctype html><title>A</title><p>report a</p>');
  await fs.writeFile(path.join(reports, 'notes.txt'), 'not a report');
  await fs.symlink(path.join(dir, 'secret.txt'), path.join(reports, 'evil.html'));
  // A gallery whose item is a symlink leading out of its data root.
  const data2 = path.join(dir, 'data2');
  await fs.mkdir(data2, { recursive: true });
  await writeSolid(path.join(dir, 'outside.png'), [1, 2, 3]);
  await fs.symlink(path.join(dir, 'outside.png'), path.join(data2, 'link.png'));
  const links = await Gallery.create(path.join(dir, 'links'), { dim: 3, dataRoot: data2, model: { id: 'm' } });
  await links.append(Float32Array.from([1, 0, 0]), [{ id: 'link.png', path: 'link.png' }]);

  const ro = await buildServer({ galleries: [path.join(dir, 'links')], readOnly: true, reportsDir: reports });
  t.after(() => ro.close());
  const url = await ro.listen({ port: 0, host: '127.0.0.1' });
  assert.deepEqual(await read(await fetch(`${url}/reports`)), [
    { name: 'a.html', url: '/reports/a.html' },
    { name: 'evil.html', url: '/reports/evil.html' },
  ]);
  const a = await fetch(`${url}/reports/a.html`);
  assert.equal(a.status, 200);
  assert.match(a.headers.get('content-type')!, /text\/html/);
  assert.match(await a.text(), /report a/);
  for (const name of ['notes.txt', '..%2Fsecret.txt', 'evil.html', encodeURIComponent(path.join(dir, 'secret.txt'))]) {
    assert.equal((await fetch(`${url}/reports/${name}`)).status, 404, name);
  }
  assert.equal((await fetch(`${url}/galleries/links/items/link.png/image`)).status, 404);
});

test('an upload above the pixel limit is refused with 413, naming the file', async (t) => {
  const small = await buildServer({ galleries: [path.join(dir, 'colours')], readOnly: true, maxPixels: 100 });
  t.after(() => small.close());
  const url = await small.listen({ port: 0, host: '127.0.0.1' });
  const f = new FormData();
  f.append('image', await png([1, 2, 3]), 'big-pixels.png');
  const res = await fetch(`${url}/galleries/colours/search`, { method: 'POST', body: f });
  assert.equal(res.status, 413);
  assert.match((await read(res)).error, /big-pixels\.png: image exceeds the pixel limit of 100 pixels/);
});
