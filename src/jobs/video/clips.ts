// Frame scores → clip scores (max over frames as seed 002 §2.5, or mean / top-k mean), clips ranked per feature, run files, clip-level mAP.
import { VisidError } from '../../util/errors.js';
import { averagePrecision } from '../../eval/metrics.js';

/** max: the seed's rule; mean; topk: the mean of each class's k highest frame scores. */
export type ClipAggregation = { kind: 'max' } | { kind: 'mean' } | { kind: 'topk'; k: number };

export function parseAggregation(text: string): ClipAggregation {
  if (text === 'max' || text === 'mean') return { kind: text };
  const m = /^top-?(\d+)(?:-mean)?$/.exec(text);
  if (m && Number(m[1]) >= 1) return { kind: 'topk', k: Number(m[1]) };
  throw new VisidError('E_INPUT', `unknown clip aggregation '${text}' (max, mean, top<k>)`);
}

/** One clip's score per class from its frames' scores (row-major frames × classes). */
export function aggregateClip(frameScores: Float32Array, frames: number, classes: number, how: ClipAggregation = { kind: 'max' }): Float32Array {
  if (frameScores.length !== frames * classes) throw new VisidError('E_DIM', `${frameScores.length} frame scores for ${frames} frames × ${classes} classes`);
  if (frames === 0) throw new VisidError('E_INPUT', 'a clip without frames has no score');
  const out = new Float32Array(classes);
  const column = new Float32Array(frames);
  for (let c = 0; c < classes; c++) {
    for (let f = 0; f < frames; f++) column[f] = frameScores[f * classes + c]!;
    if (how.kind === 'max') out[c] = column.reduce((a, b) => Math.max(a, b), -Infinity);
    else if (how.kind === 'mean') out[c] = column.reduce((a, b) => a + b, 0) / frames;
    else {
      const k = Math.min(how.k, frames);
      const sorted = Float32Array.from(column).sort().reverse();
      let s = 0;
      for (let i = 0; i < k; i++) s += sorted[i]!;
      out[c] = s / k;
    }
  }
  return out;
}

export interface RankedClip {
  clip: string;
  score: number;
  /** Whether the score reaches the classifier's threshold for the class (when it has one). */
  detected?: boolean;
}

/** Clips by decreasing score on one class (ties: clip id order, so runs are reproducible); at most k. */
export function rankClips(clipIds: string[], clipScores: Float32Array[], classIndex: number, k = Infinity): RankedClip[] {
  if (clipIds.length !== clipScores.length) throw new VisidError('E_DIM', `${clipIds.length} clip ids for ${clipScores.length} score rows`);
  return clipIds
    .map((clip, i) => ({ clip, score: clipScores[i]![classIndex]! }))
    .sort((a, b) => b.score - a.score || (a.clip < b.clip ? -1 : a.clip > b.clip ? 1 : 0))
    .slice(0, k);
}

/** TSV: feature, rank, clip, score, and detected (yes/no, or empty without thresholds); one line per ranked clip. */
export function rankingTsv(feature: string, ranking: RankedClip[]): string {
  const flag = (r: RankedClip) => (r.detected === undefined ? '' : r.detected ? 'yes' : 'no');
  return ranking.map((r, i) => `${feature}\t${i + 1}\t${r.clip}\t${r.score.toFixed(6)}\t${flag(r)}`).join('\n') + (ranking.length ? '\n' : '');
}

/**
 * The TREC run format that TRECVID's trec_eval-based scoring reads: "<feature-number> Q0 <clip-id> <rank> <score>
 * <run-id>", one line per ranked clip; the feature number is the class's 1-based position in the label set.
 */
export function trecRun(featureNumber: number, ranking: RankedClip[], runId: string): string {
  if (/\s/.test(runId)) throw new VisidError('E_INPUT', `run id '${runId}' must not contain spaces`);
  return ranking.map((r, i) => {
    if (/\s/.test(r.clip)) throw new VisidError('E_INPUT', 'clip ids in a TREC run must not contain spaces', { item: r.clip });
    return `${featureNumber} Q0 ${r.clip} ${i + 1} ${r.score.toFixed(6)} ${runId}`;
  }).join('\n') + (ranking.length ? '\n' : '');
}

export interface ClipEvaluation {
  /** Average precision per class that has at least one positive clip. */
  perFeature: Array<{ feature: string; ap: number; positives: number }>;
  /** Mean over those classes. */
  mAP: number;
}

/**
 * Per-feature AP of the full clip ranking (averagePrecision: (1/R) Σ P@i over the ranks of positives) and their mean,
 * over the features with at least one positive clip (TRECVID scores only those). `truth` maps clip → its features.
 */
export function evaluateClipRankings(clipIds: string[], clipScores: Float32Array[], classNames: string[], truth: Map<string, Set<string>>, k = Infinity): ClipEvaluation {
  for (const clip of truth.keys()) if (!clipIds.includes(clip)) throw new VisidError('E_NOT_FOUND', 'clip of the ground truth is not in the index', { item: clip });
  const perFeature: ClipEvaluation['perFeature'] = [];
  classNames.forEach((feature, c) => {
    const positives = clipIds.filter((id) => truth.get(id)?.has(feature));
    if (positives.length === 0) return;
    const ranked = rankClips(clipIds, clipScores, c, k).map((r) => r.clip);
    perFeature.push({ feature, ap: averagePrecision(ranked, positives), positives: positives.length });
  });
  if (perFeature.length === 0) throw new VisidError('E_INPUT', 'no feature of the label set has a positive clip in the ground truth');
  return { perFeature, mAP: perFeature.reduce((s, f) => s + f.ap, 0) / perFeature.length };
}
