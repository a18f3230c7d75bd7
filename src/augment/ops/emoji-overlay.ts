// EmojiOverlay: paste a Twemoji emoji (from the npm package, never the network) of random size, place and opacity (seed 004 Fig. 3).
import { range, randint, uniform, type AugmentOp, type RgbImage } from '../op.js';
import { paste, scaleSprite, type Sprite } from '../sprites.js';

/** `emoji` come from loadEmoji (the pipeline rasterises them once when it is built). */
export function emojiOverlay(params: Record<string, unknown>, emoji: Sprite[]): AugmentOp {
  const size = range(params, 'size', [0.15, 0.4], 'EmojiOverlay');
  const opacity = range(params, 'opacity', [0.8, 1], 'EmojiOverlay');
  return {
    name: 'EmojiOverlay',
    params,
    apply(img: RgbImage, random): RgbImage {
      const e = emoji[randint(random, 0, emoji.length - 1)]!;
      const side = Math.max(1, Math.round(uniform(random, size[0], size[1]) * Math.min(img.width, img.height)));
      const x = randint(random, 0, img.width - side);
      const y = randint(random, 0, img.height - side);
      return paste(img, scaleSprite(e, side, side), x, y, uniform(random, opacity[0], opacity[1]));
    },
  };
}
