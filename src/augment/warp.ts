// Geometric resampling for the augmentation ops: bilinear inverse mapping through an affine or projective transform.
import type { RgbImage } from './op.js';

export type Border = 'constant' | 'reflect';

/** Maps output pixel (x, y) to the source position; returns [sx, sy]. */
export type InverseMap = (x: number, y: number) => [number, number];

function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let m = Math.abs(i) % period;
  if (m >= n) m = period - m;
  return m;
}

/** Bilinear resampling of `src` into a width×height image; outside pixels are `fill` or reflected. */
export function warp(src: RgbImage, width: number, height: number, inverse: InverseMap, border: Border = 'constant', fill: [number, number, number] = [0, 0, 0]): RgbImage {
  const out = new Uint8Array(width * height * 3);
  const { data, width: w, height: h } = src;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [sx, sy] = inverse(x + 0.5, y + 0.5);
      const fx = sx - 0.5;
      const fy = sy - 0.5;
      const x0 = Math.floor(fx);
      const y0 = Math.floor(fy);
      const ax = fx - x0;
      const ay = fy - y0;
      const o = (y * width + x) * 3;
      let inside = true;
      const px = (xi: number, yi: number): number => {
        if (xi < 0 || yi < 0 || xi >= w || yi >= h) {
          if (border === 'constant') {
            inside = false;
            return -1;
          }
          xi = reflect(xi, w);
          yi = reflect(yi, h);
        }
        return (yi * w + xi) * 3;
      };
      const i00 = px(x0, y0);
      const i10 = px(x0 + 1, y0);
      const i01 = px(x0, y0 + 1);
      const i11 = px(x0 + 1, y0 + 1);
      for (let c = 0; c < 3; c++) {
        if (!inside) {
          // At the border blend the fill in, so edges are not jagged.
          const v = (i: number) => (i < 0 ? fill[c]! : data[i + c]!);
          out[o + c] = Math.round((1 - ay) * ((1 - ax) * v(i00) + ax * v(i10)) + ay * ((1 - ax) * v(i01) + ax * v(i11)));
        } else {
          out[o + c] = Math.round((1 - ay) * ((1 - ax) * data[i00 + c]! + ax * data[i10 + c]!) + ay * ((1 - ax) * data[i01 + c]! + ax * data[i11 + c]!));
        }
      }
    }
  }
  return { data: out, width, height };
}

/** Bilinear resize (with area-averaging first when shrinking by 2× or more, so small outputs do not alias). */
export function resizeBilinear(src: RgbImage, width: number, height: number): RgbImage {
  let img = src;
  while (img.width >= 2 * width && img.height >= 2 * height) img = halve(img);
  const sx = img.width / width;
  const sy = img.height / height;
  return warp(img, width, height, (x, y) => [x * sx, y * sy], 'reflect');
}

function halve(src: RgbImage): RgbImage {
  const w = src.width >> 1;
  const h = src.height >> 1;
  const out = new Uint8Array(w * h * 3);
  const W = src.width;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        const a = ((2 * y) * W + 2 * x) * 3 + c;
        const b = ((2 * y + 1) * W + 2 * x) * 3 + c;
        out[(y * w + x) * 3 + c] = (src.data[a]! + src.data[a + 3]! + src.data[b]! + src.data[b + 3]! + 2) >> 2;
      }
    }
  }
  return { data: out, width: w, height: h };
}

/** The 3×3 homography mapping four source corners to four destination corners (direct linear solve). */
export function homography(src: [number, number][], dst: [number, number][]): number[] {
  // Solve A·h = b for h = [h0..h7], h8 = 1.
  const A: number[][] = [];
  const b: number[] = [];
  for (let i = 0; i < 4; i++) {
    const [x, y] = src[i]!;
    const [u, v] = dst[i]!;
    A.push([x, y, 1, 0, 0, 0, -u * x, -u * y]);
    b.push(u);
    A.push([0, 0, 0, x, y, 1, -v * x, -v * y]);
    b.push(v);
  }
  // Gaussian elimination with partial pivoting.
  for (let col = 0; col < 8; col++) {
    let piv = col;
    for (let r = col + 1; r < 8; r++) if (Math.abs(A[r]![col]!) > Math.abs(A[piv]![col]!)) piv = r;
    [A[col], A[piv]] = [A[piv]!, A[col]!];
    [b[col], b[piv]] = [b[piv]!, b[col]!];
    for (let r = 0; r < 8; r++) {
      if (r === col) continue;
      const f = A[r]![col]! / A[col]![col]!;
      for (let k = col; k < 8; k++) A[r]![k]! -= f * A[col]![k]!;
      b[r]! -= f * b[col]!;
    }
  }
  return [...b.map((v, i) => v / A[i]![i]!), 1];
}

export function applyHomography(H: number[], x: number, y: number): [number, number] {
  const w = H[6]! * x + H[7]! * y + H[8]!;
  return [(H[0]! * x + H[1]! * y + H[2]!) / w, (H[3]! * x + H[4]! * y + H[5]!) / w];
}
