// Darken: multiply every pixel by a brightness factor (seed 001 §4.1: night-like queries, factor 0.1–0.4; 0.15 at test time).
import { mapPixels, range, uniform, type AugmentOp } from '../op.js';

export function darken(params: Record<string, unknown> = {}): AugmentOp {
  const factor = range(params, 'factor', [0.1, 0.4], 'Darken');
  if (factor[0] < 0 || factor[1] > 1) throw new Error(`augmentation Darken: 'factor' must lie in [0, 1]`);
  return {
    name: 'Darken',
    params,
    apply(img, random) {
      const f = uniform(random, factor[0], factor[1]);
      return mapPixels(img, (v) => v * f);
    },
  };
}
