// Reads and writes NumPy .npy files (format 1.0/2.0, little-endian float32, C order) so Python tools can use descriptors.
import { promises as fs } from 'node:fs';
import { VisidError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

/** Encodes a float32 matrix as .npy bytes: header padded so the data starts on a 64-byte boundary. */
export function encodeNpy(data: Float32Array, shape: number[]): Uint8Array[] {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new VisidError('E_DIM', `npy: ${data.length} values for shape [${shape}]`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header = header + ' '.repeat(pad % 64) + '\n';
  const pre = Buffer.alloc(10);
  MAGIC.copy(pre, 0);
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  return [pre, Buffer.from(header, 'latin1'), new Uint8Array(data.buffer, data.byteOffset, data.byteLength)];
}

export async function writeNpy(file: string, data: Float32Array, shape: number[]): Promise<void> {
  await writeFileAtomic(file, encodeNpy(data, shape));
}

/** Parses .npy bytes holding float32 (or float64, converted) in C order. */
export function decodeNpy(bytes: Uint8Array, name = '<npy>'): { data: Float32Array; shape: number[] } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw new VisidError('E_INPUT', 'not a .npy file (bad magic)', { item: name });
  const major = buf[6]!;
  if (major < 1 || major > 3) throw new VisidError('E_INPUT', `unsupported .npy format version ${major}`, { item: name });
  const start = major === 1 ? 10 : 12;
  if (buf.length < start) throw new VisidError('E_INPUT', 'truncated .npy header', { item: name });
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  if (start + headerLen > buf.length) throw new VisidError('E_INPUT', `truncated .npy header (${headerLen} bytes announced)`, { item: name });
  const header = buf.subarray(start, start + headerLen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new VisidError('E_INPUT', `malformed .npy header: ${header.trim()}`, { item: name });
  if (fortran === 'True') throw new VisidError('E_INPUT', 'Fortran-ordered arrays are not supported (save with C order)', { item: name });
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLen;
  const size = descr === '<f4' ? 4 : descr === '<f8' ? 8 : 0;
  if (size === 0) throw new VisidError('E_INPUT', `unsupported dtype ${descr} (use float32 '<f4' or float64 '<f8')`, { item: name });
  if (buf.length - dataStart !== count * size) {
    throw new VisidError('E_INPUT', `file holds ${buf.length - dataStart} data bytes, shape [${shape}] needs ${count * size}`, { item: name });
  }
  const raw = buf.subarray(dataStart);
  const data = new Float32Array(count);
  if (size === 4) new Uint8Array(data.buffer).set(raw);
  else for (let i = 0; i < count; i++) data[i] = raw.readDoubleLE(i * 8);
  return { data, shape };
}

export async function readNpy(file: string): Promise<{ data: Float32Array; shape: number[] }> {
  const bytes = await fs.readFile(file).catch((err) => {
    throw new VisidError('E_NOT_FOUND', `cannot read: ${(err as Error).message}`, { item: file });
  });
  return decodeNpy(bytes, file);
}
