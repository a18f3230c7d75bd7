import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alignFace, applyAffine, faceTemplate, fivePointsFrom68, invertAffine, similarityTransform, warpAffine } from '../src/jobs/faces/align.js';
import type { Point } from '../src/jobs/faces/align.js';
import { assertClose } from './helpers.js';

/** Rotate by θ, scale by s, translate by (tx, ty). */
function transform(points: Point[], theta: number, s: number, tx: number, ty: number): Point[] {
  return points.map(([x, y]) => [s * (Math.cos(theta) * x - Math.sin(theta) * y) + tx, s * (Math.sin(theta) * x + Math.cos(theta) * y) + ty]);
}

test('similarityTransform recovers a known rotation, scale and translation exactly', () => {
  const src: Point[] = [[10, 20], [40, 22], [25, 35], [14, 50], [37, 49]];
  const theta = 0.3, s = 1.7, tx = -12.5, ty = 40;
  const m = similarityTransform(src, transform(src, theta, s, tx, ty));
  assertClose(m, [s * Math.cos(theta), -s * Math.sin(theta), tx, s * Math.sin(theta), s * Math.cos(theta), ty], 1e-9);
});

test('similarityTransform is the least-squares fit for noisy points (centroids map onto each other)', () => {
  // dst = 2·src + (5, 5) with ±1 noise that cancels: the fit is still exactly scale 2, no rotation.
  const src: Point[] = [[0, 0], [10, 0], [10, 10], [0, 10]];
  const dst: Point[] = [[5 + 1, 5], [25 - 1, 5], [25 + 1, 25], [5 - 1, 25]];
  const m = similarityTransform(src, dst);
  // By hand: a = Σ x̃·ỹ / Σ|x̃|² = 400/200 = 2, b = Σ x̃×ỹ / Σ|x̃|² = 0.
  assertClose(m, [2, 0, 5, 0, 2, 5], 1e-12);
  assert.throws(() => similarityTransform([[1, 1], [1, 1]], [[0, 0], [1, 1]]), /identical/);
});

test('invertAffine undoes applyAffine', () => {
  const m = similarityTransform([[0, 0], [1, 0]], [[3, 4], [3, 6]]); // rotate 90°, scale 2, shift (3, 4)
  assertClose(applyAffine(m, [1, 1]), [1, 6], 1e-12);
  assertClose(applyAffine(invertAffine(m), applyAffine(m, [7, -2])), [7, -2], 1e-12);
});

test('fivePointsFrom68 takes eye centres, nose tip and mouth corners', () => {
  const lm: Point[] = Array.from({ length: 68 }, (_, i) => [i, 100 + i]);
  // Mean of 36..41 = 38.5; of 42..47 = 44.5.
  assert.deepEqual(fivePointsFrom68(lm), [[38.5, 138.5], [44.5, 144.5], [30, 130], [48, 148], [54, 154]]);
  assert.throws(() => fivePointsFrom68(lm.slice(5)), /expected 68 landmarks/);
});

test('warped chip: the eye marks of a rotated, scaled face land on the template eye centres', () => {
  // A 200×160 grey image with two 3×3 white "eyes", a rotated and scaled placement of the template.
  const size = 112;
  const template = faceTemplate(size);
  const placed = transform(template, -0.4, 1.3, 30, 50);
  const w = 200, h = 160;
  const data = new Uint8Array(w * h * 3).fill(40);
  for (const [cx, cy] of placed.slice(0, 2)) {
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) data.fill(255, 3 * ((Math.round(cy) + dy) * w + Math.round(cx) + dx), 3 * ((Math.round(cy) + dy) * w + Math.round(cx) + dx) + 3);
  }
  const { chip, transform: m } = alignFace({ data, width: w, height: h }, placed, size);
  // The chip transform undoes the placement: rotation by +0.4 rad and scale 1/1.3.
  assertClose(m, [Math.cos(0.4) / 1.3, -Math.sin(0.4) / 1.3, m[2], Math.sin(0.4) / 1.3, Math.cos(0.4) / 1.3, m[5]], 1e-9);
  // Brightness-weighted centroid of bright pixels near each template eye.
  for (const [ex, ey] of template.slice(0, 2)) {
    let sx = 0, sy = 0, sw = 0;
    for (let y = Math.floor(ey) - 6; y <= Math.ceil(ey) + 6; y++) {
      for (let x = Math.floor(ex) - 6; x <= Math.ceil(ex) + 6; x++) {
        const v = chip.data[3 * (y * size + x)]! - 40;
        if (v > 0) {
          sx += v * x;
          sy += v * y;
          sw += v;
        }
      }
    }
    // The marks were rounded to whole pixels when drawn, so they sit within half a source pixel (÷1.3).
    assert.ok(sw > 0, 'eye mark not found in the chip');
    assert.ok(Math.hypot(sx / sw - ex, sy / sw - ey) < 0.75, `eye at (${(sx / sw).toFixed(2)}, ${(sy / sw).toFixed(2)}), template (${ex.toFixed(2)}, ${ey.toFixed(2)})`);
  }
});

test('warpAffine with the identity copies the image and samples bilinearly between pixels', () => {
  const img = { data: Uint8Array.from([0, 0, 0, 100, 100, 100]), width: 2, height: 1 };
  assert.deepEqual([...warpAffine(img, [1, 0, 0, 0, 1, 0], 2, 1).data], [0, 0, 0, 100, 100, 100]);
  // Shift by half a pixel: the chip's pixel 0 samples x = 0.5 → 50.
  assert.deepEqual([...warpAffine(img, [1, 0, -0.5, 0, 1, 0], 1, 1).data], [50, 50, 50]);
});
