// CoarseDropout: rectangular holes filled with a colour — many small ones, or seed 000 §2.2.1's single red rectangle.
//
// Hole sides are drawn uniformly in [minSize, maxSize] as fractions of the image side (or pixels when ≥ 1). The
// Hotel-ID test masks are simulated by { holes: 1, minSize: 0.25, maxSize: 0.5, fill: [255, 0, 0] } — the preset
// `RedOcclusion`: width and height uniform between size/4 and size/2, so the area lies in [1/16, 1/4].
import { colour, num, randint, uniform, type AugmentOp, type RgbImage } from '../op.js';

export function coarseDropout(params: Record<string, unknown> = {}, name = 'CoarseDropout'): AugmentOp {
  const minHoles = num(params, 'minHoles', (params.holes as number) ?? 1, name, (v) => Number.isInteger(v) && v >= 0);
  const maxHoles = num(params, 'maxHoles', (params.holes as number) ?? 8, name, (v) => Number.isInteger(v) && v >= minHoles);
  const minSize = num(params, 'minSize', 0.05, name, (v) => v > 0);
  const maxSize = num(params, 'maxSize', 0.1, name, (v) => v >= minSize);
  const fill = colour(params, 'fill', [0, 0, 0], name);
  return {
    name,
    params,
    apply(img: RgbImage, random): RgbImage {
      const out = img.data.slice();
      const holes = randint(random, minHoles, maxHoles);
      const side = (n: number) => Math.max(1, Math.min(n, Math.round(maxSize < 1 || minSize < 1 ? uniform(random, minSize, maxSize) * n : uniform(random, minSize, maxSize))));
      for (let k = 0; k < holes; k++) {
        const hw = side(img.width);
        const hh = side(img.height);
        const x0 = randint(random, 0, img.width - hw);
        const y0 = randint(random, 0, img.height - hh);
        for (let y = y0; y < y0 + hh; y++) {
          for (let x = x0; x < x0 + hw; x++) {
            const i = (y * img.width + x) * 3;
            out[i] = fill[0];
            out[i + 1] = fill[1];
            out[i + 2] = fill[2];
          }
        }
      }
      return { data: out, width: img.width, height: img.height };
    },
  };
}

/** Seed 000 §2.2.1: one pure-red rectangle with sides uniform in [1/4, 1/2] of the image's sides. */
export function redOcclusion(params: Record<string, unknown> = {}): AugmentOp {
  return coarseDropout({ holes: 1, minSize: 0.25, maxSize: 0.5, fill: [255, 0, 0], ...params }, 'RedOcclusion');
}
