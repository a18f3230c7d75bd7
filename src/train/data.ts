// Training inputs: image arrays for CNNs and cached backbone features for heads, split into train and validation, batched with seeded augmentation.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { loadDataset } from '../data/load.js';
import { firstPerClass, ImageArraySet, imageArrayFromDataset, subsetImages } from '../data/image-array.js';
import { isIdxFolder, loadIdxSplit } from '../data/idx.js';
import type { Dataset } from '../data/item.js';
import { Embedder } from '../models/embedder.js';
import { sha256 } from '../models/export-onnx.js';
import { loadPretrainedBackbone } from '../models/pretrained.js';
import { readNpy, writeNpy } from '../formats/npy.js';
import { writeFileAtomic } from '../util/atomic.js';
import { VisidError } from '../util/errors.js';
import { mulberry32 } from '../util/random.js';
import { createProgress } from '../util/progress.js';
import { tf } from '../tf/runtime.js';
import { randomResizedCropView } from './views.js';
import { AugmentPipeline } from '../augment/pipeline.js';
import { augmentedPng } from '../augment/files.js';
import { resizeBilinear } from '../augment/warp.js';
import type { TrainConfig, HeadModelConfig } from './config.js';

/** Whatever the network eats, with one label per sample. */
export interface TrainingSet {
  labels: Int32Array;
  classNames: string[];
  ids: string[];
  /** Shape of one sample as the network takes it (NHWC image, [D] or [H, W, C] features). */
  sampleShape: number[];
  /** A batch as a tensor; `augment` applies training-time augmentation seeded by `seed`. */
  batch(indices: number[], augment: boolean, seed: number): tf.Tensor;
}

/** Stratified split: the last `fraction` of each class's items (at least one, when the class has two or more) go to validation. */
export function stratifiedSplit(labels: Int32Array, fraction: number): { train: number[]; val: number[] } {
  const byClass = new Map<number, number[]>();
  labels.forEach((c, i) => (byClass.get(c) ?? byClass.set(c, []).get(c)!).push(i));
  const train: number[] = [];
  const val: number[] = [];
  for (const members of byClass.values()) {
    const nVal = members.length < 2 ? 0 : Math.max(1, Math.round(members.length * fraction));
    train.push(...members.slice(0, members.length - nVal));
    val.push(...members.slice(members.length - nVal));
  }
  return { train: train.sort((a, b) => a - b), val: val.sort((a, b) => a - b) };
}

/** Per-channel mean and std of an image array in [0, 1] units (one value for grey). */
export function pixelStats(set: ImageArraySet): { mean: number; std: number } {
  let sum = 0;
  let sq = 0;
  const n = set.images.length;
  for (let i = 0; i < n; i++) {
    const v = set.images[i]! / 255;
    sum += v;
    sq += v * v;
  }
  const mean = sum / n;
  return { mean, std: Math.sqrt(Math.max(1e-8, sq / n - mean * mean)) };
}

/** An image array as a training set: normalised NHWC float batches with seeded flips and shifts. */
/** One image of a set through an augmentation pipeline, back at the set's size and channel count. */
function augmentWithPipeline(pipeline: AugmentPipeline, src: Uint8Array, set: ImageArraySet, seed: number): Uint8Array {
  const { height: h, width: w, channels: c } = set;
  const rgb = new Uint8Array(h * w * 3);
  for (let i = 0; i < h * w; i++) for (let k = 0; k < 3; k++) rgb[i * 3 + k] = src[i * c + (c === 3 ? k : 0)]!;
  let out = pipeline.applySeeded({ data: rgb, width: w, height: h }, seed, 0);
  if (out.width !== w || out.height !== h) out = resizeBilinear(out, w, h);
  if (c === 3) return out.data;
  const grey = new Uint8Array(h * w);
  for (let i = 0; i < h * w; i++) grey[i] = Math.round((out.data[3 * i]! + out.data[3 * i + 1]! + out.data[3 * i + 2]!) / 3);
  return grey;
}

