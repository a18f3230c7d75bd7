// `visid index --skip-bad`: everything visid cannot or must not read is named, skipped and counted, and the run
// exits 0 with the good images indexed; without the flag the same items stop the run (exit 2). A FIFO that no
// process writes to must not block either run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gallery } from '../src/index/gallery.js';
import { loadDataset } from '../src/data/load.js';
import { tempDir, writeChannelMeanModel, writeSolid } from './helpers.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/visid.js');

function cli(args: string[], timeout = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout, env: { ...process.env, VISID_CACHE: '0' } }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; killed?: boolean }) | null;
      // A run killed by the timeout (blocked on a FIFO, say) reports code -1, which no assertion below accepts.
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, stdout, stderr });
    });
  });
}

function listen(socketPath: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(socketPath, () => resolve(server));
  });
}

interface BadFolder {
  root: string;
  /** Each bad entry's name and the reason its warning must give. */
  bad: Array<[string, RegExp]>;
  good: number;
}

/** A folder data set with two good images and one of each kind of entry visid must skip. */
async function writeBadFolder(dir: string, t: { after: (fn: () => void | Promise<void>) => void }): Promise<BadFolder> {
  const root = path.join(dir, 'data');
  const outside = path.join(dir, 'outside');
  await writeSolid(path.join(root, 'red', 'ok-1.png'), [200, 20, 30]);
  await writeSolid(path.join(root, 'blue', 'ok-2.png'), [20, 30, 200]);
  await writeSolid(path.join(outside, 'secret.png'), [1, 2, 3]);
  execFileSync('mkfifo', [path.join(root, 'red', 'pipe.jpg')]);
  execFileSync('mkfifo', [path.join(outside, 'pipe.jpg')]);
  const server = await listen(path.join(root, 'red', 'socket.png'));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  await fs.symlink(path.join(outside, 'secret.png'), path.join(root, 'blue', 'escape.png'));
  await fs.symlink(path.join(outside, 'pipe.jpg'), path.join(root, 'blue', 'fifo-outside.jpg'));
  await fs.symlink(path.join(root, 'red', 'pipe.jpg'), path.join(root, 'blue', 'fifo-inside.jpg'));
  await fs.symlink(path.join(dir, 'nothing.png'), path.join(root, 'blue', 'dangling.png'));
  const jpeg = await fs.readFile(path.join(root, 'red', 'ok-1.png'));
  await fs.writeFile(path.join(root, 'red', 'corrupt.jpg'), Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), jpeg.subarray(0, 20)]));
  const bad: Array<[string, RegExp]> = [
    ['pipe.jpg', /not a regular file \(a FIFO\)/],
    ['socket.png', /not a regular file \(a socket\)/],
    ['escape.png', /symbolic link leads outside the data root/],
    ['fifo-outside.jpg', /symbolic link leads outside the data root/],
    ['fifo-inside.jpg', /not a regular file \(a link to a FIFO\)/],
    ['dangling.png', /symbolic link to nothing/],
    ['corrupt.jpg', /cannot decode image/],
  ];
  // A device node (root may make one) and a file nobody may read (only a non-root user is refused).
  try {
    execFileSync('mknod', [path.join(root, 'red', 'char-device.jpg'), 'c', '1', '5'], { stdio: 'ignore' });
    bad.push(['char-device.jpg', /not a regular file \(a device\)/]);
  } catch {
    /* no mknod here: the device case is covered by the link to /dev/zero below */
  }
  await fs.symlink('/dev/zero', path.join(root, 'red', 'dev-zero.jpg'));
  bad.push(['dev-zero.jpg', /symbolic link leads outside the data root/]);
  if (process.getuid?.() !== 0) {
    await writeSolid(path.join(root, 'red', 'locked.png'), [9, 9, 9]);
    await fs.chmod(path.join(root, 'red', 'locked.png'), 0o000);
    bad.push(['locked.png', /EACCES|permission|cannot/i]);
  }
  return { root, bad, good: 2 };
}

test('visid index --skip-bad skips FIFOs, sockets, devices, escaping links and corrupt images, one named warning each, exit 0', async (t) => {
  const dir = tempDir(t, 'visid-skip-bad-');
  const model = await writeChannelMeanModel(dir);
  const { root, bad, good } = await writeBadFolder(dir, t);
  const out = path.join(dir, 'g');
  const r = await cli(['index', root, '--model', model, '--out', out, '--skip-bad', '-q']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  for (const [name, reason] of bad) {
    const hits = lines.filter((l) => l.includes(name) && /^skipped /.test(l));
    assert.equal(hits.length, 1, `one warning line for ${name}:\n${r.stderr}`);
    assert.match(hits[0]!, reason, name);
  }
  assert.equal(lines.length, bad.length, `nothing but one line per skipped item:\n${r.stderr}`);
  assert.match(r.stdout, new RegExp(`${good} added, 0 already there, ${bad.length} skipped`));
  const g = await Gallery.open(out);
  assert.deepEqual(g.items.map((it) => it.id).sort(), ['blue/ok-2.png', 'red/ok-1.png']);

  // Run again: resumes (nothing to add), still names the same items, still exit 0.
  const again = await cli(['index', root, '--model', model, '--out', out, '--skip-bad', '-q']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /0 added, 2 already there/);
});

test('without --skip-bad the first bad item stops visid index by name, exit 2, and a FIFO does not block it', async (t) => {
  const dir = tempDir(t, 'visid-skip-bad-');
  const model = await writeChannelMeanModel(dir);
  const { root } = await writeBadFolder(dir, t);
  const r = await cli(['index', root, '--model', model, '--out', path.join(dir, 'g')], 30_000);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /(pipe|socket|escape|fifo-outside|fifo-inside|dangling|char-device|dev-zero)\.(jpg|png): /);
  await assert.rejects(fs.access(path.join(dir, 'g', 'gallery.json')), 'nothing was written');
});

test('loadDataset reports refused entries of a folder and rows of a manifest instead of throwing, when asked', async (t) => {
  const dir = tempDir(t, 'visid-skip-bad-');
  const { root, bad } = await writeBadFolder(dir, t);
  const refused: string[] = [];
  const ds = await loadDataset(root, { onRefused: (item) => refused.push(path.basename(item)) });
  // The corrupt JPEG is listed (only decoding finds it out); every other bad entry is refused while listing.
  assert.deepEqual(ds.items.map((it) => path.basename(it.path)).sort(), ['corrupt.jpg', 'ok-1.png', 'ok-2.png', ...(process.getuid?.() !== 0 ? ['locked.png'] : [])].sort());
  assert.deepEqual(refused.sort(), bad.map(([n]) => n).filter((n) => n !== 'corrupt.jpg' && n !== 'locked.png').sort());
  await assert.rejects(loadDataset(root), /not a regular file|symbolic link/);

  const manifest = path.join(root, 'items.csv');
  await fs.writeFile(manifest, 'path,label\nred/ok-1.png,r\nred/missing.png,r\n../outside/secret.png,x\nred/pipe.jpg,r\nblue/ok-2.png,b\n');
  const rows: string[] = [];
  const m = await loadDataset(manifest, { onRefused: (item, err) => rows.push(`${path.basename(item)} ${err.code}`) });
  assert.deepEqual(m.items.map((it) => it.id), ['red/ok-1.png', 'blue/ok-2.png']);
  assert.deepEqual(rows, ['items.csv:3 E_NOT_FOUND', 'items.csv:4 E_PATH_ESCAPE', 'items.csv:5 E_DATASET']);
  await assert.rejects(loadDataset(manifest), /items\.csv:3: file 'red\/missing\.png' does not exist/);
});
