// `visid eval`: retrieval metrics of a gallery against labelled or geo-tagged queries.
import { Command, Option } from 'commander';
import { loadDataset } from '../data/load.js';
import { Gallery } from '../index/gallery.js';
import { GallerySearcher } from '../search/gallery-search.js';
import { evaluateRetrieval, parseMetrics } from '../eval/evaluate.js';
import type { Metric } from '../search/exact.js';
import { embedQueries } from './query-embedding.js';
import { positiveInt, positiveNumber } from './options.js';
import path from 'node:path';
import { renderReport } from '../eval/report.js';
import { writeFileAtomic } from '../util/atomic.js';
import { VisidError } from '../util/errors.js';

interface EvalFlags {
  queries?: string;
  metrics: string;
  relevance: 'label' | 'geo' | 'auto';
  radius: number;
  excludeSelf?: boolean;
  metric: Metric;
  json?: boolean;
  report?: string;
  model?: string;
  root?: string;
  threads?: number;
  quiet?: boolean;
}

export function evalCommand(): Command {
  return new Command('eval')
    .description('evaluate a gallery with labelled (or geo-tagged) queries: MAP@k, Recall@k, precision@k, mAP')
    .argument('<gallery>', 'gallery folder made by visid index')
    // Checked in the action, not by commander: a parent's mandatory option would also be demanded of its subcommands (`visid eval copy`).
    .option('--queries <data>', 'query folder or manifest (labels, or lat/lon / UTM); required')
    .option('--metrics <list>', 'map@K (Kaggle, unique labels), recall@K, precision@K, mAP', 'map@5,recall@1,recall@5')
    .addOption(new Option('--relevance <kind>', 'what makes a gallery item relevant').choices(['label', 'geo', 'auto']).default('auto'))
    .option('--radius <metres>', 'geo relevance: positives within this distance', positiveNumber, 25)
    .option('--exclude-self', 'ignore a gallery item with the same id as the query (leave-one-out)')
    .addOption(new Option('--metric <metric>', 'similarity').choices(['cosine', 'ip', 'l2']).default('cosine'))
    .option('-m, --model <model.onnx>', 'model file, if it moved since the gallery was built')
    .option('--root <dir>', 'root that manifest paths are relative to')
    .option('--threads <n>', 'onnxruntime threads', positiveInt)
    .option('--report <file.html>', 'also write an HTML report: metrics, Recall@k and precision–recall curves, example queries')
    .option('--json', 'print JSON (metrics and per-query rankings)')
    .option('-q, --quiet', 'no progress output')
    .action(async (galleryDir: string, o: EvalFlags) => {
      if (!o.queries) throw new VisidError('E_INPUT', "required option '--queries <data>' not specified");
      const metrics = parseMetrics(o.metrics);
      const gallery = await Gallery.open(galleryDir);
      const queries = await loadDataset(o.queries, { root: o.root });
      const vectors = await embedQueries(gallery, queries, o);
      const searcher = await GallerySearcher.create(gallery, { metric: o.metric, threads: o.threads });
      try {
        const report = await evaluateRetrieval(searcher, queries.items, vectors, metrics, {
          relevance: o.relevance,
          radiusMeters: o.radius,
          excludeSelf: o.excludeSelf,
          curveDepth: o.report ? 50 : undefined,
        });
        if (o.report) {
          const byQuery = new Map(queries.items.map((q) => [q.id, q.path]));
          const byItem = new Map(gallery.items.map((it) => [it.id, it.path]));
          const resolveItem = (id: string) => {
            const p = byItem.get(id);
            if (!p) return undefined;
            return path.isAbsolute(p) ? p : gallery.dataRoot ? path.join(gallery.dataRoot, p) : undefined;
          };
          const html = await renderReport(`visid eval: ${path.basename(gallery.dir)} ← ${path.basename(queries.source)}`, report, { query: (id) => byQuery.get(id), item: resolveItem });
          await writeFileAtomic(o.report, html);
          process.stderr.write(`report written to ${o.report}\n`);
        }
        if (o.json) {
          process.stdout.write(JSON.stringify({ gallery: gallery.dir, querySource: queries.source, ...report }, null, 2) + '\n');
          return;
        }
        process.stdout.write(`${report.queries} queries against ${gallery.count} gallery items (${report.relevance} relevance)\n`);
        if (report.queriesWithoutPositives > 0) process.stdout.write(`note: ${report.queriesWithoutPositives} queries have no relevant gallery item\n`);
        for (const [name, value] of Object.entries(report.metrics)) process.stdout.write(`${name.padEnd(14)} ${value.toFixed(4)}\n`);
      } finally {
        await searcher.close();
      }
    });
}
