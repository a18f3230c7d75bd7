// `visid train`: train an embedding model (flags for the common case, --config for everything), and make soups / snapshot ensembles of a run.
import { Command, InvalidArgumentError } from 'commander';
import path from 'node:path';
import { readConfigFile, validateConfig } from '../train/config.js';
import { LOSS_NAMES, MINER_NAMES } from '../train/loss-factory.js';
import { train, TrainingStopped } from '../train/trainer.js';
import { ensembleRun, openRun, soupRun } from '../train/run-tools.js';
import { numberList, positiveInt, positiveNumber } from './options.js';

interface TrainFlags {
  config?: string;
  out?: string;
  loss?: string;
  miner?: string;
  embeddingDim?: number;
  epochs?: number;
  batch?: number;
  lr?: number;
  optimizer?: string;
  schedule?: string;
  backbone?: string;
  head?: string;
  views?: number;
  val?: string;
  trainPerClass?: number;
  widths?: number[];
  seed?: number;
  backend?: string;
  resume?: boolean;
  quiet?: boolean;
  workers?: number;
}

function oneOf(names: readonly string[], what: string) {
  return (v: string) => {
    if (!names.includes(v)) throw new InvalidArgumentError(`unknown ${what} '${v}' (one of ${names.join(', ')})`);
    return v;
  };
}

/** Flags on top of the config file (flags win). */
function mergeFlags(raw: Record<string, unknown>, data: string | undefined, f: TrainFlags): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
  if (data) out.data = data;
  if (f.out) out.out = f.out;
  if (f.loss || f.miner) out.loss = { ...((typeof raw.loss === 'string' ? { name: raw.loss } : raw.loss) as object), ...(f.loss ? { name: f.loss } : {}), ...(f.miner ? { miner: f.miner } : {}) };
  if (f.embeddingDim) out.embeddingDim = f.embeddingDim;
  if (f.epochs) out.epochs = f.epochs;
  if (f.batch) out.batchSize = f.batch;
  if (f.lr) out.lr = f.lr;
  if (f.optimizer) out.optimizer = f.optimizer;
  if (f.schedule) out.schedule = f.schedule;
  if (f.val) out.val = f.val;
  if (f.trainPerClass) out.trainPerClass = f.trainPerClass;
  if (f.seed !== undefined) out.seed = f.seed;
  if (f.backend) out.backend = f.backend;
  if (f.workers) out.workers = f.workers;
  if (f.backbone) out.model = { type: 'head', backbone: f.backbone, kind: f.head ?? 'fc-bn', ...(f.views ? { views: f.views } : {}) };
  else if (f.widths) out.model = { ...((raw.model as object) ?? { type: 'resnet' }), widths: f.widths };
  return out;
}

