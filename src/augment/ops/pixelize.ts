// Pixelize: average blocks of the image (a downscale by `ratio`) and blow them back up, so every block is one flat colour (seed 004 Fig. 3).
import { range, uniform, type AugmentOp, type RgbImage } from '../op.js';

/** `ratio` in (0, 1]: the fraction of the resolution kept; block side = round(1 / ratio) pixels. */
export function pixelize(params: Record<string, unknown> = {}): AugmentOp {
  const ratio = range(params, 'ratio', [0.1, 0.3], 'Pixelize');
  if (!(ratio[0] > 0 && ratio[1] <= 1)) throw new Error(`'ratio' must lie in (0, 1], got [${ratio}]`);
  return {
    name: 'Pixelize',
    params,
    apply(img: RgbImage, random): RgbImage {
      const block = Math.max(1, Math.round(1 / uniform(random, ratio[0], ratio[1])));
      return pixelizeBlocks(img, block);
    },
  };
}

/** Replaces every block×block tile (the last ones clipped at the border) by its mean colour. */
export function pixelizeBlocks(img: RgbImage, block: number): RgbImage {
  const { width: w, height: h, data } = img;
  const out = new Uint8Array(data.length);
  for (let by = 0; by < h; by += block) {
    for (let bx = 0; bx < w; bx += block) {
      const y1 = Math.min(h, by + block);
      const x1 = Math.min(w, bx + block);
      const sum = [0, 0, 0];
      for (let y = by; y < y1; y++) for (let x = bx; x < x1; x++) for (let c = 0; c < 3; c++) sum[c]! += data[(y * w + x) * 3 + c]!;
      const n = (y1 - by) * (x1 - bx);
      const mean = sum.map((s) => Math.round(s / n));
      for (let y = by; y < y1; y++) for (let x = bx; x < x1; x++) out.set(mean, (y * w + x) * 3);
    }
  }
  return { data: out, width: w, height: h };
}
