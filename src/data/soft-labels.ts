// Soft label vectors from several annotators' labels (seed 002 §2.1): each class's vote count over the largest count.
import { VisidError } from '../util/errors.js';

/**
 * Seed 002 Fig. 1: six annotators said [flood/water ×4, smoke/fire, damage:none] → flood/water 1.0, smoke/fire 0.25,
 * damage:none 0.25, every other class 0. Unknown labels are an error naming the label and the item.
 */
export function softLabelVector(votes: string[], classes: readonly string[], item?: string): Float32Array {
  const index = new Map(classes.map((c, i) => [c, i]));
  const counts = new Float32Array(classes.length);
  for (const v of votes) {
    const i = index.get(v);
    if (i === undefined) throw new VisidError('E_INPUT', `unknown label '${v}' (not one of the ${classes.length} classes)`, { item });
    counts[i]! += 1;
  }
  let max = 0;
  for (const c of counts) max = Math.max(max, c);
  if (max > 0) for (let i = 0; i < counts.length; i++) counts[i]! /= max;
  return counts;
}
