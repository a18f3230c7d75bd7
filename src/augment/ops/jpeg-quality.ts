// JpegQuality: re-encode as a baseline JPEG at a low quality and decode it again (jpeg-js, synchronous), leaving block and ringing artefacts.
import jpeg from 'jpeg-js';
import { range, uniform, type AugmentOp, type RgbImage } from '../op.js';

export function jpegQuality(params: Record<string, unknown> = {}): AugmentOp {
  const quality = range(params, 'quality', [10, 40], 'JpegQuality');
  if (!(quality[0] >= 1 && quality[1] <= 100)) throw new Error(`'quality' must lie in [1, 100], got [${quality}]`);
  return {
    name: 'JpegQuality',
    params,
    apply(img: RgbImage, random): RgbImage {
      return jpegRoundTrip(img, Math.round(uniform(random, quality[0], quality[1])));
    },
  };
}

/** Encodes at `quality` (1–100) and decodes back to RGB of the same size. */
export function jpegRoundTrip(img: RgbImage, quality: number): RgbImage {
  const n = img.width * img.height;
  const rgba = Buffer.alloc(n * 4);
  for (let i = 0; i < n; i++) {
    rgba[4 * i] = img.data[3 * i]!;
    rgba[4 * i + 1] = img.data[3 * i + 1]!;
    rgba[4 * i + 2] = img.data[3 * i + 2]!;
    rgba[4 * i + 3] = 255;
  }
  const encoded = jpeg.encode({ data: rgba, width: img.width, height: img.height }, quality);
  const decoded = jpeg.decode(encoded.data, { useTArray: true, formatAsRGBA: false });
  return { data: Uint8Array.from(decoded.data), width: decoded.width, height: decoded.height };
}
