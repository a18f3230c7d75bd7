// TextOverlay: write a random string in a DejaVu font (from the npm package) of random height, colour and place (seed 004 Fig. 3).
import { range, randint, uniform, type AugmentOp, type RgbImage } from '../op.js';
import { paste, scaleSprite, type Sprite } from '../sprites.js';

/** `texts` come from loadTextSprites (rendered once, white glyphs in the alpha channel). */
export function textOverlay(params: Record<string, unknown>, texts: Sprite[]): AugmentOp {
  const height = range(params, 'height', [0.06, 0.2], 'TextOverlay');
  const opacity = range(params, 'opacity', [0.8, 1], 'TextOverlay');
  return {
    name: 'TextOverlay',
    params,
    apply(img: RgbImage, random): RgbImage {
      const t = texts[randint(random, 0, texts.length - 1)]!;
      let h = Math.max(1, Math.round(uniform(random, height[0], height[1]) * img.height));
      let w = Math.max(1, Math.round((t.width * h) / t.height));
      if (w > img.width) {
        // A long string is shrunk to the image's width rather than cut.
        h = Math.max(1, Math.round((h * img.width) / w));
        w = img.width;
      }
      const tint: [number, number, number] = [randint(random, 0, 255), randint(random, 0, 255), randint(random, 0, 255)];
      const x = randint(random, 0, img.width - w);
      const y = randint(random, 0, img.height - h);
      return paste(img, scaleSprite(t, w, h), x, y, uniform(random, opacity[0], opacity[1]), tint);
    },
  };
}
