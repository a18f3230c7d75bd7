// RandomGamma: v ↦ 255·(v/255)^γ, γ = g/100 with g uniform in gammaLimit (default [80, 120]).
import { mapPixels, range, uniform, type AugmentOp } from '../op.js';

export function randomGamma(params: Record<string, unknown> = {}): AugmentOp {
  const limit = range(params, 'gammaLimit', [80, 120], 'RandomGamma');
  return {
    name: 'RandomGamma',
    params,
    apply(img, random) {
      const gamma = uniform(random, limit[0], limit[1]) / 100;
      return mapPixels(img, (v) => 255 * (v / 255) ** gamma);
    },
  };
}
