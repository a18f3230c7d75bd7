// The training config (JSON or YAML): its fields, defaults and validation with errors that name the field.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { VisidError } from '../util/errors.js';
import { LOSS_NAMES, LossConfig, MINER_NAMES, MULTI_LABEL_LOSSES, isPairLoss } from './loss-factory.js';
import type { OptimizerSpec } from './optimizers.js';
import type { SamplerSpec } from './samplers.js';
import type { ScheduleSpec } from './schedules.js';

export interface CnnModelConfig {
  type: 'resnet';
  /** Input [height, width]; IDX data sets keep their own size. */
  inputSize?: [number, number];
  channels?: 1 | 3;
  widths?: number[];
  blocksPerStage?: number;
}

export interface HeadModelConfig {
  type: 'head';
  /** The frozen ONNX backbone (its card gives the preprocessing). */
  backbone: string;
  kind?: 'linear' | 'fc-bn' | 'projector';
  prelu?: boolean;
  dropout?: number;
  hiddenDim?: number;
  projectorDim?: number;
  /** Feature views per image: 1 = the image, 2 adds its mirror, more add seeded random resized crops (seed 004 uses 20). */
  views?: number;
}

export interface PretrainedModelConfig {
  type: 'pretrained';
  /** photo | photo-small | photo-inceptionv3, or a Keras layers model folder (model.json + shards). */
  backbone: string;
  /** The body's last layer (needed for a folder; the named ones know theirs). */
  until?: string;
  /** What is trained: the whole body, its last N blocks (`last-2-blocks`), or none (the head alone). Default last-2-blocks. */
  trainable?: 'all' | 'none' | `last-${number}-blocks`;
  /** Batch norms keep their pretrained statistics (default true). */
  freezeBn?: boolean;
  /** The backbone's learning rate as a multiple of the head's (default 0.1). */
  backboneLr?: number;
  /** projector: seed 004's projector + reduction (copy detection; `hiddenDim`, `projectorDim`). */
  head?: 'linear' | 'fc-bn' | 'projector';
  hiddenDim?: number;
  projectorDim?: number;
  /** Training and export input size (default: the backbone's). */
  inputSize?: [number, number];
  /** Where a frozen trunk runs during training: onnxruntime (default, faster) or tfjs. */
  trunk?: 'onnx' | 'tfjs';
}

export interface TrainConfig {
  /** Training data: an IDX folder (MNIST layout), an image folder per label, or a manifest. */
  data: string;
  /** The folder manifest paths are relative to (default: the manifest's folder). */
  dataRoot?: string;
  /** Validation data; default: the IDX folder's t10k split, or a stratified `valFraction` of `data`. */
  val?: string;
  valFraction?: number;
  /**
   * Every image is its own class (copy detection, seed 004 §3.2): labels are ignored, an image's views are its
   * samples, and validation holds out `valFraction` of the images. Heads train on cached feature views; a pretrained
   * backbone is fine-tuned on views made on the fly by `augment.pipeline` (the pk sampler's k views per image).
   */
  instances?: boolean;
  /** Use at most this many training images per class (quick runs). */
  trainPerClass?: number;
  /** Use at most this many validation images per class. */
  valPerClass?: number;
  model: CnnModelConfig | HeadModelConfig | PretrainedModelConfig;
  embeddingDim: number;
  loss: LossConfig;
  sampler: SamplerSpec;
  batchSize: number;
  epochs: number;
  lr: number;
  optimizer: OptimizerSpec;
  schedule: ScheduleSpec;
  /**
   * Training augmentation. CNNs: seeded flips and shifts, or a pipeline file (JSON/YAML list of ops; its output is
   * resized back to the input size). Heads: with a pipeline, feature views 1…K−1 are pipeline-augmented.
   */
  augment: { flip: boolean; shift: number; pipeline?: string };
  seed: number;
  out: string;
  /** tfjs backend (default: tfjs-node when installed, else wasm). */
  backend?: 'wasm' | 'cpu' | 'tensorflow';
  /**
   * Data-parallel replicas in worker threads (default 1: this thread). Each computes the gradients of its shard of
   * every batch; the summed gradients are applied by all. Deterministic for a given seed and worker count.
   */
  workers: number;
  /** Rows per gradient computation (the rest of a batch is accumulated): bounds memory for large batches. */
  microBatch?: number;
  /** Minutes between mid-epoch checkpoints (default 5). */
  checkpointMinutes?: number;
}

