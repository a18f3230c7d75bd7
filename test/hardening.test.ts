// Regression tests for the defects of the hardening probe (issue 18): each reproduction, as small as it was filed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, promises as fs } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { buildServer, redactPaths } from '../src/server/app.js';
import { Gallery } from '../src/api.js';
import { encodeNpy } from '../src/formats/npy.js';
import { printable } from '../src/cli/search-command.js';
import { writeChannelMeanModel, writeColourGallery, writeSolid } from './helpers.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/visid.js');
const TOKEN = 'hardening-token';
let dir: string;
let app: FastifyInstance;
let port: number;

async function cli(args: string[], timeout = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { timeout, env: { ...process.env, FORCE_COLOR: '0' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string; killed?: boolean };
    if (e.killed) throw new Error(`visid ${args.join(' ')} did not finish in ${timeout} ms`);
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Sends raw bytes and returns status line, headers and body (the server may close early). */
function raw(request: string | Buffer, timeoutMs = 30_000): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer'));
    }, timeoutMs);
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0), text });
    });
    // (No half-close: Node's server drops a request whose client ended before the answer.)
    socket.write(request);
  });
}

function multipart(parts: Array<{ name: string; filename?: string; data: Buffer | string }>, boundary = 'XyZbOuNdArY'): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) {
    out.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}\r\n${p.filename ? 'Content-Type: application/octet-stream\r\n' : ''}\r\n`));
    out.push(typeof p.data === 'string' ? Buffer.from(p.data) : p.data);
    out.push(Buffer.from('\r\n'));
  }
  out.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(out);
}

function post(route: string, body: Buffer, contentType = 'multipart/form-data; boundary=XyZbOuNdArY', extra = ''): Buffer {
  return Buffer.concat([Buffer.from(`POST ${route} HTTP/1.1\r\nHost: localhost\r\nContent-Type: ${contentType}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n${extra}\r\n`), body]);
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'visid-hardening-'));
  await writeColourGallery(dir);
  app = await buildServer({ galleries: [path.join(dir, 'colours')], token: TOKEN, maxUploadBytes: 1024 * 1024, maxConcurrent: 1, maxQueue: 4 });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as net.AddressInfo).port;
});

after(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

const png = async () => fs.readFile(path.join(dir, 'data', 'red', '0.png'));

test('1. a search with extra file parts is refused by name before they are read; the whole request is bounded (413)', async () => {
  const image = await png();
  const junk = Buffer.alloc(150 * 1024, 7);
  const extra = Buffer.alloc(900 * 1024, 7);
  const r = await raw(post('/galleries/colours/search', multipart([{ name: 'image', filename: 'q.png', data: image }, ...Array.from({ length: 5 }, (_, i) => ({ name: `junk${i}`, filename: `j${i}.bin`, data: junk }))])));
  assert.equal(r.status, 400);
  assert.match(r.text, /unexpected file 'junk0'/);
  // Several image parts each under the per-file limit, together over the request limit: 413 from the declared length.
  const many = await raw(post('/galleries/colours/items', multipart(Array.from({ length: 4 }, (_, i) => ({ name: 'image', filename: `${i}.png`, data: extra }))), undefined, `Authorization: Bearer ${TOKEN}\r\n`));
  assert.equal(many.status, 413);
  assert.match(many.text, /request larger than/);
  // Chunked (no length): counted while streaming.
  const body = multipart(Array.from({ length: 4 }, (_, i) => ({ name: 'image', filename: `${i}.png`, data: extra })));
  const chunked = Buffer.concat([Buffer.from(`POST /galleries/colours/items HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=XyZbOuNdArY\r\nTransfer-Encoding: chunked\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
  const c = await raw(chunked);
  assert.equal(c.status, 413);
  assert.equal((await Gallery.open(path.join(dir, 'colours'))).count, 4, 'nothing was added');
});

