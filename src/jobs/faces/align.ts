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

/**
 * dlib's mean face shape: the average positions of the iBUG points 17–67 in a unit square (dlib's
 * `get_face_chip_details`, image_transforms/interpolation.h), which dlib's face recognition ResNet was trained on.
 */
const DLIB_MEAN_FACE_X = [
  0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124, 0.904991, 0.98004, 0.490127, 0.490127, 0.490127, 0.490127, 0.36688, 0.426036,
  0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918, 0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149,
  0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721, 0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874,
  0.553364, 0.490127, 0.42689,
];
const DLIB_MEAN_FACE_Y = [
  0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915, 0.106454, 0.203352, 0.307009, 0.409805, 0.515625, 0.587326,
  0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733, 0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099,
  0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805, 0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746,
  0.784792, 0.824182, 0.831803, 0.824182,
];

/** An alignment: which of the 68 landmarks (or the 5 points) land where on a size×size chip. */
export interface AlignmentTemplate {
  size: number;
  /** Indices into the 68 landmarks, or 'five' for `fivePointsFrom68`. */
  points: number[] | 'five';
  target: Point[];
  /**
   * Which way the least-squares similarity is fitted: dlib fits chip → image (find_similarity_transform from the
   * template to the landmarks), insightface fits image → chip (skimage's estimate, then warpAffine).
   */
  fit: 'chip-to-image' | 'image-to-chip';
}

/** dlib's 5-point template (eye corners, base of the nose) on the unit square, and the iBUG landmarks they are. */
const DLIB_FIVE: ReadonlyArray<[number, number, number]> = [
  [45, 0.8595674595992, 0.2134981538014],
  [42, 0.6460604764104, 0.2289674387677],
  [36, 0.1205750620789, 0.2137274526848],
  [39, 0.3340850613712, 0.2290642403242],
  [33, 0.4901123135679, 0.6277975316475],
];

/**
 * dlib's face chip (get_face_chip_details): with `points: 'mean-face'` the 68-point form — nose, eyes and mouth
 * (points 27–54 and 60–64; the jaw, eyebrows and lower lip are left out) onto the mean face shape — or with
 * `points: 'five'` the 5-point form (eye corners and the base of the nose, the points of dlib's 5-point predictor);
 * `padding` around it (dlib's face recognition example: 150 px, padding 0.25).
 */
export function dlibChipTemplate(size = 150, padding = 0.25, points: 'mean-face' | 'five' = 'mean-face'): AlignmentTemplate {
  const at = (x: number, y: number): Point => [((padding + x) / (2 * padding + 1)) * size, ((padding + y) / (2 * padding + 1)) * size];
  if (points === 'five') return { size, points: DLIB_FIVE.map((p) => p[0]), target: DLIB_FIVE.map((p) => at(p[1], p[2])), fit: 'chip-to-image' };
  const idx: number[] = [];
  const target: Point[] = [];
  for (let i = 27; i <= 67; i++) {
    if ((i >= 55 && i <= 59) || i >= 65) continue;
    idx.push(i);
    target.push(at(DLIB_MEAN_FACE_X[i - 17]!, DLIB_MEAN_FACE_Y[i - 17]!));
  }
  return { size, points: idx, target, fit: 'chip-to-image' };
}

/** insightface's 5-point alignment onto ArcFace's canonical template (scaled from 112 to `size`, optional zoom). */
export function arcfaceChipTemplate(size = 112, zoom = 1): AlignmentTemplate {
  return { size, points: 'five', target: faceTemplate(size, zoom), fit: 'image-to-chip' };
}

/** The template zoomed by `zoom` about the chip centre (zoom < 1 shows more of the head, > 1 less). */
export function zoomTemplate(template: AlignmentTemplate, zoom: number): AlignmentTemplate {
  if (zoom === 1) return template;
  const c = template.size / 2;
  return { ...template, target: template.target.map(([x, y]) => [c + (x - c) * zoom, c + (y - c) * zoom]) };
}

/** The chip → image transform that `template` gives for these 68 landmarks. */
export function chipToImageTransform(landmarks: readonly Point[], template: AlignmentTemplate): Affine {
  const src = template.points === 'five' ? fivePointsFrom68(landmarks) : template.points.map((i) => landmarks[i]!);
  if (src.length !== template.target.length) throw new VisidError('E_INPUT', `template has ${template.target.length} points, got ${src.length}`);
  return template.fit === 'chip-to-image' ? similarityTransform(template.target, src) : invertAffine(similarityTransform(src, template.target));
}

/**
 * Samples `image` bilinearly at chipToImage(u, v) for every pixel of a width×height output and writes it as float
 * planes (CHW) into `out` at `offset`; samples outside the image are 0 (black), as dlib's extract_image_chip and a
 * zero-padded canvas give. `mirror` flips the output left–right.
 */
export function sampleChw(image: RgbImage, chipToImage: Affine, width: number, height: number, out: Float32Array, offset = 0, mirror = false): void {
  const { data, width: w, height: h } = image;
  const plane = width * height;
  const [a, b, c, d, e, f] = chipToImage;
  for (let v = 0; v < height; v++) {
    for (let u0 = 0; u0 < width; u0++) {
      const u = mirror ? width - 1 - u0 : u0;
      const x = a * u + b * v + c;
      const y = d * u + e * v + f;
      const o = offset + v * width + u0;
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      const fx = x - x0;
      const fy = y - y0;
      let r = 0, gg = 0, bb = 0;
      // Four neighbours, each counted only when inside the image.
      for (let k = 0; k < 4; k++) {
        const xx = x0 + (k & 1);
        const yy = y0 + (k >> 1);
        if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
        const wgt = (k & 1 ? fx : 1 - fx) * (k >> 1 ? fy : 1 - fy);
        const p = 3 * (yy * w + xx);
        r += wgt * data[p]!;
        gg += wgt * data[p + 1]!;
        bb += wgt * data[p + 2]!;
      }
      out[o] = r;
      out[o + plane] = gg;
      out[o + 2 * plane] = bb;
    }
  }
}
