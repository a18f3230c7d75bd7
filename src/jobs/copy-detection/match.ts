// Copy matching: each query's top-k references by cosine, scored raw, stretched (seed 004) or normalised against a background set, as one global list.
import { VisidError } from '../../util/errors.js';
import { l2NormalizeRows } from '../../util/vectors.js';
import type { CopyMatch } from '../../eval/copy-detection.js';
import { ExactIndex } from '../../search/exact.js';
import { normalizedScore, stretchedScore, stretchFactors } from '../../search/stretch.js';

export type CopyScoring = 'raw' | 'stretch' | 'normalize';

export interface DescriptorSet {
  ids: string[];
  vectors: Float32Array;
}

export interface CopyMatchOptions {
  /** References kept per query (default 10). */
  k?: number;
  /** raw cosine; stretch: −‖α·s_n(q)·q − r‖; normalize: cosine minus the n-th background similarity. */
  scoring?: CopyScoring;
  /** Background (training) descriptors, needed by stretch and normalize. */
  background?: DescriptorSet;
  /** n of s_n (stretch) or of the n-th neighbour (normalize); default 5. */
  n?: number;
  /** α of the stretching (default 2.5). */
  alpha?: number;
  /**
   * Subtract the background descriptors' mean from every descriptor and re-normalise before matching. CNN
   * descriptors of ReLU features share a large common component (unrelated photos at cosine ~0.97 with an untrained
   * backbone), which swamps stretching's per-query factor; ISC2021 pipelines centre (and whiten) on training images.
   */
  center?: boolean;
  threads?: number;
}

function checkSet(set: DescriptorSet, dim: number, what: string): void {
  if (set.vectors.length !== set.ids.length * dim) throw new VisidError('E_DIM', `${what}: ${set.ids.length} ids but ${set.vectors.length / dim} ${dim}-d descriptors`);
}

/** The mean of the L2-normalised rows. */
export function meanRow(vectors: Float32Array, dim: number): Float64Array {
  const unit = l2NormalizeRows(Float32Array.from(vectors), dim);
  const rows = vectors.length / dim;
  const mean = new Float64Array(dim);
  for (let i = 0; i < rows; i++) for (let j = 0; j < dim; j++) mean[j]! += unit[i * dim + j]! / rows;
  return mean;
}

/** Rows (L2-normalised first) minus `mean`, L2-normalised again. */
export function centred(vectors: Float32Array, dim: number, mean: Float64Array): Float32Array {
  const out = l2NormalizeRows(Float32Array.from(vectors), dim);
  for (let i = 0; i < out.length; i++) out[i]! -= mean[i % dim]!;
  return l2NormalizeRows(out, dim);
}

/** The (query, reference, score) list of every query's top-k references; descriptors are compared by cosine (normalised here). */
export async function matchCopies(queries: DescriptorSet, references: DescriptorSet, dim: number, options: CopyMatchOptions = {}): Promise<CopyMatch[]> {
  const k = Math.min(options.k ?? 10, references.ids.length);
  const scoring = options.scoring ?? 'raw';
  const n = options.n ?? 5;
  checkSet(queries, dim, 'queries');
  checkSet(references, dim, 'references');
  if (references.ids.length === 0) throw new VisidError('E_INPUT', 'no reference descriptors to match against');
  if (options.center) {
    const bg = options.background;
    if (!bg || bg.ids.length === 0) throw new VisidError('E_INPUT', 'centring needs a background set of descriptors');
    checkSet(bg, dim, 'background');
    const mean = meanRow(bg.vectors, dim);
    queries = { ids: queries.ids, vectors: centred(queries.vectors, dim, mean) };
    references = { ids: references.ids, vectors: centred(references.vectors, dim, mean) };
    options = { ...options, background: { ids: bg.ids, vectors: centred(bg.vectors, dim, mean) } };
  }
  let perQuery: Float32Array | undefined;
  if (scoring !== 'raw') {
    const bg = options.background;
    if (!bg || bg.ids.length === 0) throw new VisidError('E_INPUT', `${scoring === 'stretch' ? 'descriptor stretching' : 'score normalisation'} needs a background set of descriptors`);
    checkSet(bg, dim, 'background');
    if (bg.ids.length < n) throw new VisidError('E_INPUT', `n = ${n} background neighbours asked, the background set has ${bg.ids.length}`);
    const bgIndex = await ExactIndex.create(bg.vectors, dim, { metric: 'cosine', threads: options.threads });
    try {
      const top = await bgIndex.search(queries.vectors, n);
      perQuery = scoring === 'stretch' ? stretchFactors(top.scores, n, n, options.alpha ?? 2.5) : Float32Array.from({ length: queries.ids.length }, (_, q) => top.scores[q * n + n - 1]!);
    } finally {
      await bgIndex.close();
    }
  }
  if (k === 0 || queries.ids.length === 0) return [];
  const index = await ExactIndex.create(references.vectors, dim, { metric: 'cosine', threads: options.threads });
  try {
    const hits = await index.search(queries.vectors, k);
    const out: CopyMatch[] = [];
    for (let q = 0; q < queries.ids.length; q++) {
      for (let j = 0; j < k; j++) {
        const r = hits.indices[q * k + j]!;
        if (r < 0) continue;
        const c = hits.scores[q * k + j]!;
        const score = scoring === 'stretch' ? stretchedScore(c, perQuery![q]!) : scoring === 'normalize' ? normalizedScore(c, perQuery![q]!) : c;
        out.push({ query: queries.ids[q]!, reference: references.ids[r]!, score });
      }
    }
    return out;
  } finally {
    await index.close();
  }
}
