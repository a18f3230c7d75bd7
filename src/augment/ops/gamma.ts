// RandomGamma: v ↦ 255·(v/255)^γ, γ = g/100 with g uniform in gammaLimit (default [80, 120]).
import { range, uniform, clampByte, type AugmentOp } from '../op.js';

export function randomGamma(params: Record<string, unknown> = {}): AugmentOp {
  const limit = range(params, 'gammaLimit', [80, 120], 'RandomGamma');
  return {
    name: 'RandomGamma',
    params,
    apply(img, random) {
      const gamma = uniform(random, limit[0], limit[1]) / 100;
      const lut = Uint8Array.from({ length: 256 }, (_, v) => clampByte(255 * (v / 255) ** gamma));
      return { data: Uint8Array.from(img.data, (v) => lut[v]!), width: img.width, height: img.height };
    },
  };
}
