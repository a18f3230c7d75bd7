// HorizontalFlip: mirror the image left–right.
import type { AugmentOp, RgbImage } from '../op.js';

export function horizontalFlip(params: Record<string, unknown> = {}): AugmentOp {
  return {
    name: 'HorizontalFlip',
    params,
    apply(img: RgbImage): RgbImage {
      const { width: w, height: h, data } = img;
      const out = new Uint8Array(data.length);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const s = (y * w + (w - 1 - x)) * 3;
          const d = (y * w + x) * 3;
          out[d] = data[s]!;
          out[d + 1] = data[s + 1]!;
          out[d + 2] = data[s + 2]!;
        }
      }
      return { data: out, width: w, height: h };
    },
  };
}
