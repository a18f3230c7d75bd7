// Post-processing of a ranked hit list: unique-label ranking (Hotel-ID's top-5 hotels) and label voting.

export interface Hit {
  /** Gallery row. */
  row: number;
  id: string;
  label?: string;
  /** Higher is better (cosine / inner product; negated squared distance for l2). */
  score: number;
}

export interface LabelHit {
  label: string;
  score: number;
  /** The gallery item that gave the label its score (best item for ranking; best member for voting). */
  id: string;
  /** How many of the hits carried the label. */
  count: number;
}

/**
 * Top-k distinct labels, each scored by its best (first) hit: with hits sorted by score this is the rank
 * order of first appearances. Hits without a label are skipped.
 */
export function uniqueLabelRanking(hits: readonly Hit[], k: number): LabelHit[] {
  const out: LabelHit[] = [];
  const index = new Map<string, LabelHit>();
  for (const h of hits) {
    if (h.label === undefined) continue;
    const seen = index.get(h.label);
    if (seen) {
      seen.count++;
      continue;
    }
    const entry = { label: h.label, score: h.score, id: h.id, count: 1 };
    index.set(h.label, entry);
    out.push(entry);
  }
  return out.slice(0, k);
}

/**
 * Labels ranked by the sum of their hits' scores (a soft k-NN vote); ties go to the label whose best hit
 * came first.
 */
export function labelVoting(hits: readonly Hit[], k: number): LabelHit[] {
  const entries = new Map<string, LabelHit & { first: number }>();
  hits.forEach((h, i) => {
    if (h.label === undefined) return;
    const e = entries.get(h.label);
    if (e) {
      e.score += h.score;
      e.count++;
    } else entries.set(h.label, { label: h.label, score: h.score, id: h.id, count: 1, first: i });
  });
  return [...entries.values()]
    .sort((a, b) => b.score - a.score || a.first - b.first)
    .slice(0, k)
    .map(({ first: _first, ...rest }) => rest);
}