export function imageTrainingSet(set: ImageArraySet, stats: { mean: number; std: number }, augment: { flip: boolean; shift: number }, pipeline?: AugmentPipeline): TrainingSet {
  const { height: h, width: w, channels: c } = set;
  const per = h * w * c;
  return {
    labels: set.labels,
    classNames: set.classNames,
    ids: set.ids,
    sampleShape: [h, w, c],
    batch(indices, doAugment, seed) {
      const out = new Float32Array(indices.length * per);
      const rnd = mulberry32(seed);
      indices.forEach((idx, b) => {
        let src = set.images.subarray(idx * per, (idx + 1) * per);
        if (doAugment && pipeline) src = augmentWithPipeline(pipeline, src, set, Math.floor(rnd() * 0x7fffffff));
        const flip = doAugment && augment.flip && rnd() < 0.5;
        const dy = doAugment && augment.shift > 0 ? Math.floor(rnd() * (2 * augment.shift + 1)) - augment.shift : 0;
        const dx = doAugment && augment.shift > 0 ? Math.floor(rnd() * (2 * augment.shift + 1)) - augment.shift : 0;
        const base = b * per;
        // Pixels shifted in from outside the image are black (0), normalised like any other.
        const zero = (0 - stats.mean) / stats.std;
        for (let y = 0; y < h; y++) {
          const sy = y - dy;
          for (let x = 0; x < w; x++) {
            const sx0 = x - dx;
            const sx = flip ? w - 1 - sx0 : sx0;
            for (let ch = 0; ch < c; ch++) {
              out[base + (y * w + x) * c + ch] = sy < 0 || sy >= h || sx0 < 0 || sx0 >= w ? zero : (src[(sy * w + sx) * c + ch]! / 255 - stats.mean) / stats.std;
            }
          }
        }
      });
      return tf.tensor4d(out, [indices.length, h, w, c]);
    },
  };
}

/** Cached backbone features as a training set; each sample picks one of its views at random when augmenting. */
export function featureTrainingSet(features: { vectors: Float32Array; views: number; shape: number[] }, labels: Int32Array, classNames: string[], ids: string[]): TrainingSet {
  const per = features.shape.reduce((a, b) => a * b, 1);
  return {
    labels,
    classNames,
    ids,
    sampleShape: features.shape,
    batch(indices, doAugment, seed) {
      const rnd = mulberry32(seed);
      const out = new Float32Array(indices.length * per);
      indices.forEach((idx, b) => {
        const view = doAugment && features.views > 1 ? Math.floor(rnd() * features.views) : 0;
        const row = idx * features.views + view;
        out.set(features.vectors.subarray(row * per, (row + 1) * per), b * per);
      });
      return tf.tensor(out, [indices.length, ...features.shape]);
    },
  };
}

async function labelledDataset(source: string, root?: string): Promise<Dataset> {
  const ds = await loadDataset(source, { root });
  if (ds.items.length === 0) throw new VisidError('E_DATASET', 'no images found', { item: source });
  return ds;
}

export interface PreparedData {
  train: TrainingSet;
  val: TrainingSet;
  /** Preprocessing for the exported card: input size and normalisation. */
  preprocessing: { inputSize: [number, number]; mean: [number, number, number]; std: [number, number, number] };
  /** The backbone's bytes, for heads (the exported model appends the head to it). */
  backboneBytes?: Uint8Array;
}

function limitPerClass(set: ImageArraySet, perClass?: number): ImageArraySet {
  return perClass ? subsetImages(set, firstPerClass(set, perClass)) : set;
}

/** Loads, splits and wraps the data of a CNN run. */
/** The run's augmentation pipeline, loaded once (mask folders are decoded here), or undefined. */
export async function loadAugmentPipeline(config: TrainConfig): Promise<AugmentPipeline | undefined> {
  return config.augment.pipeline ? AugmentPipeline.fromFile(config.augment.pipeline) : undefined;
}

