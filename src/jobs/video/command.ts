// `visid video …`: train a frame classifier, index videos (frames → class scores), search ranked clips per feature, evaluate, fuse, demo.
import { Command, InvalidArgumentError, Option } from 'commander';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { trainVideoClassifier } from './train.js';
import { indexVideos, fuseVideoIndexes, VideoIndex } from './video-index.js';
import { parseAggregation, rankingTsv, trecRun, type ClipAggregation } from './clips.js';
import { classIndex } from './label-set.js';
import { evaluateVideoIndex, type VideoEvaluation } from './evaluate.js';
import { writeVideoDemo } from './demo.js';
import { defaultModelPath } from '../../models/default-files.js';
import { MULTI_LABEL_LOSSES, type MultiLabelLossName, type MultiLabelHeadKind } from '../../train/multilabel.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { VisidError } from '../../util/errors.js';
import { numberList, positiveInt, positiveNumber } from '../../cli/options.js';

function aggregation(value: string): ClipAggregation {
  try {
    return parseAggregation(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function fraction(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n < 1)) throw new InvalidArgumentError(`'${value}' is not in [0, 1)`);
  return n;
}

async function listVideos(inputs: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const input of inputs) {
    const stat = await fs.stat(input).catch(() => {
      throw new VisidError('E_NOT_FOUND', 'no such video or folder', { item: input });
    });
    if (stat.isDirectory()) {
      const names = (await fs.readdir(input)).filter((n) => /\.(mp4|m4v|mkv|webm|mov|avi|mpe?g|ts|flv|wmv)$/i.test(n)).sort();
      if (names.length === 0) throw new VisidError('E_DATASET', 'folder holds no video files', { item: input });
      out.push(...names.map((n) => path.join(input, n)));
    } else out.push(input);
  }
  return out;
}

function printEvaluation(ev: VideoEvaluation): void {
  for (const f of ev.perFeature) process.stdout.write(`${f.ap.toFixed(4)}  ${f.feature} (${f.positives} clips)\n`);
  process.stdout.write(`mAP   ${ev.mAP.toFixed(4)} over ${ev.perFeature.length} features, ${ev.clips} clips\n`);
  if (ev.lrap !== undefined) process.stdout.write(`LRAP  ${ev.lrap.toFixed(4)} over ${ev.frames} frames\n`);
}

function trainCommand(): Command {
  return new Command('train')
    .description('train a multi-label frame classifier on annotated images: frozen backbone + head, soft labels from the annotators’ votes (seed 002)')
    .argument('<images>', 'folder the annotation file’s image paths are relative to')
    .requiredOption('--labels <annotations.csv>', 'one row per annotator answer: image,label (or LADI’s img_url,Answer lists)')
    .option('--label-set <file>', 'class list, one "category: feature" per line (default: LADI’s 37 classes, seed 002 Table 1)')
    .option('--backbone <model.onnx>', 'frozen ONNX backbone (default: the embedded Fashion-MNIST model)')
    .addOption(new Option('--loss <name>', 'multi-label loss on soft targets').choices([...MULTI_LABEL_LOSSES]).default('focal'))
    .option('--gamma <γ>', 'focusing parameter', positiveNumber, 2)
    .option('--beta <β>', 'class-balanced β', Number, 0.999)
    .option('--threshold <th>', 'reduced-focal threshold', Number, 0.5)
    .option('--table-counts', 'class-balanced n_c from the label set (Table 1) rather than the training data')
    .option('--none-weight <w>', 'multiply the none classes’ losses (Table 2: 0.1, 0.01)', Number)
    .option('--outlier-removal', 'drop the largest loss of every batch (seed 002 §2.4)')
    .addOption(new Option('--head <kind>', 'head on the features (mlp: a shared hidden layer, where class weights matter)').choices(['linear', 'fc-bn', 'mlp']).default('mlp'))
    .option('--epochs <n>', 'epochs', positiveInt, 30)
    .option('--batch <n>', 'batch size', positiveInt, 64)
    .option('--lr <lr>', 'peak learning rate (Adam, cosine decay)', positiveNumber, 1e-3)
    .option('--val-fraction <f>', 'images held out for validation (LRAP, best epoch, per-class thresholds)', fraction, 0.1)
    .option('--seed <n>', 'seed', positiveInt, 1)
    .requiredOption('-o, --out <classifier.onnx>', 'where to write the classifier (ONNX + card)')
    .option('-q, --quiet', 'no progress output')
    .action(async (images: string, o: { labels: string; labelSet?: string; backbone?: string; loss: MultiLabelLossName; gamma: number; beta: number; threshold: number; tableCounts?: boolean; noneWeight?: number; outlierRemoval?: boolean; head: MultiLabelHeadKind; epochs: number; batch: number; lr: number; valFraction: number; seed: number; out: string; quiet?: boolean }) => {
      const result = await trainVideoClassifier({
        images,
        annotations: o.labels,
        labelSet: o.labelSet,
        backbone: o.backbone ?? (await defaultModelPath()),
        out: o.out,
        loss: { name: o.loss, gamma: o.gamma, beta: o.beta, threshold: o.threshold, noneWeight: o.noneWeight, outlierRemoval: o.outlierRemoval },
        tableCounts: o.tableCounts,
        head: o.head,
        epochs: o.epochs,
        batchSize: o.batch,
        lr: o.lr,
        valFraction: o.valFraction,
        seed: o.seed,
        quiet: o.quiet,
        onEpoch: (e) => {
          if (!o.quiet) process.stderr.write(`epoch ${e.epoch}/${o.epochs}: loss ${e.loss.toFixed(4)}${e.valLrap === undefined ? '' : `, val LRAP ${e.valLrap.toFixed(4)}`}\n`);
        },
      });
      process.stdout.write(`${result.classes.length} classes, ${result.train} training / ${result.val} validation images; ${result.valLrap === undefined ? '' : `val LRAP ${result.valLrap.toFixed(4)} (epoch ${result.bestEpoch}); `}written to ${result.model}\n`);
    });
}

