// Benchmark: `visid serve` under load (autocannon on loopback) over a 100,000 × 512 gallery: searches/s and
// p50/p99 latency at 1, 8 and 64 connections, for JSON descriptors and image uploads; memory before and after.
// Then a soak under hostile load: normal descriptor searches (8 connections) while other clients send oversized
// uploads, junk multipart parts, malformed bodies, foreign Host headers and slow (slowloris) bodies; the p99 of the
// normal searches against the quiet figure (target ≤ 2×) and the server's RSS (bounded).
// Usage: node dist/bench/serve.js [--n 100000] [--duration 10] [--soak 100000] [--hostile-only]
import { spawn } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { Gallery } from '../src/index/gallery.js';
import { OnnxGraph } from '../src/formats/onnx-graph.js';
import { gaussian, mulberry32 } from '../src/util/random.js';
import { l2NormalizeRows } from '../src/util/vectors.js';
import { helpAndExit, flags } from './common.js';

helpAndExit(import.meta.url);

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const out = path.join(repo, 'bench', 'out', 'serve');
const opts = flags(process.argv.slice(2));
const n = Number(opts['n'] ?? 100_000);
const dim = 512;
const duration = Number(opts['duration'] ?? 10);
const soak = Number(opts['soak'] ?? 100_000);

/** A small image model with a 512-d output: 3 random convolutions, GeM, a random projection. */
async function writeModel(file: string): Promise<void> {
  const g = new OnnxGraph('bench_512');
  const r = gaussian(mulberry32(5));
  let x = g.input('image', ['N', 3, 'H', 'W']);
  for (const [cin, cout] of [[3, 32], [32, 64], [64, 128]] as const) {
    const w = Float32Array.from({ length: cout * cin * 9 }, () => r() * Math.sqrt(2 / (cin * 9)));
    x = g.node('Relu', [g.node('Conv', [x, g.weight(w, [cout, cin, 3, 3])], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] })]);
  }
  const pooled = g.node('Flatten', [g.node('GlobalAveragePool', [x])], { axis: 1 });
  g.node('Gemm', [pooled, g.weight(Float32Array.from({ length: 128 * dim }, () => r()), [128, dim])], {}, ['embedding']);
  g.output('embedding', ['N', dim]);
  await fs.writeFile(file, g.toBytes());
  await fs.writeFile(file.replace(/\.onnx$/, '.json'), JSON.stringify({ name: 'bench-512', inputSize: [160, 160], resize: 'shorter-crop', outputDim: dim }));
}

async function prepare(): Promise<string> {
  const galleryDir = path.join(out, `gallery-${n}`);
  if (await Gallery.exists(galleryDir)) return galleryDir;
  await fs.mkdir(out, { recursive: true });
  const model = path.join(out, 'bench-512.onnx');
  await writeModel(model);
  const { Embedder } = await import('../src/models/embedder.js');
  const embedder = await Embedder.load(model);
  const gallery = await Gallery.create(galleryDir, { dim, model: { id: embedder.modelId, name: 'bench-512', path: model, config: { flip: false, scales: [1], fusion: 'avg', card: embedder.card } } });
  await embedder.close();
  const r = gaussian(mulberry32(1));
  for (let start = 0; start < n; start += 20_000) {
    const rows = Math.min(20_000, n - start);
    const v = l2NormalizeRows(Float32Array.from({ length: rows * dim }, () => r()), dim);
    await gallery.append(v, Array.from({ length: rows }, (_, i) => ({ id: `item-${start + i}`, label: `label-${(start + i) % 5000}` })));
  }
  return galleryDir;
}

function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

async function run(title: string, options: autocannon.Options): Promise<autocannon.Result> {
  const result = await autocannon(options);
  const errors = result.errors + result.timeouts + result.non2xx;
  const detail = errors ? ` (${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx)` : '';
  console.log(`  ${title.padEnd(34)} ${result.requests.average.toFixed(1).padStart(8)} req/s  p50 ${String(result.latency.p50).padStart(5)} ms  p99 ${String(result.latency.p99).padStart(5)} ms  errors ${errors}${detail}`);
  return result;
}

