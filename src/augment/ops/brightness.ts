// RandomBrightness: add β·255 to every channel, β uniform in ±limit (albumentations' RandomBrightness).
import { mapPixels, range, uniform, type AugmentOp } from '../op.js';

export function randomBrightness(params: Record<string, unknown> = {}): AugmentOp {
  const limit = range(params, 'limit', [-0.2, 0.2], 'RandomBrightness');
  return {
    name: 'RandomBrightness',
    params,
    apply(img, random) {
      const beta = uniform(random, limit[0], limit[1]) * 255;
      return mapPixels(img, (v) => v + beta);
    },
  };
}
