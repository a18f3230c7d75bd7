import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { decodeNpy, encodeNpy, Gallery, readNpy, VisidError } from '../src/api.js';
import { tempDir } from './helpers.js';

const model = { id: 'test-model', name: 'test' };

async function filled(t: Parameters<typeof tempDir>[0]) {
  const dir = path.join(tempDir(t), 'g');
  const g = await Gallery.create(dir, { dim: 2, model });
  await g.append(Float32Array.from([1, 0, 0, 1]), [{ id: 'a', label: 'x' }, { id: 'b', label: 'y', lat: 1, lon: 2 }]);
  await g.append(Float32Array.from([0.6, 0.8]), [{ id: 'c', label: 'x' }]);
  return { dir, g };
}

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of (await fs.readdir(dir)).sort()) out[f] = (await fs.readFile(path.join(dir, f))).toString('base64');
  return out;
}

test('create, append, reopen: rows, ids and metadata survive', async (t) => {
  const { dir } = await filled(t);
  const g = await Gallery.open(dir);
  assert.equal(g.count, 3);
  assert.equal(g.dim, 2);
  assert.deepEqual([...g.vectors], [1, 0, 0, 1, Math.fround(0.6), Math.fround(0.8)]);
  assert.deepEqual(g.items.map((i) => i.id), ['a', 'b', 'c']);
  assert.deepEqual(g.items[1], { id: 'b', label: 'y', lat: 1, lon: 2 });
  assert.equal(g.model.id, 'test-model');
  // The vectors file has the documented header: magic, version, count, dim, dtype.
  const seg = await fs.readFile(path.join(dir, 'seg-000001.vec'));
  assert.equal(seg.subarray(0, 8).toString(), 'VISIDVEC');
  assert.deepEqual([seg.readUInt32LE(8), seg.readUInt32LE(12), seg.readUInt32LE(16), seg.readUInt32LE(20)], [1, 2, 2, 1]);
  assert.equal(seg.length, 64 + 2 * 2 * 4);
});

test('remove by id, then compact: the same rows remain after reopening', async (t) => {
  const { dir, g } = await filled(t);
  await g.remove(['b']);
  assert.deepEqual(g.items.map((i) => i.id), ['a', 'c']);
  let again = await Gallery.open(dir);
  assert.deepEqual(again.items.map((i) => i.id), ['a', 'c']);
  assert.deepEqual([...again.vectors], [1, 0, Math.fround(0.6), Math.fround(0.8)]);
  await again.compact();
  assert.deepEqual((await fs.readdir(dir)).filter((f) => f.startsWith('seg-')).sort(), ['seg-000003.jsonl', 'seg-000003.vec']);
  again = await Gallery.open(dir);
  assert.deepEqual(again.items.map((i) => i.id), ['a', 'c']);
  // A removed id may be added again.
  await again.append(Float32Array.from([0, 1]), [{ id: 'b' }]);
  assert.equal((await Gallery.open(dir)).count, 3);
});

test('bad appends and removals are refused and leave the stored gallery byte-for-byte intact', async (t) => {
  const { dir, g } = await filled(t);
  const before = await snapshot(dir);
  await assert.rejects(g.append(Float32Array.from([1, 2, 3]), [{ id: 'd' }]), (e: VisidError) => e.code === 'E_DIM');
  await assert.rejects(g.append(Float32Array.from([NaN, 1]), [{ id: 'd' }]), (e: VisidError) => e.code === 'E_NAN' && e.message.startsWith('d:'));
  await assert.rejects(g.append(Float32Array.from([1, 1]), [{ id: 'a' }]), (e: VisidError) => e.code === 'E_DUPLICATE' && e.item === 'a');
  await assert.rejects(g.append(Float32Array.from([1, 1, 1, 1]), [{ id: 'e' }, { id: 'e' }]), (e: VisidError) => e.code === 'E_DUPLICATE');
  await assert.rejects(g.append(new Float32Array(0), []), /no items/);
  await assert.rejects(g.remove(['a', 'nope']), (e: VisidError) => e.code === 'E_NOT_FOUND' && e.item === 'nope');
  assert.deepEqual(await snapshot(dir), before);
  assert.equal((await Gallery.open(dir)).count, 3);
});

test('corruption is detected on load: flipped byte, truncation, wrong header, bad manifest', async (t) => {
  const { dir } = await filled(t);
  const vec = path.join(dir, 'seg-000001.vec');
  const original = await fs.readFile(vec);

  const flipped = Buffer.from(original);
  flipped[70]! ^= 0xff;
  await fs.writeFile(vec, flipped);
  await assert.rejects(Gallery.open(dir), (e: VisidError) => e.code === 'E_GALLERY' && /checksum/.test(e.message) && e.item === vec);

  await fs.writeFile(vec, original.subarray(0, original.length - 4));
  await assert.rejects(Gallery.open(dir), /truncated or corrupt/);

  const header = Buffer.from(original);
  header.writeUInt32LE(3, 16);
  await fs.writeFile(vec, header);
  await assert.rejects(Gallery.open(dir), /header says 2×3/);

  await fs.writeFile(vec, original);
  const meta = path.join(dir, 'seg-000001.jsonl');
  await fs.appendFile(meta, '{"id":"zz"}\n');
  await assert.rejects(Gallery.open(dir), /metadata is corrupt/);

  await fs.writeFile(path.join(dir, 'gallery.json'), '{"format":"visid-gallery","version":1,');
  await assert.rejects(Gallery.open(dir), /not valid JSON/);
  await assert.rejects(Gallery.open(path.join(dir, 'nowhere')), (e: VisidError) => e.code === 'E_NOT_FOUND');
});

