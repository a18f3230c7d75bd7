// Augmented views of an image for feature caching (seed 004 §3.3 embeds each training image under many edits): seeded random resized crops with random flips.
import sharp from 'sharp';
import { mulberry32 } from '../util/random.js';
import { VisidError } from '../util/errors.js';

/**
 * View k ≥ 2 of an image, as PNG bytes: a random crop covering 40–100 % of the area with aspect ratio 3/4–4/3
 * (the usual RandomResizedCrop ranges), mirrored half of the time. The same (seed, item, view) gives the same bytes.
 * The Embedder then resizes it to the model's input as it does any image.
 */
export async function randomResizedCropView(file: string, seed: number, item: number, view: number): Promise<Uint8Array> {
  const rnd = mulberry32((seed * 2_654_435_761 + item * 40_503 + view * 9_973) >>> 0);
  let img = sharp(file, { autoOrient: true, failOn: 'truncated' });
  let meta: Awaited<ReturnType<typeof img.metadata>>;
  try {
    meta = await img.metadata();
  } catch (err) {
    throw new VisidError('E_IMAGE', `cannot read image: ${(err as Error).message}`, { item: file });
  }
  const w = meta.autoOrient?.width ?? meta.width ?? 0;
  const h = meta.autoOrient?.height ?? meta.height ?? 0;
  let cw = w;
  let ch = h;
  for (let attempt = 0; attempt < 10; attempt++) {
    const area = w * h * (0.4 + 0.6 * rnd());
    const aspect = Math.exp(Math.log(3 / 4) + rnd() * (Math.log(4 / 3) - Math.log(3 / 4)));
    const tw = Math.round(Math.sqrt(area * aspect));
    const th = Math.round(Math.sqrt(area / aspect));
    if (tw >= 1 && th >= 1 && tw <= w && th <= h) {
      cw = tw;
      ch = th;
      break;
    }
  }
  const left = Math.floor(rnd() * (w - cw + 1));
  const top = Math.floor(rnd() * (h - ch + 1));
  img = img.extract({ left, top, width: cw, height: ch });
  if (rnd() < 0.5) img = img.flop();
  return img.png({ compressionLevel: 1 }).toBuffer();
}
