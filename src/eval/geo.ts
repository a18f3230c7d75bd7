// Geographic ground truth: distances (haversine for lat/lon, Euclidean for UTM) and positives within a radius.
import { VisidError } from '../util/errors.js';

/** Mean Earth radius (IUGG), metres. */
export const EARTH_RADIUS_M = 6_371_008.8;

export interface GeoPoint {
  lat?: number;
  lon?: number;
  utmEast?: number;
  utmNorth?: number;
}

/** Great-circle distance in metres between two lat/lon points (degrees), by the haversine formula. */
export function haversineMeters(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** Distance in metres: Euclidean when both points have UTM coordinates, else haversine on lat/lon. */
export function geoDistanceMeters(a: GeoPoint, b: GeoPoint, name = 'point'): number {
  if (a.utmEast !== undefined && a.utmNorth !== undefined && b.utmEast !== undefined && b.utmNorth !== undefined) {
    return Math.hypot(a.utmEast - b.utmEast, a.utmNorth - b.utmNorth);
  }
  if (a.lat !== undefined && a.lon !== undefined && b.lat !== undefined && b.lon !== undefined) {
    return haversineMeters(a.lat, a.lon, b.lat, b.lon);
  }
  throw new VisidError('E_INPUT', 'both points need lat/lon or both UTM coordinates', { item: name });
}

/**
 * For each query, the ids of the database items within `radiusMeters` (default 25 m, the geo-localization
 * benchmarks' threshold).
 */
export function geoPositives(
  queries: readonly GeoPoint[],
  database: readonly (GeoPoint & { id: string })[],
  radiusMeters = 25,
): string[][] {
  if (!(radiusMeters >= 0)) throw new VisidError('E_INPUT', `radius must be a non-negative number, got ${radiusMeters}`);
  return queries.map((q, i) => database.filter((d) => geoDistanceMeters(q, d, `query ${i}`) <= radiusMeters).map((d) => d.id));
}