export async function prepareImageData(config: TrainConfig, pipeline: AugmentPipeline | undefined, quiet = false): Promise<PreparedData> {
  const pretrained = config.model.type === 'pretrained' ? config.model : undefined;
  const model = (pretrained
    ? { type: 'resnet', channels: 3, inputSize: pretrained.inputSize ?? (await loadPretrainedBackbone(pretrained.backbone, pretrained.until)).inputSize }
    : config.model) as Extract<TrainConfig['model'], { type: 'resnet' }>;
  if (config.instances) return instanceImageData(config, model.inputSize ?? [224, 224], pipeline, quiet);
  let all: ImageArraySet;
  let val: ImageArraySet | undefined;
  if (await isIdxFolder(config.data)) {
    all = await loadIdxSplit(config.data, 'train');
  } else {
    const size = model.inputSize ?? [64, 64];
    const ds = await labelledDataset(config.data, config.dataRoot);
    const p = createProgress({ label: 'decoding training images', total: ds.items.length, unit: 'img', quiet });
    all = await imageArrayFromDataset(ds, size, model.channels ?? 3, { onProgress: (n) => p.tick(n) });
    p.done();
  }
  if (config.val) {
    if (await isIdxFolder(config.val)) val = await loadIdxSplit(config.val, 't10k');
    else val = await imageArrayFromDataset(await labelledDataset(config.val, config.dataRoot), [all.height, all.width], all.channels);
  }
  let train = all;
  if (!val) {
    const split = stratifiedSplit(all.labels, config.valFraction ?? 0.1);
    train = subsetImages(all, split.train);
    val = subsetImages(all, split.val);
  }
  train = limitPerClass(train, config.trainPerClass);
  val = limitPerClass(val, config.valPerClass);
  // A pretrained body takes what it was trained on (RGB in [0, 1]); a CNN from scratch its data's own statistics.
  const stats = pretrained ? { mean: 0, std: 1 } : pixelStats(train);
  const m = stats.mean;
  const s = stats.std;
  return {
    train: imageTrainingSet(train, stats, config.augment, pipeline),
    val: imageTrainingSet(val, stats, { flip: false, shift: 0 }),
    preprocessing: { inputSize: [train.height, train.width], mean: [m, m, m], std: [s, s, s] },
  };
}

interface FeatureCacheMeta {
  backboneSha256: string;
  views: number;
  seed: number;
  /** The augmentation pipeline of views ≥ 1, as JSON (absent: mirror + random crops). */
  pipeline?: string;
  shape: number[];
  ids: string[];
}

/**
 * Backbone features of every item under `views` views (the image; its mirror; then seeded random resized crops),
 * extracted once through the Embedder with
 * raw (un-normalised) outputs and cached as .npy + JSON beside the run; a cache made by another backbone or for
 * other items is recomputed.
 */