export function trainCommand(): Command {
  // Positional options: `visid train soup <run> --epochs 4,5` gives --epochs to soup, not to train's own --epochs <n>.
  const cmd = new Command('train')
    .enablePositionalOptions()
    .description('train an embedding model with visid (a residual CNN, or a head on a frozen ONNX backbone) and export it as ONNX')
    .argument('[data]', 'training data: image folder per label, manifest, or an MNIST-style IDX folder')
    .option('-c, --config <file>', 'JSON or YAML config with every setting (flags override it)')
    .option('-o, --out <dir>', 'run folder: checkpoints, log.jsonl, report.html, model.onnx')
    .option('--loss <name>', `loss (${LOSS_NAMES.join(', ')})`, oneOf(LOSS_NAMES, 'loss'))
    .option('--miner <name>', `miner for pair losses (${MINER_NAMES.join(', ')})`, oneOf(MINER_NAMES, 'miner'))
    .option('--embedding-dim <n>', 'descriptor length', positiveInt)
    .option('--epochs <n>', 'epochs', positiveInt)
    .option('--batch <n>', 'batch size', positiveInt)
    .option('--lr <rate>', 'base learning rate', positiveNumber)
    .option('--optimizer <name>', 'sgd, adam or adamw', oneOf(['sgd', 'adam', 'adamw'], 'optimizer'))
    .option('--schedule <name>', 'constant, cosine or seed004', oneOf(['constant', 'cosine', 'seed004'], 'schedule'))
    .option('--backbone <model.onnx>', 'train a head on this frozen backbone (features are extracted once and cached)')
    .option('--head <kind>', 'head kind with --backbone: linear, fc-bn or projector', oneOf(['linear', 'fc-bn', 'projector'], 'head'))
    .option('--views <n>', 'feature views per image with --backbone: 1 the image, 2 + its mirror, more + random resized crops', positiveInt)
    .option('--widths <list>', 'CNN stage widths, e.g. 16,32,64', numberList)
    .option('--val <data>', 'validation data (default: a stratified 10% of the training data)')
    .option('--train-per-class <n>', 'use at most n training images per class', positiveInt)
    .option('--seed <n>', 'random seed (same seed, same run)', (v) => Number.parseInt(v, 10))
    .option('--backend <name>', 'TensorFlow.js backend: wasm (default), cpu, or tensorflow (needs @tensorflow/tfjs-node)', oneOf(['wasm', 'cpu', 'tensorflow'], 'backend'))
    .option('--workers <n>', 'data-parallel replicas in worker threads (tfjs wasm runs one thread each); deterministic per seed and count', positiveInt)
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .option('-q, --quiet', 'no progress display')
    .action(async (data: string | undefined, f: TrainFlags) => {
      const raw = f.config ? await readConfigFile(f.config) : {};
      const baseDir = f.config ? path.dirname(path.resolve(f.config)) : process.cwd();
      const merged = mergeFlags(raw, data ? path.resolve(data) : undefined, { ...f, out: f.out ? path.resolve(f.out) : undefined, backbone: f.backbone ? path.resolve(f.backbone) : undefined });
      if (!merged.out && typeof merged.data === 'string') merged.out = path.resolve('runs', path.basename(merged.data as string));
      const config = validateConfig(merged, f.config ?? 'command line', baseDir);
      if (!f.quiet) process.stderr.write(`training ${config.model.type === 'head' ? `a ${config.model.kind ?? 'fc-bn'} head on ${config.model.backbone}` : config.model.type === 'pretrained' ? `${config.model.backbone} (${config.model.trainable ?? 'last-2-blocks'}) + GeM + head` : 'a residual CNN'} with ${config.loss.name} for ${config.epochs} epochs -> ${config.out}\n`);
      // Ctrl-C stops between batches with the finished epochs checkpointed; a second Ctrl-C exits at once.
      let stop = false;
      const onSigint = () => {
        if (stop) process.exit(130);
        stop = true;
        process.stderr.write('\nstopping after this batch (Ctrl-C again to quit now)...\n');
      };
      process.on('SIGINT', onSigint);
      let result;
      try {
        result = await train(config, { resume: f.resume, quiet: f.quiet, shouldStop: () => stop });
      } catch (err) {
        if (err instanceof TrainingStopped) {
          process.stderr.write(`${err.message}\n`);
          process.exitCode = 130;
          return;
        }
        throw err;
      } finally {
        process.off('SIGINT', onSigint);
      }
      const last = result.history.at(-1)!;
      process.stdout.write(
        `backend ${result.backend}\nuntrained: recall@1 ${result.untrained['recall@1'].toFixed(4)}  map@5 ${result.untrained['map@5'].toFixed(4)}\n` +
          `trained:   recall@1 ${last['recall@1'].toFixed(4)}  map@5 ${last['map@5'].toFixed(4)}  (validation, epoch ${last.epoch})\n` +
          `model: ${result.modelPath}\nreport: ${path.join(config.out, 'report.html')}\n`,
      );
    });

  cmd
    .command('soup')
    .description('average checkpoints of a run into one model: uniform, or greedy by validation Recall@1 (seed 001 §7.1)')
    .argument('<run>', 'run folder written by visid train')
    .option('--greedy', 'greedy soup (keep a checkpoint only if it does not lower validation Recall@1)')
    .option('--epochs <list>', 'only these epochs (1-based)', numberList)
    .option('-o, --out <model.onnx>', 'output model')
    .action(async (run: string, o: { greedy?: boolean; epochs?: number[]; out?: string }) => {
      const opened = await openRun(path.resolve(run));
      const r = await soupRun(opened, { greedy: o.greedy ?? false, epochs: o.epochs, out: o.out ? path.resolve(o.out) : undefined });
      for (const i of r.individual) process.stdout.write(`epoch ${i.epoch}: recall@1 ${i.score.toFixed(4)}\n`);
      process.stdout.write(`${o.greedy ? 'greedy' : 'uniform'} soup of epochs ${r.members.join(', ')}: recall@1 ${r.score.toFixed(4)}\nmodel: ${r.modelPath}\n`);
    });

  cmd
    .command('ensemble')
    .description('one model from several checkpoints of a run (snapshot ensemble, seed 002): concatenated normalised descriptors')
    .argument('<run>', 'run folder written by visid train')
    .option('--epochs <list>', 'these epochs (1-based; default: the snapshot epochs of a cosine-restarts schedule)', numberList)
    .option('-o, --out <model.onnx>', 'output model')
    .action(async (run: string, o: { epochs?: number[]; out?: string }) => {
      const opened = await openRun(path.resolve(run));
      const r = await ensembleRun(opened, { epochs: o.epochs, out: o.out ? path.resolve(o.out) : undefined });
      process.stdout.write(`ensemble of epochs ${r.members.join(', ')}\nmodel: ${r.modelPath}\n`);
    });
  return cmd;
}
