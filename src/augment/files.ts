// Image files through an augmentation pipeline, re-encoded as PNG bytes that the Embedder reads like any file.
import sharp from 'sharp';
import { decodeRgb } from '../images/decode.js';
import type { AugmentPipeline } from './pipeline.js';

/** `file` decoded, augmented with the generator seeded from (seed, sample, epoch), as PNG (fast compression). */
export async function augmentedPng(pipeline: AugmentPipeline, file: string, seed: number, sample: number, epoch = 0): Promise<Uint8Array> {
  const img = pipeline.applySeeded(await decodeRgb(file, { name: file }), seed, sample, epoch);
  return sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer();
}
