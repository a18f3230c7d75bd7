// Local verification of candidate matches (copy detection's re-ranking stage, issue 16 §3): ORB keypoints of both
// images, Hamming nearest neighbours with Lowe's ratio test, then a RANSAC homography; the inlier count says how much
// of one picture reappears, geometrically consistent, in the other. A crop, a rotation, a perspective warp, padding
// or a paste onto another photo keep many inliers where a global descriptor may have drifted; two different photos
// keep almost none. OpenCV (its official wasm build, npm @techstark/opencv-js) does the keypoints, the matching and
// RANSAC.
import { createRequire } from 'node:module';
import { VisidError } from '../util/errors.js';

/** ORB features of one image: keypoint positions (x, y pairs) and 32-byte binary descriptors, row by row. */
export interface OrbFeatures {
  count: number;
  points: Float32Array;
  descriptors: Uint8Array;
  width: number;
  height: number;
}

export interface VerifyOptions {
  /** Lowe's ratio: a match is kept when its distance is below ratio × the second best's (default 0.8). */
  ratio?: number;
  /** RANSAC reprojection threshold in pixels of the images as given (default 6). */
  reprojection?: number;
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

/** ORB keypoints and descriptors of a grey image (`width` × `height` bytes). */
export async function orbFeatures(grey: Uint8Array, width: number, height: number, nFeatures = 500): Promise<OrbFeatures> {
  if (grey.length !== width * height) throw new VisidError('E_DIM', `grey image of ${grey.length} bytes is not ${width} × ${height}`);
  const { cv } = await loadOpenCv();
  const img = new cv.Mat(height, width, cv.CV_8UC1);
  const orb = new cv.ORB(nFeatures);
  const keypoints = new cv.KeyPointVector();
  const des = new cv.Mat();
  const mask = new cv.Mat();
  try {
    img.data.set(grey);
    orb.detectAndCompute(img, mask, keypoints, des);
    const count = des.rows;
    const points = new Float32Array(2 * count);
    for (let i = 0; i < count; i++) {
      const kp = keypoints.get(i);
      points[2 * i] = kp.pt.x;
      points[2 * i + 1] = kp.pt.y;
    }
    return { count, points, descriptors: count > 0 ? Uint8Array.from(des.data as Uint8Array) : new Uint8Array(0), width, height };
  } finally {
    for (const m of [img, orb, keypoints, des, mask]) m.delete();
  }
}

/**
 * Geometrically consistent matches between two images' features: ratio-tested nearest neighbours (a → b) that a
 * RANSAC homography keeps as inliers; 0 when fewer than 8 matches survive the ratio test.
 */
export async function verifiedMatches(a: OrbFeatures, b: OrbFeatures, o: VerifyOptions = {}): Promise<number> {
  if (a.count < 8 || b.count < 8) return 0;
  const { cv } = await loadOpenCv();
  const ratio = o.ratio ?? 0.8;
  const da = new cv.Mat(a.count, 32, cv.CV_8U);
  const db = new cv.Mat(b.count, 32, cv.CV_8U);
  const matcher = new cv.BFMatcher(cv.NORM_HAMMING, false);
  const knn = new cv.DMatchVectorVector();
  const held: Array<{ delete(): void }> = [da, db, matcher, knn];
  try {
    da.data.set(a.descriptors);
    db.data.set(b.descriptors);
    matcher.knnMatch(da, db, knn, 2);
    const src: number[] = [];
    const dst: number[] = [];
    for (let i = 0; i < knn.size(); i++) {
      // Each get() hands out a new wasm-side vector: deleted at once, or the 1 GiB wasm heap fills after ~10⁵ pairs.
      const pair = knn.get(i);
      const size = pair.size();
      const m = size >= 2 ? pair.get(0) : undefined;
      const n = size >= 2 ? pair.get(1) : undefined;
      pair.delete();
      if (!m || !n) continue;
      if (m.distance < ratio * n.distance) {
        src.push(a.points[2 * m.queryIdx]!, a.points[2 * m.queryIdx + 1]!);
        dst.push(b.points[2 * m.trainIdx]!, b.points[2 * m.trainIdx + 1]!);
      }
    }
    const good = src.length / 2;
    if (good < 8) return 0;
    const s = cv.matFromArray(good, 1, cv.CV_32FC2, src);
    const d = cv.matFromArray(good, 1, cv.CV_32FC2, dst);
    const inliers = new cv.Mat();
    held.push(s, d, inliers);
    const h = cv.findHomography(s, d, cv.RANSAC, o.reprojection ?? 6, inliers);
    held.push(h);
    if (h.empty()) return 0;
    let count = 0;
    for (let i = 0; i < inliers.rows; i++) if (inliers.data[i]) count++;
    return count;
  } finally {
    for (const m of held) m.delete();
  }
}
