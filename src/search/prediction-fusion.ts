// Fusion of two models' ranked predictions for one query, as seed 001 §7.2 defines it: Nearest Indices First and Shared Indices First.

export interface Prediction {
  id: string;
  /** Distance to the query (smaller is nearer); for similarities pass 1 − cosine or −score. */
  distance: number;
}

/**
 * Nearest Indices First: both models' predictions merged into one list sorted by distance (an id both predict keeps
 * its smaller distance; equal distances keep model A first), cut to k.
 */
export function nearestIndicesFirst(a: readonly Prediction[], b: readonly Prediction[], k = Math.max(a.length, b.length)): Prediction[] {
  const merged = [...a.map((p, i) => ({ p, order: i })), ...b.map((p, i) => ({ p, order: a.length + i }))]
    .sort((x, y) => x.p.distance - y.p.distance || x.order - y.order);
  const seen = new Set<string>();
  const out: Prediction[] = [];
  for (const { p } of merged) {
    if (seen.has(p.id)) continue;
    seen.add(p.id);
    out.push(p);
    if (out.length === k) break;
  }
  return out;
}

/**
 * Shared Indices First: the ids in both lists first (in the stronger model's order), then the ids only the stronger
 * model predicted (in its order); the weaker model only decides what comes first. Cut to k.
 */
export function sharedIndicesFirst(stronger: readonly string[], weaker: readonly string[], k = stronger.length): string[] {
  const other = new Set(weaker);
  const shared = stronger.filter((id) => other.has(id));
  const own = stronger.filter((id) => !other.has(id));
  return [...new Set([...shared, ...own])].slice(0, k);
}
