// `visid demo`: the main job end to end on the embedded default model — index a gallery, search queries, evaluate, write a report.
import { Command } from 'commander';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeSyntheticDataset } from '../demo/synthetic.js';
import { writeFashionMnistDemo } from '../demo/fashion-mnist.js';
import { loadDataset } from '../data/load.js';
import { Embedder } from '../models/embedder.js';
import { Gallery } from '../index/gallery.js';
import { indexDataset } from '../pipeline/index-dataset.js';
import { GallerySearcher } from '../search/gallery-search.js';
import { evaluateRetrieval, parseMetrics } from '../eval/evaluate.js';
import { renderReport } from '../eval/report.js';
import { defaultModelPath } from '../models/default-files.js';
import { writeFileAtomic } from '../util/atomic.js';
import { positiveInt } from './options.js';

interface DemoOptions {
  out: string;
  data: 'fashion-mnist' | 'places';
  perClass: number;
  classes: number;
  model?: string;
}

export function demoCommand(): Command {
  return new Command('demo')
    .description('the main job on real images: index a gallery with the default model, search the queries, print MAP@5 / Recall@1 / Recall@5, write an HTML report')
    .option('--out <dir>', 'working folder (data, gallery, report)', 'visid-demo')
    .option('--data <set>', 'fashion-mnist (real photos shipped with visid) or places (generated scenes with red occlusions)', 'fashion-mnist')
    .option('--per-class <n>', 'fashion-mnist: gallery and query images per class (at most 100)', positiveInt, 100)
    .option('--classes <n>', 'places: number of places', positiveInt, 12)
    .option('-m, --model <model.onnx>', 'model to use instead of the embedded default')
    .action(async (o: DemoOptions) => {
      const out = path.resolve(o.out);
      const modelPath = o.model ?? (await defaultModelPath());
      if (o.data !== 'fashion-mnist' && o.data !== 'places') throw new Error(`--data must be fashion-mnist or places`);
      await fs.rm(path.join(out, 'gallery-index'), { recursive: true, force: true });
      let dirs: { gallery: string; queries: string; occludedQueries?: string };
      if (o.data === 'fashion-mnist') {
        const n = Math.min(100, o.perClass);
        process.stdout.write(`1. data: Fashion-MNIST test images, ${n} gallery + ${n} query images for each of 10 classes -> ${out}\n`);
        dirs = await writeFashionMnistDemo(out, { galleryPerClass: n, queriesPerClass: n });
      } else {
        process.stdout.write(`1. data: ${o.classes} generated places, 6 gallery and 2 query photos each (also with red occlusions) -> ${out}\n`);
        dirs = await writeSyntheticDataset(out, { classes: o.classes });
      }
      const embedder = await Embedder.load(modelPath);
      process.stdout.write(`2. model: ${embedder.card.name}\n   ${embedder.card.description ?? ''}\n`);
      const galleryDir = path.join(out, 'gallery-index');
      const galleryData = await loadDataset(dirs.gallery);
      const summary = await indexDataset(galleryData, embedder, galleryDir);
      process.stdout.write(`3. indexed ${summary.added} gallery images -> ${galleryDir}\n`);
      const gallery = await Gallery.open(galleryDir);
      const searcher = await GallerySearcher.create(gallery);
      const metrics = parseMetrics('map@5,recall@1,recall@5,mAP');
      const sets: Array<[string, string]> = [['queries', dirs.queries]];
      if (dirs.occludedQueries) sets.push(['queries with red occlusions', dirs.occludedQueries]);
      let step = 4;
      for (const [name, dir] of sets) {
        const queries = await loadDataset(dir);
        // Round-robin over labels, so the report's example grid shows every class, not twelve of the first.
        const seen = new Map<string, number>();
        const rank = new Map<string, number>();
        for (const q of queries.items) {
          const n = (seen.get(q.label ?? '') ?? 0) + 1;
          seen.set(q.label ?? '', n);
          rank.set(q.id, n);
        }
        queries.items.sort((a, b) => rank.get(a.id)! - rank.get(b.id)! || a.id.localeCompare(b.id));
        const { vectors } = await embedder.embedFiles(queries.items.map((q) => q.path));
        const report = await evaluateRetrieval(searcher, queries.items, vectors, metrics, { curveDepth: 100 });
        const first = queries.items[0]!;
        const labels = await searcher.searchLabels(vectors.subarray(0, gallery.dim), { k: 5 });
        process.stdout.write(`${step}. ${name}: ${first.id} (true label ${first.label}) -> top-5 labels:\n`);
        labels[0]!.forEach((l, i) => process.stdout.write(`     ${i + 1}. ${l.label}  ${l.score.toFixed(4)}${l.label === first.label ? '  <- correct' : ''}\n`));
        process.stdout.write(`   evaluation over ${report.queries} ${name}:\n`);
        for (const [metric, value] of Object.entries(report.metrics)) process.stdout.write(`     ${metric.padEnd(10)} ${value.toFixed(4)}\n`);
        const byQuery = new Map(queries.items.map((q) => [q.id, q.path]));
        const byItem = new Map(galleryData.items.map((it) => [it.id, it.path]));
        const html = await renderReport(`visid demo: ${embedder.card.name} on ${o.data} (${name})`, report, { query: (id) => byQuery.get(id), item: (id) => byItem.get(id) }, 12);
        const file = path.join(out, name === 'queries' ? 'report.html' : 'report-occluded.html');
        await writeFileAtomic(file, html);
        process.stdout.write(`   report: ${file}\n`);
        step++;
      }
      await searcher.close();
      await embedder.close();
      process.stdout.write(`Next: visid search ${path.relative(process.cwd(), galleryDir)} <image> --unique-labels -k 5\n`);
    });
}
