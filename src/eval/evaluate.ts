// Evaluates a gallery against labelled or geo-tagged queries: parses metric names, builds ground truth, scores.
import { VisidError } from '../util/errors.js';
import type { GalleryItem } from '../index/gallery.js';
import type { GallerySearcher } from '../search/gallery-search.js';
import { geoDistanceMeters, GeoPoint } from './geo.js';
import { mapAtK, meanAveragePrecision, precisionAtK, recallAtK } from './metrics.js';

export type MetricName = 'map' | 'recall' | 'precision' | 'mAP';

export interface MetricSpec {
  name: MetricName;
  k?: number;
  /** As written by the user, e.g. "map@5". */
  text: string;
}

/** Parses "map@5,recall@1,precision@10,mAP" (map@k is Kaggle MAP@k over unique labels; mAP is full AP). */
export function parseMetrics(text: string): MetricSpec[] {
  const specs = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s): MetricSpec => {
    const m = /^(map|recall|precision)@(\d+)$/i.exec(s);
    if (m) {
      const k = Number(m[2]);
      if (k < 1) throw new VisidError('E_INPUT', `metric '${s}': k must be at least 1`);
      return { name: m[1]!.toLowerCase() as MetricName, k, text: s.toLowerCase() };
    }
    if (/^(mAP|meanap)$/i.test(s)) return { name: 'mAP', text: 'mAP' };
    throw new VisidError('E_INPUT', `unknown metric '${s}' (use map@K, recall@K, precision@K or mAP)`);
  });
  if (specs.length === 0) throw new VisidError('E_INPUT', 'no metrics given');
  return specs;
}

export interface QueryRecord extends GeoPoint {
  id: string;
  label?: string;
}

export interface EvaluateOptions {
  /** label: same label is relevant. geo: within `radiusMeters`. auto: geo when queries and gallery have coordinates. */
  relevance?: 'label' | 'geo' | 'auto';
  radiusMeters?: number;
  /** Skip a gallery item whose id equals the query's (evaluating a gallery on its own images). */
  excludeSelf?: boolean;
  /** Ranking depth for mAP (default: the whole gallery, at most 1000). */
  depth?: number;
  /** Also compute the Recall@k curve (k = 1…curveDepth) and the 11-point interpolated precision–recall curve. */
  curveDepth?: number;
}

export interface EvaluationReport {
  metrics: Record<string, number>;
  queries: number;
  relevance: 'label' | 'geo';
  /** Queries that have no relevant item in the gallery at all (they count as misses). */
  queriesWithoutPositives: number;
  perQuery: Array<{ id: string; label?: string; ranked: string[]; rankedLabels: string[]; relevant: number; hits: boolean[] }>;
  /** Recall@k for k = 1…curveDepth, when asked for. */
  recallCurve?: number[];
  /** Mean over queries with positives of the interpolated precision at recall 0, 0.1, …, 1 (ranking to curveDepth). */
  prCurve?: Array<[number, number]>;
}

function hasGeo(p: GeoPoint): boolean {
  return (p.lat !== undefined && p.lon !== undefined) || (p.utmEast !== undefined && p.utmNorth !== undefined);
}

/** Relevant gallery ids of each query. */
function groundTruth(queries: QueryRecord[], items: readonly GalleryItem[], relevance: 'label' | 'geo', radius: number, excludeSelf: boolean): string[][] {
  if (relevance === 'geo') {
    return queries.map((q) => items.filter((it) => hasGeo(it) && geoDistanceMeters(q, it, q.id) <= radius && !(excludeSelf && it.id === q.id)).map((it) => it.id));
  }
  const byLabel = new Map<string, string[]>();
  for (const it of items) if (it.label !== undefined) (byLabel.get(it.label) ?? byLabel.set(it.label, []).get(it.label)!).push(it.id);
  return queries.map((q) => {
    if (q.label === undefined) throw new VisidError('E_INPUT', 'query has no label to evaluate against', { item: q.id });
    return (byLabel.get(q.label) ?? []).filter((id) => !(excludeSelf && id === q.id));
  });
}

