// `visid demo`: a first run on real photos (src/tour/photos.ts: faces, copy detection, photo search, one report);
// `visid demo fashion-mnist` / `visid demo places`: the retrieval job end to end on the embedded default model — index a
// gallery, search queries, evaluate, write a report.
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
import { runPhotoDemo } from '../tour/photos.js';
import { VisidError } from '../util/errors.js';
import { positiveInt } from './options.js';

type DemoSet = 'photos' | 'fashion-mnist' | 'places';
const DEMO_SETS: readonly DemoSet[] = ['photos', 'fashion-mnist', 'places'];

interface DemoOptions {
  out: string;
  data?: string;
  perClass: number;
  classes: number;
  model?: string;
  threads?: number;
  quiet?: boolean;
}

/** The real-photo demo: each job's lines as it goes, or (quiet) one summary line. */
async function photoDemo(o: DemoOptions): Promise<void> {
  if (o.model) throw new VisidError('E_INPUT', '--model applies to visid demo fashion-mnist and places; the photo demo runs the shipped face, copy and photo models');
  const r = await runPhotoDemo({ out: o.out, threads: o.threads, log: o.quiet ? undefined : (line) => process.stdout.write(line) });
  if (o.quiet) {
    const f = r.faces.identified;
    process.stdout.write(`faces ${f.filter((x) => x.correct).length}/${f.length} right, copies ${r.copies.found.filter((c) => c.found).length}/${r.copies.found.length} found, photo search top-1 ${r.search.results[0]?.file ?? '-'}; report: ${r.report}\n`);
  } else process.stdout.write(`Next: open ${path.relative(process.cwd(), r.report)}; visid face identify ${path.relative(process.cwd(), path.join(r.out, 'galleries', 'faces'))} <photo>; visid demo fashion-mnist\n`);
}

export function demoCommand(): Command {
  return new Command('demo')
    .description('a first run on real photos shipped with visid: faces enrolled and identified (open set), edited copies found with their inliers drawn, a photo search; writes an HTML report. `visid demo fashion-mnist` (or places): the retrieval demo with MAP@5 / Recall@k')
    .argument('[set]', `photos (the default: real photos, three jobs), fashion-mnist (Fashion-MNIST test images shipped with visid) or places (generated scenes with red occlusions)`)
    .option('--out <dir>', 'working folder (data, galleries, report.html)', 'visid-demo')
    .option('--data <set>', 'the same as [set] (kept for older scripts)')
    .option('--per-class <n>', 'fashion-mnist: gallery and query images per class (at most 100)', positiveInt, 100)
    .option('--classes <n>', 'places: number of places', positiveInt, 12)
    .option('-m, --model <model.onnx>', 'fashion-mnist, places: model to use instead of the embedded default')
    .option('--threads <n>', 'onnxruntime threads (default: one per core)', positiveInt)
    .option('-q, --quiet', 'no step-by-step lines: the results only')
    .action(async (set: string | undefined, o: DemoOptions) => {
      if (set && o.data && set !== o.data) throw new VisidError('E_INPUT', `demo set '${set}' and --data '${o.data}' disagree`);
      const data = (set ?? o.data ?? 'photos') as DemoSet;
      if (!DEMO_SETS.includes(data)) throw new VisidError('E_INPUT', `demo set must be ${DEMO_SETS.join(', ')}; got '${data}'`);
      if (data === 'photos') return photoDemo(o);
      const say = (line: string) => o.quiet || process.stdout.write(line);
      const out = path.resolve(o.out);
      const modelPath = o.model ?? (await defaultModelPath());
      await fs.rm(path.join(out, 'gallery-index'), { recursive: true, force: true });
      let dirs: { gallery: string; queries: string; occludedQueries?: string };
      if (data === 'fashion-mnist') {
        const n = Math.min(100, o.perClass);
        say(`1. data: Fashion-MNIST test images, ${n} gallery + ${n} query images for each of 10 classes -> ${out}\n`);
        dirs = await writeFashionMnistDemo(out, { galleryPerClass: n, queriesPerClass: n });
      } else {
        say(`1. data: ${o.classes} generated places, 6 gallery and 2 query photos each (also with red occlusions) -> ${out}\n`);
        dirs = await writeSyntheticDataset(out, { classes: o.classes });
      }
      const embedder = await Embedder.load(modelPath, { threads: o.threads });
      say(`2. model: ${embedder.card.name}\n   ${embedder.card.description ?? ''}\n`);
      const galleryDir = path.join(out, 'gallery-index');
      const galleryData = await loadDataset(dirs.gallery);
      const summary = await indexDataset(galleryData, embedder, galleryDir);
      say(`3. indexed ${summary.added} gallery images -> ${galleryDir}\n`);
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
        say(`${step}. ${name}: ${first.id} (true label ${first.label}) -> top-5 labels:\n`);
        labels[0]!.forEach((l, i) => say(`     ${i + 1}. ${l.label}  ${l.score.toFixed(4)}${l.label === first.label ? '  <- correct' : ''}\n`));
        process.stdout.write(`   evaluation over ${report.queries} ${name}:\n`);
        for (const [metric, value] of Object.entries(report.metrics)) process.stdout.write(`     ${metric.padEnd(10)} ${value.toFixed(4)}\n`);
        const byQuery = new Map(queries.items.map((q) => [q.id, q.path]));
        const byItem = new Map(galleryData.items.map((it) => [it.id, it.path]));
        const html = await renderReport(`visid demo: ${embedder.card.name} on ${data} (${name})`, report, { query: (id) => byQuery.get(id), item: (id) => byItem.get(id) }, 12);
        const file = path.join(out, name === 'queries' ? 'report.html' : 'report-occluded.html');
        await writeFileAtomic(file, html);
        process.stdout.write(`   report: ${file}\n`);
        step++;
      }
      await searcher.close();
      await embedder.close();
      say(`Next: visid search ${path.relative(process.cwd(), galleryDir)} <image> --unique-labels -k 5\n`);
    });
}
