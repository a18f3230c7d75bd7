// ImageOverlay pastes another photo over part of the image; ImageUnderlay pastes the image, shrunk, onto another photo (seed 004 Fig. 3).
import { range, randint, uniform, type AugmentOp, type RgbImage } from '../op.js';
import { gradientSprite, opaque, paste, scaleSprite, type Sprite } from '../sprites.js';

/** Another image: one of `others` (photos from a folder), or a random gradient when none were given. */
function other(others: Sprite[], random: () => number): Sprite {
  return others.length > 0 ? others[randint(random, 0, others.length - 1)]! : gradientSprite(random);
}

/** `size`: the overlay's width as a fraction of the image's (its aspect ratio kept, clipped to the image). */
export function imageOverlay(params: Record<string, unknown>, others: Sprite[]): AugmentOp {
  const size = range(params, 'size', [0.2, 0.5], 'ImageOverlay');
  const opacity = range(params, 'opacity', [0.8, 1], 'ImageOverlay');
  return {
    name: 'ImageOverlay',
    params,
    apply(img: RgbImage, random): RgbImage {
      const o = other(others, random);
      const w = Math.max(1, Math.round(uniform(random, size[0], size[1]) * img.width));
      const h = Math.max(1, Math.min(img.height, Math.round((o.height * w) / o.width)));
      const x = randint(random, 0, img.width - w);
      const y = randint(random, 0, img.height - h);
      return paste(img, scaleSprite(o, w, h), x, y, uniform(random, opacity[0], opacity[1]));
    },
  };
}

/** `scale`: the image's side as a fraction of the background's (same size as the input, the other photo stretched to it). */
export function imageUnderlay(params: Record<string, unknown>, others: Sprite[]): AugmentOp {
  const scale = range(params, 'scale', [0.4, 0.8], 'ImageUnderlay');
  return {
    name: 'ImageUnderlay',
    params,
    apply(img: RgbImage, random): RgbImage {
      const bg = scaleSprite(other(others, random), img.width, img.height);
      const base: RgbImage = { data: new Uint8Array(img.width * img.height * 3), width: img.width, height: img.height };
      for (let i = 0; i < img.width * img.height; i++) base.data.set(bg.data.subarray(4 * i, 4 * i + 3), 3 * i);
      const s = uniform(random, scale[0], scale[1]);
      const w = Math.max(1, Math.round(s * img.width));
      const h = Math.max(1, Math.round(s * img.height));
      const fg = scaleSprite(opaque(img), w, h);
      return paste(base, fg, randint(random, 0, img.width - w), randint(random, 0, img.height - h));
    },
  };
}