const KNOWN: Record<string, true> = Object.fromEntries(
  ['data', 'dataRoot', 'instances', 'val', 'valFraction', 'trainPerClass', 'valPerClass', 'model', 'embeddingDim', 'loss', 'sampler', 'batchSize', 'epochs', 'lr', 'optimizer', 'schedule', 'augment', 'seed', 'out', 'backend', 'workers', 'microBatch', 'checkpointMinutes'].map((k) => [k, true]),
);

function fail(field: string, why: string, source: string): never {
  throw new VisidError('E_INPUT', `config field '${field}': ${why}`, { item: source });
}

function positiveInt(v: unknown, field: string, source: string): number {
  if (!Number.isInteger(v) || (v as number) < 1) fail(field, `must be a positive integer, got ${JSON.stringify(v)}`, source);
  return v as number;
}

function positive(v: unknown, field: string, source: string): number {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) fail(field, `must be a positive number, got ${JSON.stringify(v)}`, source);
  return v;
}

/** Fills defaults and checks every field; `source` names the config in errors. Relative paths resolve against `baseDir`. */
export function validateConfig(raw: Record<string, unknown>, source: string, baseDir = process.cwd()): TrainConfig {
  for (const key of Object.keys(raw)) if (!KNOWN[key]) fail(key, `unknown field (known: ${Object.keys(KNOWN).join(', ')})`, source);
  if (typeof raw.data !== 'string' || raw.data === '') fail('data', 'must name the training data (folder, manifest or IDX folder)', source);
  if (typeof raw.out !== 'string' || raw.out === '') fail('out', 'must name the output folder', source);
  const resolve = (p: string) => path.resolve(baseDir, p);

  const lossRaw = (typeof raw.loss === 'string' ? { name: raw.loss } : raw.loss ?? { name: 'arcface' }) as Record<string, unknown>;
  if (!(LOSS_NAMES as readonly string[]).includes(lossRaw.name as string)) fail('loss.name', `unknown loss '${String(lossRaw.name)}' (one of ${LOSS_NAMES.join(', ')})`, source);
  if ((MULTI_LABEL_LOSSES as readonly string[]).includes(lossRaw.name as string)) {
    fail('loss.name', `'${String(lossRaw.name)}' is a multi-label loss on soft targets; visid train learns identities from one label per image (use a margin-softmax or pair loss; the multi-label losses are library parts for multi-label recipes)`, source);
  }
  if (lossRaw.miner !== undefined && !(MINER_NAMES as readonly string[]).includes(lossRaw.miner as string)) fail('loss.miner', `unknown miner '${String(lossRaw.miner)}' (one of ${MINER_NAMES.join(', ')})`, source);
  const loss = lossRaw as unknown as LossConfig;

  const modelRaw = (raw.model ?? { type: 'resnet' }) as Record<string, unknown>;
  if (modelRaw.type !== 'resnet' && modelRaw.type !== 'head' && modelRaw.type !== 'pretrained') fail('model.type', `must be 'resnet', 'head' or 'pretrained', got ${JSON.stringify(modelRaw.type)}`, source);
  if (modelRaw.type === 'pretrained') {
    if (modelRaw.backbone !== undefined && typeof modelRaw.backbone !== 'string') fail('model.backbone', 'must be photo, photo-small, photo-inceptionv3 or a Keras layers model folder', source);
    if (modelRaw.trainable !== undefined && !(typeof modelRaw.trainable === 'string' && /^(all|none|last-[1-9]\d*-blocks?)$/.test(modelRaw.trainable))) fail('model.trainable', `must be all, none or last-<n>-blocks, got ${JSON.stringify(modelRaw.trainable)}`, source);
    if (modelRaw.freezeBn !== undefined && typeof modelRaw.freezeBn !== 'boolean') fail('model.freezeBn', 'must be true or false', source);
    if (modelRaw.backboneLr !== undefined) positive(modelRaw.backboneLr, 'model.backboneLr', source);
    if (modelRaw.head !== undefined && modelRaw.head !== 'linear' && modelRaw.head !== 'fc-bn' && modelRaw.head !== 'projector') fail('model.head', 'must be linear, fc-bn or projector', source);
    if (modelRaw.hiddenDim !== undefined) positiveInt(modelRaw.hiddenDim, 'model.hiddenDim', source);
    if (modelRaw.projectorDim !== undefined) positiveInt(modelRaw.projectorDim, 'model.projectorDim', source);
    if (modelRaw.trunk !== undefined && modelRaw.trunk !== 'onnx' && modelRaw.trunk !== 'tfjs') fail('model.trunk', 'must be onnx or tfjs', source);
    if (modelRaw.inputSize !== undefined && !(Array.isArray(modelRaw.inputSize) && modelRaw.inputSize.length === 2 && modelRaw.inputSize.every((v) => Number.isInteger(v) && v >= 32))) fail('model.inputSize', 'must be [height, width] of at least 32', source);
  }
  if (modelRaw.type === 'head' && typeof modelRaw.backbone !== 'string') fail('model.backbone', 'a head needs the path of its frozen ONNX backbone', source);
  if (modelRaw.widths !== undefined && (!Array.isArray(modelRaw.widths) || modelRaw.widths.length === 0 || !modelRaw.widths.every((w) => Number.isInteger(w) && w > 0))) {
    fail('model.widths', 'must be a non-empty list of positive integers', source);
  }
  const named = (b: unknown) => typeof b === 'string' && ['photo', 'photo-small', 'photo-inceptionv3'].includes(b);
  const model = (
    modelRaw.type === 'head'
      ? { ...modelRaw, backbone: resolve(modelRaw.backbone as string) }
      : modelRaw.type === 'pretrained'
        ? { trainable: 'last-2-blocks', freezeBn: true, backboneLr: 0.1, head: 'fc-bn', ...modelRaw, backbone: named(modelRaw.backbone ?? 'photo') ? (modelRaw.backbone ?? 'photo') : resolve(modelRaw.backbone as string) }
        : modelRaw
  ) as unknown as TrainConfig['model'];

  const batchSize = positiveInt(raw.batchSize ?? 64, 'batchSize', source);
  const sampler = (raw.sampler ?? (isPairLoss(loss.name) ? { kind: 'pk', p: Math.max(2, Math.floor(batchSize / 4)), k: 4 } : { kind: 'random' })) as SamplerSpec;
  if (!['random', 'pk', 'class-balanced'].includes(sampler.kind)) fail('sampler.kind', `must be random, pk or class-balanced`, source);
  if (sampler.kind === 'pk') {
    positiveInt(sampler.p, 'sampler.p', source);
    positiveInt(sampler.k, 'sampler.k', source);
  }
  const optimizer = (typeof raw.optimizer === 'string' ? { kind: raw.optimizer } : raw.optimizer ?? { kind: 'adam' }) as OptimizerSpec;
  if (!['sgd', 'adam', 'adamw'].includes(optimizer.kind)) fail('optimizer.kind', `must be sgd, adam or adamw, got ${JSON.stringify(optimizer.kind)}`, source);
  const schedule = (typeof raw.schedule === 'string' ? { kind: raw.schedule } : raw.schedule ?? { kind: 'cosine', warmupEpochs: 1 }) as ScheduleSpec;
  if (!['constant', 'cosine', 'cosine-restarts', 'seed004'].includes(schedule.kind)) fail('schedule.kind', 'must be constant, cosine, cosine-restarts or seed004', source);
  if (schedule.kind === 'cosine-restarts') positiveInt(schedule.cycles, 'schedule.cycles', source);
  const augment = { flip: false, shift: 0, ...((raw.augment as object) ?? {}) } as TrainConfig['augment'];
  if (augment.pipeline !== undefined) {
    if (typeof augment.pipeline !== 'string') fail('augment.pipeline', 'must be the path of a pipeline file', source);
    augment.pipeline = resolve(augment.pipeline);
  }
  if (raw.valFraction !== undefined && !(typeof raw.valFraction === 'number' && raw.valFraction > 0 && raw.valFraction < 1)) fail('valFraction', 'must be between 0 and 1', source);
  if (raw.instances !== undefined && typeof raw.instances !== 'boolean') fail('instances', 'must be true or false', source);
  if (raw.instances === true) {
    if (modelRaw.type !== 'head' && modelRaw.type !== 'pretrained') fail('instances', 'instance training (every image its own class) trains a head on feature views or fine-tunes a pretrained backbone: set model.type to head or pretrained', source);
    if (modelRaw.type === 'head' && !(((modelRaw.views as number | undefined) ?? 1) >= 2)) fail('model.views', 'instance training needs at least 2 views per image (an image and its augmented copies)', source);
    if (modelRaw.type === 'pretrained') {
      // Fine-tuning makes its views on the fly: each image appears k times a batch, each time freshly augmented.
      if (sampler.kind !== 'pk' || sampler.k < 2) fail('sampler', 'instance fine-tuning needs a pk sampler with k ≥ 2 (p images × k augmented views a batch)', source);
      if (augment.pipeline === undefined) fail('augment.pipeline', 'instance fine-tuning needs an augmentation pipeline: the views of an image must differ', source);
    }
    if (raw.val !== undefined) fail('val', 'instance training validates on held-out images of `data` (use valFraction)', source);
  }
  if (raw.backend !== undefined && !['wasm', 'cpu', 'tensorflow'].includes(raw.backend as string)) fail('backend', 'must be wasm, cpu or tensorflow', source);

  return {
    data: resolve(raw.data),
    dataRoot: typeof raw.dataRoot === 'string' ? resolve(raw.dataRoot) : undefined,
    instances: raw.instances === true ? true : undefined,
    val: typeof raw.val === 'string' ? resolve(raw.val) : undefined,
    valFraction: raw.valFraction as number | undefined,
    trainPerClass: raw.trainPerClass === undefined ? undefined : positiveInt(raw.trainPerClass, 'trainPerClass', source),
    valPerClass: raw.valPerClass === undefined ? undefined : positiveInt(raw.valPerClass, 'valPerClass', source),
    model,
    embeddingDim: positiveInt(raw.embeddingDim ?? 128, 'embeddingDim', source),
    loss,
    sampler,
    batchSize,
    epochs: positiveInt(raw.epochs ?? 10, 'epochs', source),
    lr: positive(raw.lr ?? (optimizer.kind === 'sgd' ? 0.05 : 0.002), 'lr', source),
    optimizer,
    schedule,
    augment,
    seed: Number.isInteger(raw.seed) ? (raw.seed as number) : 1,
    out: resolve(raw.out),
    backend: raw.backend as TrainConfig['backend'],
    workers: raw.workers === undefined ? 1 : positiveInt(raw.workers, 'workers', source),
    microBatch: raw.microBatch === undefined ? undefined : positiveInt(raw.microBatch, 'microBatch', source),
    checkpointMinutes: raw.checkpointMinutes === undefined ? undefined : positive(raw.checkpointMinutes, 'checkpointMinutes', source),
  };
}

/** Reads a JSON or YAML config file (by extension; YAML otherwise). */
export async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    throw new VisidError('E_NOT_FOUND', 'config file does not exist', { item: file });
  }
  let parsed: unknown;
  try {
    parsed = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
  } catch (err) {
    throw new VisidError('E_INPUT', `config is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`, { item: file });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new VisidError('E_INPUT', 'config must be an object of fields', { item: file });
  return parsed as Record<string, unknown>;
}
