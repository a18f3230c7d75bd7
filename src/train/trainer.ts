// The training loop: sampler → batch → forward → loss → optimiser step, per-epoch validation, checkpoints, resume, log, export.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tf, initTf } from '../tf/runtime.js';
import { buildNet, EmbeddingNet, NetSpec } from '../models/networks.js';
import { loadPretrainedBackbone } from '../models/pretrained.js';
import { trunkEnd } from '../models/keras-backbone.js';
import { FrozenTrunk } from './frozen-trunk.js';
import { restoreParams } from '../models/layers.js';
import { cnnToOnnx, headOnBackboneToOnnx, sha256, writeTrainedModel } from '../models/export-onnx.js';
import type { ModelCard } from '../models/model-card.js';
import type { Loss } from '../losses/loss.js';
import { retrievalMetrics } from '../eval/in-memory.js';
import { writeFileAtomic } from '../util/atomic.js';
import { createProgress, Progress } from '../util/progress.js';
import { l2NormalizeRows } from '../util/vectors.js';
import type { TrainConfig } from './config.js';
import { createLoss } from './loss-factory.js';
import { isTappedLoss } from '../losses/copy-detection.js';
import { createOptimizer, Optimizer } from './optimizers.js';
import { createSampler } from './samplers.js';
import { learningRate, snapshotEpochs } from './schedules.js';
import { checkpointPath, listCheckpoints, readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { loadAugmentPipeline, PreparedData, prepareFeatureData, prepareImageData, TrainingSet } from './data.js';
import { writeTrainingReport } from './report.js';
import { assignState, DataParallel, optimizerStateByParam, setOptimizerStateByParam, stateOf } from './parallel.js';
import type { EpochRecord, ValidationMetrics } from './records.js';

export type { EpochRecord } from './records.js';

export interface TrainResult {
  modelPath: string;
  history: EpochRecord[];
  /** Validation metrics of the untrained network (epoch 0). */
  untrained: ValidationMetrics;
  backend: string;
}

export interface TrainOptions {
  resume?: boolean;
  /** Progress display: default a bar on a TTY, lines otherwise. */
  quiet?: boolean;
  /** Called after each epoch (tests, the CLI's log line). */
  onEpoch?: (r: EpochRecord) => void;
  /** Checked between batches: when it returns true the run stops cleanly (the last complete epoch is checkpointed). */
  shouldStop?: () => boolean;
}

/** Thrown when `shouldStop` ends a run between batches; `epoch` is the unfinished epoch (1-based, as everywhere). */
export class TrainingStopped extends Error {
  constructor(readonly epoch: number) {
    super(`training stopped during epoch ${epoch}; checkpoints up to epoch ${epoch - 1} are saved, and the batches of epoch ${epoch} done so far (continue with --resume)`);
  }
}

/** The network spec a config asks for, given the data's sample shape. */
export function netSpecOf(config: TrainConfig, sampleShape: number[]): NetSpec {
  const m = config.model;
  if (m.type === 'resnet') {
    const [h, w, c] = sampleShape as [number, number, number];
    return { type: 'resnet', input: [h, w, c], widths: m.widths ?? [16, 32, 64], blocksPerStage: m.blocksPerStage ?? 1, embeddingDim: config.embeddingDim, seed: config.seed };
  }
  if (m.type === 'pretrained') {
    const [h, w] = sampleShape as [number, number, number];
    return { type: 'pretrained', backbone: m.backbone, until: m.until ?? '', input: [h, w, 3], trainable: m.trainable ?? 'last-2-blocks', freezeBn: m.freezeBn ?? true, head: m.head ?? 'fc-bn', ...(m.head === 'projector' ? { hiddenDim: m.hiddenDim, projectorDim: m.projectorDim } : {}), embeddingDim: config.embeddingDim, seed: config.seed };
  }
  const input = sampleShape.length === 1 ? sampleShape[0]! : ([sampleShape[2]!, sampleShape[0]!, sampleShape[1]!] as [number, number, number]);
  return { type: 'head', input, kind: m.kind ?? 'fc-bn', embeddingDim: config.embeddingDim, prelu: m.prelu, dropout: m.dropout, hiddenDim: m.hiddenDim, projectorDim: m.projectorDim, seed: config.seed };
}

/** The spec with what building it needs loaded first (a pretrained backbone's Keras model, and its last layer). */
export async function loadedNetSpec(spec: NetSpec): Promise<NetSpec> {
  if (spec.type !== 'pretrained') return spec;
  const b = await loadPretrainedBackbone(spec.backbone, spec.until || undefined);
  if (!spec.until) await loadPretrainedBackbone(spec.backbone, b.until);
  return { ...spec, until: b.until };
}

/** The training loss of a batch (tapped losses get the network's intermediate outputs). */
export function lossValue(net: EmbeddingNet, loss: Loss, x: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return isTappedLoss(loss) ? loss.computeTapped(net.applyTapped(x, true), y) : loss.compute(net.apply(x, true), y);
}

/**
 * Gradients of `weight` × the mean loss over a batch, taken over micro-batches of at most `micro` rows and summed
 * (each weighted by its share), so that a batch larger than the backend's memory allows still trains as one step.
 * Batch statistics (batch norm in training mode) and batch mining then see a micro-batch. The caller disposes.
 */
export function batchGrads(net: EmbeddingNet, loss: Loss, x: tf.Tensor, y: tf.Tensor, vars: tf.Variable[], micro = Infinity, weight = 1): { loss: number; grads: tf.NamedTensorMap } {
  const n = x.shape[0]!;
  const size = Math.max(1, Math.min(n, micro));
  let total = 0;
  let acc: tf.NamedTensorMap | undefined;
  for (let start = 0; start < n; start += size) {
    const rows = Math.min(size, n - start);
    const share = (weight * rows) / n;
    const xs = rows === n ? x : tf.slice(x, start, rows);
    const ys = rows === n ? y : tf.slice(y, start, rows);
    const { value, grads } = tf.variableGrads(() => tf.mul(lossValue(net, loss, xs, ys), share) as tf.Scalar, vars);
    total += value.dataSync()[0]!;
    value.dispose();
    if (xs !== x) tf.dispose([xs, ys]);
    if (!acc) acc = grads;
    else {
      for (const [k, g] of Object.entries(grads)) {
        const prev = acc[k];
        acc[k] = prev ? tf.add(prev, g) : g.clone();
        tf.dispose([prev, g].filter((t): t is tf.Tensor => t !== undefined));
      }
    }
  }
  return { loss: total, grads: acc ?? {} };
}

/** L2-normalised embeddings of a whole set, in inference mode, batch by batch. */
export function embedSet(net: EmbeddingNet, set: TrainingSet, batchSize = net.spec.type === 'pretrained' ? 16 : 256): Float32Array {
  // A photo backbone at 224 px holds ~50 MB of activations per image: small batches keep wasm's memory bounded.
  const n = set.labels.length;
  const dim = (net.spec as { embeddingDim: number }).embeddingDim;
  const out = new Float32Array(n * dim);
  for (let s = 0; s < n; s += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, n - s) }, (_, i) => s + i);
    // (Never return a typed array from tf.tidy: it walks every element looking for tensors.)
    const y = tf.tidy(() => net.apply(set.batch(idx, false, 0), false));
    out.set(y.dataSync() as Float32Array, s * dim);
    y.dispose();
  }
  return l2NormalizeRows(out, dim);
}

