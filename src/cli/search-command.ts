// `visid search`: nearest gallery items (or top unique labels) for query images.
import { Command, Option } from 'commander';
import { loadDataset } from '../data/load.js';
import { Gallery } from '../index/gallery.js';
import { GallerySearcher } from '../search/gallery-search.js';
import type { Metric } from '../search/exact.js';
import { embedQueries } from './query-embedding.js';
import { positiveInt } from './options.js';
import { readNpy } from '../formats/npy.js';
import { VisidError } from '../util/errors.js';
import { assertFiniteRows } from '../util/vectors.js';

interface SearchFlags {
  k: number;
  uniqueLabels?: boolean;
  vote?: boolean;
  json?: boolean;
  model?: string;
  metric: Metric;
  threads?: number;
  root?: string;
  quiet?: boolean;
  queryNpy?: string;
  exact?: boolean;
  ef?: number;
  nprobe?: number;
  refineFactor?: number;
  vectorsOnDisk?: boolean;
}

export function searchCommand(): Command {
  return new Command('search')
    .description('find the nearest gallery items (or the top unique labels) for an image, a folder or a manifest of queries')
    .argument('<gallery>', 'gallery folder made by visid index')
    .argument('[queries]', 'an image file, a folder, or a manifest (or --query-npy)')
    .option('--query-npy <file>', 'query descriptors instead of images: an n × dim float32 .npy file (results per row, ids "row-<i>")')
    .option('--exact', 'search every row exactly even when the gallery keeps an approximate index')
    .option('--ef <n>', 'HNSW search beam (default max(128, k)): higher finds more of the true neighbours, slower', positiveInt)
    .option('--nprobe <n>', 'IVF lists visited per query (default min(lists, 32)): higher finds more, slower', positiveInt)
    .option('--refine-factor <n>', 'IVF …,RFlat: candidates re-ranked exactly per result (default 4)', positiveInt)
    .option('--vectors-on-disk', 'leave the descriptors in the segment files (a gallery larger than memory; automatic beyond a quarter of RAM)')
    .option('-k, --k <n>', 'results per query', positiveInt, 10)
    .option('-u, --unique-labels', 'return the top-k distinct labels, each by its best item (Hotel-ID top-5 hotels)')
    .option('--vote', 'with --unique-labels: rank labels by summed similarity of their items instead')
    .addOption(new Option('--metric <metric>', 'similarity').choices(['cosine', 'ip', 'l2']).default('cosine'))
    .option('-m, --model <model.onnx>', "model file, if it moved since the gallery was built")
    .option('--root <dir>', 'root that manifest paths are relative to')
    .option('--threads <n>', 'onnxruntime threads', positiveInt)
    .option('--json', 'print JSON')
    .option('-q, --quiet', 'no progress output')
    .action(async (galleryDir: string, input: string | undefined, o: SearchFlags) => {
      const gallery = await Gallery.open(galleryDir, { vectorsOnDisk: o.vectorsOnDisk || 'auto' });
      if ((input === undefined) === (o.queryNpy === undefined)) throw new VisidError('E_INPUT', 'give query images or --query-npy <file>, one of the two');
      let queries: { items: Array<{ id: string }> };
      let vectors: Float32Array;
      if (o.queryNpy) {
        const { data, shape } = await readNpy(o.queryNpy);
        if (shape.length !== 2 || shape[1] !== gallery.dim) throw new VisidError('E_DIM', `expected shape (n, ${gallery.dim}) for this gallery, got (${shape.join(', ')})`, { item: o.queryNpy });
        assertFiniteRows(data, gallery.dim);
        vectors = data;
        queries = { items: Array.from({ length: shape[0]! }, (_, i) => ({ id: `row-${i}` })) };
      } else {
        const dataset = await loadDataset(input!, { root: o.root });
        vectors = await embedQueries(gallery, dataset, o);
        queries = dataset;
      }
      const searcher = await GallerySearcher.create(gallery, { metric: o.metric, threads: o.threads, exact: o.exact });
      if (searcher.annProblem && !o.quiet) process.stderr.write(`warning: ${searcher.annProblem}\n`);
      try {
        if (o.uniqueLabels) {
          const labels = await searcher.searchLabels(vectors, { k: o.k, mode: o.vote ? 'vote' : 'best', exact: o.exact, ef: o.ef, nprobe: o.nprobe, refineFactor: o.refineFactor });
          const results = queries.items.map((q, i) => ({ query: q.id, labels: labels[i]! }));
          if (o.json) process.stdout.write(JSON.stringify({ gallery: gallery.dir, metric: o.metric, index: searcher.ann && !o.exact ? searcher.ann.meta.spec : 'Flat', results }, null, 2) + '\n');
          else
            for (const r of results) {
              process.stdout.write(`${printable(r.query)}\n`);
              r.labels.forEach((l, j) => process.stdout.write(`  ${String(j + 1).padStart(3)}  ${l.score.toFixed(4)}  ${printable(l.label)}  (best: ${printable(l.id)}, ${l.count} hit${l.count === 1 ? '' : 's'})\n`));
            }
          return;
        }
        const hits = await searcher.search(vectors, { k: o.k, exact: o.exact, ef: o.ef, nprobe: o.nprobe, refineFactor: o.refineFactor });
        const results = queries.items.map((q, i) => ({ query: q.id, hits: hits[i]!.map(({ row: _row, ...h }) => h) }));
        if (o.json) process.stdout.write(JSON.stringify({ gallery: gallery.dir, metric: o.metric, index: searcher.ann && !o.exact ? searcher.ann.meta.spec : 'Flat', results }, null, 2) + '\n');
        else
          for (const r of results) {
            process.stdout.write(`${printable(r.query)}\n`);
            r.hits.forEach((h, j) => process.stdout.write(`  ${String(j + 1).padStart(3)}  ${h.score.toFixed(4)}  ${printable(h.id)}${h.label !== undefined ? `  [${printable(h.label)}]` : ''}\n`));
          }
      } finally {
        await searcher.close();
      }
    });
}

/** One line per hit, whatever a label holds: control characters (a newline...) are shown escaped, as JSON would. */
export function printable(value: unknown): string {
  const s = String(value);
  return /[\u0000-\u001f\u007f]/.test(s) ? JSON.stringify(s).slice(1, -1) : s;
}