export async function cachedFeatures(
  backbone: string,
  backboneSha: string,
  dataset: Dataset,
  views: number,
  cacheFile: string,
  seed = 1,
  pipeline?: AugmentPipeline,
  quiet = false,
): Promise<{ vectors: Float32Array; views: number; shape: number[] }> {
  const metaFile = cacheFile.replace(/\.npy$/, '.json');
  const ids = dataset.items.map((it) => it.id);
  try {
    const meta = JSON.parse(await fs.readFile(metaFile, 'utf8')) as FeatureCacheMeta;
    const pipelineKey = pipeline ? JSON.stringify(pipeline.spec) : undefined;
    if (meta.backboneSha256 === backboneSha && meta.views === views && (views <= 2 || meta.seed === seed) && meta.pipeline === pipelineKey && meta.ids.length === ids.length && meta.ids.every((id, i) => id === ids[i])) {
      const npy = await readNpy(cacheFile);
      return { vectors: npy.data, views, shape: meta.shape };
    }
  } catch {
    // No cache (or an unreadable one): extract.
  }
  if (!Number.isInteger(views) || views < 1) throw new VisidError('E_INPUT', `feature views must be a positive integer, got ${views}`);
  const embedder = await Embedder.load(backbone, { normalize: false });
  try {
    const paths = dataset.items.map((it) => it.path);
    const p = createProgress({ label: `backbone features (${views} view${views > 1 ? 's' : ''})`, total: paths.length * views, unit: 'img', quiet });
    const perView: Float32Array[] = [];
    for (let v = 0; v < views; v++) {
      if (v < 2 && !(pipeline && v === 1)) {
        // View 0 is the image, view 1 its mirror (without a pipeline).
        perView.push((await embedder.embedFiles(paths, { names: ids, mirror: v === 1, onProgress: (n) => p.tick(n) })).vectors);
        continue;
      }
      // Further views: seeded random resized crops, made a chunk at a time so memory stays bounded.
      const chunks: Float32Array[] = [];
      for (let s = 0; s < paths.length; s += 256) {
        const part = paths.slice(s, s + 256);
        const bytes = await Promise.all(part.map((file, j) => (pipeline ? augmentedPng(pipeline, file, seed, s + j, v) : randomResizedCropView(file, seed, s + j, v))));
        chunks.push((await embedder.embedFiles(bytes, { names: ids.slice(s, s + 256), onProgress: (n) => p.tick(n) })).vectors);
      }
      const all = new Float32Array(chunks.reduce((a, c) => a + c.length, 0));
      let at = 0;
      for (const c of chunks) {
        all.set(c, at);
        at += c.length;
      }
      perView.push(all);
    }
    p.done();
    const dim = embedder.dim!;
    const n = paths.length;
    // A feature-map backbone returns [C, H, W] per image; the tfjs head (GeM first) takes [H, W, C].
    const map = embedder.outputShape?.length === 3 ? (embedder.outputShape as [number, number, number]) : undefined;
    const shape = map ? [map[1], map[2], map[0]] : [dim];
    const vectors = new Float32Array(n * views * dim);
    for (let i = 0; i < n; i++) {
      for (let v = 0; v < views; v++) {
        const row = perView[v]!.subarray(i * dim, (i + 1) * dim);
        const at = (i * views + v) * dim;
        if (!map) vectors.set(row, at);
        else {
          const [c, h, w] = map;
          for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * w; p++) vectors[at + p * c + ch] = row[ch * h * w + p]!;
        }
      }
    }
    await fs.mkdir(path.dirname(cacheFile), { recursive: true });
    await writeNpy(cacheFile, vectors, [n * views, dim]);
    await writeFileAtomic(metaFile, JSON.stringify({ backboneSha256: backboneSha, views, seed, pipeline: pipeline ? JSON.stringify(pipeline.spec) : undefined, shape, ids } satisfies FeatureCacheMeta));
    return { vectors, views, shape };
  } finally {
    await embedder.close();
  }
}