test('5. malformed multipart bodies are 400s naming the fault, never 500', async () => {
  const noBoundary = await raw(post('/galleries/colours/search', Buffer.from('hello'), 'multipart/form-data'));
  assert.equal(noBoundary.status, 400, noBoundary.text);
  assert.match(noBoundary.text, /malformed multipart/i);
  const unterminated = await raw(post('/galleries/colours/search', Buffer.from('--XyZbOuNdArY\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\nabc')));
  assert.equal(unterminated.status, 400, unterminated.text);
  const fields = await raw(post('/galleries/colours/search', multipart(Array.from({ length: 70 }, () => ({ name: 'k', data: '5' })))));
  assert.equal(fields.status, 400);
  assert.match(fields.text, /at most 1 'k'/);
  const files = await raw(post('/galleries/colours/items', multipart(Array.from({ length: 65 }, (_, i) => ({ name: 'image', filename: `${i}.png`, data: 'x' }))), undefined, `Authorization: Bearer ${TOKEN}\r\n`));
  assert.ok(files.status === 400 || files.status === 413, files.text);
  assert.match(files.text, /at most 64 'image'|too many files/);
});

test('5. a thumbnail whose source was overwritten with text is a 404, not a 500', async (t) => {
  const d = mkdtempSync(path.join(tmpdir(), 'visid-thumb-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  await writeColourGallery(d);
  const server = await buildServer({ galleries: [path.join(d, 'colours')], readOnly: true });
  t.after(() => server.close());
  await fs.writeFile(path.join(d, 'data', 'red', '0.png'), 'not an image any more');
  const res = await server.inject({ url: '/galleries/colours/items/red%2F0.png/image' });
  assert.equal(res.statusCode, 404);
  assert.match(res.json().error, /can no longer be read/);
});

test('7. error messages carry no absolute server paths', async () => {
  assert.equal(redactPaths("x: id is already in the gallery /srv/visid/galleries/faces"), 'x: id is already in the gallery faces');
  assert.equal(redactPaths("file 'a.jpg' does not exist (under /home/u/data)"), "file 'a.jpg' does not exist (under data)");
  assert.equal(redactPaths("no item 'uploads/x.jpg' in gallery 'g'"), "no item 'uploads/x.jpg' in gallery 'g'");
  // A duplicate upload: 409 whose message names the id, not the folder.
  const image = await png();
  const add = () => raw(post('/galleries/colours/items', multipart([{ name: 'image', filename: 'r.png', data: image }]), undefined, `Authorization: Bearer ${TOKEN}\r\n`));
  assert.equal((await add()).status, 200);
  const again = await add();
  assert.equal(again.status, 409);
  assert.ok(!again.text.includes(dir), again.text);
  assert.match(again.text, /already in the gallery colours/);
});

test('8. a foreign Host header gets 421; every answer says nosniff', async () => {
  const evil = await app.inject({ url: '/galleries', headers: { host: 'evil.example' } });
  assert.equal(evil.statusCode, 421);
  const ok = await app.inject({ url: '/galleries', headers: { host: 'localhost:8080' } });
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.headers['x-content-type-options'], 'nosniff');
  assert.equal((await app.inject({ url: '/health', headers: { host: '[::1]:80' } })).statusCode, 200);
  const any = await buildServer({ galleries: [path.join(dir, 'colours')], readOnly: true, allowedHosts: ['visid.example'] });
  assert.equal((await any.inject({ url: '/health', headers: { host: 'visid.example:443' } })).statusCode, 200);
  assert.equal((await any.inject({ url: '/health', headers: { host: 'localhost' } })).statusCode, 421);
  await any.close();
});

test('10. JSON k and uniqueLabels take their JSON types only; unknown JSON fields are named', async () => {
  const q = [1, 0, 0];
  for (const [body, field] of [[{ descriptor: q, k: true }, 'k'], [{ descriptor: q, k: '5' }, 'k'], [{ descriptor: q, k: 2.5 }, 'k'], [{ descriptor: q, uniqueLabels: 'yes' }, 'uniqueLabels'], [{ descriptor: q, extra: 1 }, 'extra']] as const) {
    const res = await app.inject({ method: 'POST', url: '/galleries/colours/search', payload: body });
    assert.equal(res.statusCode, 400, JSON.stringify(body));
    assert.equal(res.json().field, field);
  }
  assert.equal((await app.inject({ method: 'POST', url: '/galleries/colours/search', payload: { descriptor: q, k: 2 } })).json().results.length, 2);
});

test('10. an unfinished body is answered 408 and closed at --timeout, not after Node\'s 30 s check interval', async (t) => {
  const server = await buildServer({ galleries: [path.join(dir, 'colours')], readOnly: true, requestTimeoutMs: 1500 });
  t.after(() => server.close());
  await server.listen({ port: 0, host: '127.0.0.1' });
  const p = (server.server.address() as net.AddressInfo).port;
  // The server's own answer is what is checked: 408 once its request timer fired (measured: after about 2 s). The
  // wait for it is generous (20 s, 13 × the timeout, for a loaded machine) and still short of Node's default 30 s
  // between timeout checks, which is what left a slow body open before.
  const answer = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect(p, '127.0.0.1', () => s.write('POST /galleries/colours/search HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"desc'));
    const timer = setTimeout(() => (s.destroy(), reject(new Error('the unfinished request was still open after 20 s'))), 20_000);
    s.on('error', () => undefined);
    s.on('data', (d) => chunks.push(d));
    s.on('close', () => (clearTimeout(timer), resolve(Buffer.concat(chunks).toString('latin1'))));
  });
  assert.match(answer, /^HTTP\/1\.1 408 Request Timeout/);
});