const galleryDir = await prepare();
const port = 18000 + Math.floor(Math.random() * 1000);
const server = spawn(process.execPath, [path.join(repo, 'bin', 'visid.js'), 'serve', galleryDir, '--port', String(port), '--read-only', '--max-concurrent', '2', '--max-queue', '256'], { stdio: ['ignore', 'ignore', 'pipe'] });
await new Promise<void>((resolve, reject) => {
  server.stderr.on('data', (d: Buffer) => (/serving/.test(String(d)) ? resolve() : undefined));
  server.on('exit', (code) => reject(new Error(`server exited (${code})`)));
});
const url = `http://127.0.0.1:${port}/galleries/${path.basename(galleryDir)}/search`;
const r = gaussian(mulberry32(9));
const descriptor = JSON.stringify({ descriptor: Array.from(l2NormalizeRows(Float32Array.from({ length: dim }, () => r()), dim)), k: 10 });
const jpeg = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 120, g: 80, b: 60 } } }).jpeg().toBuffer();
const boundary = 'visidbenchboundary';
const multipart = Buffer.concat([
  Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="q.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
  jpeg,
  Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="k"\r\n\r\n10\r\n--${boundary}--\r\n`),
]);

console.log(`serve benchmark: gallery ${n} × ${dim}, exact top-10, searches batched per pass, 2 uploads embedded at once with a queue of 256, ${duration} s per point`);
await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: descriptor });
const before = rssKb(server.pid!);
if (!opts['hostile-only']) {
for (const connections of [1, 8, 64]) {
  await run(`descriptor, ${connections} connections`, { url, method: 'POST', connections, duration, headers: { 'content-type': 'application/json' }, body: descriptor });
}
for (const connections of [1, 8, 64]) {
  await run(`640×480 JPEG upload, ${connections} conn.`, { url, method: 'POST', connections, duration, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body: multipart });
}
const mid = rssKb(server.pid!);
console.log(`soak: ${soak} descriptor requests at 64 connections`);
const s = await run('descriptor soak', { url, method: 'POST', connections: 64, amount: soak, headers: { 'content-type': 'application/json' }, body: descriptor });
const after = rssKb(server.pid!);
console.log(`server RSS: ${(before / 1024).toFixed(0)} MiB after warm-up, ${(mid / 1024).toFixed(0)} MiB after the load points, ${(after / 1024).toFixed(0)} MiB after ${s.requests.total} more requests (${(((after - mid) / mid) * 100).toFixed(1)} % over the soak)`);
}

/** `connections` raw clients sending `request()` again and again until `stopAt`; the status of each answer counted. */
function rawClients(name: string, connections: number, stopAt: number, request: () => Buffer[]): Promise<{ name: string; sent: number; statuses: Record<string, number> }> {
  const statuses: Record<string, number> = {};
  let sent = 0;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      let answer = '';
      sock.on('data', (d: Buffer) => (answer += d.toString('latin1', 0, Math.min(d.length, 64))));
      sock.on('error', () => undefined);
      sock.on('close', () => {
        const status = /^HTTP\/1\.1 (\d+)/.exec(answer)?.[1] ?? 'closed';
        statuses[status] = (statuses[status] ?? 0) + 1;
        resolve();
      });
      sock.on('connect', () => {
        sent++;
        for (const part of request()) if (!sock.write(part)) break; // a server that stops reading is not force-fed
      });
      sock.setTimeout(10_000, () => sock.destroy());
    });
  const loop = async () => {
    while (Date.now() < stopAt) await one();
  };
  return Promise.all(Array.from({ length: connections }, loop)).then(() => ({ name, sent, statuses }));
}

/** Slow clients: each opens a connection, sends headers promising a body, then one byte a second. */
function slowloris(count: number, stopAt: number): Promise<void> {
  const sockets: net.Socket[] = [];
  const open = () => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(`POST /galleries/${path.basename(galleryDir)}/search HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      if (Date.now() < stopAt) open(); // the server closed it at its timeout: come back
    });
    sockets.push(sock);
  };
  for (let i = 0; i < count; i++) open();
  const tick = setInterval(() => sockets.forEach((s) => s.writable && s.write(' ')), 1000);
  return new Promise((resolve) => setTimeout(() => {
    clearInterval(tick);
    sockets.forEach((s) => s.destroy());
    resolve();
  }, stopAt - Date.now()));
}