test('a second writer of a stale copy is refused instead of overwriting', async (t) => {
  const { dir } = await filled(t);
  const a = await Gallery.open(dir);
  const b = await Gallery.open(dir);
  await a.append(Float32Array.from([1, 1]), [{ id: 'from-a' }]);
  await assert.rejects(b.append(Float32Array.from([1, 1]), [{ id: 'from-b' }]), /changed on disk/);
  assert.deepEqual((await Gallery.open(dir)).items.map((i) => i.id), ['a', 'b', 'c', 'from-a']);
});

test('a live lock blocks writers; a lock left by a dead process is taken over', async (t) => {
  const { dir, g } = await filled(t);
  await fs.writeFile(path.join(dir, 'gallery.lock'), String(process.pid));
  await assert.rejects(g.append(Float32Array.from([1, 1]), [{ id: 'd' }]), (e: VisidError) => e.code === 'E_LOCKED');
  await fs.writeFile(path.join(dir, 'gallery.lock'), '999999999');
  await g.append(Float32Array.from([1, 1]), [{ id: 'd' }]);
  assert.equal((await Gallery.open(dir)).count, 4);
  await assert.rejects(fs.access(path.join(dir, 'gallery.lock')));
});

test('six processes appending to one gallery at once: every row committed once, nothing corrupt', { timeout: 300_000 }, async (t) => {
  const dir = path.join(tempDir(t), 'g');
  await Gallery.create(dir, { dim: 2, model });
  const index = new URL('../src/api.js', import.meta.url).href;
  // Each writer retries what a busy gallery answers (held lock, or a commit by another writer since it opened), after
  // a pause drawn from its own seeded sequence; how often it has to is up to the scheduler, so the retries are not
  // counted (the test's timeout bounds a writer that never gets in).
  const random = new URL('../src/util/random.js', import.meta.url).href;
  const writer = `
    const { Gallery } = await import(${JSON.stringify(index)});
    const { mulberry32 } = await import(${JSON.stringify(random)});
    const [dir, who] = process.argv.slice(1);
    const pause = mulberry32(Number(who.slice(1)) + 1);
    for (let k = 0; k < 12; k++) for (;;) {
      try { await (await Gallery.open(dir)).append(Float32Array.from([1, 0]), [{ id: who + '-' + k }]); break; }
      catch (err) { if (!(err.code === 'E_LOCKED' || /changed on disk/.test(err.message))) throw err; await new Promise((r) => setTimeout(r, pause() * 4)); }
    }`;
  const { spawn } = await import('node:child_process');
  const codes = await Promise.all(
    Array.from({ length: 6 }, (_, i) => new Promise<number | null>((resolve) => spawn(process.execPath, ['--input-type=module', '-e', writer, dir, `w${i}`], { stdio: 'inherit' }).on('close', resolve))),
  );
  assert.deepEqual(codes, [0, 0, 0, 0, 0, 0]);
  const g = await Gallery.open(dir); // checks every segment's checksums
  const expected = Array.from({ length: 6 }, (_, i) => Array.from({ length: 12 }, (_, k) => `w${i}-${k}`)).flat().sort();
  assert.deepEqual(g.items.map((it) => it.id).sort(), expected);
  assert.deepEqual((await fs.readdir(dir)).filter((f) => f.includes('lock') || f.endsWith('.tmp')), []);
});

test('npy: exact header bytes, round trip, export/import through the gallery', async (t) => {
  const parts = encodeNpy(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
  const bytes = Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
  assert.equal(bytes.subarray(0, 8).toString('latin1'), '\x93NUMPY\x01\x00');
  const headerLen = bytes.readUInt16LE(8);
  assert.equal((10 + headerLen) % 64, 0);
  assert.match(bytes.subarray(10, 10 + headerLen).toString('latin1'), /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 3\), \} *\n$/);
  const back = decodeNpy(bytes);
  assert.deepEqual(back.shape, [2, 3]);
  assert.deepEqual([...back.data], [1, 2, 3, 4, 5, 6]);
  assert.throws(() => decodeNpy(bytes.subarray(0, bytes.length - 1)), /data bytes/);

  const { dir, g } = await filled(t);
  const npy = path.join(dir, '..', 'out.npy');
  const meta = path.join(dir, '..', 'out.jsonl');
  await g.exportNpy(npy, meta);
  const read = await readNpy(npy);
  assert.deepEqual(read.shape, [3, 2]);
  assert.deepEqual([...read.data], [...g.vectors]);
  assert.deepEqual((await fs.readFile(meta, 'utf8')).trim().split('\n').map((l) => JSON.parse(l).id), ['a', 'b', 'c']);

  const other = await Gallery.create(path.join(dir, '..', 'g2'), { dim: 2, model });
  await other.importNpy(npy, g.items.map((it) => ({ ...it })));
  assert.deepEqual([...other.vectors], [...g.vectors]);
  await assert.rejects(other.importNpy(npy, [{ id: 'only-one' }]), /3 rows but 1 items/);
});

test('numpy reads the exported .npy (when python3 with numpy is installed)', async (t) => {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
  } catch {
    t.skip('python3 with numpy is not installed');
    return;
  }
  const { dir, g } = await filled(t);
  const npy = path.join(dir, '..', 'x.npy');
  await g.exportNpy(npy);
  const out = execFileSync('python3', ['-c', `import numpy as n; a=n.load(${JSON.stringify(npy)}); print(a.dtype, a.shape, ' '.join('%.4f' % v for v in a.ravel()))`]).toString().trim();
  assert.equal(out, 'float32 (3, 2) 1.0000 0.0000 0.0000 1.0000 0.6000 0.8000');
});
