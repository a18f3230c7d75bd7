// The local-verification stage of copy detection (issue 16 §3): each query's top-k candidates from the descriptor
// search (and the references most of its keypoints vote for) are checked by local keypoints (AKAZE or ORB) + RANSAC
// (search/geometric-verification.ts); a geometrically verified pair is then scored by its inlier count.
import os from 'node:os';
import { VisidError } from '../../util/errors.js';
import { createProgress } from '../../util/progress.js';
import { WorkerPool } from '../../util/worker-pool.js';
import type { CopyMatch } from '../../eval/copy-detection.js';
import type { LocalDetector, LocalFeatures } from '../../search/geometric-verification.js';
import { KeypointVoteIndex } from '../../search/keypoint-index.js';
import { pairInliers, queryFeatures, type FeatureOptions } from './local-features.js';
import type { VerifyWorkerMessage } from './verify-worker.js';

export interface LocalVerifyOptions {
  /** Candidates verified per query (default 10). */
  topK?: number;
  /** A pair with fewer inliers keeps its descriptor score: chance homographies of unrelated photos stay low (default 6). */
  minInliers?: number;
  /** How much of the descriptor score a verified pair keeps beside its inlier count (default 0.5: orders ties). */
  descriptorWeight?: number;
  /**
   * Keypoints are found on images scaled to fit this side, small ones enlarged (default 400): a 10 %-area crop of a
   * 250-pixel reference is 79 pixels wide, too few for keypoints at that scale until the reference is enlarged.
   */
  maxSide?: number;
  /** Keypoint detector (default AKAZE: on the LFW copy benchmark it verified 94 % of copies against ORB's 80 %). */
  detector?: LocalDetector;
  /** Keypoints per image, the strongest (default 1000). */
  features?: number;
  /** AKAZE's detector threshold (default 0.0001: on the LFW copy benchmark µAP 0.911 where 0.0003 with 500 keypoints gave 0.869, at 2.7 × the time). */
  threshold?: number;
  /** Also match the mirrored query (the descriptors are not mirror-invariant; default true). */
  mirror?: boolean;
  /**
   * Also verify the references that most of the query's keypoints vote for (search/keypoint-index.ts), this many a
   * query: copies the descriptor lost (small crops, pastes, rotations) come back this way. Needs `refIds`.
   */
  keypointCandidates?: number;
  /** Every reference id (what the keypoint index holds). */
  refIds?: string[];
  /** Verification threads (default: the cores, at most 4; 1 = in this thread). Results do not depend on it. */
  threads?: number;
  /** Verify only these queries (the others keep their matches as they are). */
  onlyQueries?: Set<string>;
  quiet?: boolean;
}

/**
 * A checked pair's score: its inlier count (plus `descriptorWeight` × the descriptor score, which orders equal
 * counts) from `minInliers` on, else the descriptor score. Inlier counts mean the same for every query and dwarf a
 * cosine or a hash similarity, so verified pairs rank above all others and among themselves by geometric evidence —
 * what µAP's single ranking of all queries' pairs rewards. (On the LFW copy benchmark, ranking verified pairs by
 * inliers scored µAP 0.866 where adding a bonus of at most 1 to the cosine scored 0.796: a weak descriptor's
 * cosine says little about which verified pairs are surest.)
 */
export function verifiedScore(score: number, inliers: number, o: Pick<LocalVerifyOptions, 'minInliers' | 'descriptorWeight'> = {}): number {
  return inliers < (o.minInliers ?? 6) ? score : inliers + (o.descriptorWeight ?? 0.5) * score;
}

/** The keypoints verification finds (the defaults above filled in). */
export function featureOptionsOf(o: Pick<LocalVerifyOptions, 'maxSide' | 'features' | 'detector' | 'threshold'> = {}): FeatureOptions {
  return { maxSide: o.maxSide ?? 400, features: o.features ?? 1000, detector: o.detector ?? 'akaze', threshold: o.threshold ?? 0.0001 };
}

type Features = { plain: LocalFeatures; mirror?: LocalFeatures };

/** Keypoints and matching, in worker threads when there are several cores, else in this thread. */
class Verifier {
  private readonly pool?: WorkerPool<VerifyWorkerMessage, Features & { inliers?: number[] }>;

  constructor(threads: number) {
    if (threads > 1) this.pool = new WorkerPool(new URL('./verify-worker.js', import.meta.url), threads, 'local verification');
  }

  async features(file: string, name: string, options: FeatureOptions, mirror: boolean): Promise<Features> {
    if (!this.pool) return queryFeatures(file, name, options, mirror);
    const r = await this.pool.run({ kind: 'features', file, name, options, mirror }, name);
    return { plain: r.plain, ...(r.mirror ? { mirror: r.mirror } : {}) };
  }

