// Pad: add `pad` pixels (or a fraction of the size when < 1; a [low, high] range draws it) on every side, filled with a colour, a random colour, or reflected.
import { colour, randint, range, uniform, type AugmentOp } from '../op.js';
import { warp } from '../warp.js';

export function pad(params: Record<string, unknown> = {}): AugmentOp {
  // A single number is a fixed amount (not a ±range, unlike other ops' parameters).
  const amount: [number, number] = typeof params.pad === 'number' ? [params.pad, params.pad] : range(params, 'pad', [0.1, 0.1], 'Pad');
  if (!(amount[0] >= 0)) throw new Error(`'pad' must be ≥ 0, got ${JSON.stringify(params.pad)}`);
  const randomFill = params.fill === 'random';
  const fill = randomFill ? ([0, 0, 0] as [number, number, number]) : colour(params, 'fill', [0, 0, 0], 'Pad');
  const border = params.border === 'reflect' ? 'reflect' : 'constant';
  return {
    name: 'Pad',
    params,
    apply(img, random) {
      const a = amount[0] === amount[1] ? amount[0] : uniform(random, amount[0], amount[1]);
      const px = a < 1 ? Math.round(a * Math.min(img.width, img.height)) : Math.round(a);
      const colourNow: [number, number, number] = randomFill ? [randint(random, 0, 255), randint(random, 0, 255), randint(random, 0, 255)] : fill;
      // An integer shift: the warp's bilinear weights are exactly 0/1, so pixels are copied unchanged.
      return warp(img, img.width + 2 * px, img.height + 2 * px, [1, 0, -px, 0, 1, -px, 0, 0, 1], border, colourNow);
    },
  };
}
