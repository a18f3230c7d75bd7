// Local verification of candidate matches (copy detection's re-ranking stage, issue 16 §3): binary keypoints (ORB or
// AKAZE) of both images, Hamming nearest neighbours with Lowe's ratio test, then a RANSAC homography; the inlier count says how much
// of one picture reappears, geometrically consistent, in the other. A crop, a rotation, a perspective warp, padding
// or a paste onto another photo keep many inliers where a global descriptor may have drifted; two different photos
// keep almost none. OpenCV (its official wasm build, npm @techstark/opencv-js) does the keypoints, the matching and
// RANSAC.
import { createRequire } from 'node:module';
import { VisidError } from '../util/errors.js';

/** Which keypoint detector and binary descriptor: ORB (FAST corners, 256-bit BRIEF) or AKAZE (nonlinear scale space, 486-bit MLDB). */
export type LocalDetector = 'orb' | 'akaze';

/** Local features of one image: keypoint positions (x, y pairs) and binary descriptors, `bytes` per row. */
export interface LocalFeatures {
  count: number;
  points: Float32Array;
  descriptors: Uint8Array;
  /** Bytes per descriptor (32 for ORB, 61 for AKAZE). */
  bytes: number;
  width: number;
  height: number;
}
export interface FeatureOptions {
  detector?: LocalDetector;
  /** At most this many keypoints, the strongest kept (default 500). */
  features?: number;
  /** AKAZE's detector response threshold (default 0.0003; OpenCV's 0.001 finds too few on blurred or upscaled copies). */
  threshold?: number;
}

export interface VerifyOptions {
  /** Lowe's ratio: a match is kept when its distance is below ratio × the second best's (default 0.8). */
  ratio?: number;
  /** RANSAC reprojection threshold in pixels of the images as given (default 6). */
  reprojection?: number;
  /**
   * Keep only mutual nearest neighbours, count one match per 3-pixel cell pair, and refuse degenerate homographies
   * (default true). Without these, pairs of unrelated photos reach 20+ "inliers" (repeated keypoints of a pyramid,
   * one-sided matches, homographies that squash everything onto a line); with them, on 960 unrelated LFW pairs the
   * most was 9 while true copies kept theirs.
   */
  strict?: boolean;
}

// opencv.js is an Emscripten module whose object is a thenable that never settles to a plain value: it is kept in
// a wrapper and never returned from an async function or awaited itself.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Cv = any;
let opencv: Promise<{ cv: Cv }> | undefined;

/** Loads OpenCV's wasm build once (≈ 0.3 s). */
export function loadOpenCv(): Promise<{ cv: Cv }> {
  opencv ??= new Promise((resolve, reject) => {
    // Its Node glue installs process-wide 'uncaughtException' / 'unhandledRejection' handlers (the latter aborts the
    // wasm runtime): visid's own error handling must stay in charge, so whatever it adds is taken off again.
    const before = { exception: new Set(process.listeners('uncaughtException')), rejection: new Set(process.listeners('unhandledRejection')) };
    const cv = createRequire(import.meta.url)('@techstark/opencv-js') as Cv;
    for (const l of process.listeners('uncaughtException')) if (!before.exception.has(l)) process.removeListener('uncaughtException', l);
    for (const l of process.listeners('unhandledRejection')) if (!before.rejection.has(l)) process.removeListener('unhandledRejection', l);
    const timer = setTimeout(() => reject(new VisidError('E_MODEL', 'OpenCV (wasm) did not initialise within 60 s')), 60_000);
    const ready = () => (clearTimeout(timer), resolve({ cv }));
    if (cv.Mat) ready();
    else cv.onRuntimeInitialized = ready;
  });
  return opencv;
}

/** Keypoints and binary descriptors of a grey image (`width` × `height` bytes). */
export async function localFeatures(grey: Uint8Array, width: number, height: number, o: FeatureOptions = {}): Promise<LocalFeatures> {
  if (grey.length !== width * height) throw new VisidError('E_DIM', `grey image of ${grey.length} bytes is not ${width} × ${height}`);
  const { cv } = await loadOpenCv();
  const max = o.features ?? 500;
  const img = new cv.Mat(height, width, cv.CV_8UC1);
  const detector = o.detector === 'akaze' ? new cv.AKAZE() : new cv.ORB(max);
  const keypoints = new cv.KeyPointVector();
  const des = new cv.Mat();
  const mask = new cv.Mat();
  try {
    img.data.set(grey);
    if (o.detector === 'akaze') detector.setThreshold(o.threshold ?? 0.0003);
    detector.detectAndCompute(img, mask, keypoints, des);
    const found = des.rows;
    const bytes = des.cols || (o.detector === 'akaze' ? 61 : 32);
    const response = new Float32Array(found);
    const at = new Float32Array(2 * found);
    for (let i = 0; i < found; i++) {
      const kp = keypoints.get(i);
      at[2 * i] = kp.pt.x;
      at[2 * i + 1] = kp.pt.y;
      response[i] = kp.response;
    }
    // The strongest `max` (ORB already stops at max; AKAZE has no cap of its own).
    const order = Array.from({ length: found }, (_, i) => i);
    if (found > max) order.sort((a, b) => response[b]! - response[a]! || a - b).length = max;
    const count = order.length;
    const all = found > 0 ? (des.data as Uint8Array) : new Uint8Array(0);
    const points = new Float32Array(2 * count);
    const descriptors = new Uint8Array(count * bytes);
    order.forEach((src, i) => {
      points[2 * i] = at[2 * src]!;
      points[2 * i + 1] = at[2 * src + 1]!;
      descriptors.set(all.subarray(src * bytes, (src + 1) * bytes), i * bytes);
    });
    return { count, points, descriptors, bytes, width, height };
  } finally {
    for (const m of [img, detector, keypoints, des, mask]) m.delete();
  }
}

