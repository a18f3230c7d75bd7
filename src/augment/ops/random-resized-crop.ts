// RandomResizedCrop: a random crop of `scale` of the area and `ratio` aspect, resized to height × width.
import { num, range, uniform, randint, type AugmentOp } from '../op.js';
import { resizeBilinear } from '../warp.js';

export function randomResizedCrop(params: Record<string, unknown>): AugmentOp {
  const isSize = (v: number) => Number.isInteger(v) && v > 0;
  const height = num(params, 'height', NaN, 'RandomResizedCrop', isSize);
  const width = num(params, 'width', NaN, 'RandomResizedCrop', isSize);
  const scale = range(params, 'scale', [0.08, 1], 'RandomResizedCrop');
  const ratio = range(params, 'ratio', [3 / 4, 4 / 3], 'RandomResizedCrop');
  return {
    name: 'RandomResizedCrop',
    params,
    apply(img, random) {
      const area = img.width * img.height;
      let cw = Math.min(img.width, img.height);
      let ch = cw;
      for (let attempt = 0; attempt < 10; attempt++) {
        const target = area * uniform(random, scale[0], scale[1]);
        const aspect = Math.exp(uniform(random, Math.log(ratio[0]), Math.log(ratio[1])));
        const w = Math.round(Math.sqrt(target * aspect));
        const h = Math.round(Math.sqrt(target / aspect));
        if (w >= 1 && h >= 1 && w <= img.width && h <= img.height) {
          cw = w;
          ch = h;
          break;
        }
      }
      const left = randint(random, 0, img.width - cw);
      const top = randint(random, 0, img.height - ch);
      const crop = new Uint8Array(cw * ch * 3);
      for (let y = 0; y < ch; y++) crop.set(img.data.subarray(((top + y) * img.width + left) * 3, ((top + y) * img.width + left + cw) * 3), y * cw * 3);
      return resizeBilinear({ data: crop, width: cw, height: ch }, width, height);
    },
  };
}
