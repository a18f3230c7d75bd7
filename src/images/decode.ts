// Decodes any image sharp reads into 8-bit sRGB pixels, EXIF-oriented, with pixel-limit and truncation checks.
import { promises as fs } from 'node:fs';
import sharp from 'sharp';
import { VisidError } from '../util/errors.js';

/** Default decompression-bomb guard: 64 megapixels (an 8000×8000 photo passes, a 20k×20k bomb does not). */
export const DEFAULT_MAX_PIXELS = 64_000_000;

export type ResizeMode = 'exact' | 'shorter-crop';

export interface DecodeOptions {
  /** Refuse images with more pixels than this. */
  maxPixels?: number;
  /** Target size; without it the image keeps its (oriented) size. */
  width?: number;
  height?: number;
  /** exact: stretch to width×height. shorter-crop: scale the shorter side to fit, then centre-crop. */
  resize?: ResizeMode;
  /** Name used in errors (defaults to the path, or '<buffer>'). */
  name?: string;
}

export interface RgbImage {
  /** Interleaved RGB bytes, row-major (HWC). */
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * Decodes `input` (a path or the file's bytes) to 8-bit RGB: EXIF orientation applied, grey/CMYK/16-bit
 * converted, alpha flattened onto white, first frame of animations. Truncated and corrupt files throw E_IMAGE,
 * oversized ones E_IMAGE_TOO_LARGE, both naming the file.
 */
/** What visid decodes: raster formats only. SVG (and PDF, ...) would be rasterised by librsvg without limits. */
export const RASTER_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif', 'avif', 'jp2']);

/** Only regular files are opened: a FIFO would block forever, a device would read without end. */
export async function assertRegularFile(file: string, name = file): Promise<void> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch (err) {
    throw new VisidError('E_NOT_FOUND', 'image file does not exist', { item: name, cause: err });
  }
  if (!stat.isFile()) throw new VisidError('E_IMAGE', 'not a regular file (a folder, device, FIFO or socket)', { item: name });
}

/** Refuses a vector or document format before sharp renders it (one rule everywhere: no SVG). */
export async function assertRasterFormat(image: import("sharp").Sharp, name: string): Promise<void> {
  let format: string | undefined;
  try {
    format = (await image.metadata()).format;
  } catch {
    return; // undecodable: the decode itself names the problem
  }
  if (format && !RASTER_FORMATS.has(format)) throw new VisidError('E_IMAGE', `${format.toUpperCase()} is not accepted: send a raster image (JPEG, PNG, WebP, GIF, TIFF, AVIF, HEIF)`, { item: name });
}

/** libvips repeats its complaints over several lines; an error is one line (each distinct complaint once). */
function oneLine(message: string): string {
  return [...new Set(message.split(/\s*\n\s*/).filter((l) => l.length > 0))].join('; ');
}

export async function decodeRgb(input: string | Uint8Array, options: DecodeOptions = {}): Promise<RgbImage> {
  const name = options.name ?? (typeof input === 'string' ? input : '<buffer>');
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (typeof input === 'string') await assertRegularFile(input, name);
  try {
    let pipeline = sharp(input, { limitInputPixels: maxPixels, failOn: 'truncated', pages: 1, autoOrient: true });
    await assertRasterFormat(pipeline, name);
    if (options.width !== undefined && options.height !== undefined) {
      pipeline = pipeline.resize(options.width, options.height, {
        fit: options.resize === 'exact' ? 'fill' : 'cover',
        position: 'centre',
      });
    }
    const { data, info } = await pipeline
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels instead of 3`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (err) {
    if (err instanceof VisidError) throw err;
    const message = (err as Error).message ?? String(err);
    if (/pixel limit/i.test(message)) {
      throw new VisidError('E_IMAGE_TOO_LARGE', `image exceeds the pixel limit of ${maxPixels} pixels`, { item: name, cause: err });
    }
    if (/ENOENT|no such file|Input file is missing/i.test(message)) {
      throw new VisidError('E_NOT_FOUND', 'image file does not exist', { item: name, cause: err });
    }
    throw new VisidError('E_IMAGE', `cannot decode image (corrupt, truncated or unsupported): ${oneLine(message)}`, { item: name, cause: err });
  }
}
