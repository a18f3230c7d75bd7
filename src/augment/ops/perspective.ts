// Perspective: each corner moved inward by a random fraction (scale, default [0.05, 0.1]) of the size; the image is warped by that homography.
import { colour, range, uniform, type AugmentOp } from '../op.js';
import { homography, warp } from '../warp.js';

export function perspective(params: Record<string, unknown> = {}): AugmentOp {
  const scale = range(params, 'scale', [0.05, 0.1], 'Perspective');
  const fill = colour(params, 'fill', [0, 0, 0], 'Perspective');
  return {
    name: 'Perspective',
    params,
    apply(img, random) {
      const { width: w, height: h } = img;
      const j = () => uniform(random, scale[0], scale[1]);
      const corners: [number, number][] = [[0, 0], [w, 0], [w, h], [0, h]];
      const moved: [number, number][] = [
        [j() * w, j() * h],
        [w - j() * w, j() * h],
        [w - j() * w, h - j() * h],
        [j() * w, h - j() * h],
      ];
      // Output pixel → source: the homography from the moved corners back to the image corners.
      const H = homography(moved, corners);
      return warp(img, w, h, H, 'constant', fill);
    },
  };
}
