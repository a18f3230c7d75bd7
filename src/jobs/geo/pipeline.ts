// Geo-localization stages composed from the library: train a CosPlace head on a frozen feature-map backbone, embed a database and queries (multi-scale, darkened), retrieve, re-rank, localise and score.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Dataset, Item } from '../../data/item.js';
import { Embedder } from '../../models/embedder.js';
import { backboneInputCard, headOnBackboneToOnnx, sha256, writeTrainedModel } from '../../models/export-onnx.js';
import { AugmentPipeline } from '../../augment/pipeline.js';
import { cachedFeatures } from '../../train/data.js';
import { cosplaceClasses, trainCosPlaceHead, type CosPlaceGrouping, type CosPlaceLossName } from './cosplace.js';
import { initTf, type TrainBackend } from '../../tf/runtime.js';
import { ExactIndex } from '../../search/exact.js';
import { alphaQueryExpansion, databaseSideAugmentation } from '../../search/query-expansion.js';
import { localDescriptors, rerankByLocalMatches, type LocalDescriptors } from '../../search/local-rerank.js';
import { geoRecalls, locationError, predictLocation, type LocatedItem, type LocalizedQuery, type LocationMode } from '../../eval/geo-localization.js';
import { geoPositives } from '../../eval/geo.js';
import type { FusionMode } from '../../util/vectors.js';
import { VisidError } from '../../util/errors.js';
import { createProgress } from '../../util/progress.js';
import { packagePath } from '../../util/package-root.js';

/** The configs/ folder shipped with visid. */
const CONFIGS = packagePath('configs');

export interface GeoTrainOptions {
  train: Dataset;
  backbone: string;
  out: string;
  grouping?: CosPlaceGrouping;
  loss?: CosPlaceLossName;
  scale?: number;
  margin?: number;
  dim?: number;
  epochs?: number;
  /** Feature views per training image: the image, then augmented views (configs/augment/geo-train.yaml). */
  views?: number;
  lr?: number;
  /** Unlabelled target-domain images (e.g. night photos) for the gradient reversal layer. */
  target?: Dataset;
  domainWeight?: number;
  seed?: number;
  backend?: TrainBackend;
  quiet?: boolean;
}

/** Trains the CosPlace head and writes one ONNX model (backbone + GeM + FC) with its card; returns its path. */
export async function trainGeoModel(o: GeoTrainOptions): Promise<{ model: string; classes: number; groups: number; history: Array<{ epoch: number; group: number; loss: number }> }> {
  const backboneBytes = new Uint8Array(await fs.readFile(o.backbone).catch(() => {
    throw new VisidError('E_NOT_FOUND', 'backbone model does not exist', { item: o.backbone });
  }));
  const sha = sha256(backboneBytes);
  const classes = cosplaceClasses(o.train.items, o.grouping);
  const views = o.views ?? 4;
  const pipeline = views > 1 ? await AugmentPipeline.fromFile(path.join(CONFIGS, 'augment', 'geo-train.yaml')) : undefined;
  const cache = path.join(o.out, 'cache');
  const features = await cachedFeatures(o.backbone, sha, o.train, views, path.join(cache, 'train-features.npy'), o.seed ?? 1, pipeline, o.quiet);
  const target = o.target ? await cachedFeatures(o.backbone, sha, o.target, 1, path.join(cache, 'target-features.npy'), o.seed ?? 1, undefined, o.quiet) : undefined;
  await initTf(o.backend);
  const groups = classes.groups.length;
  const epochs = o.epochs ?? 4 * groups;
  const progress = createProgress({ label: 'cosplace epochs', total: epochs, unit: 'epoch', quiet: o.quiet });
  const { net, history } = await trainCosPlaceHead(features, classes, {
    dim: o.dim ?? 128,
    loss: o.loss,
    scale: o.scale,
    margin: o.margin,
    epochs,
    lr: o.lr,
    seed: o.seed,
    target: target ? { vectors: target.vectors, count: o.target!.items.length } : undefined,
    domainWeight: o.domainWeight,
    onEpoch: () => progress.tick(1),
  });
  progress.done();
  const name = `cosplace-${o.loss ?? 'cosface'}${o.target ? '-grl' : ''}`;
  const model = path.join(o.out, `${name}.onnx`);
  await writeTrainedModel(model, headOnBackboneToOnnx(net, backboneBytes, name), {
    ...(await backboneInputCard(o.backbone)),
    name,
    outputName: 'visid_descriptor',
    outputDim: o.dim ?? 128,
    description: `CosPlace head (GeM + FC, ${o.loss ?? 'cosface'}${o.target ? ', gradient reversal against target images' : ''}) trained by visid on ${path.basename(o.backbone)}'s feature maps; ${classes.groups.length} groups, ${classes.groups.flat().length} classes`,
    net: net.spec,
    backbone: { file: path.basename(o.backbone), sha256: sha },
    training: { epochs, views, grouping: o.grouping ?? {}, loss: o.loss ?? 'cosface', images: o.train.items.length, target: o.target?.items.length ?? 0 },
  });
  return { model, classes: classes.groups.flat().length, groups, history };
}