function indexCommand(): Command {
  return new Command('index')
    .description('decode videos with ffmpeg (10 fps, or one frame per shot), score every frame with a classifier, store the scores')
    .argument('<videos...>', 'video files or folders of them (one clip per file, or --segment)')
    .requiredOption('-m, --model <classifier.onnx>', 'multi-label classifier (visid video train)')
    .requiredOption('-o, --out <index>', 'index folder (re-running with more videos appends; indexed videos are skipped)')
    .option('--fps <n>', 'frames per second to sample (seed 002: 10)', positiveNumber, 10)
    .option('--shots <threshold>', 'one frame per shot instead: scene-change threshold in (0, 1), e.g. 0.3', fraction)
    .option('--segment <seconds>', 'cut each video into clips of this length', positiveNumber)
    .option('--batch <n>', 'frames per inference batch', positiveInt, 32)
    .option('--threads <n>', 'onnxruntime threads', positiveInt)
    .option('-q, --quiet', 'no progress output')
    .action(async (inputs: string[], o: { model: string; out: string; fps: number; shots?: number; segment?: number; batch: number; threads?: number; quiet?: boolean }) => {
      const videos = await listVideos(inputs);
      const s = await indexVideos(videos, o.model, o.out, o);
      process.stdout.write(`${s.added} videos indexed (${s.frames} frames, ${(s.frames / Math.max(1e-9, s.seconds)).toFixed(1)} frames/s), ${s.skipped} already there; index ${o.out}\n`);
    });
}

function searchCommand(): Command {
  return new Command('search')
    .description('the top-k clips showing a feature, ranked by clip score (max over frames by default)')
    .argument('<index>', 'video index folder')
    .option('-f, --feature <name...>', 'feature(s): a class name, or a feature name unique in the label set (e.g. flooding); default: every non-none class')
    .option('-k, --k <k>', 'clips per feature', positiveInt, 100)
    .option('--aggregate <how>', 'frame → clip score: max (seed 002), mean, top<k> (mean of the k best frames)', aggregation, { kind: 'max' } as ClipAggregation)
    .addOption(new Option('--format <format>', 'output format').choices(['tsv', 'trec', 'json']).default('tsv'))
    .option('--run-id <id>', 'run id for the TREC format', 'visid')
    .option('-o, --out <file>', 'write to a file instead of stdout')
    .action(async (dir: string, o: { feature?: string[]; k: number; aggregate: ClipAggregation; format: 'tsv' | 'trec' | 'json'; runId: string; out?: string }) => {
      const index = await VideoIndex.open(dir);
      const set = { names: index.classes, classes: index.classes.map((name) => ({ name, category: '', none: /:\s*none$/i.test(name) })) };
      const wanted = o.feature ? o.feature.map((f) => classIndex(set, f)) : index.classes.map((c, i) => ({ c, i })).filter(({ c }) => !/:\s*none$/i.test(c)).map(({ i }) => i);
      const results = wanted.map((c) => ({ feature: index.classes[c]!, number: c + 1, ranking: index.search(c, o.k, o.aggregate) }));
      let text: string;
      if (o.format === 'json') text = JSON.stringify(results, null, 2) + '\n';
      else if (o.format === 'trec') text = results.map((r) => trecRun(r.number, r.ranking, o.runId)).join('');
      else text = 'feature\trank\tclip\tscore\tdetected\n' + results.map((r) => rankingTsv(r.feature, r.ranking)).join('');
      if (o.out) await writeFileAtomic(o.out, text);
      else process.stdout.write(text);
    });
}

