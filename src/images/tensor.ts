// Turns 8-bit RGB pixels into a normalised float32 tensor (NCHW or NHWC), optionally mirrored.

export type Layout = 'NCHW' | 'NHWC';

export interface Normalization {
  /** Per-channel mean in [0,1] pixel units (ImageNet: 0.485, 0.456, 0.406). */
  mean: readonly [number, number, number];
  /** Per-channel standard deviation in [0,1] pixel units (ImageNet: 0.229, 0.224, 0.225). */
  std: readonly [number, number, number];
}

/**
 * Writes (pixel/255 - mean)/std for each channel of the HWC bytes `rgb` into `out` at `offset`,
 * in `layout`; `flip` mirrors left-right. Returns `out`.
 */
export function rgbToTensor(
  rgb: Uint8Array,
  width: number,
  height: number,
  norm: Normalization,
  layout: Layout,
  flip = false,
  out: Float32Array = new Float32Array(3 * width * height),
  offset = 0,
): Float32Array {
  const plane = width * height;
  const scale = [1 / (255 * norm.std[0]), 1 / (255 * norm.std[1]), 1 / (255 * norm.std[2])];
  const shift = [norm.mean[0] / norm.std[0], norm.mean[1] / norm.std[1], norm.mean[2] / norm.std[2]];
  const s0 = scale[0]!, s1 = scale[1]!, s2 = scale[2]!;
  const b0 = shift[0]!, b1 = shift[1]!, b2 = shift[2]!;
  for (let y = 0; y < height; y++) {
    const rowIn = y * width;
    for (let x = 0; x < width; x++) {
      const src = 3 * (rowIn + (flip ? width - 1 - x : x));
      const dst = rowIn + x;
      if (layout === 'NCHW') {
        out[offset + dst] = rgb[src]! * s0 - b0;
        out[offset + plane + dst] = rgb[src + 1]! * s1 - b1;
        out[offset + 2 * plane + dst] = rgb[src + 2]! * s2 - b2;
      } else {
        out[offset + 3 * dst] = rgb[src]! * s0 - b0;
        out[offset + 3 * dst + 1] = rgb[src + 1]! * s1 - b1;
        out[offset + 3 * dst + 2] = rgb[src + 2]! * s2 - b2;
      }
    }
  }
  return out;
}
