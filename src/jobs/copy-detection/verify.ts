// The local-verification stage of copy detection (issue 16 §3): each query's top-k candidates from the descriptor
// search are checked by ORB keypoints + RANSAC (search/geometric-verification.ts), and a geometrically verified pair
// gains a bonus that grows with its inlier count. Inlier counts mean the same for every query, so the bonus also
// makes scores comparable across queries, which µAP's single global ranking rewards.
import sharp from 'sharp';
import { assertRegularFile, DEFAULT_MAX_PIXELS } from '../../images/decode.js';
import { VisidError } from '../../util/errors.js';
import { createProgress } from '../../util/progress.js';
import type { CopyMatch } from '../../eval/copy-detection.js';
import { orbFeatures, verifiedMatches, type OrbFeatures } from '../../search/geometric-verification.js';
import { KeypointVoteIndex } from '../../search/keypoint-index.js';

export interface LocalVerifyOptions {
  /** Candidates verified per query (default 10). */
  topK?: number;
  /** Inliers below this count earn nothing: chance homographies on unrelated photos stay under it (default 12). */
  minInliers?: number;
  /** Inliers at which the bonus is full (default 60). */
  saturation?: number;
  /** The full bonus added to the score (default 1). */
  weight?: number;
  /** Keypoints are found on images scaled to fit this side (default 256). */
  maxSide?: number;
  /** ORB keypoints per image (default 500). */
  features?: number;
  /** Also match the mirrored query (ORB is not mirror-invariant; default true). */
  mirror?: boolean;
  /**
   * Also verify the references that most of the query's keypoints vote for (search/keypoint-index.ts), this many a
   * query: copies the descriptor lost (small crops, pastes, rotations) come back this way. Needs `refIds`.
   */
  keypointCandidates?: number;
  /** Every reference id (what the keypoint index holds). */
  refIds?: string[];
  threads?: number;
  /** Verify only these queries (the others keep their matches as they are). */
  onlyQueries?: Set<string>;
  quiet?: boolean;
}

/** Grey pixels of an image scaled to fit `maxSide`. */
async function grey(file: string, name: string, maxSide: number): Promise<{ data: Uint8Array; width: number; height: number }> {
  await assertRegularFile(file, name);
  try {
    const p = sharp(file, { limitInputPixels: DEFAULT_MAX_PIXELS, failOn: 'truncated', pages: 1, autoOrient: true }).greyscale().resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true });
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

type FeatureOptions = Required<Pick<LocalVerifyOptions, 'maxSide' | 'features'>>;

async function features(file: string, name: string, o: FeatureOptions): Promise<OrbFeatures> {
  const g = await grey(file, name, o.maxSide);
  return orbFeatures(g.data, g.width, g.height, o.features);
}

/** A query's features, and its mirrored image's (decoded once). */
async function queryFeatures(file: string, name: string, o: FeatureOptions, mirror: boolean): Promise<{ plain: OrbFeatures; mirror?: OrbFeatures }> {
  const g = await grey(file, name, o.maxSide);
  const plain = await orbFeatures(g.data, g.width, g.height, o.features);
  return { plain, ...(mirror ? { mirror: await orbFeatures(mirrored(g), g.width, g.height, o.features) } : {}) };
}

/** The bonus for `inliers` verified matches: 0 below minInliers, then linear up to `weight` at saturation. */
export function verificationBonus(inliers: number, o: Pick<LocalVerifyOptions, 'minInliers' | 'saturation' | 'weight'> = {}): number {
  const min = o.minInliers ?? 12;
  const sat = o.saturation ?? 60;
  return inliers < min ? 0 : (o.weight ?? 1) * Math.min(1, inliers / sat);
}

/**
 * Re-scores each query's top-k matches by local verification; other matches keep their scores. `queryPath` and
 * `refPath` map an id to its image file.
 */
export async function verifyMatches(matches: CopyMatch[], queryPath: (id: string) => string, refPath: (id: string) => string, o: LocalVerifyOptions = {}): Promise<{ matches: CopyMatch[]; verifiedPairs: number; seconds: number }> {
  const t0 = performance.now();
  const topK = o.topK ?? 10;
  const opts = { maxSide: o.maxSide ?? 256, features: o.features ?? 500 };
  const byQuery = new Map<string, CopyMatch[]>();
  for (const m of matches) (byQuery.get(m.query) ?? byQuery.set(m.query, []).get(m.query)!).push(m);
  const refFeatures = new Map<string, Promise<OrbFeatures>>();
  const refOf = (id: string) => refFeatures.get(id) ?? refFeatures.set(id, features(refPath(id), id, opts)).get(id)!;
  let keypoints: KeypointVoteIndex | undefined;
  if (o.keypointCandidates) {
    if (!o.refIds?.length) throw new VisidError('E_INPUT', 'keypoint candidates need the reference ids');
    const p = createProgress({ label: 'reference keypoints', total: o.refIds.length, unit: 'img', quiet: o.quiet });
    const all: OrbFeatures[] = [];
    for (const id of o.refIds) {
      all.push(await refOf(id));
      p.tick(1);
    }
    p.done();
    keypoints = KeypointVoteIndex.build(all, o.refIds, { threads: o.threads });
  }
  const out: CopyMatch[] = [];
  let pairs = 0;
  const progress = createProgress({ label: 'local verification', total: o.onlyQueries ? [...byQuery.keys()].filter((q) => o.onlyQueries!.has(q)).length : byQuery.size, unit: 'queries', quiet: o.quiet });
  for (const [query, list] of byQuery) {
    if (o.onlyQueries && !o.onlyQueries.has(query)) {
      out.push(...list);
      continue;
    }
    const ranked = [...list].sort((a, b) => b.score - a.score);
    const { plain: q, mirror: qm } = await queryFeatures(queryPath(query), query, opts, o.mirror !== false);
    let head = ranked.slice(0, topK);
    let tail = ranked.slice(topK);
    if (keypoints) {
      // Voted references join the candidates: with their own score when the descriptor ranked them lower, else
      // with the query's lowest score (unverified, they stay at the bottom).
      const floor = ranked.length ? ranked.at(-1)!.score : 0;
      const inHead = new Set(head.map((m) => m.reference));
      const voted = keypoints.search(qm ? [q, qm] : q, o.keypointCandidates!).map((v) => v.id).filter((id) => !inHead.has(id));
      const fromTail = new Set(voted);
      head = [...head, ...voted.map((id) => tail.find((m) => m.reference === id) ?? { query, reference: id, score: floor })];
      tail = tail.filter((m) => !fromTail.has(m.reference));
    }
    for (const m of head) {
      const r = await refOf(m.reference);
      let inliers = await verifiedMatches(q, r);
      if (qm) inliers = Math.max(inliers, await verifiedMatches(qm, r));
      pairs++;
      out.push({ ...m, score: m.score + verificationBonus(inliers, o) });
    }
    out.push(...tail);
    progress.tick(1);
  }
  progress.done();
  return { matches: out, verifiedPairs: pairs, seconds: (performance.now() - t0) / 1000 };
}
