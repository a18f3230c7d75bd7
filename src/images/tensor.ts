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
  const s0 = 1 / (255 * norm.std[0]), s1 = 1 / (255 * norm.std[1]), s2 = 1 / (255 * norm.std[2]);
  const b0 = norm.mean[0] / norm.std[0], b1 = norm.mean[1] / norm.std[1], b2 = norm.mean[2] / norm.std[2];
  // One tight loop per row and layout: this runs for every pixel of every image, on the decode workers.
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let src = 3 * (flip ? row + width - 1 : row);
    const step = flip ? -3 : 3;
    if (layout === 'NCHW') {
      let r = offset + row;
      const end = r + width;
      for (; r < end; r++, src += step) {
        out[r] = rgb[src]! * s0 - b0;
        out[r + plane] = rgb[src + 1]! * s1 - b1;
        out[r + 2 * plane] = rgb[src + 2]! * s2 - b2;
      }
    } else {
      let d = offset + 3 * row;
      const end = d + 3 * width;
      for (; d < end; d += 3, src += step) {
        out[d] = rgb[src]! * s0 - b0;
        out[d + 1] = rgb[src + 1]! * s1 - b1;
        out[d + 2] = rgb[src + 2]! * s2 - b2;
      }
    }
  }
  return out;
}
