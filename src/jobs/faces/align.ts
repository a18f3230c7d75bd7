// Face alignment maths: 5 points from 68 landmarks, least-squares similarity transform, bilinear warp to a chip.
import { VisidError } from '../../util/errors.js';
import type { RgbImage } from '../../images/decode.js';

export type Point = [number, number];

/** A 2×3 affine matrix [[a, b, tx], [c, d, ty]] mapping (x, y) to (a·x + b·y + tx, c·x + d·y + ty). */
export type Affine = [number, number, number, number, number, number];

/**
 * The five alignment points from the iBUG 68-point layout: left-eye centre (mean of 36–41), right-eye centre
 * (42–47), nose tip (30), left and right mouth corners (48, 54). "Left" is the image's left.
 */
export function fivePointsFrom68(landmarks: readonly Point[]): Point[] {
  if (landmarks.length !== 68) throw new VisidError('E_INPUT', `expected 68 landmarks, got ${landmarks.length}`);
  const mean = (from: number, to: number): Point => {
    let x = 0;
    let y = 0;
    for (let i = from; i <= to; i++) {
      x += landmarks[i]![0];
      y += landmarks[i]![1];
    }
    const n = to - from + 1;
    return [x / n, y / n];
  };
  return [mean(36, 41), mean(42, 47), landmarks[30]!, landmarks[48]!, landmarks[54]!];
}

/**
 * The similarity transform (rotation, uniform scale, translation; no reflection) that maps `src` onto `dst`
 * with the least squared error — Umeyama's solution, which in 2-D has the closed form
 * a = Σ(x̃·ỹ)/Σ|x̃|², b = Σ(x̃ × ỹ)/Σ|x̃|² on centred points, M = [[a, −b], [b, a]], t = μ_dst − M μ_src.
 */
export function similarityTransform(src: readonly Point[], dst: readonly Point[]): Affine {
  if (src.length !== dst.length || src.length < 2) throw new VisidError('E_INPUT', `need two equal sets of at least 2 points, got ${src.length} and ${dst.length}`);
  const n = src.length;
  let mx = 0, my = 0, nx = 0, ny = 0;
  for (let i = 0; i < n; i++) {
    mx += src[i]![0];
    my += src[i]![1];
    nx += dst[i]![0];
    ny += dst[i]![1];
  }
  mx /= n;
  my /= n;
  nx /= n;
  ny /= n;
  let dot = 0, cross = 0, norm = 0;
  for (let i = 0; i < n; i++) {
    const sx = src[i]![0] - mx, sy = src[i]![1] - my;
    const dx = dst[i]![0] - nx, dy = dst[i]![1] - ny;
    dot += sx * dx + sy * dy;
    cross += sx * dy - sy * dx;
    norm += sx * sx + sy * sy;
  }
  if (norm === 0) throw new VisidError('E_INPUT', 'source points are all identical');
  const a = dot / norm;
  const b = cross / norm;
  return [a, -b, nx - (a * mx - b * my), b, a, ny - (b * mx + a * my)];
}

export function applyAffine(m: Affine, p: Point): Point {
  return [m[0] * p[0] + m[1] * p[1] + m[2], m[3] * p[0] + m[4] * p[1] + m[5]];
}

export function invertAffine(m: Affine): Affine {
  const det = m[0] * m[4] - m[1] * m[3];
  if (det === 0) throw new VisidError('E_INPUT', 'transform is not invertible');
  const ia = m[4] / det, ib = -m[1] / det, ic = -m[3] / det, id = m[0] / det;
  return [ia, ib, -(ia * m[2] + ib * m[5]), ic, id, -(ic * m[2] + id * m[5])];
}

/**
 * Warps `image` by `forward` (image → chip coordinates, pixel centres at integers) into a width×height chip,
 * sampling bilinearly; samples outside the image take the nearest edge pixel.
 */
export function warpAffine(image: RgbImage, forward: Affine, width: number, height: number): RgbImage {
  const inv = invertAffine(forward);
  const out = new Uint8Array(width * height * 3);
  const { data, width: w, height: h } = image;
  for (let v = 0; v < height; v++) {
    for (let u = 0; u < width; u++) {
      const x = Math.min(Math.max(inv[0] * u + inv[1] * v + inv[2], 0), w - 1);
      const y = Math.min(Math.max(inv[3] * u + inv[4] * v + inv[5], 0), h - 1);
      const x0 = Math.floor(x), y0 = Math.floor(y);
      const x1 = Math.min(x0 + 1, w - 1), y1 = Math.min(y0 + 1, h - 1);
      const fx = x - x0, fy = y - y0;
      const o = 3 * (v * width + u);
      for (let c = 0; c < 3; c++) {
        const top = data[3 * (y0 * w + x0) + c]! * (1 - fx) + data[3 * (y0 * w + x1) + c]! * fx;
        const bottom = data[3 * (y1 * w + x0) + c]! * (1 - fx) + data[3 * (y1 * w + x1) + c]! * fx;
        out[o + c] = Math.round(top * (1 - fy) + bottom * fy);
      }
    }
  }
  return { data: out, width, height };
}

/** ArcFace's canonical 5 points on a 112×112 chip (insightface), the usual alignment template. */
export const ARCFACE_TEMPLATE_112: readonly Point[] = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

/**
 * The framing the shipped recognition net (dlib's ResNet via face-api) expects on its 150×150 chip: the mean
 * 5-point layout of the 69 faces in the shared deepface photos inside the detector's squared boxes, made
 * left-right symmetric. It places the face higher and larger than ArcFace's template.
 */
export const FACE_API_TEMPLATE_150: readonly Point[] = [
  [48.4, 55.9],
  [101.6, 55.9],
  [75.0, 88.25],
  [51.7, 111.9],
  [98.3, 111.9],
];

/**
 * A template for a `size`×`size` chip: `base` (given for a `baseSize` chip) scaled to `size` and by `zoom`
 * about the chip centre (zoom < 1 leaves more context around the face).
 */
export function faceTemplate(size: number, zoom = 1, base: readonly Point[] = ARCFACE_TEMPLATE_112, baseSize = 112): Point[] {
  return base.map(([x, y]) => [((x / baseSize - 0.5) * zoom + 0.5) * size, ((y / baseSize - 0.5) * zoom + 0.5) * size]);
}

/** Aligns the face with these 5 points into a size×size chip on `template` (default: ArcFace's, scaled). */
export function alignFace(image: RgbImage, five: readonly Point[], size: number, zoom = 1, template?: readonly Point[]): { chip: RgbImage; transform: Affine } {
  const transform = similarityTransform(five, template ?? faceTemplate(size, zoom));
  return { chip: warpAffine(image, transform, size, size), transform };
}
