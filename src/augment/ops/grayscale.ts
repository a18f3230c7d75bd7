// Grayscale: every channel set to the luma 0.299 R + 0.587 G + 0.114 B.
import { clampByte, type AugmentOp, type RgbImage } from '../op.js';

export function grayscale(params: Record<string, unknown> = {}): AugmentOp {
  return {
    name: 'Grayscale',
    params,
    apply(img: RgbImage): RgbImage {
      const out = new Uint8Array(img.data.length);
      for (let i = 0; i < out.length; i += 3) {
        const y = clampByte(0.299 * img.data[i]! + 0.587 * img.data[i + 1]! + 0.114 * img.data[i + 2]!);
        out[i] = out[i + 1] = out[i + 2] = y;
      }
      return { data: out, width: img.width, height: img.height };
    },
  };
}
