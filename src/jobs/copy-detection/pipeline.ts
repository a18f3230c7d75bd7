// Copy detection end to end: reference, query and background descriptors (galleries or image folders) → scored (query, reference) matches; or the perceptual-hash baseline.
import path from 'node:path';
import { Gallery } from '../../index/gallery.js';
import { loadDataset } from '../../data/load.js';
import type { Dataset } from '../../data/item.js';
import { VisidError } from '../../util/errors.js';
import { createProgress } from '../../util/progress.js';
import type { FusionMode } from '../../util/vectors.js';
import type { CopyMatch } from '../../eval/copy-detection.js';
import { matchCopies, type CopyScoring, type DescriptorSet } from './match.js';
import { matchHashes } from './hash-match.js';
import { perceptualHash, type HashKind } from '../../models/perceptual-hash.js';
import { embedConfigOfGallery, embedderForGallery } from '../../pipeline/gallery-embedder.js';
import { verifyMatches, type LocalVerifyOptions } from './verify.js';

/** Seed 004 §5's test scales, 200/256/320/400 px for a model trained at 256 px, as factors of the model's input. */
export const ISC_SCALES = [200 / 256, 1, 320 / 256, 400 / 256];

export interface CopyDetectOptions {
  /** Gallery of the references (made by `visid index`), or, for hashes, a gallery or an image folder. */
  refs: string;
  /** A gallery, or an image folder / manifest embedded here with the references' model. */
  queries: string;
  /** Gallery (or folder) of background descriptors for stretching or normalisation. */
  background?: string;
  scoring?: CopyScoring;
  /** Centre every descriptor on the background mean first. */
  center?: boolean;
  k?: number;
  n?: number;
  alpha?: number;
  /** Query scales when queries (or the background) are embedded here; default: the reference gallery's. */
  scales?: number[];
  fusion?: FusionMode;
  /** The classical baseline instead of descriptors. */
  hash?: HashKind;
  /** Local verification (ORB + RANSAC) of each query's top `verify.topK` matches, which gain a bonus by inliers. */
  verify?: LocalVerifyOptions;
  model?: string;
  root?: string;
  threads?: number;
  quiet?: boolean;
}

export interface CopyDetectResult {
  matches: CopyMatch[];
  queries: number;
  references: number;
  /** Seconds spent matching (descriptors or hashes already computed), and embedding/hashing queries. */
  matchSeconds: number;
  embedSeconds: number;
  /** Seconds spent verifying, and the pairs verified (with `verify`). */
  verifySeconds?: number;
  verifiedPairs?: number;
}

/** Descriptors of a gallery, or of a folder embedded with the reference gallery's model. */
async function descriptors(source: string, refs: Gallery, o: CopyDetectOptions, what: string): Promise<DescriptorSet> {
  if (await Gallery.exists(source)) {
    const g = await Gallery.open(source);
    if (g.model.id !== refs.model.id) throw new VisidError('E_MODEL', `${what} gallery was built with another model (${g.model.name ?? g.model.id.slice(0, 12)}) than the references (${refs.model.name ?? refs.model.id.slice(0, 12)})`, { item: source });
    return { ids: g.items.map((it) => it.id), vectors: g.vectors };
  }
  const ds = await loadDataset(source, { root: o.root });
  if (ds.items.length === 0) throw new VisidError('E_DATASET', `no ${what} images found`, { item: source });
  const embedder = await embedderForGallery(refs, o.model, o.threads);
  const config = embedConfigOfGallery(refs);
  const progress = createProgress({ label: `embed ${what}`, total: ds.items.length, unit: 'img', quiet: o.quiet });
  try {
    const res = await embedder.embedFiles(ds.items.map((it) => it.path), {
      ...config,
      scales: o.scales ?? config.scales,
      fusion: o.fusion ?? config.fusion,
      names: ds.items.map((it) => it.id),
      onProgress: (n) => progress.tick(n),
    });
    progress.done();
    return { ids: ds.items.map((it) => it.id), vectors: res.vectors };
  } finally {
    await embedder.close();
  }
}

