// GaussianBlur: a separable Gaussian kernel with σ uniform in sigma (default [0.1, 2.0]), radius ⌈3σ⌉, edges reflected.
import { clampByte, range, uniform, type AugmentOp, type RgbImage } from '../op.js';

export function gaussianBlur(params: Record<string, unknown> = {}): AugmentOp {
  const sigma = range(params, 'sigma', [0.1, 2], 'GaussianBlur');
  if (sigma[0] <= 0) throw new Error(`augmentation GaussianBlur: 'sigma' must be positive`);
  return {
    name: 'GaussianBlur',
    params,
    apply(img: RgbImage, random): RgbImage {
      const s = uniform(random, sigma[0], sigma[1]);
      const r = Math.max(1, Math.ceil(3 * s));
      const k = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * s * s)));
      const total = k.reduce((a, b) => a + b, 0);
      const kernel = k.map((v) => v / total);
      const { width: w, height: h } = img;
      const at = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);
      const tmp = new Float32Array(img.data.length);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) {
        let acc = 0;
        for (let j = -r; j <= r; j++) acc += kernel[j + r]! * img.data[(y * w + at(Math.min(Math.max(x + j, -(w - 1)), 2 * w - 2), w)) * 3 + c]!;
        tmp[(y * w + x) * 3 + c] = acc;
      }
      const out = new Uint8Array(img.data.length);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) {
        let acc = 0;
        for (let j = -r; j <= r; j++) acc += kernel[j + r]! * tmp[(at(Math.min(Math.max(y + j, -(h - 1)), 2 * h - 2), h) * w + x) * 3 + c]!;
        out[(y * w + x) * 3 + c] = clampByte(acc);
      }
      return { data: out, width: w, height: h };
    },
  };
}