/** Loads, splits and extracts (or reuses) backbone features for a head run. */
export async function prepareFeatureData(config: TrainConfig, pipeline: AugmentPipeline | undefined, quiet = false): Promise<PreparedData> {
  const model = config.model as HeadModelConfig;
  const backboneBytes = await fs.readFile(model.backbone).catch(() => {
    throw new VisidError('E_NOT_FOUND', 'backbone model does not exist', { item: model.backbone });
  });
  const sha = sha256(backboneBytes);
  const ds = await labelledDataset(config.data, config.dataRoot);
  if (config.instances) return instanceFeatureData(config, ds, backboneBytes, pipeline, quiet);
  const missing = ds.items.find((it) => it.label === undefined);
  if (missing) throw new VisidError('E_DATASET', 'item has no label; training needs one per image', { item: missing.id });
  const classNames = [...new Set(ds.items.map((it) => it.label!))].sort();
  const classIndex = new Map(classNames.map((c, i) => [c, i]));
  const views = model.views ?? 1;
  const feats = await cachedFeatures(model.backbone, sha, ds, views, path.join(config.out, 'features', 'train.npy'), config.seed, pipeline, quiet);
  const labels = Int32Array.from(ds.items, (it) => classIndex.get(it.label!)!);
  const ids = ds.items.map((it) => it.id);
  const per = feats.shape.reduce((a, b) => a * b, 1);
  const pick = (idx: number[], withViews: boolean) => {
    const v = withViews ? views : 1;
    const out = new Float32Array(idx.length * v * per);
    idx.forEach((i, j) => {
      for (let k = 0; k < v; k++) out.set(feats.vectors.subarray((i * views + k) * per, (i * views + k + 1) * per), (j * v + k) * per);
    });
    return { vectors: out, views: v, shape: feats.shape };
  };
  let split: { train: number[]; val: number[] };
  let valSet: TrainingSet;
  if (config.val) {
    const vds = await labelledDataset(config.val, config.dataRoot);
    const vf = await cachedFeatures(model.backbone, sha, vds, 1, path.join(config.out, 'features', 'val.npy'), config.seed, undefined, quiet);
    const unlabelled = vds.items.find((it) => it.label === undefined);
    if (unlabelled) throw new VisidError('E_DATASET', 'validation item has no label', { item: unlabelled.id });
    split = { train: Array.from(labels, (_, i) => i), val: [] };
    // Validation is retrieval among the validation images: classes unseen in training (e.g. held-out identities,
    // as in metric learning) get ids of their own after the training classes.
    const valIndex = new Map(classIndex);
    const vLabels = Int32Array.from(vds.items, (it) => valIndex.get(it.label!) ?? valIndex.set(it.label!, valIndex.size).get(it.label!)!);
    valSet = featureTrainingSet(vf, vLabels, classNames, vds.items.map((it) => it.id));
  } else {
    split = stratifiedSplit(labels, config.valFraction ?? 0.1);
    valSet = featureTrainingSet(pick(split.val, false), Int32Array.from(split.val, (i) => labels[i]!), classNames, split.val.map((i) => ids[i]!));
  }
  const train = featureTrainingSet(pick(split.train, true), Int32Array.from(split.train, (i) => labels[i]!), classNames, split.train.map((i) => ids[i]!));
  return { train, val: valSet, preprocessing: await backbonePreprocessing(model.backbone), backboneBytes };
}

async function backbonePreprocessing(backbone: string): Promise<PreparedData['preprocessing']> {
  const card = JSON.parse(await fs.readFile(backbone.replace(/\.onnx$/i, '') + '.json', 'utf8').catch(() => '{}')) as { inputSize?: [number, number]; mean?: [number, number, number]; std?: [number, number, number] };
  return { inputSize: card.inputSize ?? [224, 224], mean: card.mean ?? [0.485, 0.456, 0.406], std: card.std ?? [0.229, 0.224, 0.225] };
}

/**
 * Instance training (copy detection): every image is its own class and its K feature views its samples. The last
 * `valFraction` of the images (by id) are held out; validation retrieves each of their views among the others.
 */
