// The shape every augmentation op shares: an RGB image and a seeded random source in, an RGB image out.
import type { RgbImage } from '../images/decode.js';
import { VisidError } from '../util/errors.js';

export type { RgbImage };
export type Random = () => number;

export interface AugmentOp {
  readonly name: string;
  /** Parameters as given (for logs and the training report). */
  readonly params: Record<string, unknown>;
  apply(image: RgbImage, random: Random): RgbImage;
}

/** A uniform draw in [lo, hi). */
export function uniform(random: Random, lo: number, hi: number): number {
  return lo + (hi - lo) * random();
}

/** An integer draw in [lo, hi]. */
export function randint(random: Random, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

export function clampByte(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

/** Applies f to every channel value (through a 256-entry table per channel: f depends on the value only). */
export function mapPixels(image: RgbImage, f: (v: number, channel: number) => number): RgbImage {
  const lut = new Uint8Array(768);
  for (let c = 0; c < 3; c++) for (let v = 0; v < 256; v++) lut[c * 256 + v] = clampByte(f(v, c));
  const src = image.data;
  const out = new Uint8Array(src.length);
  for (let i = 0; i < out.length; i += 3) {
    out[i] = lut[src[i]!]!;
    out[i + 1] = lut[256 + src[i + 1]!]!;
    out[i + 2] = lut[512 + src[i + 2]!]!;
  }
  return { data: out, width: image.width, height: image.height };
}

/** Reads a [lo, hi] range parameter: a number x means [−x, x] (or [base − x, base + x] with base). */
export function range(params: Record<string, unknown>, key: string, fallback: [number, number], op: string, base = 0): [number, number] {
  const v = params[key];
  if (v === undefined) return fallback;
  if (typeof v === 'number' && Number.isFinite(v)) return [base - v, base + v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isFinite(x)) && v[0] <= v[1]) return [v[0], v[1]];
  throw new VisidError('E_INPUT', `augmentation ${op}: '${key}' must be a number or [low, high], got ${JSON.stringify(v)}`);
}

export function num(params: Record<string, unknown>, key: string, fallback: number, op: string, check: (x: number) => boolean = Number.isFinite): number {
  const v = params[key] ?? fallback;
  if (typeof v !== 'number' || !check(v)) throw new VisidError('E_INPUT', `augmentation ${op}: '${key}' is out of range: ${JSON.stringify(v)}`);
  return v;
}

export function colour(params: Record<string, unknown>, key: string, fallback: [number, number, number], op: string): [number, number, number] {
  const v = params[key] ?? fallback;
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => Number.isInteger(x) && x >= 0 && x <= 255)) {
    throw new VisidError('E_INPUT', `augmentation ${op}: '${key}' must be an RGB triple of 0–255 integers, got ${JSON.stringify(v)}`);
  }
  return v as [number, number, number];
}