  async inliers(name: string, q: Features, refs: LocalFeatures[]): Promise<number[]> {
    if (!this.pool) return pairInliers(q.plain, q.mirror, refs);
    const r = await this.pool.run({ kind: 'match', name, query: q.plain, ...(q.mirror ? { mirror: q.mirror } : {}), refs }, name);
    return r.inliers!;
  }

  close(): Promise<void> {
    return this.pool?.close() ?? Promise.resolve();
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; results in the items' order. */
async function inOrder<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  return out;
}

/**
 * Re-scores each query's top-k matches by local verification; other matches keep their scores. `queryPath` and
 * `refPath` map an id to its image file.
 */
export async function verifyMatches(matches: CopyMatch[], queryPath: (id: string) => string, refPath: (id: string) => string, o: LocalVerifyOptions = {}): Promise<{ matches: CopyMatch[]; verifiedPairs: number; seconds: number }> {
  const t0 = performance.now();
  const topK = o.topK ?? 10;
  const opts = featureOptionsOf(o);
  const threads = o.threads ?? Math.min(4, os.availableParallelism());
  const verifier = new Verifier(threads);
  try {
    const byQuery = new Map<string, CopyMatch[]>();
    for (const m of matches) (byQuery.get(m.query) ?? byQuery.set(m.query, []).get(m.query)!).push(m);
    const refFeatures = new Map<string, Promise<LocalFeatures>>();
    const refOf = (id: string) => refFeatures.get(id) ?? refFeatures.set(id, verifier.features(refPath(id), id, opts, false).then((f) => f.plain)).get(id)!;
    let keypoints: KeypointVoteIndex | undefined;
    if (o.keypointCandidates) {
      if (!o.refIds?.length) throw new VisidError('E_INPUT', 'keypoint candidates need the reference ids');
      const p = createProgress({ label: 'reference keypoints', total: o.refIds.length, unit: 'img', quiet: o.quiet });
      const all = await inOrder(o.refIds, 2 * threads, async (id) => {
        const f = await refOf(id);
        p.tick(1);
        return f;
      });
      p.done();
      // References without any keypoint (flat colour, tiny images) get no votes; with none at all there is nothing
      // to vote for and the descriptor's candidates are verified alone.
      if (all.some((f) => f.count > 0)) keypoints = KeypointVoteIndex.build(all, o.refIds, { threads });
      else if (!o.quiet) process.stderr.write('keypoint candidates: no reference has keypoints; verifying the descriptor candidates only\n');
    }
    const queries = [...byQuery.keys()];
    const checked = o.onlyQueries ? queries.filter((q) => o.onlyQueries!.has(q)) : queries;
    let pairs = 0;
    const progress = createProgress({ label: 'local verification', total: checked.length, unit: 'queries', quiet: o.quiet });
    const verifiedLists = await inOrder(checked, 2 * threads, async (query) => {
      const list = byQuery.get(query)!;
      const ranked = [...list].sort((a, b) => b.score - a.score);
      const q = await verifier.features(queryPath(query), query, opts, o.mirror !== false);
      let head = ranked.slice(0, topK);
      let tail = ranked.slice(topK);
      if (keypoints) {
        // Voted references join the candidates: with their own score when the descriptor ranked them lower, else
        // with the query's lowest score (unverified, they stay at the bottom).
        const floor = ranked.length ? ranked.at(-1)!.score : 0;
        const inHead = new Set(head.map((m) => m.reference));
        const voted = keypoints.search(q.mirror ? [q.plain, q.mirror] : q.plain, o.keypointCandidates!).map((v) => v.id).filter((id) => !inHead.has(id));
        const fromTail = new Set(voted);
        head = [...head, ...voted.map((id) => tail.find((m) => m.reference === id) ?? { query, reference: id, score: floor })];
        tail = tail.filter((m) => !fromTail.has(m.reference));
      }
      const inliers = await verifier.inliers(query, q, await Promise.all(head.map((m) => refOf(m.reference))));
      pairs += head.length;
      progress.tick(1);
      return [...head.map((m, i) => ({ ...m, score: verifiedScore(m.score, inliers[i]!, o), inliers: inliers[i]! })), ...tail];
    });
    progress.done();
    const verified = new Map(checked.map((q, i) => [q, verifiedLists[i]!]));
    const out = queries.flatMap((q) => verified.get(q) ?? byQuery.get(q)!);
    return { matches: out, verifiedPairs: pairs, seconds: (performance.now() - t0) / 1000 };
  } finally {
    await verifier.close();
  }
}
