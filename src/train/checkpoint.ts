// Checkpoints: every parameter (network, loss, optimiser state) by name in one file, written atomically, validated on load.
//
// Layout: "VISIDCKPT1\n", a 4-byte little-endian header length, the JSON header (epoch, metrics, tensor index),
// then the float32 data. The header carries a SHA-256 of the data so a truncated or corrupted file is refused.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { VisidError } from '../util/errors.js';

const MAGIC = 'VISIDCKPT1\n';

export interface CheckpointMeta {
  epoch: number;
  metrics: Record<string, number>;
  /** Anything else worth keeping (the config hash, the net spec). */
  info?: Record<string, unknown>;
}

export interface Checkpoint extends CheckpointMeta {
  tensors: Map<string, { shape: number[]; values: Float32Array }>;
}

interface Header extends CheckpointMeta {
  sha256: string;
  index: Array<{ name: string; shape: number[]; offset: number; length: number }>;
}

export async function writeCheckpoint(file: string, ckpt: Checkpoint): Promise<void> {
  const index: Header['index'] = [];
  let offset = 0;
  for (const [name, t] of ckpt.tensors) {
    index.push({ name, shape: t.shape, offset, length: t.values.length });
    offset += t.values.length;
  }
  const data = new Float32Array(offset);
  for (const e of index) data.set(ckpt.tensors.get(e.name)!.values, e.offset);
  const bytes = new Uint8Array(data.buffer);
  const header: Header = { epoch: ckpt.epoch, metrics: ckpt.metrics, info: ckpt.info, sha256: createHash('sha256').update(bytes).digest('hex'), index };
  const json = new TextEncoder().encode(JSON.stringify(header));
  // Pad the header so the float data starts 4-byte aligned.
  const pad = (4 - ((MAGIC.length + 4 + json.length) % 4)) % 4;
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, json.length + pad, true);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, [new TextEncoder().encode(MAGIC), len, json, new Uint8Array(pad).fill(0x20), bytes]);
}

export async function readCheckpoint(file: string): Promise<Checkpoint> {
  let buf: Buffer;
  try {
    buf = await fs.readFile(file);
  } catch {
    throw new VisidError('E_NOT_FOUND', 'checkpoint does not exist', { item: file });
  }
  const bad = (why: string) => new VisidError('E_MODEL', `not a valid visid checkpoint: ${why}`, { item: file });
  if (buf.subarray(0, MAGIC.length).toString('latin1') !== MAGIC) throw bad('wrong magic');
  const hlen = buf.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4 + hlen;
  if (start > buf.length) throw bad('truncated header');
  let header: Header;
  try {
    header = JSON.parse(buf.subarray(MAGIC.length + 4, start).toString('utf8')) as Header;
  } catch {
    throw bad('unreadable header');
  }
  const dataBytes = buf.subarray(start);
  if (createHash('sha256').update(dataBytes).digest('hex') !== header.sha256) throw bad('data checksum mismatch (truncated or corrupted)');
  const data = new Float32Array(dataBytes.buffer.slice(dataBytes.byteOffset, dataBytes.byteOffset + dataBytes.byteLength));
  const tensors = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const e of header.index) {
    if (e.offset + e.length > data.length) throw bad(`tensor ${e.name} runs past the data`);
    tensors.set(e.name, { shape: e.shape, values: data.slice(e.offset, e.offset + e.length) });
  }
  return { epoch: header.epoch, metrics: header.metrics, info: header.info, tensors };
}

export function checkpointPath(dir: string, epoch: number): string {
  return path.join(dir, 'checkpoints', `epoch-${String(epoch).padStart(4, '0')}.ckpt`);
}

/** Saved epochs in `dir`, ascending. */
export async function listCheckpoints(dir: string): Promise<Array<{ epoch: number; file: string }>> {
  const names = await fs.readdir(path.join(dir, 'checkpoints')).catch(() => [] as string[]);
  return names
    .map((n) => /^epoch-(\d+)\.ckpt$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ epoch: Number(m[1]), file: path.join(dir, 'checkpoints', m[0]) }))
    .sort((a, b) => a.epoch - b.epoch);
}