/** ORB keypoints and descriptors of a grey image. */
export function orbFeatures(grey: Uint8Array, width: number, height: number, nFeatures = 500): Promise<LocalFeatures> {
  return localFeatures(grey, width, height, { detector: 'orb', features: nFeatures });
}

/** A homography a real copy can have: orientation kept or mirrored, area scaled within 1/50–50, mild perspective. */
function plausibleHomography(h: Float64Array): boolean {
  const det = h[0]! * h[4]! - h[1]! * h[3]!;
  return Number.isFinite(det) && Math.abs(det) > 0.02 && Math.abs(det) < 50 && Math.abs(h[6]!) < 0.01 && Math.abs(h[7]!) < 0.01;
}

/**
 * Geometrically consistent matches between two images' features: ratio-tested nearest neighbours (a → b; mutual
 * when strict) that a RANSAC homography keeps as inliers; 0 when fewer than 8 matches survive the ratio test.
 */
export async function verifiedMatches(a: LocalFeatures, b: LocalFeatures, o: VerifyOptions = {}): Promise<number> {
  return (await verify(a, b, o, false)).inliers;
}

/** The inlier matches themselves, for drawing: `pairs` holds ax, ay, bx, by per inlier (in the features' pixels). */
export interface InlierMatches {
  inliers: number;
  pairs: Float32Array;
}

/** `verifiedMatches` with the inlier correspondences it counted (the same count). */
export function verifiedMatchPairs(a: LocalFeatures, b: LocalFeatures, o: VerifyOptions = {}): Promise<InlierMatches> {
  return verify(a, b, o, true);
}

const NONE: InlierMatches = { inliers: 0, pairs: new Float32Array(0) };

async function verify(a: LocalFeatures, b: LocalFeatures, o: VerifyOptions, keepPairs: boolean): Promise<InlierMatches> {
  if (a.count < 8 || b.count < 8) return NONE;
  if (a.bytes !== b.bytes) throw new VisidError('E_DIM', `local features of ${a.bytes} and ${b.bytes} bytes cannot be matched (different detectors)`);
  const { cv } = await loadOpenCv();
  const ratio = o.ratio ?? 0.8;
  const strict = o.strict !== false;
  const da = new cv.Mat(a.count, a.bytes, cv.CV_8U);
  const db = new cv.Mat(b.count, b.bytes, cv.CV_8U);
  const matcher = new cv.BFMatcher(cv.NORM_HAMMING, false);
  const knn = new cv.DMatchVectorVector();
  const held: Array<{ delete(): void }> = [da, db, matcher, knn];
  try {
    da.data.set(a.descriptors);
    db.data.set(b.descriptors);
    matcher.knnMatch(da, db, knn, 2);
    let back: Int32Array | undefined;
    if (strict) {
      // b's nearest in a, for the mutual check.
      back = new Int32Array(b.count).fill(-1);
      const reverse = new cv.DMatchVectorVector();
      held.push(reverse);
      matcher.knnMatch(db, da, reverse, 1);
      for (let i = 0; i < reverse.size(); i++) {
        const one = reverse.get(i);
        if (one.size() > 0) back[i] = one.get(0).trainIdx;
        one.delete();
      }
    }
    const src: number[] = [];
    const dst: number[] = [];
    const cells = new Set<string>();
    for (let i = 0; i < knn.size(); i++) {
      // Each get() hands out a new wasm-side vector: deleted at once, or the 1 GiB wasm heap fills after ~10⁵ pairs.
      const pair = knn.get(i);
      const size = pair.size();
      const m = size >= 2 ? pair.get(0) : undefined;
      const n = size >= 2 ? pair.get(1) : undefined;
      pair.delete();
      if (!m || !n || !(m.distance < ratio * n.distance)) continue;
      if (back && back[m.trainIdx] !== m.queryIdx) continue;
      const ax = a.points[2 * m.queryIdx]!;
      const ay = a.points[2 * m.queryIdx + 1]!;
      const bx = b.points[2 * m.trainIdx]!;
      const by = b.points[2 * m.trainIdx + 1]!;
      if (strict) {
        // Keypoints found again at the next pyramid level sit on the same spot: one vote per cell pair.
        const cell = `${Math.round(ax / 3)},${Math.round(ay / 3)},${Math.round(bx / 3)},${Math.round(by / 3)}`;
        if (cells.has(cell)) continue;
        cells.add(cell);
      }
      src.push(ax, ay);
      dst.push(bx, by);
    }
    const good = src.length / 2;
    if (good < 8) return NONE;
    const s = cv.matFromArray(good, 1, cv.CV_32FC2, src);
    const d = cv.matFromArray(good, 1, cv.CV_32FC2, dst);
    const inliers = new cv.Mat();
    held.push(s, d, inliers);
    const h = cv.findHomography(s, d, cv.RANSAC, o.reprojection ?? 6, inliers);
    held.push(h);
    if (h.empty() || (strict && !plausibleHomography(h.data64F as Float64Array))) return NONE;
    let count = 0;
    for (let i = 0; i < inliers.rows; i++) if (inliers.data[i]) count++;
    if (!keepPairs) return { inliers: count, pairs: NONE.pairs };
    const pairs = new Float32Array(4 * count);
    for (let i = 0, k = 0; i < inliers.rows; i++) {
      if (!inliers.data[i]) continue;
      pairs.set([src[2 * i]!, src[2 * i + 1]!, dst[2 * i]!, dst[2 * i + 1]!], 4 * k++);
    }
    return { inliers: count, pairs };
  } finally {
    for (const m of held) m.delete();
  }
}
