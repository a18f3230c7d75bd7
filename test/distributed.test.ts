// Distributed indexing on loopback: a real Redis (VISID_REDIS_URL, or a redis-server started here), BullMQ, one
// `visid index --queue` and three `visid worker`s, one of them killed mid-batch; sharded output served by a router.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gallery } from '../src/api.js';
import { loadDataset } from '../src/data/load.js';
import { shardOf } from '../src/pipeline/distributed-index.js';
import { writeChannelMeanModel, writeSolid } from './helpers.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/visid.js');

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * A Redis for the test: the CI one (VISID_REDIS_URL) or a private redis-server on a free port (its own database 0:
 * nothing else uses it). The free port can be taken by another process before redis binds it: then redis exits and
 * another port is tried. Redis is waited for generously (30 s: a loaded machine is slow).
 */
async function redis(t: { after: (fn: () => unknown) => void }): Promise<string> {
  if (process.env['VISID_REDIS_URL']) return process.env['VISID_REDIS_URL'];
  const which = spawnSync('sh', ['-c', 'command -v redis-server']);
  assert.equal(which.status, 0, 'redis-server is needed (apt-get install redis-server; .ci/run installs and starts it)');
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const server = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'], { stdio: 'ignore' });
    let exited = false;
    server.on('exit', () => (exited = true));
    t.after(() => server.kill('SIGKILL'));
    for (let i = 0; i < 600 && !exited; i++) {
      const ok = await new Promise<boolean>((r) => {
        const c = net.connect(port, '127.0.0.1', () => (c.end(), r(true)));
        c.on('error', () => r(false));
      });
      if (ok && !exited) return `redis://127.0.0.1:${port}`;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error('redis-server did not start (5 ports tried, 30 s each)');
}

function startWorker(url: string, lines: string[]): ChildProcess {
  const w = spawn(process.execPath, [BIN, 'worker', '--queue', url, '--lock-ms', '1500', '--threads', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  w.stderr!.on('data', (d) => lines.push(...String(d).split('\n').filter(Boolean)));
  return w;
}

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

test('visid index --queue with 3 workers, one killed mid-batch: every item committed exactly once, in the right shard', { timeout: 180_000 }, async (t) => {
  const url = await redis(t);
  const dir = mkdtempSync(path.join(tmpdir(), 'visid-dist-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const model = await writeChannelMeanModel(dir);
  const n = 48;
  for (let i = 0; i < n; i++) await writeSolid(path.join(dir, 'data', `c${i % 4}`, `${i}.png`), [(i * 37) % 256, (i * 91) % 256, (i * 13) % 256], 900, 700);
  const lines: string[] = [];
  const workers: ChildProcess[] = [];
  t.after(() => workers.forEach((w) => w.kill('SIGKILL')));
  const ready = (count: number) =>
    new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (lines.filter((l) => l.includes('waiting for jobs')).length >= count) (clearInterval(check), resolve());
      }, 50);
    });
  // The first worker is alone on the queue, so the first batch is its own (no race with the others for it); it is
  // killed as soon as it starts that batch, and only then do the two others start: the killed batch can only be
  // finished by one of them, once its lock has expired.
  workers.push(startWorker(url, lines));
  await ready(1);
  let killedJob = '';
  const killed = new Promise<void>((resolve) => {
    workers[0]!.stderr!.on('data', (d) => {
      const m = / job (\w+) start: /.exec(String(d));
      if (!killedJob && m) {
        killedJob = m[1]!;
        workers[0]!.kill('SIGKILL');
        workers.push(startWorker(url, lines), startWorker(url, lines));
        resolve();
      }
    });
  });
  const out = path.join(dir, 'g');
  const indexing = run(['index', path.join(dir, 'data'), '--model', model, '--out', out, '--queue', url, '--job-items', '4', '--shards', '2', '-q']);
  const early = await Promise.race([killed.then(() => undefined), indexing]);
  assert.equal(early, undefined, `visid index ended before any batch started: ${JSON.stringify(early)}`);
  const r = await indexing;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(killedJob, 'a worker was killed mid-batch');
  const ids = (await loadDataset(path.join(dir, 'data'))).items.map((it) => it.id);
  const perShard = [0, 1].map((s) => ids.filter((id) => shardOf(id, 2) === s).length);
  assert.match(r.stdout, new RegExp(`2 shards in .*: 48 queued in ${perShard.reduce((a, c) => a + Math.ceil(c / 4), 0)} jobs, 0 already there, 0 jobs failed`));
  // The killed worker's batch was finished by another worker (after its lock expired).
  assert.ok(lines.some((l) => l.includes(`job ${killedJob} done`)), `job ${killedJob} was completed by a live worker`);
  const stored: string[] = [];
  for (let s = 0; s < 2; s++) {
    const g = await Gallery.open(path.join(out, `shard-${s}`)); // open() refuses duplicate ids
    for (const it of g.items) {
      assert.equal(shardOf(it.id, 2), s, `${it.id} in the right shard`);
      stored.push(it.id);
    }
  }
  assert.deepEqual(stored.sort(), [...ids].sort());
  // Re-running enqueues nothing.
  const again = await run(['index', path.join(dir, 'data'), '--model', model, '--out', out, '--queue', url, '--shards', '2', '-q']);
  assert.match(again.stdout, /0 queued in 0 jobs, 48 already there/);
});