export interface GeoEmbedOptions {
  scales?: number[];
  fusion?: FusionMode;
  /** Test-time darkening of every image (seed 001 §4.1: 0.15). */
  brightness?: number;
  threads?: number;
  quiet?: boolean;
  label?: string;
}

/** L2-normalised descriptors of a data set's images. */
export async function embedItems(model: string, items: readonly Item[], o: GeoEmbedOptions = {}): Promise<Float32Array> {
  const embedder = await Embedder.load(model, { threads: o.threads });
  try {
    const progress = createProgress({ label: o.label ?? 'embed', total: items.length, unit: 'img', quiet: o.quiet });
    const res = await embedder.embedFiles(items.map((it) => it.path), { names: items.map((it) => it.id), scales: o.scales, fusion: o.fusion, brightness: o.brightness, onProgress: (n) => progress.tick(n) });
    progress.done();
    return res.vectors;
  } finally {
    await embedder.close();
  }
}

export interface RankedHit {
  id: string;
  score: number;
}

/** Each query's top-k database items by cosine. */
export async function retrieve(queries: Float32Array, database: Float32Array, dim: number, ids: readonly string[], k: number, threads?: number): Promise<RankedHit[][]> {
  const index = await ExactIndex.create(database, dim, { metric: 'ip', threads });
  try {
    const kk = Math.min(k, ids.length);
    const res = await index.search(queries, kk);
    const nq = queries.length / dim;
    return Array.from({ length: nq }, (_, q) => Array.from({ length: kk }, (_, j) => ({ id: ids[res.indices[q * kk + j]!]!, score: res.scores[q * kk + j]! })).filter((h) => h.id !== undefined));
  } finally {
    await index.close();
  }
}

export type RerankKind = 'qe' | 'dba' | 'local';

export interface RerankOptions {
  kind: RerankKind;
  /** Neighbours for α-QE / DBA (default 2), α (default 3). */
  k?: number;
  alpha?: number;
  /** Local re-ranking: candidates re-ordered (default 20), the feature-map backbone, pooling (default: ~100 positions), min similarity. */
  candidates?: number;
  backbone?: string;
  pool?: number;
  minSimilarity?: number;
  brightness?: number;
  threads?: number;
}

/** Feature-map local descriptors of images, by id (computed once). */
async function localFeatures(backbone: string, items: readonly Item[], pool: number | undefined, brightness?: number, threads?: number): Promise<Map<string, LocalDescriptors>> {
  const embedder = await Embedder.load(backbone, { normalize: false, threads });
  try {
    const out = new Map<string, LocalDescriptors>();
    for (let s = 0; s < items.length; s += 32) {
      const part = items.slice(s, s + 32);
      const res = await embedder.embedFiles(part.map((it) => it.path), { names: part.map((it) => it.id), brightness });
      const shape = embedder.outputShape;
      if (!shape || shape.length !== 3) throw new VisidError('E_MODEL', `local re-ranking needs a feature-map backbone ([C, H, W] output), this one gives [${shape ?? '?'}]`, { item: backbone });
      const [c, h, w] = shape as [number, number, number];
      // Default pooling keeps about 100 positions per image, so matching stays affordable.
      const p = pool ?? Math.max(1, Math.round(Math.sqrt((h * w) / 100)));
      part.forEach((it, i) => out.set(it.id, localDescriptors(res.vectors.subarray(i * c * h * w, (i + 1) * c * h * w), c, h, w, p)));
    }
    return out;
  } finally {
    await embedder.close();
  }
}

