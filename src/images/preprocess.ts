// One image file -> model-ready float32 tensors (decode, resize, normalise, optional mirrored copy).
import { decodeRgb, ResizeMode } from './decode.js';
import { Layout, Normalization, rgbToTensor } from './tensor.js';

export interface PreprocessSpec extends Normalization {
  width: number;
  height: number;
  resize: ResizeMode;
  layout: Layout;
  maxPixels?: number;
  /** Multiply pixel values by this factor before normalising, clipped at 255 (seed 001 §4.1 darkens by 0.15). */
  brightness?: number;
}

export interface Preprocessed {
  /** The image as a 3×H×W (or H×W×3) tensor. */
  tensor: Float32Array;
  /** The mirrored image, when asked for. */
  flipped?: Float32Array;
}

export async function preprocessImage(input: string | Uint8Array, spec: PreprocessSpec, withFlip = false, name?: string): Promise<Preprocessed> {
  const rgb = await decodeRgb(input, { width: spec.width, height: spec.height, resize: spec.resize, maxPixels: spec.maxPixels, name });
  if (spec.brightness !== undefined && spec.brightness !== 1) {
    // torchvision's adjust_brightness: a blend with black, i.e. every value scaled (and clipped when brightening).
    const b = spec.brightness;
    for (let i = 0; i < rgb.data.length; i++) rgb.data[i] = Math.min(255, Math.round(rgb.data[i]! * b));
  }
  const tensor = rgbToTensor(rgb.data, rgb.width, rgb.height, spec, spec.layout, false);
  if (!withFlip) return { tensor };
  return { tensor, flipped: rgbToTensor(rgb.data, rgb.width, rgb.height, spec, spec.layout, true) };
}
