// ShiftScaleRotate: a random affine map — shift by ±shiftLimit of the size, scale by 1 ± scaleLimit, rotate by ±rotateLimit degrees about the centre.
import { colour, num, range, uniform, type AugmentOp } from '../op.js';
import { affineAbout, warp, type Border } from '../warp.js';

export function shiftScaleRotate(params: Record<string, unknown> = {}): AugmentOp {
  const shift = range(params, 'shiftLimit', [-0.0625, 0.0625], 'ShiftScaleRotate');
  const scale = range(params, 'scaleLimit', [-0.1, 0.1], 'ShiftScaleRotate');
  const rotate = range(params, 'rotateLimit', [-45, 45], 'ShiftScaleRotate');
  const border = (params.border ?? 'reflect') as Border;
  const fill = colour(params, 'fill', [0, 0, 0], 'ShiftScaleRotate');
  num({ s: 1 + scale[0] }, 's', 1, 'ShiftScaleRotate', (v) => v > 0);
  return {
    name: 'ShiftScaleRotate',
    params,
    apply(img, random) {
      const angle = uniform(random, rotate[0], rotate[1]);
      const s = 1 + uniform(random, scale[0], scale[1]);
      const dx = uniform(random, shift[0], shift[1]) * img.width;
      const dy = uniform(random, shift[0], shift[1]) * img.height;
      return warp(img, img.width, img.height, affineAbout(img.width / 2, img.height / 2, angle, s, dx, dy), border, fill);
    },
  };
}
