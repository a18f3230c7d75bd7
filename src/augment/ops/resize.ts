// Resize: to height × width, bilinear (area-averaged when shrinking a lot).
import { num, type AugmentOp } from '../op.js';
import { resizeBilinear } from '../warp.js';

export function resize(params: Record<string, unknown>): AugmentOp {
  const isSize = (v: number) => Number.isInteger(v) && v > 0;
  const height = num(params, 'height', NaN, 'Resize', isSize);
  const width = num(params, 'width', NaN, 'Resize', isSize);
  return { name: 'Resize', params, apply: (img) => resizeBilinear(img, width, height) };
}
