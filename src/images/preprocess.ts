// One image file -> model-ready float32 tensors (decode, resize, normalise, optional mirrored copy).
import { decodeRgb, ResizeMode } from './decode.js';
import { Layout, Normalization, rgbToTensor } from './tensor.js';

export interface PreprocessSpec extends Normalization {
  width: number;
  height: number;
  resize: ResizeMode;
  layout: Layout;
  maxPixels?: number;
}

export interface Preprocessed {
  /** The image as a 3×H×W (or H×W×3) tensor. */
  tensor: Float32Array;
  /** The mirrored image, when asked for. */
  flipped?: Float32Array;
}

export async function preprocessImage(input: string | Uint8Array, spec: PreprocessSpec, withFlip = false, name?: string): Promise<Preprocessed> {
  const rgb = await decodeRgb(input, { width: spec.width, height: spec.height, resize: spec.resize, maxPixels: spec.maxPixels, name });
  const tensor = rgbToTensor(rgb.data, rgb.width, rgb.height, spec, spec.layout, false);
  if (!withFlip) return { tensor };
  return { tensor, flipped: rgbToTensor(rgb.data, rgb.width, rgb.height, spec, spec.layout, true) };
}
