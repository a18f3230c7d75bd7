// MaskOcclusion: paint the red pixels of a random mask from a folder (the Kaggle Hotel-ID train_masks/ layout) onto the image, the mask resized to it.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { decodeRgb } from '../../images/decode.js';
import { VisidError } from '../../util/errors.js';
import { randint, type AugmentOp, type RgbImage } from '../op.js';

/** A mask as a bitmap: 1 where the mask is red (R high, G and B low). */
interface Bitmap {
  bits: Uint8Array;
  width: number;
  height: number;
}

/** Loads every .png mask of `dir` (at most `limit`, downscaled to ≤ 256 px for memory). */
export async function loadMasks(dir: string, limit = 2000): Promise<Bitmap[]> {
  const names = (await fs.readdir(dir).catch(() => {
    throw new VisidError('E_NOT_FOUND', 'mask folder does not exist', { item: dir });
  })).filter((n) => n.toLowerCase().endsWith('.png')).sort().slice(0, limit);
  if (names.length === 0) throw new VisidError('E_DATASET', 'no .png masks in the folder', { item: dir });
  const masks: Bitmap[] = [];
  for (const n of names) {
    const file = path.join(dir, n);
    const meta = await decodeRgb(file);
    const scale = Math.min(1, 256 / Math.max(meta.width, meta.height));
    const img = scale < 1 ? await decodeRgb(file, { width: Math.max(1, Math.round(meta.width * scale)), height: Math.max(1, Math.round(meta.height * scale)), resize: 'exact' }) : meta;
    const bits = new Uint8Array(img.width * img.height);
    for (let i = 0; i < bits.length; i++) bits[i] = img.data[3 * i]! > 128 && img.data[3 * i + 1]! < 100 && img.data[3 * i + 2]! < 100 ? 1 : 0;
    masks.push({ bits, width: img.width, height: img.height });
  }
  return masks;
}

/** `masks` come from loadMasks (the pipeline loads them once when it is built). */
export function maskOcclusion(params: Record<string, unknown>, masks: Bitmap[]): AugmentOp {
  return {
    name: 'MaskOcclusion',
    params,
    apply(img: RgbImage, random): RgbImage {
      const m = masks[randint(random, 0, masks.length - 1)]!;
      const out = img.data.slice();
      for (let y = 0; y < img.height; y++) {
        const my = Math.min(m.height - 1, Math.floor((y * m.height) / img.height));
        for (let x = 0; x < img.width; x++) {
          const mx = Math.min(m.width - 1, Math.floor((x * m.width) / img.width));
          if (!m.bits[my * m.width + mx]) continue;
          const i = (y * img.width + x) * 3;
          out[i] = 255;
          out[i + 1] = 0;
          out[i + 2] = 0;
        }
      }
      return { data: out, width: img.width, height: img.height };
    },
  };
}
