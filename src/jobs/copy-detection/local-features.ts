// Local features of image files for copy detection's verification stage: decoded to grey at a fixed side, with the
// mirrored image's features too (binary descriptors are not mirror-invariant). Shared by the in-process path and
// the verification threads (verify-worker.ts).
import sharp from 'sharp';
import { assertRegularFile, DEFAULT_MAX_PIXELS } from '../../images/decode.js';
import { VisidError } from '../../util/errors.js';
import { localFeatures, verifiedMatches, type LocalDetector, type LocalFeatures, type VerifyOptions } from '../../search/geometric-verification.js';

export interface FeatureOptions {
  maxSide: number;
  features: number;
  detector: LocalDetector;
  /** AKAZE's response threshold (geometric-verification.ts' default when absent). */
  threshold?: number;
}

/** Grey pixels of an image scaled to fit `maxSide` (enlarged or reduced). */
async function grey(file: string, name: string, maxSide: number): Promise<{ data: Uint8Array; width: number; height: number }> {
  await assertRegularFile(file, name);
  try {
    const p = sharp(file, { limitInputPixels: DEFAULT_MAX_PIXELS, failOn: 'truncated', pages: 1, autoOrient: true }).greyscale().resize(maxSide, maxSide, { fit: 'inside' });
    const { data, info } = await p.extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, info.width * info.height), width: info.width, height: info.height };
  } catch (err) {
    throw new VisidError('E_IMAGE', `cannot read image for local verification: ${(err as Error).message}`, { item: name });
  }
}

/** The same pixels mirrored left to right. */
function mirrored(g: { data: Uint8Array; width: number; height: number }): Uint8Array {
  const out = new Uint8Array(g.data.length);
  for (let y = 0; y < g.height; y++) {
    const row = y * g.width;
    for (let x = 0; x < g.width; x++) out[row + x] = g.data[row + g.width - 1 - x]!;
  }
  return out;
}

/** One image's features. */
export async function imageFeatures(file: string, name: string, o: FeatureOptions): Promise<LocalFeatures> {
  const g = await grey(file, name, o.maxSide);
  return localFeatures(g.data, g.width, g.height, o);
}

/** A query's features, and its mirrored image's (decoded once). */
export async function queryFeatures(file: string, name: string, o: FeatureOptions, mirror: boolean): Promise<{ plain: LocalFeatures; mirror?: LocalFeatures }> {
  const g = await grey(file, name, o.maxSide);
  const plain = await localFeatures(g.data, g.width, g.height, o);
  return { plain, ...(mirror ? { mirror: await localFeatures(mirrored(g), g.width, g.height, o) } : {}) };
}

/** Inliers of the query (and its mirror: the better of the two) against each reference. */
export async function pairInliers(q: LocalFeatures, qm: LocalFeatures | undefined, refs: LocalFeatures[], o: VerifyOptions = {}): Promise<number[]> {
  const out: number[] = [];
  for (const r of refs) {
    let inliers = await verifiedMatches(q, r, o);
    if (qm) inliers = Math.max(inliers, await verifiedMatches(qm, r, o));
    out.push(inliers);
  }
  return out;
}