function evalCommand(): Command {
  return new Command('eval')
    .description('per-feature AP of the clip rankings, their mean (mAP), and frame-level LRAP against shot ground truth')
    .argument('<index>', 'video index folder')
    .requiredOption('--truth <truth.csv>', 'clip,start,end,labels rows (labels "a|b"; start/end in seconds, optional)')
    .option('--aggregate <how>', 'frame → clip score: max, mean, top<k>', aggregation, { kind: 'max' } as ClipAggregation)
    .option('-k, --k <k>', 'ranking depth for AP (default: all clips)', positiveInt)
    .option('--json', 'print JSON')
    .action(async (dir: string, o: { truth: string; aggregate: ClipAggregation; k?: number; json?: boolean }) => {
      const ev = await evaluateVideoIndex(await VideoIndex.open(dir), o.truth, { aggregation: o.aggregate, k: o.k });
      if (o.json) process.stdout.write(JSON.stringify(ev, null, 2) + '\n');
      else printEvaluation(ev);
    });
}

function fuseCommand(): Command {
  return new Command('fuse')
    .description('weighted fusion of indexes that different classifiers built over the same videos (seed 002 Table 3: 2:1, 5:1)')
    .argument('<indexes...>', 'two or more index folders')
    .option('-w, --weights <list>', 'one weight per index (default: equal)', numberList)
    .requiredOption('-o, --out <index>', 'fused index folder')
    .action(async (dirs: string[], o: { weights?: number[]; out: string }) => {
      const fused = await fuseVideoIndexes(dirs, o.weights, o.out);
      process.stdout.write(`fused ${dirs.length} indexes (${fused.clips.length} clips, ${fused.meta.rows} frames) into ${o.out}\n`);
    });
}

function demoCommand(): Command {
  return new Command('demo')
    .description('the whole path on real labelled photos: annotated images → classifier → short videos (ffmpeg) → frame scores → ranked clips → mAP and LRAP')
    .option('-o, --out <dir>', 'working folder', 'visid-video-demo')
    .option('--people <folder>', 'photos of people to add as the feature "people: person" (default: $VISID_SHARED/data/faces-deepface when present)')
    .option('--clips <n>', 'video clips', positiveInt, 16)
    .addOption(new Option('--loss <name>', 'multi-label loss').choices([...MULTI_LABEL_LOSSES]).default('focal'))
    .option('--epochs <n>', 'epochs', positiveInt, 30)
    .option('-q, --quiet', 'no progress output')
    .action(async (o: { out: string; people?: string; clips: number; loss: MultiLabelLossName; epochs: number; quiet?: boolean }) => {
      const shared = process.env.VISID_SHARED ?? path.resolve('..', 'shared');
      const defaultPeople = path.join(shared, 'data', 'faces-deepface');
      const people = o.people ?? ((await fs.access(defaultPeople).then(() => true, () => false)) ? defaultPeople : undefined);
      const layout = await writeVideoDemo(o.out, { people, clips: o.clips });
      const model = path.join(o.out, 'classifier.onnx');
      const trained = await trainVideoClassifier({ images: layout.images, annotations: layout.annotations, labelSet: layout.labelSet, backbone: await defaultModelPath(), out: model, loss: { name: o.loss, gamma: 2 }, head: 'mlp', epochs: o.epochs, quiet: o.quiet });
      process.stdout.write(`classifier: ${trained.classes.length} classes, val LRAP ${trained.valLrap?.toFixed(4) ?? '–'} → ${model}\n`);
      const indexDir = path.join(o.out, 'index');
      await fs.rm(indexDir, { recursive: true, force: true });
      const s = await indexVideos(layout.videos, model, indexDir, { quiet: o.quiet });
      process.stdout.write(`indexed ${s.added} clips, ${s.frames} frames at 10 fps (${(s.frames / s.seconds).toFixed(1)} frames/s)\n`);
      printEvaluation(await evaluateVideoIndex(await VideoIndex.open(indexDir), layout.truth));
      process.stdout.write(`try: visid video search ${indexDir} --feature Sneaker --k 5\n`);
    });
}

export function videoCommand(): Command {
  const cmd = new Command('video').description('disaster-scene style video indexing (TRECVID DSDI, seed 002): multi-label frames → ranked clips per feature');
  for (const sub of [trainCommand(), indexCommand(), searchCommand(), evalCommand(), fuseCommand(), demoCommand()]) cmd.addCommand(sub.exitOverride().showHelpAfterError());
  return cmd;
}
