// Rotate: by an angle uniform in ±limit degrees about the centre, same size, border reflected or filled.
import { colour, range, uniform, type AugmentOp } from '../op.js';
import { affineAbout, warp, type Border } from '../warp.js';

export function rotate(params: Record<string, unknown> = {}): AugmentOp {
  const limit = range(params, 'limit', [-90, 90], 'Rotate');
  const border = (params.border ?? 'reflect') as Border;
  const fill = colour(params, 'fill', [0, 0, 0], 'Rotate');
  return {
    name: 'Rotate',
    params,
    apply(img, random) {
      const angle = uniform(random, limit[0], limit[1]);
      return warp(img, img.width, img.height, affineAbout(img.width / 2, img.height / 2, angle, 1, 0, 0), border, fill);
    },
  };
}