/** Paths and ids of a gallery's items (resolved against its data root) or of an image folder. */
async function imageList(source: string, root?: string): Promise<Dataset['items']> {
  if (await Gallery.exists(source)) return galleryImages(await Gallery.open(source));
  return (await loadDataset(source, { root })).items;
}

async function hashes(items: Dataset['items'], kind: HashKind, label: string, quiet?: boolean) {
  const progress = createProgress({ label, total: items.length, unit: 'img', quiet });
  const out = [];
  for (const it of items) {
    out.push(await perceptualHash(it.path, kind));
    progress.tick(1);
  }
  progress.done();
  return { ids: items.map((it) => it.id), hashes: out };
}

function galleryImages(g: Gallery): Dataset['items'] {
  return g.items.map((it) => {
    if (!it.path) throw new VisidError('E_INPUT', `gallery item has no image path to hash or verify (copy-detect --no-verify matches descriptors alone)`, { item: it.id });
    return { id: it.id, path: path.isAbsolute(it.path) || !g.dataRoot ? it.path : path.join(g.dataRoot, it.path) };
  });
}

export async function copyDetect(o: CopyDetectOptions): Promise<CopyDetectResult> {
  const k = o.k ?? 10;
  if (o.hash) {
    if (o.scoring && o.scoring !== 'raw') throw new VisidError('E_INPUT', 'stretching and normalisation apply to descriptors, not to perceptual hashes');
    const refImages = await imageList(o.refs, o.root);
    const refs = await hashes(refImages, o.hash, `${o.hash} references`, o.quiet);
    const t0 = performance.now();
    const queryImages = await imageList(o.queries, o.root);
    const queries = await hashes(queryImages, o.hash, `${o.hash} queries`, o.quiet);
    const t1 = performance.now();
    const matches = matchHashes(queries, refs, k);
    const base = { queries: queries.ids.length, references: refs.ids.length, embedSeconds: (t1 - t0) / 1000, matchSeconds: (performance.now() - t1) / 1000 };
    return { ...base, ...(await verified(matches, o, refImages, queryImages)) };
  }
  if (!(await Gallery.exists(o.refs))) throw new VisidError('E_INPUT', 'references must be a gallery made by `visid index` (or use --hash on an image folder)', { item: o.refs });
  const refs = await Gallery.open(o.refs);
  const t0 = performance.now();
  const queries = await descriptors(o.queries, refs, o, 'query');
  const background = o.background ? await descriptors(o.background, refs, o, 'background') : undefined;
  const t1 = performance.now();
  const matches = await matchCopies(queries, { ids: refs.items.map((it) => it.id), vectors: refs.vectors }, refs.dim, { k, scoring: o.scoring, background, n: o.n, alpha: o.alpha, center: o.center, threads: o.threads });
  const base = { queries: queries.ids.length, references: refs.count, embedSeconds: (t1 - t0) / 1000, matchSeconds: (performance.now() - t1) / 1000 };
  return { ...base, ...(o.verify ? await verified(matches, o, galleryImages(refs), await imageList(o.queries, o.root)) : { matches }) };
}

/** The matches after local verification when asked for (the images come from the references' and queries' paths). */
async function verified(matches: CopyMatch[], o: CopyDetectOptions, refImages: Dataset['items'], queryImages: Dataset['items']): Promise<{ matches: CopyMatch[]; verifySeconds?: number; verifiedPairs?: number }> {
  if (!o.verify) return { matches };
  const refPaths = new Map(refImages.map((it) => [it.id, it.path]));
  const queryPaths = new Map(queryImages.map((it) => [it.id, it.path]));
  const lookup = (paths: Map<string, string>, what: string) => (id: string) => {
    const p = paths.get(id);
    if (!p) throw new VisidError('E_INPUT', `no image for ${what} id to verify (copy-detect --no-verify matches descriptors alone)`, { item: id });
    return p;
  };
  const v = await verifyMatches(matches, lookup(queryPaths, 'query'), lookup(refPaths, 'reference'), { quiet: o.quiet, threads: o.threads, refIds: [...refPaths.keys()], ...o.verify });
  return { matches: v.matches, verifySeconds: v.seconds, verifiedPairs: v.verifiedPairs };
}
