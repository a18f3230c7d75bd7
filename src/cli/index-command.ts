// `visid index`: embed a data set with an ONNX model into a gallery (resumable).
import { Gallery } from '../index/gallery.js';
import { formatIndexSpec, parseIndexSpec, type IndexSpec } from '../index/ann.js';
import { Command, Option } from 'commander';
import { loadDataset } from '../data/load.js';
import { Embedder } from '../models/embedder.js';
import { indexDataset } from '../pipeline/index-dataset.js';
import { enqueueIndexing } from '../pipeline/distributed-index.js';
import { VisidError } from '../util/errors.js';
import { createProgress } from '../util/progress.js';
import { cardFromFlags, CardFlags, fusionMode, inputSize, nonNegativeInt, numberList, positiveInt, positiveNumber, resolveModel } from './options.js';

/** Adds the model-card flags shared by commands that load a model. */
export function withCardFlags(cmd: Command): Command {
  return cmd
    .option('--input-size <HxW>', 'model input size in pixels (overrides the model card)', inputSize)
    .addOption(new Option('--layout <layout>', 'input layout').choices(['NCHW', 'NHWC']))
    .option('--mean <r,g,b>', 'per-channel mean in [0,1] units', numberList)
    .option('--std <r,g,b>', 'per-channel std in [0,1] units', numberList)
    .addOption(new Option('--resize <mode>', 'exact resize, or shorter side + centre crop').choices(['exact', 'shorter-crop']))
    .option('--input-name <name>', 'model input tensor name')
    .option('--output-name <name>', 'model output tensor name');
}

interface IndexFlags extends CardFlags {
  model?: string;
  out: string;
  root?: string;
  batch: number;
  threads?: number;
  workers?: number;
  flip?: boolean;
  scales?: number[];
  fusion: 'avg' | 'sum' | 'max' | 'min';
  darken?: number;
  chunk: number;
  skipBad?: boolean;
  index?: IndexSpec;
  queue?: string;
  jobItems: number;
  shards?: number;
  maxPixels?: number;
  quiet?: boolean;
}

