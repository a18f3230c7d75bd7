// `visid augment`: preview an augmentation pipeline — a grid of seeded augmented samples of one image, as PNG.
import { Command } from 'commander';
import path from 'node:path';
import sharp from 'sharp';
import { AugmentPipeline } from '../augment/pipeline.js';
import { decodeRgb } from '../images/decode.js';
import { writeFileAtomic } from '../util/atomic.js';
import { positiveInt } from './options.js';

export function augmentCommand(): Command {
  return new Command('augment')
    .description('preview an augmentation pipeline: a grid of n augmented samples of one image')
    .argument('<image>', 'input image')
    .requiredOption('-c, --config <file>', 'pipeline (JSON or YAML list of { op, p, ...parameters })')
    .option('-n, --n <count>', 'number of samples', positiveInt, 16)
    .option('-o, --out <grid.png>', 'output PNG', 'augment-grid.png')
    .option('--seed <n>', 'random seed (same seed, same grid)', (v) => Number.parseInt(v, 10), 1)
    .option('--tile <px>', 'tile size in the grid', positiveInt, 224)
    .action(async (image: string, o: { config: string; n: number; out: string; seed: number; tile: number }) => {
      const pipeline = await AugmentPipeline.fromFile(path.resolve(o.config));
      const src = await decodeRgb(path.resolve(image));
      const cols = Math.ceil(Math.sqrt(o.n));
      const rows = Math.ceil(o.n / cols);
      const tiles = await Promise.all(
        Array.from({ length: o.n }, async (_, i) => {
          const img = pipeline.applySeeded(src, o.seed, i);
          const png = await sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: 3 } })
            .resize(o.tile, o.tile, { fit: 'contain', background: { r: 240, g: 240, b: 240 } })
            .png()
            .toBuffer();
          return { input: png, left: (i % cols) * (o.tile + 4), top: Math.floor(i / cols) * (o.tile + 4) };
        }),
      );
      const grid = await sharp({ create: { width: cols * (o.tile + 4) - 4, height: rows * (o.tile + 4) - 4, channels: 3, background: { r: 255, g: 255, b: 255 } } })
        .composite(tiles)
        .png()
        .toBuffer();
      await writeFileAtomic(path.resolve(o.out), grid);
      process.stdout.write(`pipeline:\n${pipeline.describe()}\n${o.n} samples -> ${path.resolve(o.out)}\n`);
    });
}
