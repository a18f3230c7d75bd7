// Scores a video index against shot ground truth: per-feature AP of the clip rankings and their mean, and frame-level LRAP.
import { labelRankingAveragePrecision } from '../../eval/multilabel.js';
import { evaluateClipRankings, type ClipAggregation, type ClipEvaluation } from './clips.js';
import { clipTruth, frameTruth, readShotTruth } from './truth.js';
import type { VideoIndex } from './video-index.js';

export interface VideoEvaluation extends ClipEvaluation {
  /** Frame-level LRAP over the frames inside timed shots (undefined when the truth has no times). */
  lrap?: number;
  frames: number;
  clips: number;
}

/**
 * Features are every class that is not a none class (LADI's 32 of 37); `k` truncates each ranking before AP (the
 * TRECVID run depth), default: all clips.
 */
export async function evaluateVideoIndex(index: VideoIndex, truthFile: string, o: { aggregation?: ClipAggregation; k?: number } = {}): Promise<VideoEvaluation> {
  const shots = await readShotTruth(truthFile, index.classes);
  const features = index.classes.filter((c) => !/:\s*none$/i.test(c));
  const clipIds = index.clips.map((c) => c.id);
  const clipEval = evaluateClipRankings(clipIds, index.clipScores(o.aggregation), index.classes, clipTruth(shots), o.k);
  const perFeature = clipEval.perFeature.filter((f) => features.includes(f.feature));
  const mAP = perFeature.length ? perFeature.reduce((s, f) => s + f.ap, 0) / perFeature.length : 0;
  const ft = frameTruth(index.clips, shots, index.classes);
  const c = index.classes.length;
  const lrap = ft.rows.length ? labelRankingAveragePrecision(ft.labels, ft.rows.map((r) => index.scores.subarray(r * c, (r + 1) * c))) : undefined;
  return { perFeature, mAP, lrap, frames: ft.rows.length, clips: clipIds.length };
}