export function indexCommand(): Command {
  const cmd = new Command('index')
    .description('embed every image of a data set (folder per label, or CSV/JSONL manifest) into a gallery; re-running resumes')
    .argument('<data>', 'folder (root/<label>/*.jpg) or manifest (.csv/.jsonl)')
    .requiredOption('-o, --out <gallery>', 'gallery folder to create or extend')
    .option('-m, --model <name|model.onnx>', 'a model name (visid models: photo, photo-small, fashion-mnist, …) or an ONNX file (default: photo)')
    .option('--root <dir>', 'root that manifest paths are relative to')
    .option('-b, --batch <n>', 'images per inference batch', positiveInt, 32)
    .option('--threads <n>', 'onnxruntime intra-op threads (default: all cores)', positiveInt)
    .option('--workers <n>', 'image decoding threads (default: all cores; 0 = main thread)', nonNegativeInt)
    .option('--flip', 'test-time augmentation: fuse the mirrored image in')
    .option('--scales <list>', 'multi-scale descriptors, e.g. 0.526,0.588,1,1.7,1.9', numberList)
    .option('--fusion <mode>', 'how to fuse views: avg, sum, max, min', fusionMode, 'avg')
    .option('--darken <factor>', 'scale every pixel by this factor, here and for every query of the gallery (seed 001 §4.1: 0.15)', positiveNumber)
    .option('--chunk <n>', 'images committed to the gallery at a time', positiveInt, 2048)
    .option('--skip-bad', 'skip what cannot or must not be read (a corrupt or unreadable image, a FIFO, socket or device, a link leading outside the data root, a manifest row whose file is missing), a warning line each and a count at the end, instead of stopping')
    .option('--max-pixels <n>', 'refuse images with more pixels than this', positiveInt)
    .option('--queue <redis-url>', 'distribute: enqueue batches on this Redis (BullMQ) for `visid worker`s to embed and commit; waits until all are in')
    .option('--job-items <n>', 'with --queue: items per job', positiveInt, 256)
    .option('--shards <n>', 'with --queue: split the gallery into <out>/shard-<i> galleries by id hash (serve them with visid serve --shards)', positiveInt)
    .option('--index <spec>', 'also keep an approximate index: HNSW32, HNSW32,F16, HNSW32,SQ8, IVF1024,PQ32[,RFlat] (Flat: none); see visid reindex', (v: string) => parseIndexSpec(v))
    .option('-q, --quiet', 'no progress output');
  withCardFlags(cmd);
  return cmd.action(async (data: string, o: IndexFlags) => {
    // Entries refused while listing the data set are named at once (nothing was opened for them); images that fail
    // to decode are named after the progress display.
    let refused = 0;
    const dataset = await loadDataset(data, {
      root: o.root,
      onRefused: o.skipBad
        ? (_item, err) => {
            refused++;
            process.stderr.write(`skipped ${err.message}\n`);
          }
        : undefined,
    });
    const embedder = await Embedder.load(await resolveModel(o.model), { card: cardFromFlags(o), threads: o.threads, workers: o.workers });
    const bad: string[] = [];
    let progress = createProgress({ label: 'index', total: 0, unit: 'img', quiet: true });
    if (o.shards && !o.queue) throw new VisidError('E_INPUT', '--shards needs --queue (sharded indexing runs on workers)');
    if (o.index && o.shards) throw new VisidError('E_INPUT', '--index with --shards: run visid reindex on each shard');
    // The embedding settings, recorded in the gallery so queries are embedded the same way.
    const embedding = { flip: o.flip, scales: o.scales, fusion: o.fusion, brightness: o.darken, maxPixels: o.maxPixels };
    const applyIndex = async () => {
      if (!o.index) return;
      const g = await Gallery.open(o.out);
      if (formatIndexSpec(g.indexSpec) !== formatIndexSpec(o.index) || (await g.openIndex().then(() => false, () => true))) await g.setIndex(o.index);
    };
    if (o.queue) {
      try {
        const summary = await enqueueIndexing(dataset, embedder, o.out, {
          queue: o.queue,
          jobItems: o.jobItems,
          shards: o.shards,
          ...embedding,
          onResume: (done, todo) => {
            if (done > 0 && !o.quiet) process.stderr.write(`resuming: ${done} items already stored, ${todo} to go\n`);
            progress = createProgress({ label: 'index (queued)', total: todo, unit: 'img', quiet: o.quiet });
          },
          onProgress: (n) => progress.tick(n),
        });
        progress.done();
        for (const f of summary.failed) process.stderr.write(`job ${f.job} failed: ${f.error}\n`);
        process.stdout.write(`${summary.galleries.length === 1 ? `gallery ${summary.galleries[0]}` : `${summary.galleries.length} shards in ${o.out}`}: ${summary.enqueued} queued in ${summary.jobs} jobs, ${summary.alreadyIndexed} already there, ${summary.failed.length} jobs failed${refused > 0 ? `, ${refused} skipped` : ''}\n`);
        if (summary.failed.length > 0) throw new VisidError('E_INPUT', `${summary.failed.length} of ${summary.jobs} jobs failed (see above); run the command again to retry them`);
        await applyIndex();
      } finally {
        await embedder.close();
      }
      return;
    }
    try {
      const summary = await indexDataset(dataset, embedder, o.out, {
        batchSize: o.batch,
        ...embedding,
        chunkSize: o.chunk,
        skipBad: o.skipBad,
        onResume: (done, todo) => {
          if (done > 0 && !o.quiet) process.stderr.write(`resuming: ${done} items already in ${o.out}, ${todo} to go\n`);
          progress = createProgress({ label: 'index', total: todo, unit: 'img', quiet: o.quiet });
        },
        onProgress: (n) => progress.tick(n),
        // The item's id names it; the error's own copy of the path is left out.
        onSkip: (item, err) => bad.push(`${item.id}: ${err instanceof VisidError ? err.reason : err.message}`),
      });
      progress.done();
      await applyIndex();
      for (const line of bad) process.stderr.write(`skipped ${line}\n`);
      process.stdout.write(
        `gallery ${o.out}: ${summary.added} added, ${summary.alreadyIndexed} already there, ${summary.skippedBad + refused} skipped, ` +
          `model ${embedder.card.name} (${embedder.dim ?? '?'}-d)\n`,
      );
    } finally {
      await embedder.close();
    }
  });
}
