// RandomContrast: scale every channel by α, α uniform in 1 ± limit.
import { mapPixels, range, uniform, type AugmentOp } from '../op.js';

export function randomContrast(params: Record<string, unknown> = {}): AugmentOp {
  const limit = range(params, 'limit', [-0.2, 0.2], 'RandomContrast');
  return {
    name: 'RandomContrast',
    params,
    apply(img, random) {
      const alpha = 1 + uniform(random, limit[0], limit[1]);
      return mapPixels(img, (v) => v * alpha);
    },
  };
}
