// `visid recipe hotel-id` (seed 000): train heads with red-occlusion augmentation, MAP@5 on occluded validation images, top-5 unique hotels per test image.
import { Command } from 'commander';
import path from 'node:path';
import { runHotelId } from './recipe.js';
import { writeHotelIdFashionDemo } from './demo.js';
import { positiveInt, positiveNumber } from '../../cli/options.js';

export function hotelIdCommand(): Command {
  return new Command('hotel-id')
    .description('Hotel-ID (seed 000): train heads with red-occlusion augmentation, MAP@5 on occluded validation images, top-5 unique hotels per test image -> submission.csv')
    .argument('<root>', 'Kaggle layout: train_images/<hotel_id>/*.jpg, train_masks/*.png (optional), test_images/*.jpg')
    .option('-o, --out <dir>', 'output folder (models, submission.csv, report.html)', 'hotel-id-run')
    .option('--backbone <model>', 'frozen backbone for the heads: a model name (visid models) or an ONNX file (default: photo; with --make-demo: fashion-mnist, the demo\'s own images)')
    .option('--ensemble <n>', 'train n models (ArcFace / CosFace, different seeds) and sum their similarities', positiveInt, 1)
    .option('--epochs <n>', 'epochs per model', positiveInt, 15)
    .option('--views <n>', 'feature views per training image (the image + Table 1 augmentations)', positiveInt, 6)
    .option('--embedding-dim <n>', 'descriptor length', positiveInt, 64)
    .option('--lr <rate>', 'learning rate', positiveNumber, 0.002)
    .option('--seed <n>', 'random seed', (v) => Number.parseInt(v, 10), 1)
    .option('--make-demo', 'first write a Hotel-ID-layout demo folder at <root> from the Fashion-MNIST photos shipped with visid')
    .option('-q, --quiet', 'no progress display')
    .action(async (root: string, o: { out: string; backbone?: string; ensemble: number; epochs: number; views: number; embeddingDim: number; lr: number; seed: number; makeDemo?: boolean; quiet?: boolean }) => {
      if (o.makeDemo) {
        const d = await writeHotelIdFashionDemo(path.resolve(root), { perHotel: 100 });
        process.stdout.write(`demo data: ${d.hotels} hotels, ${d.train} training images, ${d.test} occluded test images -> ${path.resolve(root)}\n`);
      }
      // The demo's images are Fashion-MNIST's: its model is the one that knows them, as for visid demo.
      const backbone = o.backbone ?? (o.makeDemo ? 'fashion-mnist' : undefined);
      const r = await runHotelId({ root, out: o.out, backbone, models: o.ensemble, epochs: o.epochs, views: o.views, embeddingDim: o.embeddingDim, lr: o.lr, seed: o.seed, quiet: o.quiet });
      process.stdout.write(
        `validation MAP@5 (simulated red occlusions): ${r.mapAt5.toFixed(4)}\n  the same network untrained: ${r.untrainedMapAt5.toFixed(4)}\n  frozen backbone alone: ${r.baselineMapAt5.toFixed(4)}\n` +
          (r.members.length > 1 ? `  ensemble members alone: ${r.members.map((m) => m.mapAt5.toFixed(4)).join(', ')}\n` : '') +
          `seed 000 Table 3 (base images x queries): ${r.table3.map((t) => `${t.gallery}/${t.queries} ${t.mapAt5.toFixed(4)}`).join(', ')}\n` +
          `submission: ${r.submission}\nreport: ${r.report}\n`,
      );
    });
}
