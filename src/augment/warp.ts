// Geometric resampling for the augmentation ops: bilinear inverse mapping through a 3×3 (affine or projective) matrix.
import type { RgbImage } from './op.js';

export type Border = 'constant' | 'reflect';

/** Row-major 3×3 matrix taking output pixel centres (x, y, 1) to source positions (homogeneous). */
export type Matrix3 = [number, number, number, number, number, number, number, number, number];

function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let m = (i < 0 ? -i : i) % period;
  if (m >= n) m = period - m;
  return m;
}

/**
 * Bilinear resampling of `src` into a width×height image: output pixel centre (x + ½, y + ½) reads the source at
 * M·(x + ½, y + ½, 1). Outside the source, `fill` (blended at the edge) or the reflected image.
 */
export function warp(src: RgbImage, width: number, height: number, M: Matrix3, border: Border = 'constant', fill: [number, number, number] = [0, 0, 0]): RgbImage {
  const out = new Uint8Array(width * height * 3);
  const { data, width: w, height: h } = src;
  const projective = M[6] !== 0 || M[7] !== 0 || M[8] !== 1;
  const constant = border === 'constant';
  for (let y = 0; y < height; y++) {
    const cy = y + 0.5;
    for (let x = 0; x < width; x++) {
      const cx = x + 0.5;
      let sx = M[0] * cx + M[1] * cy + M[2];
      let sy = M[3] * cx + M[4] * cy + M[5];
      if (projective) {
        const q = M[6] * cx + M[7] * cy + M[8];
        sx /= q;
        sy /= q;
      }
      const fx = sx - 0.5;
      const fy = sy - 0.5;
      let x0 = Math.floor(fx);
      let y0 = Math.floor(fy);
      const ax = fx - x0;
      const ay = fy - y0;
      let x1 = x0 + 1;
      let y1 = y0 + 1;
      const o = (y * width + x) * 3;
      const inside = x0 >= 0 && y0 >= 0 && x1 < w && y1 < h;
      if (inside) {
        const i00 = (y0 * w + x0) * 3, i10 = i00 + 3, i01 = i00 + w * 3, i11 = i01 + 3;
        for (let c = 0; c < 3; c++) {
          out[o + c] = ((1 - ay) * ((1 - ax) * data[i00 + c]! + ax * data[i10 + c]!) + ay * ((1 - ax) * data[i01 + c]! + ax * data[i11 + c]!) + 0.5) | 0;
        }
        continue;
      }
      if (!constant) {
        x0 = reflect(x0, w);
        x1 = reflect(x1, w);
        y0 = reflect(y0, h);
        y1 = reflect(y1, h);
        const i00 = (y0 * w + x0) * 3, i10 = (y0 * w + x1) * 3, i01 = (y1 * w + x0) * 3, i11 = (y1 * w + x1) * 3;
        for (let c = 0; c < 3; c++) {
          out[o + c] = ((1 - ay) * ((1 - ax) * data[i00 + c]! + ax * data[i10 + c]!) + ay * ((1 - ax) * data[i01 + c]! + ax * data[i11 + c]!) + 0.5) | 0;
        }
        continue;
      }
      // Constant border: the fill stands in for missing neighbours, so edges are blended, not jagged.
      const ok00 = x0 >= 0 && y0 >= 0 && x0 < w && y0 < h;
      const ok10 = x1 >= 0 && y0 >= 0 && x1 < w && y0 < h;
      const ok01 = x0 >= 0 && y1 >= 0 && x0 < w && y1 < h;
      const ok11 = x1 >= 0 && y1 >= 0 && x1 < w && y1 < h;
      for (let c = 0; c < 3; c++) {
        const v00 = ok00 ? data[(y0 * w + x0) * 3 + c]! : fill[c]!;
        const v10 = ok10 ? data[(y0 * w + x1) * 3 + c]! : fill[c]!;
        const v01 = ok01 ? data[(y1 * w + x0) * 3 + c]! : fill[c]!;
        const v11 = ok11 ? data[(y1 * w + x1) * 3 + c]! : fill[c]!;
        out[o + c] = ((1 - ay) * ((1 - ax) * v00 + ax * v10) + ay * ((1 - ax) * v01 + ax * v11) + 0.5) | 0;
      }
    }
  }
  return { data: out, width, height };
}

/** Bilinear resize (area-averaging by 2× steps first when shrinking a lot, so small outputs do not alias). */
export function resizeBilinear(src: RgbImage, width: number, height: number): RgbImage {
  let img = src;
  while (img.width >= 2 * width && img.height >= 2 * height) img = halve(img);
  return warp(img, width, height, [img.width / width, 0, 0, 0, img.height / height, 0, 0, 0, 1], 'reflect');
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

/** The homography taking four points `from` to four points `to` (direct linear solve, h33 = 1). */
export function homography(from: [number, number][], to: [number, number][]): Matrix3 {
  const A: number[][] = [];
  const b: number[] = [];
  for (let i = 0; i < 4; i++) {
    const [x, y] = from[i]!;
    const [u, v] = to[i]!;
    A.push([x, y, 1, 0, 0, 0, -u * x, -u * y]);
    b.push(u);
    A.push([0, 0, 0, x, y, 1, -v * x, -v * y]);
    b.push(v);
  }
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
  const h = b.map((v, i) => v / A[i]![i]!);
  return [h[0]!, h[1]!, h[2]!, h[3]!, h[4]!, h[5]!, h[6]!, h[7]!, 1];
}

/**
 * Inverse of "rotate by angle (degrees) and scale about (cx, cy), then shift by (dx, dy)": output → source.
 */
export function affineAbout(cx: number, cy: number, angleDeg: number, scale: number, dx: number, dy: number): Matrix3 {
  const a = (angleDeg * Math.PI) / 180;
  const cos = Math.cos(a) / scale;
  const sin = Math.sin(a) / scale;
  // source = R⁻¹S⁻¹(p − c − d) + c
  const tx = -cx - dx;
  const ty = -cy - dy;
  return [cos, sin, cos * tx + sin * ty + cx, -sin, cos, -sin * tx + cos * ty + cy, 0, 0, 1];
}
