// Classical copy-detection baselines: 64-bit perceptual hashes (pHash, dHash, blockhash) of sharp's greyscale output, compared by Hamming distance.
//
// pHash (Zauner 2010, as the imagehash library computes it): 32×32 grey, 2-D DCT-II, the 8×8 lowest frequencies,
// one bit per coefficient above their median. dHash (Krawetz 2013): 9×8 grey, one bit per horizontal neighbour
// pair, set when the left pixel is darker. blockhash (Yang, Gu & Niu 2006, blockhash.io): the image as 8×8 blocks
// of mean brightness (64×64 grey, 8×8 pixels each), one bit per block above the median of its horizontal band of
// two block rows (four bands, as blockhash splits the grid).
import sharp from 'sharp';
import { VisidError } from '../util/errors.js';

export type HashKind = 'phash' | 'dhash' | 'blockhash';
export const HASH_KINDS: readonly HashKind[] = ['phash', 'dhash', 'blockhash'];

/** A 64-bit hash as 8 bytes (bit i of the hash is bit 7 − i % 8 of byte ⌊i/8⌋). */
export type Hash64 = Uint8Array;

async function grey(input: string | Uint8Array, width: number, height: number): Promise<Uint8Array> {
  try {
    const buf = await sharp(input, { failOn: 'error' }).rotate().greyscale().resize(width, height, { fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer();
    return new Uint8Array(buf);
  } catch (err) {
    throw new VisidError('E_IMAGE', `cannot decode image: ${(err as Error).message}`, { item: typeof input === 'string' ? input : '<bytes>' });
  }
}

function pack(bits: ArrayLike<number>): Hash64 {
  const out = new Uint8Array(8);
  for (let i = 0; i < 64; i++) if (bits[i]) out[i >> 3]! |= 0x80 >> (i & 7);
  return out;
}

function median(values: ArrayLike<number>): number {
  const s = Array.from(values).sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Orthonormal 1-D DCT-II: X_k = c_k Σ x_n cos(π(2n+1)k / 2N), c_0 = √(1/N), c_k = √(2/N). */
export function dct1d(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i]! * Math.cos((Math.PI * (2 * i + 1) * k) / (2 * n));
    out[k] = s * Math.sqrt((k === 0 ? 1 : 2) / n);
  }
  return out;
}

/** Bits of pHash from a 32×32 grey image (row-major). */
export function phashBits(pixels: ArrayLike<number>, size = 32): Uint8Array {
  const rows: Float64Array[] = [];
  for (let y = 0; y < size; y++) rows.push(dct1d(Array.from({ length: size }, (_, x) => pixels[y * size + x]!)));
  const low = new Float64Array(64);
  for (let u = 0; u < 8; u++) {
    const col = dct1d(rows.map((r) => r[u]!));
    for (let v = 0; v < 8; v++) low[v * 8 + u] = col[v]!;
  }
  const m = median(low);
  return Uint8Array.from(low, (c) => (c > m ? 1 : 0));
}

/** Bits of dHash from a 9×8 grey image. */
export function dhashBits(pixels: ArrayLike<number>): Uint8Array {
  const bits = new Uint8Array(64);
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) bits[y * 8 + x] = pixels[y * 9 + x]! < pixels[y * 9 + x + 1]! ? 1 : 0;
  return bits;
}

/** Bits of blockhash from a 64×64 grey image. */
export function blockhashBits(pixels: ArrayLike<number>): Uint8Array {
  const blocks = new Float64Array(64);
  for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) blocks[(y >> 3) * 8 + (x >> 3)]! += pixels[y * 64 + x]!;
  const bits = new Uint8Array(64);
  for (let band = 0; band < 4; band++) {
    const part = blocks.subarray(band * 16, band * 16 + 16);
    const m = median(part);
    part.forEach((v, i) => (bits[band * 16 + i] = v > m ? 1 : 0));
  }
  return bits;
}

/** The 64-bit hash of an image file or its bytes. */
export async function perceptualHash(input: string | Uint8Array, kind: HashKind = 'phash'): Promise<Hash64> {
  switch (kind) {
    case 'phash':
      return pack(phashBits(await grey(input, 32, 32)));
    case 'dhash':
      return pack(dhashBits(await grey(input, 9, 8)));
    case 'blockhash':
      return pack(blockhashBits(await grey(input, 64, 64)));
    default:
      throw new VisidError('E_INPUT', `unknown hash '${kind as string}' (${HASH_KINDS.join(', ')})`);
  }
}

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, i) => {
  let c = 0;
  for (let v = i; v; v >>= 1) c += v & 1;
  return c;
});

export function hammingDistance(a: Hash64, b: Hash64): number {
  let d = 0;
  for (let i = 0; i < 8; i++) d += POPCOUNT[a[i]! ^ b[i]!]!;
  return d;
}

export function hashHex(h: Hash64): string {
  return Buffer.from(h).toString('hex');
}