export async function evaluateRetrieval(
  searcher: GallerySearcher,
  queries: QueryRecord[],
  vectors: Float32Array,
  metrics: MetricSpec[],
  options: EvaluateOptions = {},
): Promise<EvaluationReport> {
  if (queries.length === 0) throw new VisidError('E_INPUT', 'no queries to evaluate');
  const gallery = searcher.gallery;
  if (gallery.count === 0) throw new VisidError('E_INPUT', 'the gallery is empty', { item: gallery.dir });
  let relevance = options.relevance ?? 'auto';
  if (relevance === 'auto') relevance = queries.every(hasGeo) && gallery.items.some(hasGeo) ? 'geo' : 'label';
  if (relevance === 'geo' && !queries.every(hasGeo)) {
    const q = queries.find((x) => !hasGeo(x))!;
    throw new VisidError('E_INPUT', 'query has no coordinates for geographic relevance', { item: q.id });
  }
  const excludeSelf = options.excludeSelf ?? false;
  const relevant = groundTruth(queries, gallery.items, relevance, options.radiusMeters ?? 25, excludeSelf);
  const excludeIds = excludeSelf ? queries.map((q) => q.id) : undefined;

  const maxK = Math.max(1, ...metrics.filter((m) => m.name !== 'mAP' && m.name !== 'map').map((m) => m.k!));
  const curveDepth = options.curveDepth ?? 0;
  const depth = Math.max(curveDepth, metrics.some((m) => m.name === 'mAP') ? Math.max(maxK, Math.min(options.depth ?? 1000, gallery.count)) : maxK);
  const hits = await searcher.search(vectors, { k: Math.min(depth, gallery.count), excludeIds });
  const ranked = hits.map((h) => h.map((x) => x.id));

  const out: Record<string, number> = {};
  let rankedLabels: string[][] = queries.map(() => []);
  const mapK = Math.max(0, ...metrics.filter((m) => m.name === 'map').map((m) => m.k!));
  if (mapK > 0) {
    const labels = await searcher.searchLabels(vectors, { k: mapK, excludeIds });
    rankedLabels = labels.map((l) => l.map((x) => x.label));
  }
  for (const m of metrics) {
    if (m.name === 'map') {
      if (relevance !== 'label') throw new VisidError('E_INPUT', 'map@k needs labelled queries (it ranks labels)');
      out[m.text] = mapAtK(rankedLabels, queries.map((q) => q.label!), m.k);
    } else if (m.name === 'recall') out[m.text] = recallAtK(ranked, relevant, m.k!);
    else if (m.name === 'precision') out[m.text] = precisionAtK(ranked, relevant, m.k!);
    else out[m.text] = meanAveragePrecision(ranked, relevant);
  }
  return {
    metrics: out,
    queries: queries.length,
    relevance,
    queriesWithoutPositives: relevant.filter((r) => r.length === 0).length,
    perQuery: queries.map((q, i) => {
      const rel = new Set(relevant[i]);
      const shown = ranked[i]!.slice(0, Math.max(maxK, 5));
      return { id: q.id, label: q.label, ranked: shown, rankedLabels: rankedLabels[i]!, relevant: relevant[i]!.length, hits: shown.map((id) => rel.has(id)) };
    }),
    ...(curveDepth > 0 ? curves(ranked, relevant, Math.min(curveDepth, gallery.count)) : {}),
  };
}

/** Recall@k for k = 1…depth and the 11-point interpolated precision–recall curve averaged over queries. */
function curves(ranked: string[][], relevant: string[][], depth: number): { recallCurve: number[]; prCurve: Array<[number, number]> } {
  const firstHit = ranked.map((list, q) => {
    const rel = new Set(relevant[q]);
    const i = list.slice(0, depth).findIndex((id) => rel.has(id));
    return i < 0 ? Infinity : i;
  });
  const recallCurve = Array.from({ length: depth }, (_, k) => firstHit.filter((i) => i <= k).length / ranked.length);
  const levels = Array.from({ length: 11 }, (_, i) => i / 10);
  const sums = levels.map(() => 0);
  let counted = 0;
  ranked.forEach((list, q) => {
    const rel = new Set(relevant[q]);
    if (rel.size === 0) return;
    counted++;
    const points: Array<[number, number]> = [];
    let hits = 0;
    list.slice(0, depth).forEach((id, i) => {
      if (rel.has(id)) {
        hits++;
        points.push([hits / rel.size, hits / (i + 1)]);
      }
    });
    // Interpolated precision at recall r: the best precision at any recall >= r.
    levels.forEach((r, j) => (sums[j]! += Math.max(0, ...points.filter(([rr]) => rr >= r - 1e-12).map(([, p]) => p))));
  });
  return { recallCurve, prCurve: levels.map((r, j) => [r, counted ? sums[j]! / counted : 0]) };
}