async function instanceFeatureData(config: TrainConfig, ds: Dataset, backboneBytes: Uint8Array, pipeline: AugmentPipeline | undefined, quiet: boolean): Promise<PreparedData> {
  const model = config.model as HeadModelConfig;
  const views = model.views ?? 2;
  const items = [...ds.items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const nVal = Math.max(2, Math.round(items.length * (config.valFraction ?? 0.1)));
  if (items.length - nVal < 2) throw new VisidError('E_DATASET', `instance training needs at least ${nVal + 2} images (${nVal} held out for validation), found ${items.length}`, { item: config.data });
  const feats = await cachedFeatures(model.backbone, sha256(backboneBytes), { ...ds, items }, views, path.join(config.out, 'features', 'instances.npy'), config.seed, pipeline, quiet);
  const per = feats.shape.reduce((a, b) => a * b, 1);
  const ids = items.map((it) => it.id);
  const trainIds = ids.slice(0, ids.length - nVal);
  const train = featureTrainingSet({ vectors: feats.vectors.subarray(0, trainIds.length * views * per), views, shape: feats.shape }, Int32Array.from(trainIds, (_, i) => i), trainIds, trainIds);
  // Validation: each held-out view is a sample labelled with its image.
  const valVectors = feats.vectors.subarray(trainIds.length * views * per);
  const valLabels = Int32Array.from({ length: nVal * views }, (_, r) => trainIds.length + Math.floor(r / views));
  const valIds = Array.from({ length: nVal * views }, (_, r) => `${ids[trainIds.length + Math.floor(r / views)]}#view${r % views}`);
  const val = featureTrainingSet({ vectors: valVectors, views: 1, shape: feats.shape }, valLabels, trainIds, valIds);
  return { train, val, preprocessing: await backbonePreprocessing(model.backbone), backboneBytes };
}

/**
 * Instance fine-tuning (copy detection, seed 004 §3.2): every photo of `data` is its own class; the pk sampler puts
 * each chosen photo k times in a batch and the pipeline augments every occurrence afresh, so the k samples are k
 * different copies of it. The last `valFraction` of the photos (by id) are held out: validation holds each of them
 * and one seeded copy made by the same pipeline, and asks each to find the other (leave-one-out Recall@1).
 */
async function instanceImageData(config: TrainConfig, size: [number, number], pipeline: AugmentPipeline | undefined, quiet: boolean): Promise<PreparedData> {
  if (!pipeline) throw new VisidError('E_INPUT', 'instance fine-tuning needs augment.pipeline (the copies it learns to match)', { item: config.data });
  const ds = await loadDataset(config.data, { root: config.dataRoot });
  const items = [...ds.items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((it) => ({ ...it, label: it.id }));
  const nVal = Math.max(2, Math.round(items.length * (config.valFraction ?? 0.1)));
  if (items.length - nVal < 2) throw new VisidError('E_DATASET', `instance training needs at least ${nVal + 2} images (${nVal} held out for validation), found ${items.length}`, { item: config.data });
  const p = createProgress({ label: 'decoding training images', total: items.length, unit: 'img', quiet });
  const all = await imageArrayFromDataset({ ...ds, items }, size, 3, { onProgress: (n) => p.tick(n) });
  p.done();
  const nTrain = all.ids.length - nVal;
  const trainIds = all.ids.slice(0, nTrain);
  const train: ImageArraySet = { ...subsetImages(all, Array.from({ length: nTrain }, (_, i) => i)), labels: Int32Array.from(trainIds, (_, i) => i), classNames: trainIds };
  const held = subsetImages(all, Array.from({ length: nVal }, (_, i) => nTrain + i));
  const per = held.height * held.width * 3;
  const valImages = new Uint8Array(2 * nVal * per);
  for (let i = 0; i < nVal; i++) {
    const src = held.images.subarray(i * per, (i + 1) * per);
    valImages.set(src, 2 * i * per);
    valImages.set(augmentWithPipeline(pipeline, src, held, config.seed * 7_919 + i), (2 * i + 1) * per);
  }
  const val: ImageArraySet = {
    ...held,
    images: valImages,
    labels: Int32Array.from({ length: 2 * nVal }, (_, r) => nTrain + Math.floor(r / 2)),
    ids: Array.from({ length: 2 * nVal }, (_, r) => `${held.ids[Math.floor(r / 2)]}${r % 2 ? '#copy' : ''}`),
  };
  const stats = { mean: 0, std: 1 };
  return {
    train: imageTrainingSet(train, stats, config.augment, pipeline),
    val: imageTrainingSet(val, stats, { flip: false, shift: 0 }),
    preprocessing: { inputSize: [train.height, train.width], mean: [0, 0, 0], std: [1, 1, 1] },
  };
}
