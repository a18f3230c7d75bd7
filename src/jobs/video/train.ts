// Trains a frame classifier for video indexing: annotated images → frozen backbone features → multi-label head → one ONNX classifier (backbone + head + sigmoid) with its card.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Embedder } from '../../models/embedder.js';
import { backboneInputCard, multiLabelClassifierToOnnx, sha256, writeTrainedModel } from '../../models/export-onnx.js';
import { initTf, type TrainBackend } from '../../tf/runtime.js';
import { trainMultiLabelHead, type MultiLabelLossSpec, type MultiLabelEpoch, type MultiLabelHeadKind } from '../../train/multilabel.js';
import { resolveInsideRoot } from '../../data/paths.js';
import { VisidError } from '../../util/errors.js';
import { createProgress } from '../../util/progress.js';
import { mulberry32 } from '../../util/random.js';
import { readSoftLabels } from './annotations.js';
import { loadLabelSet } from './label-set.js';
import type { ClassifierCardExtras } from './classifier.js';

export interface VideoTrainOptions {
  /** Folder the annotation file's image paths are relative to (a URL is looked up by its file name). */
  images: string;
  annotations: string;
  /** Label set file (default: LADI's 37 classes). */
  labelSet?: string;
  backbone: string;
  out: string;
  loss: MultiLabelLossSpec;
  head?: MultiLabelHeadKind;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  valFraction?: number;
  seed?: number;
  /** Use the label set's counts (Table 1's n_c) for the class-balanced loss instead of the training data's. */
  tableCounts?: boolean;
  backend?: TrainBackend;
  threads?: number;
  quiet?: boolean;
  onEpoch?: (e: MultiLabelEpoch) => void;
}

export interface VideoTrainResult {
  model: string;
  classes: string[];
  train: number;
  val: number;
  valLrap?: number;
  thresholds: number[];
  bestEpoch: number;
  history: MultiLabelEpoch[];
}

/** The file an annotation names: a path inside the images folder, or, for a URL (LADI's img_url), its last segment there. */
function imageFile(root: string, name: string, where: string): Promise<string> {
  const rel = /^[a-z]+:\/\//i.test(name) ? decodeURIComponent(new URL(name).pathname.split('/').pop() ?? '') : name;
  return resolveInsideRoot(root, rel, where);
}

export async function trainVideoClassifier(o: VideoTrainOptions): Promise<VideoTrainResult> {
  const set = await loadLabelSet(o.labelSet);
  const labelled = await readSoftLabels(o.annotations, set);
  const files: string[] = [];
  for (const l of labelled) files.push(await imageFile(o.images, l.image, `${o.annotations}: ${l.image}`));
  const classes = set.names.length;
  // A seeded split of images (not of votes): the last valFraction of a shuffled order is validation.
  const order = labelled.map((_, i) => i);
  const random = mulberry32(o.seed ?? 1);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const nVal = Math.round(order.length * (o.valFraction ?? 0.1));
  if (order.length - nVal < 2) throw new VisidError('E_DATASET', `${order.length} annotated images leave too few for training`, { item: o.annotations });

  const embedder = await Embedder.load(o.backbone, { normalize: false, threads: o.threads });
  let features: Float32Array;
  let dim: number;
  try {
    const progress = createProgress({ label: 'backbone features', total: files.length, unit: 'img', quiet: o.quiet });
    const res = await embedder.embedFiles(files, { names: labelled.map((l) => l.image), onProgress: (n) => progress.tick(n) });
    progress.done();
    features = res.vectors;
    dim = features.length / files.length;
  } finally {
    await embedder.close();
  }
  const pick = (idx: number[]) => {
    const f = new Float32Array(idx.length * dim);
    const t = new Float32Array(idx.length * classes);
    idx.forEach((r, i) => {
      f.set(features.subarray(r * dim, (r + 1) * dim), i * dim);
      t.set(labelled[r]!.target, i * classes);
    });
    return { features: f, targets: t, dim, classes };
  };
  const trainIdx = order.slice(0, order.length - nVal);
  const valIdx = order.slice(order.length - nVal);
  await initTf(o.backend);
  const counts = o.tableCounts ? set.classes.map((c) => {
    if (c.count === undefined) throw new VisidError('E_INPUT', `class '${c.name}' has no count in the label set`, { item: o.labelSet ?? 'LADI label set' });
    return c.count;
  }) : undefined;
  const result = await trainMultiLabelHead(pick(trainIdx), {
    loss: o.loss,
    noneClasses: set.classes.map((c) => c.none),
    classCounts: counts,
    head: o.head,
    epochs: o.epochs,
    batchSize: o.batchSize,
    lr: o.lr,
    seed: o.seed,
    val: valIdx.length ? pick(valIdx) : undefined,
    onEpoch: o.onEpoch,
  });
  const backboneBytes = new Uint8Array(await fs.readFile(o.backbone));
  const name = path.basename(o.out).replace(/\.onnx$/i, '');
  const bytes = multiLabelClassifierToOnnx(result.net, backboneBytes, name);
  const extras: ClassifierCardExtras = { task: 'multi-label', classes: set.names, thresholds: result.thresholds, noneClasses: set.classes.map((c) => c.none) };
  const out = o.out.toLowerCase().endsWith('.onnx') ? o.out : `${o.out}.onnx`;
  await writeTrainedModel(out, bytes, {
    ...(await backboneInputCard(o.backbone)),
    name,
    outputName: 'visid_scores',
    outputDim: classes,
    description: `Multi-label frame classifier (seed 002): a ${o.head ?? 'linear'} head trained with ${o.loss.name} on ${o.backbone}'s features`,
    ...extras,
    net: result.net.spec,
    backbone: { file: path.basename(o.backbone), sha256: sha256(backboneBytes) },
    training: { loss: o.loss, epochs: o.epochs ?? 30, train: trainIdx.length, val: valIdx.length, valLrap: result.valLrap, bestEpoch: result.bestEpoch, annotations: path.basename(o.annotations) },
  });
  return { model: out, classes: set.names, train: trainIdx.length, val: valIdx.length, valLrap: result.valLrap, thresholds: result.thresholds, bestEpoch: result.bestEpoch, history: result.history };
}