/** Leave-one-out retrieval on the validation set: Recall@1/5 and MAP@5. */
export async function validate(net: EmbeddingNet, set: TrainingSet): Promise<ValidationMetrics> {
  const vectors = embedSet(net, set);
  return retrievalMetrics((net.spec as { embeddingDim: number }).embeddingDim, { vectors, labels: set.labels });
}

function configHash(config: TrainConfig): string {
  const { out: _out, ...rest } = config;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex').slice(0, 16);
}

/** Every variable a checkpoint holds: network parameters and the loss's own (class weights, centres, β, s). */
export function namedState(net: EmbeddingNet, loss: Loss): Array<{ name: string; variable: tf.Variable }> {
  return [...net.params(), ...loss.variables().map((v, i) => ({ name: `loss.${i}`, variable: v }))];
}

async function saveCheckpoint(file: string, epoch: number, metrics: Record<string, number>, net: EmbeddingNet, loss: Loss, optimizer: Optimizer, info: Record<string, unknown>): Promise<void> {
  const tensors = new Map<string, { shape: number[]; values: Float32Array }>();
  const state = namedState(net, loss);
  const byVarName = new Map(state.map((s) => [s.variable.name, s.name]));
  for (const s of state) tensors.set(s.name, { shape: s.variable.shape, values: (await s.variable.data()).slice() as Float32Array });
  // Optimiser slots are keyed by tfjs variable names, which differ between processes: store them by parameter name.
  for (const w of await optimizer.getWeights()) {
    const [varName, ...slot] = w.name.split('/');
    const param = byVarName.get(varName!);
    const key = w.name === 'iter' ? 'optimizer/iter' : param ? `optimizer/${param}/${slot.join('/')}` : undefined;
    if (key) tensors.set(key, { shape: w.tensor.shape, values: Float32Array.from(await w.tensor.data()) });
  }
  await writeCheckpoint(file, { epoch, metrics, info, tensors });
}