{
  const hostileSeconds = Math.max(duration, 20);
  const quiet = await run('quiet: descriptor, 8 conn.', { url, method: 'POST', connections: 8, duration: hostileSeconds, headers: { 'content-type': 'application/json' }, body: descriptor });
  const rssQuiet = rssKb(server.pid!);
  const junkPart = Buffer.alloc(2 * 1024 * 1024, 1);
  const junk = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="q.jpg"\r\n\r\n`), jpeg,
    ...Array.from({ length: 8 }, (_, i) => [Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="junk${i}"; filename="j"\r\n\r\n`), junkPart]).flat(),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const stopAt = Date.now() + hostileSeconds * 1000;
  const searchPath = `/galleries/${path.basename(galleryDir)}/search`;
  const head = (contentType: string, length: number, host = 'localhost') => `POST ${searchPath} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: ${contentType}\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`;
  const mp = `multipart/form-data; boundary=${boundary}`;
  const hostile = [
    // a 40 MiB upload declared (1 MiB of it sent), 16 MiB of junk parts, malformed multipart, broken JSON, a foreign Host
    rawClients('oversized', 4, stopAt, () => [Buffer.from(head(mp, 40 * 1024 * 1024)), Buffer.alloc(1024 * 1024, 2)]),
    rawClients('junk parts', 4, stopAt, () => [Buffer.from(head(mp, junk.length)), junk]),
    rawClients('no boundary', 4, stopAt, () => [Buffer.from(head('multipart/form-data', 18) + 'no boundary at all')]),
    rawClients('broken JSON', 4, stopAt, () => [Buffer.from(head('application/json', 21) + '{"descriptor": [1, 2,')]),
    rawClients('foreign Host', 2, stopAt, () => [Buffer.from(head('application/json', Buffer.byteLength(descriptor), 'evil.example') + descriptor)]),
  ];
  const slow = slowloris(64, stopAt);
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssKb(server.pid!))), 250);
  const loud = await run('hostile: descriptor, 8 conn.', { url, method: 'POST', connections: 8, duration: hostileSeconds, headers: { 'content-type': 'application/json' }, body: descriptor });
  const results = await Promise.all(hostile);
  await slow;
  clearInterval(sampler);
  console.log(`  hostile clients: ${results.map((r) => `${r.name} ${r.sent} sent, answers ${Object.entries(r.statuses).map(([k, v]) => `${k}×${v}`).join(' ')}`).join('; ')}; 64 slow clients`);
  console.log(`  p99 under hostile load ${loud.latency.p99} ms vs quiet ${quiet.latency.p99} ms = ${(loud.latency.p99 / Math.max(1, quiet.latency.p99)).toFixed(2)}× (target ≤ 2×); searches/s ${loud.requests.average.toFixed(0)} vs ${quiet.requests.average.toFixed(0)}`);
  console.log(`  server RSS ${(rssQuiet / 1024).toFixed(0)} MiB quiet, peak ${(peak / 1024).toFixed(0)} MiB under hostile load, ${(rssKb(server.pid!) / 1024).toFixed(0)} MiB after`);
}
server.kill('SIGTERM');
