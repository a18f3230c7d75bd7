// Ensembles across models: weighted sums of cosine similarities over galleries of the same items (seed 000 §2.5.2), and weighted fusion of classifier scores (seed 002 Table 3).
import type { Gallery } from '../index/gallery.js';
import { VisidError } from '../util/errors.js';
import { ExactIndex } from './exact.js';
import { uniqueLabelRanking, type Hit, type LabelHit } from './labels.js';

/** What an ensemble reads of a gallery: an on-disk Gallery, or vectors held in memory with the same shape. */
export type GalleryLike = Pick<Gallery, 'dir' | 'dim' | 'count' | 'vectors' | 'items' | 'indexOf'>;

export interface EnsembleMember {
  gallery: GalleryLike;
  /** Query descriptors from this member's model, row-major [queries, gallery.dim], L2-normalised. */
  queries: Float32Array;
  weight?: number;
}

/**
 * For every query, every gallery item scored by Σ_m w_m · cos_m(query, item) — the members' galleries must hold
 * the same item ids (built by different models from the same images). Returns the top `k` items per query.
 * Exact: each member's cosines are computed for every item (blocked matrix products through the exact index).
 */
export async function ensembleSearch(members: EnsembleMember[], k: number, options: { excludeIds?: (string | undefined)[] } = {}): Promise<Hit[][]> {
  if (members.length === 0) throw new VisidError('E_INPUT', 'an ensemble needs at least one model');
  const first = members[0]!.gallery;
  const n = first.count;
  const nq = members[0]!.queries.length / first.dim;
  // Align every member's rows to the first gallery's order by item id.
  const rowOf = members.map((m) => {
    if (m.gallery.count !== n) throw new VisidError('E_GALLERY', `ensemble galleries hold different items: ${m.gallery.count} vs ${n}`, { item: m.gallery.dir });
    if (m.queries.length !== nq * m.gallery.dim) throw new VisidError('E_DIM', `query descriptors do not match the gallery's ${m.gallery.dim}-d rows`, { item: m.gallery.dir });
    return first.items.map((it) => {
      const r = m.gallery.indexOf(it.id);
      if (r < 0) throw new VisidError('E_GALLERY', 'item is missing from an ensemble member', { item: `${m.gallery.dir}: ${it.id}` });
      return r;
    });
  });
  const total = new Float32Array(nq * n);
  for (const [mi, m] of members.entries()) {
    const w = m.weight ?? 1;
    const index = await ExactIndex.create(m.gallery.vectors, m.gallery.dim, { metric: 'cosine' });
    try {
      // Every item's cosine: a top-n search returns them all; scatter into the first gallery's row order.
      const res = await index.search(m.queries, n);
      const rows = rowOf[mi]!;
      const back = new Int32Array(n);
      rows.forEach((r, i) => (back[r] = i));
      for (let q = 0; q < nq; q++) {
        for (let j = 0; j < n; j++) {
          const r = Number(res.indices[q * n + j]);
          total[q * n + back[r]!]! += w * res.scores[q * n + j]!;
        }
      }
    } finally {
      await index.close();
    }
  }
  const out: Hit[][] = [];
  for (let q = 0; q < nq; q++) {
    const order = Array.from({ length: n }, (_, i) => i)
      .filter((i) => first.items[i]!.id !== options.excludeIds?.[q])
      .sort((a, b) => total[q * n + b]! - total[q * n + a]! || a - b);
    out.push(order.slice(0, k).map((i) => ({ row: i, id: first.items[i]!.id, label: first.items[i]!.label, score: total[q * n + i]! })));
  }
  return out;
}

/** The top-k distinct labels per query of an ensemble (Hotel-ID's prediction: five hotels, best first). */
export async function ensembleLabels(members: EnsembleMember[], k: number, options: { excludeIds?: (string | undefined)[] } = {}): Promise<LabelHit[][]> {
  const first = members[0]!.gallery;
  const hits = await ensembleSearch(members, first.count, options);
  return hits.map((h) => uniqueLabelRanking(h, k));
}

/**
 * Weighted fusion of several models' per-class scores (e.g. sigmoid outputs), row-major [N, C] each: Σ w_m s_m / Σ w_m.
 * Seed 002 Table 3 fuses 10 models with an external one at 2:1 and 5:1.
 */
export function fuseScores(outputs: Float32Array[], weights?: number[]): Float32Array {
  if (outputs.length === 0) throw new VisidError('E_INPUT', 'nothing to fuse');
  const w = weights ?? outputs.map(() => 1);
  if (w.length !== outputs.length) throw new VisidError('E_INPUT', `${w.length} weights for ${outputs.length} score sets`);
  if (w.some((x) => !(x >= 0)) || w.reduce((a, b) => a + b, 0) <= 0) throw new VisidError('E_INPUT', 'weights must be non-negative with a positive sum');
  const len = outputs[0]!.length;
  for (const o of outputs) if (o.length !== len) throw new VisidError('E_DIM', `score sets differ in size: ${o.length} vs ${len}`);
  const sum = w.reduce((a, b) => a + b, 0);
  const out = new Float32Array(len);
  outputs.forEach((o, m) => {
    for (let i = 0; i < len; i++) out[i]! += (w[m]! / sum) * o[i]!;
  });
  return out;
}