async function loadCheckpoint(file: string, net: EmbeddingNet, loss: Loss, optimizer: Optimizer | undefined): Promise<{ epoch: number; metrics: Record<string, number> }> {
  const ckpt = await readCheckpoint(file);
  const state = namedState(net, loss);
  const values = new Map([...ckpt.tensors].map(([k, v]) => [k, v.values]));
  restoreParams(state, values, file);
  if (optimizer) {
    const byParam = new Map(state.map((s) => [s.name, s.variable.name]));
    const weights: Array<{ name: string; tensor: tf.Tensor }> = [];
    for (const [key, t] of ckpt.tensors) {
      if (key === 'optimizer/iter') weights.push({ name: 'iter', tensor: tf.scalar(t.values[0]!) });
      else if (key.startsWith('optimizer/')) {
        const rest = key.slice('optimizer/'.length);
        const cut = rest.lastIndexOf('/');
        const varName = byParam.get(rest.slice(0, cut));
        if (varName) weights.push({ name: `${varName}/${rest.slice(cut + 1)}`, tensor: tf.tensor(t.values, t.shape) });
      }
    }
    if (weights.length > 0) await optimizer.setWeights(weights);
  }
  return { epoch: ckpt.epoch, metrics: ckpt.metrics };
}

/** Trains a model as `config` says; with `resume`, continues from the last checkpoint in `config.out`. */
export async function train(config: TrainConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const backend = await initTf(config.backend);
  await fs.mkdir(config.out, { recursive: true });
  const hash = configHash(config);
  const configFile = path.join(config.out, 'config.json');
  if (options.resume) {
    const saved = JSON.parse(await fs.readFile(configFile, 'utf8').catch(() => '{}')) as { hash?: string };
    if (saved.hash && saved.hash !== hash) throw new Error(`--resume: ${configFile} was written by a different config; use a new --out or the same settings`);
  }
  await writeFileAtomic(configFile, JSON.stringify({ hash, config }, null, 2) + '\n');

  const pipeline = await loadAugmentPipeline(config);
  const data: PreparedData = config.model.type === 'head' ? await prepareFeatureData(config, pipeline, options.quiet) : await prepareImageData(config, pipeline, options.quiet);
  let spec = await loadedNetSpec(netSpecOf(config, data.train.sampleShape));
  // A frozen trunk (last-N-blocks or head-only fine-tuning) runs in onnxruntime; tfjs trains what follows it.
  let trunk: FrozenTrunk | undefined;
  if (spec.type === 'pretrained' && (config.model as { trunk?: string }).trunk !== 'tfjs') {
    const loaded = await loadPretrainedBackbone(spec.backbone, spec.until);
    const from = trunkEnd(loaded.model, spec.until, spec.trainable);
    if (from) {
      spec = { ...spec, from };
      trunk = await FrozenTrunk.create(loaded.model, from);
    }
  }
  const net = buildNet(spec);
  const numClasses = data.train.classNames.length;
  const projectionDim = (spec.type === 'head' && spec.kind === 'projector') || (spec.type === 'pretrained' && spec.head === 'projector') ? (spec.projectorDim ?? 8192) : undefined;
  const loss = createLoss(config.loss, numClasses, config.embeddingDim, config.seed, { projectionDim });
  // A fine-tuned backbone learns at backboneLr × the head's rate (its own Adam/SGD state, so the ratio holds for Adam).
  const backboneParams = spec.type === 'pretrained' ? net.body.layers[0]!.params() : [];
  const backboneLr = (config.model as { backboneLr?: number }).backboneLr ?? 0.1;
  const optimizer = createOptimizer(config.optimizer, config.lr, backboneParams.length ? [{ vars: new Set(backboneParams.map((p) => p.variable.name)), lrScale: backboneLr }] : []);
  const vars = [...net.trainable(), ...loss.variables()];
  const sampler = createSampler(config.sampler, data.train.labels, config.batchSize, config.seed, config.instances === true && config.model.type === 'pretrained');
  const logFile = path.join(config.out, 'log.jsonl');

  // Epochs done so far: training continues with epoch done + 1 (records and checkpoints are 1-based).
  let done = 0;
  const history: EpochRecord[] = [];
  let untrained = await validate(net, data.val);
  // A run stopped inside an epoch left checkpoints/partial.ckpt: that epoch goes on from the batch after it.
  const partialFile = path.join(config.out, 'checkpoints', 'partial.ckpt');
  let partial: { epoch: number; batch: number; lossSum: number; samples: number; seconds: number } | undefined;
  if (options.resume) {
    const last = (await listCheckpoints(config.out)).at(-1);
    if (last) {
      const restored = await loadCheckpoint(last.file, net, loss, optimizer);
      done = restored.epoch;
      const lines = (await fs.readFile(logFile, 'utf8').catch(() => '')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as EpochRecord & { untrained?: typeof untrained });
      for (const l of lines) {
        if ('untrained' in l && l.untrained) untrained = l.untrained;
        else if (l.epoch <= done) history.push(l);
      }
    }
    const p = await readCheckpoint(partialFile).catch(() => undefined);
    if (p && p.epoch === done + 1 && p.info?.['configHash'] === hash) {
      await loadCheckpoint(partialFile, net, loss, optimizer);
      const m = p.metrics;
      partial = { epoch: p.epoch, batch: m['batch']!, lossSum: m['lossSum']!, samples: m['samples']!, seconds: m['seconds']! };
    }
  }
  // Data-parallel replicas start from the main replica's state (initial, or restored from a checkpoint).
  const named = namedState(net, loss);
  const parallel =
    config.workers > 1
      ? await DataParallel.start(config.workers, {
          spec,
          loss: config.loss,
          numClasses,
          embeddingDim: config.embeddingDim,
          seed: config.seed,
          projectionDim,
          optimizer: config.optimizer,
          lr: config.lr,
          groups: backboneParams.length ? [{ names: backboneParams.map((p) => p.name), lrScale: backboneLr }] : [],
          backend,
          microBatch: config.microBatch,
        })
      : undefined;
  try {
  if (parallel) await parallel.load(stateOf(named), done > 0 || partial ? await optimizerStateByParam(optimizer, named) : undefined);
  /** Brings the main replica up to date with worker 0 (for validation, checkpoints, export). */
  const sync = async (withOptimizer: boolean) => {
    if (!parallel) return;
    const state = await parallel.state();
    assignState(named, state.params);
    if (withOptimizer) await setOptimizerStateByParam(optimizer, named, state.optimizer);
  };
  if (done === 0) await writeFileAtomic(logFile, JSON.stringify({ untrained, backend, spec, augment: pipeline ? pipeline.spec : config.augment }) + '\n');
  if (!options.quiet && pipeline) process.stderr.write(`augmentation (${config.augment.pipeline}):\n${pipeline.describe()}\n`);
  const info = { configHash: hash, spec };
  const snapshots = new Set(snapshotEpochs(config.schedule, config.epochs));

  for (let epoch = done + 1; epoch <= config.epochs; epoch++) {
    // Samplers, seeds and schedules count whole epochs already trained (0 for the first), as before.
    const trained = epoch - 1;
    const batches = sampler.epoch(trained);
    const resumeAt = partial?.epoch === epoch ? partial : undefined;
    const first = resumeAt ? resumeAt.batch : 0;
    const progress: Progress = createProgress({ label: `epoch ${epoch}/${config.epochs}`, total: (batches.length - first) * config.batchSize, unit: 'samples', quiet: options.quiet });
    const t0 = performance.now() - (resumeAt?.seconds ?? 0) * 1000;
    let lossSum = resumeAt?.lossSum ?? 0;
    let samplesDone = resumeAt?.samples ?? 0;
    let lr = config.lr;
    let lastSave = performance.now();
    /** The state after batch `b` of this epoch, to go on from the next one. */
    const savePartial = async (b: number) => {
      await sync(true);
      await saveCheckpoint(partialFile, epoch, { batch: b + 1, lossSum, samples: samplesDone, seconds: (performance.now() - t0) / 1000 }, net, loss, optimizer, info);
      lastSave = performance.now();
    };
    for (let b = first; b < batches.length; b++) {
      if (options.shouldStop?.()) {
        progress.done();
        if (b > first || resumeAt) await savePartial(b - 1);
        throw new TrainingStopped(epoch);
      }
      const idx = batches[b]!;
      lr = learningRate(config.schedule, config.lr, trained + b / batches.length, config.epochs);
      const images = data.train.batch(idx, true, config.seed * 1_000_003 + trained * 10_007 + b);
      const x = trunk ? await trunk.run(images) : images;
      if (trunk) images.dispose();
      const labels = Int32Array.from(idx, (i) => data.train.labels[i]!);
      let value: number;
      if (parallel) value = await parallel.step(Float32Array.from(x.dataSync() as Float32Array), x.shape, labels, lr);
      else {
        const y = tf.tensor1d(labels, 'int32');
        const step = batchGrads(net, loss, x, y, vars, config.microBatch);
        value = step.loss;
        if (!Number.isFinite(value)) throw new Error(`the loss became ${value}; lower the learning rate`);
        optimizer.applyGrads(step.grads, vars, lr);
        tf.dispose([y, ...Object.values(step.grads)]);
      }
      x.dispose();
      lossSum += value;
      samplesDone += idx.length;
      progress.tick(idx.length);
      // Long epochs (a fine-tuned photo backbone) keep a mid-epoch checkpoint, so a crash loses minutes, not the epoch.
      if (performance.now() - lastSave > (config.checkpointMinutes ?? 5) * 60_000 && b < batches.length - 1) await savePartial(b);
    }
    progress.done();
    const seconds = (performance.now() - t0) / 1000;
    await sync(true);
    const metrics = await validate(net, data.val);
    const samples = samplesDone;
    const record: EpochRecord = { epoch, loss: lossSum / Math.max(1, batches.length), lr, seconds, samplesPerSecond: samples / seconds, ...metrics };
    history.push(record);
    await saveCheckpoint(checkpointPath(config.out, epoch), epoch, { ...metrics, loss: record.loss, snapshot: snapshots.has(trained) ? 1 : 0 }, net, loss, optimizer, info);
    await fs.rm(partialFile, { force: true });
    await fs.appendFile(logFile, JSON.stringify(record) + '\n');
    options.onEpoch?.(record);
    if (!options.quiet) {
      process.stderr.write(`epoch ${epoch}: loss ${record.loss.toFixed(4)}  R@1 ${metrics['recall@1'].toFixed(4)}  MAP@5 ${metrics['map@5'].toFixed(4)}  ${record.samplesPerSecond.toFixed(0)} samples/s\n`);
    }
  }

  } finally {
    await parallel?.close();
    await trunk?.close();
  }

  // Export the epoch with the best validation Recall@1 (the last one on ties).
  const best = history.reduce((a, b) => (b['recall@1'] >= a['recall@1'] ? b : a), history[0]!);
  if (best.epoch !== history.at(-1)!.epoch) await loadCheckpoint(checkpointPath(config.out, best.epoch), net, loss, undefined);
  const modelPath = await exportNet(net, data, config, path.join(config.out, 'model.onnx'), { bestEpoch: best.epoch, validation: { 'recall@1': best['recall@1'], 'recall@5': best['recall@5'], 'map@5': best['map@5'] }, untrained, backend });
  await writeTrainingReport(path.join(config.out, 'report.html'), config, history, untrained);
  optimizer.dispose();
  return { modelPath, history, untrained, backend };
}

