// RGBA sprites (emoji, text, other photos) for the overlay ops: loaded once when a pipeline is built, scaled and alpha-blended per sample.
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import sharp from 'sharp';
import { decodeRgb } from '../images/decode.js';
import { VisidError } from '../util/errors.js';
import { mulberry32 } from '../util/random.js';
import type { RgbImage } from './op.js';

/** An image with straight (not premultiplied) alpha, 4 bytes a pixel. */
export interface Sprite {
  data: Uint8Array;
  width: number;
  height: number;
}

const require = createRequire(import.meta.url);

/** The folder of Twemoji SVGs shipped in the @discordapp/twemoji npm package (MIT code, CC-BY 4.0 graphics). */
export function twemojiDir(): string {
  return path.join(path.dirname(require.resolve('@discordapp/twemoji/package.json')), 'dist', 'svg');
}

/** DejaVu TrueType fonts shipped in the dejavu-fonts-ttf npm package. */
export function dejavuFonts(): string[] {
  const dir = path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
  return ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf', 'DejaVuSerif.ttf', 'DejaVuSerif-BoldItalic.ttf', 'DejaVuSansMono.ttf', 'DejaVuSansCondensed-Oblique.ttf'].map((f) => path.join(dir, f));
}

/** `count` emoji rasterised at `size` px, chosen by `seed` among the package's ~3,800 (the same seed, the same set). */
export async function loadEmoji(count: number, seed: number, size = 160): Promise<Sprite[]> {
  const dir = twemojiDir();
  const names = (await fs.readdir(dir)).filter((n) => n.endsWith('.svg')).sort();
  if (names.length === 0) throw new VisidError('E_NOT_FOUND', 'no emoji SVGs found', { item: dir });
  const random = mulberry32(seed);
  const picks = Array.from({ length: count }, () => names[Math.floor(random() * names.length)]!);
  return Promise.all(
    picks.map(async (n) => {
      const { data, info } = await sharp(path.join(dir, n), { density: 300 }).resize(size, size, { fit: 'contain', background: { r: 0, g: 0, b: 0, alpha: 0 } }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      return { data: new Uint8Array(data), width: info.width, height: info.height };
    }),
  );
}

const CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!?#&@';

/** `count` random strings (length in [minLen, maxLen]) in white, each in one of the DejaVu fonts; alpha carries the glyphs. */
export async function loadTextSprites(count: number, seed: number, minLen = 3, maxLen = 12): Promise<Sprite[]> {
  const fonts = dejavuFonts();
  const random = mulberry32(seed);
  const specs = Array.from({ length: count }, () => {
    const len = minLen + Math.floor(random() * (maxLen - minLen + 1));
    const text = Array.from({ length: len }, () => CHARS[Math.floor(random() * CHARS.length)]).join('');
    return { text, font: fonts[Math.floor(random() * fonts.length)]! };
  });
  return Promise.all(
    specs.map(async ({ text, font }) => {
      const escaped = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
      const { data, info } = await sharp({ text: { text: `<span foreground="white">${escaped}</span>`, fontfile: font, rgba: true, dpi: 300 } }).raw().toBuffer({ resolveWithObject: true });
      return { data: new Uint8Array(data), width: info.width, height: info.height };
    }),
  );
}

/** Every image of a folder (at most `limit`, sorted by name), downscaled to ≤ `maxSide` px, opaque. */
export async function loadImageSprites(dir: string, limit = 500, maxSide = 256): Promise<Sprite[]> {
  const names = (await fs.readdir(dir).catch(() => {
    throw new VisidError('E_NOT_FOUND', 'overlay image folder does not exist', { item: dir });
  })).filter((n) => /\.(jpe?g|png|webp|tiff?|gif|avif)$/i.test(n)).sort().slice(0, limit);
  if (names.length === 0) throw new VisidError('E_DATASET', 'no images in the overlay folder', { item: dir });
  const out: Sprite[] = [];
  for (const n of names) {
    const file = path.join(dir, n);
    const meta = await decodeRgb(file);
    const scale = Math.min(1, maxSide / Math.max(meta.width, meta.height));
    const img = scale < 1 ? await decodeRgb(file, { width: Math.max(1, Math.round(meta.width * scale)), height: Math.max(1, Math.round(meta.height * scale)), resize: 'exact' }) : meta;
    out.push(opaque(img));
  }
  return out;
}

/** An RGB image as a fully opaque sprite. */
export function opaque(img: RgbImage): Sprite {
  const n = img.width * img.height;
  const data = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    data.set(img.data.subarray(3 * i, 3 * i + 3), 4 * i);
    data[4 * i + 3] = 255;
  }
  return { data, width: img.width, height: img.height };
}

/** A random two-colour diagonal gradient, for overlays when no folder of photos is given. */
export function gradientSprite(random: () => number, width = 64, height = 64): Sprite {
  const a = [0, 1, 2].map(() => Math.floor(random() * 256));
  const b = [0, 1, 2].map(() => Math.floor(random() * 256));
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = (x + y) / Math.max(1, width + height - 2);
      const i = (y * width + x) * 4;
      for (let c = 0; c < 3; c++) data[i + c] = Math.round(a[c]! * (1 - t) + b[c]! * t);
      data[i + 3] = 255;
    }
  }
  return { data, width, height };
}

/** Bilinear rescale of a sprite (alpha scaled with the colour, so edges stay soft). */
export function scaleSprite(s: Sprite, width: number, height: number): Sprite {
  const out = new Uint8Array(width * height * 4);
  const sx = s.width / width;
  const sy = s.height / height;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(s.height - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(s.height - 1, y0 + 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(s.width - 1, Math.max(0, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(s.width - 1, x0 + 1);
      const wx = fx - x0;
      for (let c = 0; c < 4; c++) {
        const v00 = s.data[(y0 * s.width + x0) * 4 + c]!;
        const v01 = s.data[(y0 * s.width + x1) * 4 + c]!;
        const v10 = s.data[(y1 * s.width + x0) * 4 + c]!;
        const v11 = s.data[(y1 * s.width + x1) * 4 + c]!;
        out[(y * width + x) * 4 + c] = Math.round((v00 * (1 - wx) + v01 * wx) * (1 - wy) + (v10 * (1 - wx) + v11 * wx) * wy);
      }
    }
  }
  return { data: out, width, height };
}

/**
 * Alpha-blends `s` onto `img` with its top-left corner at (x0, y0) (clipped to the image), times `opacity`;
 * `tint` replaces the sprite's colour (text). Pixels outside the sprite's box are copied unchanged.
 */
export function paste(img: RgbImage, s: Sprite, x0: number, y0: number, opacity = 1, tint?: [number, number, number]): RgbImage {
  const out = img.data.slice();
  for (let y = Math.max(0, y0); y < Math.min(img.height, y0 + s.height); y++) {
    for (let x = Math.max(0, x0); x < Math.min(img.width, x0 + s.width); x++) {
      const si = ((y - y0) * s.width + (x - x0)) * 4;
      const a = (s.data[si + 3]! / 255) * opacity;
      if (a <= 0) continue;
      const di = (y * img.width + x) * 3;
      for (let c = 0; c < 3; c++) out[di + c] = Math.round(out[di + c]! * (1 - a) + (tint ? tint[c]! : s.data[si + c]!) * a);
    }
  }
  return { data: out, width: img.width, height: img.height };
}
