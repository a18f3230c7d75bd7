// Pad: add `pad` pixels (or a fraction of the size when < 1) on every side, filled with a colour or reflected.
import { colour, num, type AugmentOp } from '../op.js';
import { warp } from '../warp.js';

export function pad(params: Record<string, unknown> = {}): AugmentOp {
  const amount = num(params, 'pad', 0.1, 'Pad', (v) => v >= 0);
  const fill = colour(params, 'fill', [0, 0, 0], 'Pad');
  const border = params.border === 'reflect' ? 'reflect' : 'constant';
  return {
    name: 'Pad',
    params,
    apply(img) {
      const px = amount < 1 ? Math.round(amount * Math.min(img.width, img.height)) : Math.round(amount);
      // An integer shift: the warp's bilinear weights are exactly 0/1, so pixels are copied unchanged.
      return warp(img, img.width + 2 * px, img.height + 2 * px, [1, 0, -px, 0, 1, -px, 0, 0, 1], border, fill);
    },
  };
}
