// Small dense-vector helpers on row-major Float32Array matrices (normalise, check finiteness, fuse).
import { VisidError } from './errors.js';

/** L2-normalises each of the `rows` rows of `data` (row-major, `dim` columns) in place; zero rows stay zero. */
export function l2NormalizeRows(data: Float32Array, dim: number): Float32Array {
  const rows = data.length / dim;
  for (let r = 0; r < rows; r++) {
    const off = r * dim;
    let s = 0;
    for (let j = 0; j < dim; j++) s += data[off + j]! * data[off + j]!;
    if (s > 0) {
      const inv = 1 / Math.sqrt(s);
      for (let j = 0; j < dim; j++) data[off + j]! *= inv;
    }
  }
  return data;
}

/** True when every row has unit L2 norm (to float32 rounding), or is zero. */
export function isUnitLength(data: Float32Array, dim: number, tolerance = 1e-4): boolean {
  for (let off = 0; off < data.length; off += dim) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += data[off + j]! * data[off + j]!;
    if (s !== 0 && Math.abs(s - 1) > tolerance) return false;
  }
  return true;
}

/** Squared L2 norm of every row. */
export function rowSquaredNorms(data: Float32Array, dim: number): Float32Array {
  const rows = data.length / dim;
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const off = r * dim;
    for (let j = 0; j < dim; j++) s += data[off + j]! * data[off + j]!;
    out[r] = s;
  }
  return out;
}

/** Throws naming the row (and its id when given) if any value is NaN or infinite. */
export function assertFiniteRows(data: Float32Array, dim: number, ids?: readonly string[]): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      const row = Math.floor(i / dim);
      throw new VisidError('E_NAN', `descriptor has a non-finite value (${data[i]}) at column ${i % dim}`, {
        item: ids?.[row] ?? `row ${row}`,
      });
    }
  }
}

/** How descriptors of several views (scales, flips) of one image are combined (seed 001 §8). */
export type FusionMode = 'avg' | 'sum' | 'max' | 'min';

/**
 * Fuses `views` descriptors of equal length, each L2-normalised first.
 * avg: mean then L2-normalise. sum: plain sum (its norm grows with the number of views, as seed 001 notes).
 * max / min: element-wise over the normalised views.
 */
export function fuseDescriptors(views: Float32Array[], mode: FusionMode): Float32Array {
  if (views.length === 0) throw new VisidError('E_INPUT', 'nothing to fuse: no descriptors given');
  const dim = views[0]!.length;
  const normalised = views.map((v) => {
    if (v.length !== dim) throw new VisidError('E_DIM', `cannot fuse descriptors of lengths ${dim} and ${v.length}`);
    return l2NormalizeRows(Float32Array.from(v), dim);
  });
  const out = Float32Array.from(normalised[0]!);
  for (let k = 1; k < normalised.length; k++) {
    const v = normalised[k]!;
    for (let j = 0; j < dim; j++) {
      if (mode === 'max') out[j] = Math.max(out[j]!, v[j]!);
      else if (mode === 'min') out[j] = Math.min(out[j]!, v[j]!);
      else out[j]! += v[j]!;
    }
  }
  if (mode === 'avg') l2NormalizeRows(out, dim);
  return out;
}
