// Geo-localization evaluation: Recall@N with positives within a radius (the benchmarks' definition), predicted locations and their errors in metres, GeoJSON.
import { VisidError } from '../util/errors.js';
import { geoDistanceMeters, geoPositives, type GeoPoint } from './geo.js';
import { recallAtK } from './metrics.js';

export interface LocatedItem extends GeoPoint {
  id: string;
  utmZone?: string;
}

export interface ScoredId {
  id: string;
  score: number;
}

function located(p: GeoPoint): boolean {
  return (p.lat !== undefined && p.lon !== undefined) || (p.utmEast !== undefined && p.utmNorth !== undefined);
}

/**
 * Recall@N for each N: the fraction of queries with at least one database image within `radius` metres among their
 * first N predictions. A query with no positive in the whole database counts as a miss (as in the benchmarks).
 */
export function geoRecalls(ranked: string[][], queries: readonly GeoPoint[], database: readonly LocatedItem[], ns: number[] = [1, 5, 10, 20], radius = 25): { recalls: Record<number, number>; withoutPositive: number } {
  if (ranked.length !== queries.length) throw new VisidError('E_DIM', `${ranked.length} rankings for ${queries.length} queries`);
  queries.forEach((q, i) => {
    if (!located(q)) throw new VisidError('E_INPUT', 'query has no coordinates', { item: `query ${i}` });
  });
  const positives = geoPositives(queries, database, radius);
  const recalls: Record<number, number> = {};
  for (const n of ns) recalls[n] = recallAtK(ranked, positives, n);
  return { recalls, withoutPositive: positives.filter((p) => p.length === 0).length };
}

export type LocationMode = { kind: 'top1' } | { kind: 'weighted'; k: number };

/**
 * A query's predicted location from its ranked database hits: the top-1 image's coordinates, or the mean of the
 * top-k images' coordinates weighted by max(score, 0) (in UTM when all of them have UTM in one zone, else lat/lon).
 */
export function predictLocation(hits: readonly ScoredId[], database: ReadonlyMap<string, LocatedItem>, mode: LocationMode = { kind: 'top1' }): LocatedItem & { from: string[] } {
  if (hits.length === 0) throw new VisidError('E_INPUT', 'no hits to predict a location from');
  const take = mode.kind === 'top1' ? hits.slice(0, 1) : hits.slice(0, mode.k);
  const items = take.map((h) => {
    const it = database.get(h.id);
    if (!it || !located(it)) throw new VisidError('E_INPUT', 'database image has no coordinates', { item: h.id });
    return { it, w: Math.max(0, h.score) };
  });
  if (items.length === 1) return { ...items[0]!.it, from: [items[0]!.it.id] };
  let total = items.reduce((s, x) => s + x.w, 0);
  if (!(total > 0)) {
    items.forEach((x) => (x.w = 1));
    total = items.length;
  }
  const mean = (f: (x: LocatedItem) => number) => items.reduce((s, x) => s + x.w * f(x.it), 0) / total;
  const zones = new Set(items.map((x) => x.it.utmZone));
  const out: LocatedItem & { from: string[] } = { id: 'predicted', from: items.map((x) => x.it.id) };
  if (items.every((x) => x.it.utmEast !== undefined && x.it.utmNorth !== undefined) && zones.size === 1) {
    out.utmEast = mean((x) => x.utmEast!);
    out.utmNorth = mean((x) => x.utmNorth!);
    out.utmZone = [...zones][0];
  }
  if (items.every((x) => x.it.lat !== undefined && x.it.lon !== undefined)) {
    out.lat = mean((x) => x.lat!);
    out.lon = mean((x) => x.lon!);
  }
  return out;
}

/** The error of a prediction in metres (UTM when both have it, else haversine). */
export function locationError(truth: GeoPoint, predicted: GeoPoint, name = 'query'): number {
  return geoDistanceMeters(truth, predicted, name);
}

export interface LocalizedQuery {
  id: string;
  truth: LocatedItem;
  predicted: LocatedItem;
  errorMeters: number;
  /** Whether a positive (within the radius) is among the first N. */
  correctAt1: boolean;
}

/** A GeoJSON FeatureCollection: each query's true point, its predicted point and the line between them (lat/lon only). */
export function localizationGeoJson(results: readonly LocalizedQuery[]): object {
  const features: object[] = [];
  for (const r of results) {
    if (r.truth.lat === undefined || r.predicted.lat === undefined) continue;
    const t = [r.truth.lon!, r.truth.lat!];
    const p = [r.predicted.lon!, r.predicted.lat!];
    const props = { query: r.id, errorMeters: Math.round(r.errorMeters * 100) / 100, correctAt1: r.correctAt1 };
    features.push({ type: 'Feature', geometry: { type: 'Point', coordinates: t }, properties: { ...props, kind: 'query' } });
    features.push({ type: 'Feature', geometry: { type: 'Point', coordinates: p }, properties: { ...props, kind: 'prediction' } });
    features.push({ type: 'Feature', geometry: { type: 'LineString', coordinates: [t, p] }, properties: { ...props, kind: 'error' } });
  }
  return { type: 'FeatureCollection', features };
}
