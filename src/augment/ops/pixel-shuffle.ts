// PixelShuffle: a random fraction of the pixel positions trade their colours among themselves (AugLy's shuffle_pixels; seed 004 Fig. 3).
import { range, uniform, type AugmentOp, type RgbImage } from '../op.js';

export function pixelShuffle(params: Record<string, unknown> = {}): AugmentOp {
  const factor = range(params, 'factor', [0.1, 0.3], 'PixelShuffle');
  if (!(factor[0] >= 0 && factor[1] <= 1)) throw new Error(`'factor' must lie in [0, 1], got [${factor}]`);
  return {
    name: 'PixelShuffle',
    params,
    apply(img: RgbImage, random): RgbImage {
      const n = img.width * img.height;
      const k = Math.round(uniform(random, factor[0], factor[1]) * n);
      // Pick k distinct positions (partial Fisher–Yates), then permute their colours (Fisher–Yates on the picks).
      const order = Uint32Array.from({ length: n }, (_, i) => i);
      for (let i = 0; i < k; i++) {
        const j = i + Math.floor(random() * (n - i));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      const picked = order.subarray(0, k);
      const perm = Uint32Array.from(picked);
      for (let i = k - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [perm[i], perm[j]] = [perm[j]!, perm[i]!];
      }
      const out = img.data.slice();
      for (let i = 0; i < k; i++) out.set(img.data.subarray(perm[i]! * 3, perm[i]! * 3 + 3), picked[i]! * 3);
      return { data: out, width: img.width, height: img.height };
    },
  };
}
