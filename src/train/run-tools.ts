// Work on a finished run: rebuild its network and data, then make a model soup or a snapshot ensemble of its checkpoints.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { initTf } from '../tf/runtime.js';
import { buildNet, EmbeddingNet, NetSpec } from '../models/networks.js';
import { restoreParams } from '../models/layers.js';
import { cnnEnsembleToOnnx, writeTrainedModel } from '../models/export-onnx.js';
import { VisidError } from '../util/errors.js';
import type { TrainConfig } from './config.js';
import { listCheckpoints } from './checkpoint.js';
import { loadAugmentPipeline, PreparedData, prepareFeatureData, prepareImageData } from './data.js';
import { averageWeights, greedySoup, networkWeights, SoupResult, Weights } from './soups.js';
import { exportNet, loadedNetSpec, netSpecOf, validate } from './trainer.js';

export interface OpenRun {
  dir: string;
  config: TrainConfig;
  data: PreparedData;
  spec: NetSpec;
  checkpoints: Array<{ epoch: number; file: string }>;
}

export async function openRun(dir: string): Promise<OpenRun> {
  const file = path.join(dir, 'config.json');
  const saved = JSON.parse(await fs.readFile(file, 'utf8').catch(() => {
    throw new VisidError('E_NOT_FOUND', 'not a visid training run (no config.json)', { item: dir });
  })) as { config: TrainConfig };
  const config = saved.config;
  await initTf(config.backend);
  const checkpoints = await listCheckpoints(dir);
  if (checkpoints.length === 0) throw new VisidError('E_NOT_FOUND', 'the run has no checkpoints', { item: dir });
  const pipeline = await loadAugmentPipeline(config);
  const data = config.model.type === 'head' ? await prepareFeatureData(config, pipeline) : await prepareImageData(config, pipeline);
  return { dir, config, data, spec: await loadedNetSpec(netSpecOf(config, data.train.sampleShape)), checkpoints };
}

function netWith(spec: NetSpec, weights: Weights, source: string): EmbeddingNet {
  const net = buildNet(spec);
  restoreParams(net.params(), weights, source);
  return net;
}

/** A uniform or greedy soup of the run's checkpoints (optionally only `epochs`), scored by validation Recall@1, exported as ONNX. */
export async function soupRun(run: OpenRun, options: { greedy: boolean; epochs?: number[]; out?: string }): Promise<SoupResult & { modelPath: string; individual: Array<{ epoch: number; score: number }> }> {
  const chosen = run.checkpoints.filter((c) => !options.epochs || options.epochs.includes(c.epoch));
  if (chosen.length === 0) throw new VisidError('E_INPUT', `none of epochs ${options.epochs} has a checkpoint`, { item: run.dir });
  const loaded = await Promise.all(chosen.map((c) => networkWeights(c.file)));
  const evaluate = async (w: Weights) => (await validate(netWith(run.spec, w, run.dir), run.data.val))['recall@1'];
  const individual = await Promise.all(loaded.map(async (l) => ({ epoch: l.epoch, score: await evaluate(l.weights) })));
  const candidates = loaded.map((l, i) => ({ weights: l.weights, score: individual[i]!.score, epoch: l.epoch }));
  const result = options.greedy
    ? await greedySoup(candidates, evaluate)
    : await (async () => {
        const weights = averageWeights(candidates.map((c) => c.weights));
        return { weights, members: candidates.map((c) => c.epoch), score: await evaluate(weights) };
      })();
  const net = netWith(run.spec, result.weights, run.dir);
  const modelPath = await exportNet(net, run.data, run.config, options.out ?? path.join(run.dir, `${options.greedy ? 'greedy' : 'uniform'}-soup.onnx`), {
    soup: options.greedy ? 'greedy' : 'uniform',
    members: result.members,
    validation: { 'recall@1': result.score },
  });
  return { ...result, modelPath, individual };
}

/** The snapshot checkpoints of a cosine-restarts run (or the given epochs) as one ensemble ONNX model. */
export async function ensembleRun(run: OpenRun, options: { epochs?: number[]; out?: string }): Promise<{ modelPath: string; members: number[] }> {
  if (run.spec.type !== 'resnet') throw new VisidError('E_INPUT', 'snapshot ensembles are built for CNN runs', { item: run.dir });
  const all = await Promise.all(run.checkpoints.map(async (c) => ({ c, w: await networkWeights(c.file) })));
  const chosen = options.epochs ? all.filter((x) => options.epochs!.includes(x.c.epoch)) : all.filter((x) => x.w.metrics.snapshot === 1);
  if (chosen.length < 2) throw new VisidError('E_INPUT', 'an ensemble needs at least two checkpoints (train with schedule cosine-restarts, or pass epochs)', { item: run.dir });
  const nets = chosen.map((x) => netWith(run.spec, x.w.weights, x.c.file));
  const out = options.out ?? path.join(run.dir, 'snapshot-ensemble.onnx');
  const dim = nets.length * run.config.embeddingDim;
  const p = run.data.preprocessing;
  await writeTrainedModel(out, cnnEnsembleToOnnx(nets, path.basename(run.dir)), {
    name: `${path.basename(run.dir)}-snapshot-ensemble`,
    inputSize: p.inputSize,
    layout: 'NCHW',
    mean: p.mean,
    std: p.std,
    resize: 'exact',
    outputDim: dim,
    description: `Snapshot ensemble of epochs ${chosen.map((x) => x.c.epoch).join(', ')} of ${run.dir}: concatenated L2-normalised descriptors.`,
    net: run.spec,
    training: { ensemble: chosen.map((x) => x.c.epoch) },
  });
  return { modelPath: out, members: chosen.map((x) => x.c.epoch) };
}
