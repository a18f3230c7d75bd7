// Benchmark: augmented samples/s of seed 000's Table 1 training pipeline at 512×512 and 224×224, against plain
// decode + resize of the same real photos, in one process (ratio = augmented / plain throughput).
// Usage: node dist/bench/augment.js [--runs 5] [--images <folder>]   (default: the shared deepface photos)
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AugmentPipeline, type StepSpec } from '../src/augment/pipeline.js';
import { decodeRgb } from '../src/images/decode.js';
import { hotelIdTrainPipeline } from '../src/jobs/hotel-id/recipe.js';
import { helpAndExit, flags, median } from './common.js';

helpAndExit(import.meta.url);

const here = path.dirname(fileURLToPath(import.meta.url));
const opts = flags(process.argv.slice(2));
const runs = Number(opts['runs'] ?? 5);
const shared = process.env.VISID_SHARED ?? path.resolve(here, '../../../shared');
const folder = opts['images'] ?? path.join(shared, 'data', 'faces-deepface');
const files = (await fs.readdir(folder)).filter((n) => /\.(jpe?g|png)$/i.test(n)).map((n) => path.join(folder, n));

/** Table 1 with its crop at `size` — the recipe's own pipeline — then Normalize. */
function table1(size: number): StepSpec[] {
  return [...hotelIdTrainPipeline(size), { op: 'Normalize' }];
}

console.log(`${files.length} real photos from ${folder}; median of ${runs} runs`);
for (const size of [512, 224]) {
  const pipeline = await AugmentPipeline.create(table1(size));
  // Plain: decode + resize to size × size (shorter side + centre crop) through sharp.
  const plain: number[] = [];
  const augmented: number[] = [];
  const augmentOnly: number[] = [];
  for (let r = 0; r < runs; r++) {
    let t0 = performance.now();
    for (const f of files) await decodeRgb(f, { width: size, height: size, resize: 'shorter-crop' });
    plain.push(files.length / ((performance.now() - t0) / 1000));
    // Augmented: decode at a working size (shorter side 1.15× the crop, as training loaders do), then Table 1.
    t0 = performance.now();
    let ms = 0;
    for (const [i, f] of files.entries()) {
      const img = await decodeRgb(f, { width: Math.round(size * 1.15), height: Math.round(size * 1.15), resize: 'shorter-crop' });
      const a0 = performance.now();
      pipeline.applySeeded(img, 1, i, r);
      ms += performance.now() - a0;
    }
    augmented.push(files.length / ((performance.now() - t0) / 1000));
    augmentOnly.push(files.length / (ms / 1000));
  }
  const p = median(plain);
  const a = median(augmented);
  console.log(`${size}×${size}: decode + resize ${p.toFixed(1)} img/s; decode + Table 1 pipeline ${a.toFixed(1)} img/s (ratio ${(a / p).toFixed(2)}); the pipeline alone ${median(augmentOnly).toFixed(1)} samples/s`);
}
