// Reads TensorFlow.js weight files (a weights manifest and its .bin shards) into named float32/int32 arrays, as
// tfjs itself decodes them: float32, int32, and the converter's quantisations (uint8/uint16 affine, float16).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { VisidError } from '../util/errors.js';

export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number; original_dtype?: string };
}

export interface TfjsWeightGroup {
  paths: string[];
  weights: TfjsWeightSpec[];
}

export interface TfWeight {
  shape: number[];
  dtype: 'float32' | 'int32';
  values: Float32Array | Int32Array;
}

/** IEEE 754 half → float. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? Number.NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/**
 * Decodes the weights of `groups` (paths relative to `dir`, or read by a function) by name. Every byte of the shards must be accounted
 * for, so a truncated or mismatched .bin is an error naming the manifest, not silently wrong weights.
 */
export async function readTfjsWeightGroups(groups: readonly TfjsWeightGroup[], dir: string | ((shard: string) => Promise<Buffer>), where: string): Promise<Map<string, TfWeight>> {
  const out = new Map<string, TfWeight>();
  const read = typeof dir === 'string' ? (p: string) => fs.readFile(path.join(dir, p)) : dir;
  for (const group of groups) {
    const bin = Buffer.concat(
      await Promise.all(
        group.paths.map((p) =>
          read(p).catch(() => {
            throw new VisidError('E_MODEL', `weights shard '${p}' is missing`, { item: where });
          }),
        ),
      ),
    );
    let offset = 0;
    for (const w of group.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const q = w.quantization;
      const bytesPer = q ? (q.dtype === 'uint8' ? 1 : 2) : 4;
      if (offset + n * bytesPer > bin.length) throw new VisidError('E_MODEL', `weight ${w.name} runs past the end of ${group.paths.join(', ')}`, { item: where });
      if (w.dtype === 'int32' && (!q || q.dtype === 'uint8' || q.dtype === 'uint16')) {
        const values = new Int32Array(n);
        if (!q) for (let i = 0; i < n; i++) values[i] = bin.readInt32LE(offset + 4 * i);
        else for (let i = 0; i < n; i++) values[i] = Math.round((q.min ?? 0) + (q.dtype === 'uint8' ? bin[offset + i]! : bin.readUInt16LE(offset + 2 * i)) * (q.scale ?? 1));
        out.set(w.name, { shape: w.shape, dtype: 'int32', values });
      } else if (w.dtype === 'float32') {
        const values = new Float32Array(n);
        if (!q) for (let i = 0; i < n; i++) values[i] = bin.readFloatLE(offset + 4 * i);
        else if (q.dtype === 'uint8' || q.dtype === 'uint16') {
          const scale = q.scale ?? 1;
          const min = q.min ?? 0;
          for (let i = 0; i < n; i++) values[i] = min + (q.dtype === 'uint8' ? bin[offset + i]! : bin.readUInt16LE(offset + 2 * i)) * scale;
        } else if (q.dtype === 'float16') for (let i = 0; i < n; i++) values[i] = halfToFloat(bin.readUInt16LE(offset + 2 * i));
        else throw new VisidError('E_MODEL', `weight ${w.name} is quantised as ${q.dtype}; visid reads uint8, uint16 and float16`, { item: where });
        out.set(w.name, { shape: w.shape, dtype: 'float32', values });
      } else throw new VisidError('E_MODEL', `weight ${w.name} has dtype ${w.dtype}${q ? ` quantised as ${q.dtype}` : ''}; visid reads float32 and int32`, { item: where });
      offset += n * bytesPer;
    }
    if (offset !== bin.length) throw new VisidError('E_MODEL', `weights use ${offset} of the ${bin.length} bytes of ${group.paths.join(', ')}`, { item: where });
  }
  return out;
}

/** Reads a tfjs weights manifest file (face-api's `*-weights_manifest.json`) and its shards. */
export async function readTfjsWeights(manifestFile: string): Promise<Map<string, TfWeight>> {
  const text = await fs.readFile(manifestFile, 'utf8').catch(() => {
    throw new VisidError('E_MODEL', 'weights manifest is missing', { item: manifestFile });
  });
  return readTfjsWeightGroups(JSON.parse(text) as TfjsWeightGroup[], path.dirname(manifestFile), manifestFile);
}

/** A float32 weight by name, or an error naming what is missing. */
export function floatWeight(weights: Map<string, TfWeight>, name: string, where: string): TfWeight & { values: Float32Array } {
  const w = weights.get(name);
  if (!w) throw new VisidError('E_MODEL', `no weight '${name}'`, { item: where });
  if (w.dtype !== 'float32') throw new VisidError('E_MODEL', `weight '${name}' is ${w.dtype}, not float32`, { item: where });
  return w as TfWeight & { values: Float32Array };
}

/** TF conv kernel [kh, kw, in, out] → ONNX [out, in, kh, kw]. */
export function onnxConvKernel(w: { shape: number[]; values: Float32Array }): Float32Array {
  const [kh, kw, cin, cout] = w.shape as [number, number, number, number];
  const out = new Float32Array(w.values.length);
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < cin; i++) for (let o = 0; o < cout; o++) {
    out[((o * cin + i) * kh + y) * kw + x] = w.values[((y * kw + x) * cin + i) * cout + o]!;
  }
  return out;
}

/** TF depthwise kernel [kh, kw, C, multiplier] → ONNX grouped conv [C·multiplier, 1, kh, kw]. */
export function onnxDepthwiseKernel(w: { shape: number[]; values: Float32Array }): Float32Array {
  const [kh, kw, c, m] = w.shape as [number, number, number, number];
  const out = new Float32Array(w.values.length);
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let ch = 0; ch < c; ch++) for (let j = 0; j < m; j++) {
    out[((ch * m + j) * kh + y) * kw + x] = w.values[((y * kw + x) * c + ch) * m + j]!;
  }
  return out;
}