test('10. SVG is refused everywhere: uploads, and SVG bytes under an image name in a data folder', async (t) => {
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="red"/></svg>');
  const r = await raw(post('/galleries/colours/search', multipart([{ name: 'image', filename: 'q.png', data: svg }])));
  assert.equal(r.status, 400);
  assert.match(r.text, /SVG is not accepted/);
  const d = mkdtempSync(path.join(tmpdir(), 'visid-svg-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const model = await writeChannelMeanModel(d);
  await fs.mkdir(path.join(d, 'data', 'a'), { recursive: true });
  await fs.writeFile(path.join(d, 'data', 'a', 'pic.png'), svg);
  const out = await cli(['index', path.join(d, 'data'), '--model', model, '--out', path.join(d, 'g')]);
  assert.equal(out.code, 2);
  assert.match(out.stderr, /SVG is not accepted/);
});

test('2, 6, 10. visid import validates every attribute by line, reports repeated ids by line, and a refused import leaves no gallery', async (t) => {
  const d = mkdtempSync(path.join(tmpdir(), 'visid-import-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const npy = path.join(d, 'v.npy');
  await fs.writeFile(npy, encodeNpy(Float32Array.from([1, 0, 0, 1]), [2, 2]));
  const cases: Array<[string, RegExp]> = [
    ['{"id":"x/1","label":{"a":1}}\n{"id":"x/2"}', /items\.jsonl:1: 'label' must be a string, not object/],
    ['{"id":"x/1","labels":"notarray"}\n{"id":"x/2"}', /:1: 'labels' must be an array/],
    ['{"id":"x/1","lat":"north","lon":3}\n{"id":"x/2"}', /:1: 'lat' must be a finite number/],
    ['{"id":"x/1","path":"../../../../etc/passwd"}\n{"id":"x/2"}', /:1: 'path' must be relative to the data root/],
    ['{"id":"x/1"}\n{"id":"x/1"}', /items\.jsonl:2: id 'x\/1' repeats line 1/],
    ['{"id":"x/1"}', /2 rows but 1 items/],
  ];
  for (const [text, message] of cases) {
    await fs.writeFile(path.join(d, 'items.jsonl'), text);
    const r = await cli(['import', path.join(d, 'new'), '--npy', npy, '--meta', path.join(d, 'items.jsonl')]);
    assert.equal(r.code, 2, text);
    assert.match(r.stderr, message);
    assert.ok(!existsSync(path.join(d, 'new', 'gallery.json')), `no gallery left by ${text}`);
  }
  // NaN in the .npy: refused, no gallery.
  await fs.writeFile(path.join(d, 'nan.npy'), encodeNpy(Float32Array.from([1, NaN, 0, 1]), [2, 2]));
  await fs.writeFile(path.join(d, 'items.jsonl'), '{"id":"a"}\n{"id":"b"}');
  const nan = await cli(['import', path.join(d, 'new'), '--npy', path.join(d, 'nan.npy'), '--meta', path.join(d, 'items.jsonl')]);
  assert.equal(nan.code, 2);
  assert.ok(!existsSync(path.join(d, 'new', 'gallery.json')));
  // A number label is converted explicitly and searches print it.
  await fs.writeFile(path.join(d, 'items.jsonl'), '{"id":"a","label":42}\n{"id":"b","label":"line\\nbreak"}');
  assert.equal((await cli(['import', path.join(d, 'ok'), '--npy', npy, '--meta', path.join(d, 'items.jsonl')])).code, 0);
  const g = await Gallery.open(path.join(d, 'ok'));
  assert.equal(g.items[0]!.label, '42');
  assert.equal(printable(g.items[1]!.label), 'line\\nbreak');
});

test('3, 4. folder data sets refuse links out of the data root and non-regular files, by name, without hanging', async (t) => {
  const d = mkdtempSync(path.join(tmpdir(), 'visid-links-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const model = await writeChannelMeanModel(d);
  await writeSolid(path.join(d, 'elsewhere', 'face.png'), [10, 20, 30]);
  await writeSolid(path.join(d, 'data', 'a', 'ok.png'), [200, 20, 30]);
  await fs.symlink(path.join(d, 'elsewhere', 'face.png'), path.join(d, 'data', 'a', 'link.png'));
  const out = await cli(['index', path.join(d, 'data'), '--model', model, '--out', path.join(d, 'g')]);
  assert.equal(out.code, 2);
  assert.match(out.stderr, /link\.png: symbolic link leads outside the data root/);
  await fs.rm(path.join(d, 'data', 'a', 'link.png'));
  // A link inside the root is followed.
  await fs.symlink(path.join(d, 'data', 'a', 'ok.png'), path.join(d, 'data', 'a', 'inside.png'));
  execFileSync('mkfifo', [path.join(d, 'data', 'a', 'pipe.jpg')]);
  // Without --skip-bad a FIFO stops the run by name (test/skip-bad.test.ts: with it, it is skipped).
  const r = await cli(['index', path.join(d, 'data'), '--model', model, '--out', path.join(d, 'g')], 30_000);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /pipe\.jpg: not a regular file \(a FIFO\)/);
  await fs.rm(path.join(d, 'data', 'a', 'pipe.jpg'));
  await fs.symlink(path.join(d, 'elsewhere'), path.join(d, 'data', 'a', 'dir.jpg'));
  assert.match((await cli(['index', path.join(d, 'data'), '--model', model, '--out', path.join(d, 'g')])).stderr, /dir\.jpg: symbolic link leads outside/);
  await fs.rm(path.join(d, 'data', 'a', 'dir.jpg'));
  const ok = await cli(['index', path.join(d, 'data'), '--model', model, '--out', path.join(d, 'g')]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((await Gallery.open(path.join(d, 'g'))).count, 2);
});

test('9. a hand-damaged gallery.json gives a named error (exit 2), never reads outside, never starts over', async (t) => {
  const d = mkdtempSync(path.join(tmpdir(), 'visid-manifest-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const gdir = await writeColourGallery(d);
  const file = path.join(gdir, 'gallery.json');
  const good = JSON.parse(await fs.readFile(file, 'utf8'));
  const damage: Array<[(m: Record<string, unknown>) => void, RegExp]> = [
    [(m) => ((m['segments'] as unknown[])[0] = null), /segments\[0\] is not an object/],
    [(m) => (m['removed'] = 5), /removed must be an object/],
    [(m) => ((m['segments'] as Array<Record<string, unknown>>)[0]!['name'] = '../../../../etc/passwd'), /is not a segment name/],
    [(m) => (m['count'] = 'many'), /count "many"/],
    [(m) => (m['removed'] = { 'seg-999999': ['x'] }), /unknown segment/],
  ];
  for (const [change, message] of damage) {
    const m = structuredClone(good);
    change(m);
    await fs.writeFile(file, JSON.stringify(m));
    const r = await cli(['info', gdir]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
  }
  // gallery.json deleted, segments remain: indexing refuses instead of overwriting seg-000001.
  await fs.rm(file);
  const before = await fs.readFile(path.join(gdir, 'seg-000001.vec'));
  const r = await cli(['index', path.join(d, 'data'), '--model', path.join(d, 'mean.onnx'), '--out', gdir]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /gallery\.json is missing but 2 segment files remain/);
  assert.deepEqual(await fs.readFile(path.join(gdir, 'seg-000001.vec')), before);
});

test('10. temporaries left by a killed writer are removed by the next write; server adds are compacted', async (t) => {
  const d = mkdtempSync(path.join(tmpdir(), 'visid-tmp-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const g = await Gallery.create(path.join(d, 'g'), { dim: 2, model: { id: 'm' } });
  // A pid that is not running (the kernel's max is below 2^22).
  const stale = path.join(g.dir, '.seg-000001.vec.4194303.deadbeef.tmp');
  await fs.writeFile(stale, 'half');
  for (let i = 0; i < 17; i++) await g.append(Float32Array.from([1, i]), [{ id: `i${i}` }]);
  assert.ok(!existsSync(stale));
  assert.equal(g.segmentCount, 17);
  assert.equal(await g.compactIfFragmented(), true);
  assert.equal(g.segmentCount, 1);
  assert.equal((await Gallery.open(g.dir)).count, 17);
  await g.remove(['i0', 'i1', 'i2', 'i3', 'i4']);
  assert.equal(await g.compactIfFragmented(), true, '5 of 17 removed > 25 %');
  assert.equal((await fs.readdir(g.dir)).filter((f) => f.endsWith('.vec')).length, 1);
});

test('10. serve on a busy port exits 2 with a message', async () => {
  const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, 'serve', path.join(dir, 'colours'), '--read-only', '--port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /already in use/);
});

test('found by the long fuzz run: a name starting with ".." is inside the root; truncated .npy headers and escaping LFW names are refused', async (t) => {
  const { isInside } = await import('../src/data/paths.js');
  const { decodeNpy } = await import('../src/formats/npy.js');
  const { readLfwPairFile } = await import('../src/jobs/faces/pairs.js');
  assert.equal(isInside('/data', '/data/..n_Peirsol/a.jpg'), true);
  assert.equal(isInside('/data', '/data/../etc/passwd'), false);
  assert.equal(isInside('/data', '/etc'), false);
  // A version-2 header cut before its length field (fuzz seed 777).
  assert.throws(() => decodeNpy(Uint8Array.from([147, 78, 85, 77, 80, 89, 2, 0, 118, 0, 123]), 'q.npy'), /q\.npy: truncated \.npy header/);
  assert.throws(() => decodeNpy(Uint8Array.from([147, 78, 85, 77, 80, 89, 124, 0, 118, 0, 123]), 'q.npy'), /q\.npy: unsupported \.npy format version 124/);
  const d = mkdtempSync(path.join(tmpdir(), 'visid-pairs-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  await fs.writeFile(path.join(d, 'pairs.txt'), '1\n../../etc\t1\t2\n');
  await assert.rejects(readLfwPairFile(path.join(d, 'pairs.txt'), path.join(d, 'lfw')), /pairs\.txt:2: '\.\.\/\.\.\/etc' is not a person's folder name/);
  await fs.writeFile(path.join(d, 'pairs.txt'), '1\n..n_Peirsol\t1\t2\n');
  assert.equal((await readLfwPairFile(path.join(d, 'pairs.txt'), path.join(d, 'lfw'))).pairs.length, 1);
});

test('found by fuzz seed 98765: a bad UTM zone in a manifest names its file:line', async (t) => {
  const { readManifestDataset } = await import('../src/data/manifest.js');
  const d = mkdtempSync(path.join(tmpdir(), 'visid-utm-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  await writeSolid(path.join(d, 'a.png'), [1, 2, 3]);
  await fs.writeFile(path.join(d, 'm.jsonl'), '{"path":"a.png","utm_east":500000,"utm_north":4649776,"utm_zone":"E"}\n');
  await assert.rejects(readManifestDataset(path.join(d, 'm.jsonl')), /m\.jsonl:1: 'E' is not a UTM zone/);
});