/**
 * Re-ranks retrieval results: α-QE (queries expanded by their top-k, then searched again), DBA + α-QE (the
 * database expanded first), or local matching (the first `candidates` hits re-ordered by mutual nearest neighbours
 * of the backbone's local descriptors).
 */
export async function rerank(o: RerankOptions, queries: { items: readonly Item[]; vectors: Float32Array }, database: { items: readonly Item[]; vectors: Float32Array }, dim: number, k: number, initial: RankedHit[][]): Promise<RankedHit[][]> {
  const ids = database.items.map((it) => it.id);
  if (o.kind === 'qe' || o.kind === 'dba') {
    const db = o.kind === 'dba' ? await databaseSideAugmentation(database.vectors, dim, o.k ?? 2, o.alpha ?? 3, o.threads) : database.vectors;
    const expanded = await alphaQueryExpansion(queries.vectors, db, dim, o.k ?? 2, o.alpha ?? 3, o.threads);
    return retrieve(expanded, db, dim, ids, k, o.threads);
  }
  if (!o.backbone) throw new VisidError('E_INPUT', 'local re-ranking needs the feature-map backbone');
  const n = o.candidates ?? 20;
  const wanted = new Set(initial.flatMap((hits) => hits.slice(0, n).map((h) => h.id)));
  const byId = new Map(database.items.map((it) => [it.id, it]));
  const dbLocal = await localFeatures(o.backbone, [...wanted].map((id) => byId.get(id)!), o.pool, o.brightness, o.threads);
  const qLocal = await localFeatures(o.backbone, queries.items, o.pool, o.brightness, o.threads);
  return initial.map((hits, q) => {
    const head = rerankByLocalMatches(qLocal.get(queries.items[q]!.id)!, hits.slice(0, n), (id) => dbLocal.get(id)!, o.minSimilarity ?? 0);
    return [...head.map(({ id, score }) => ({ id, score })), ...hits.slice(n)];
  });
}

export interface GeoScores {
  recalls: Record<number, number>;
  withoutPositive: number;
  /** Median and mean localisation error (metres) of the predicted locations. */
  medianErrorMeters: number;
  meanErrorMeters: number;
  queries: LocalizedQuery[];
}

/** Recall@N with positives within `radius`, and each query's predicted location and error. */
export function scoreGeo(rankings: RankedHit[][], queries: readonly Item[], database: readonly Item[], o: { radius?: number; ns?: number[]; location?: LocationMode } = {}): GeoScores {
  const radius = o.radius ?? 25;
  const db = database as readonly LocatedItem[];
  const { recalls, withoutPositive } = geoRecalls(rankings.map((r) => r.map((h) => h.id)), queries, db, o.ns ?? [1, 5, 10, 20], radius);
  const byId = new Map(db.map((d) => [d.id, d]));
  const positives = geoPositives(queries, db, radius);
  const results: LocalizedQuery[] = queries.map((q, i) => {
    const predicted = predictLocation(rankings[i]!, byId, o.location);
    return { id: q.id, truth: q as LocatedItem, predicted, errorMeters: locationError(q, predicted, q.id), correctAt1: positives[i]!.includes(rankings[i]![0]?.id ?? '') };
  });
  const errors = results.map((r) => r.errorMeters).sort((a, b) => a - b);
  const mid = errors.length >> 1;
  return {
    recalls,
    withoutPositive,
    medianErrorMeters: errors.length % 2 ? errors[mid]! : (errors[mid - 1]! + errors[mid]!) / 2,
    meanErrorMeters: errors.reduce((a, b) => a + b, 0) / errors.length,
    queries: results,
  };
}