/** Writes the network (with its backbone, for heads) as ONNX + card. */
export async function exportNet(net: EmbeddingNet, data: PreparedData, config: TrainConfig, out: string, training: Record<string, unknown>): Promise<string> {
  const name = path.basename(config.out);
  const bytes = net.spec.type === 'head' ? headOnBackboneToOnnx(net, data.backboneBytes!, name) : cnnToOnnx(net, name, { dynamicSize: net.spec.type === 'pretrained' });
  const card: ModelCard & { net: NetSpec; training: Record<string, unknown>; backbone?: { file: string; sha256: string } } = {
    name,
    inputSize: data.preprocessing.inputSize,
    layout: 'NCHW',
    mean: data.preprocessing.mean,
    std: data.preprocessing.std,
    resize: net.spec.type === 'resnet' ? 'exact' : 'shorter-crop',
    outputDim: config.embeddingDim,
    description: `Trained by visid: ${net.spec.type === 'head' ? `${(net.spec as { kind: string }).kind} head on a frozen backbone` : net.spec.type === 'pretrained' ? `${net.spec.backbone} fine-tuned (${net.spec.trainable}${net.spec.freezeBn ? ', frozen BN statistics' : ''}) + GeM + ${net.spec.head}` : 'residual CNN'}, ${config.loss.name} loss, ${config.epochs} epochs on ${path.basename(config.data)}.`,
    net: net.spec,
    training: { loss: config.loss, epochs: config.epochs, data: config.data, ...training },
    ...(net.spec.type === 'head' ? { backbone: { file: (config.model as { backbone: string }).backbone, sha256: sha256(data.backboneBytes!) } } : {}),
  };
  return writeTrainedModel(out, bytes, card);
}
