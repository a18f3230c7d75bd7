// The evidence of a verified copy, drawn: the query beside its reference with a line between the two ends of every
// RANSAC inlier — the same keypoints, matching and homography local verification counts (verify.ts), so the picture
// shows the pair's inlier count.
import sharp from 'sharp';
import { writeFileAtomic } from '../../util/atomic.js';
import { verifiedMatchPairs, type InlierMatches, type LocalFeatures } from '../../search/geometric-verification.js';
import { imageFeatures, queryFeatures } from './local-features.js';
import { featureOptionsOf, type LocalVerifyOptions } from './verify.js';

export interface InlierDrawing {
  /** The pair's inliers (= its inlier count in verification). */
  inliers: number;
  /** Lines drawn: every inlier, or `maxLines` of them evenly spread. */
  drawn: number;
  /** True when the mirrored query matched better (its lines are drawn on the query as it is). */
  mirrored: boolean;
  width: number;
  height: number;
}

/** Inliers of a query file against a reference file, the better of the query and its mirror (as verification takes them). */
export async function inlierMatches(queryFile: string, refFile: string, o: Pick<LocalVerifyOptions, 'maxSide' | 'features' | 'detector' | 'threshold' | 'mirror'> = {}): Promise<InlierMatches & { mirrored: boolean; query: LocalFeatures; reference: LocalFeatures }> {
  const opts = featureOptionsOf(o);
  const q = await queryFeatures(queryFile, queryFile, opts, o.mirror !== false);
  const reference = await imageFeatures(refFile, refFile, opts);
  const plain = await verifiedMatchPairs(q.plain, reference);
  const mirror = q.mirror ? await verifiedMatchPairs(q.mirror, reference) : undefined;
  if (mirror && mirror.inliers > plain.inliers) {
    // Back to the query's own frame: x ↦ width − 1 − x.
    const pairs = Float32Array.from(mirror.pairs);
    for (let i = 0; i < pairs.length; i += 4) pairs[i] = q.plain.width - 1 - pairs[i]!;
    return { inliers: mirror.inliers, pairs, mirrored: true, query: q.plain, reference };
  }
  return { ...plain, mirrored: false, query: q.plain, reference };
}

/**
 * Writes the query (left) and the reference (right), both `height` pixels high (default 300), with a line for every
 * inlier — at most `maxLines` (default 100) evenly spread, so that a pair with hundreds stays legible — as JPEG (PNG
 * for a .png `out`). Returns what was drawn.
 */
export async function drawInliers(queryFile: string, refFile: string, out: string, o: Parameters<typeof inlierMatches>[2] & { height?: number; maxLines?: number } = {}): Promise<InlierDrawing> {
  const m = await inlierMatches(queryFile, refFile, o);
  const h = o.height ?? 300;
  const gap = 16;
  const scaled = async (file: string) => {
    const { data, info } = await sharp(file, { autoOrient: true }).resize({ height: h }).flatten({ background: '#ffffff' }).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    return { input: data, raw: { width: info.width, height: info.height, channels: info.channels as 3 } };
  };
  const [qi, ri] = [await scaled(queryFile), await scaled(refFile)];
  const width = qi.raw.width + gap + ri.raw.width;
  // Feature coordinates are in the images as fitted for keypoints; the drawing's scales differ per image.
  const [qs, rs] = [qi.raw.width / m.query.width, ri.raw.width / m.reference.width];
  const lines: string[] = [];
  const drawn = Math.min(m.inliers, o.maxLines ?? 100);
  for (let j = 0; j < drawn; j++) {
    const i = Math.floor((j * m.inliers) / drawn);
    const [ax, ay, bx, by] = [m.pairs[4 * i]! * qs, m.pairs[4 * i + 1]! * qs, qi.raw.width + gap + m.pairs[4 * i + 2]! * rs, m.pairs[4 * i + 3]! * rs];
    const colour = `hsl(${Math.round((j * 137.5) % 360)},85%,50%)`;
    lines.push(`<line x1="${ax.toFixed(1)}" y1="${ay.toFixed(1)}" x2="${bx.toFixed(1)}" y2="${by.toFixed(1)}" stroke="${colour}" stroke-width="1.2" stroke-opacity="0.85"/>` +
      `<circle cx="${ax.toFixed(1)}" cy="${ay.toFixed(1)}" r="2.2" fill="${colour}"/><circle cx="${bx.toFixed(1)}" cy="${by.toFixed(1)}" r="2.2" fill="${colour}"/>`);
  }
  const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h}">${lines.join('')}</svg>`);
  const canvas = sharp({ create: { width, height: h, channels: 3, background: '#ffffff' } }).composite([
    { ...qi, left: 0, top: 0 },
    { ...ri, left: qi.raw.width + gap, top: 0 },
    { input: svg, left: 0, top: 0 },
  ]);
  await writeFileAtomic(out, /\.png$/i.test(out) ? await canvas.png().toBuffer() : await canvas.jpeg({ quality: 85 }).toBuffer());
  return { inliers: m.inliers, drawn, mirrored: m.mirrored, width, height: h };
}
