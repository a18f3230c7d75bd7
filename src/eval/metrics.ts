// Retrieval metrics as pure functions: MAP@k (Kaggle), Recall@k, precision@k, average precision and mAP.
import { VisidError } from '../util/errors.js';

function checkQueries(name: string, a: readonly unknown[], b: readonly unknown[]): void {
  if (a.length !== b.length) throw new VisidError('E_INPUT', `${name}: ${a.length} ranked lists but ${b.length} ground truths`);
  if (a.length === 0) throw new VisidError('E_INPUT', `${name}: no queries`);
}

function checkK(name: string, k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new VisidError('E_INPUT', `${name}: k must be a positive integer, got ${k}`);
}

/**
 * Kaggle MAP@k with one true label per query (Hotel-ID's metric, seed 000 §2.1):
 * MAP@k = (1/U) Σ_u Σ_{i≤min(n,k)} P(i)·rel(i). With a single true label this is 1/rank of its first
 * appearance among the first k predictions, else 0. A label repeated in a prediction list counts once:
 * its later copies can never score.
 */
export function mapAtK(predictions: string[][], truths: string[], k = 5): number {
  checkQueries('mapAtK', predictions, truths);
  checkK('mapAtK', k);
  let sum = 0;
  for (let u = 0; u < predictions.length; u++) {
    const preds = predictions[u]!;
    const n = Math.min(preds.length, k);
    for (let i = 0; i < n; i++) {
      if (preds[i] === truths[u]) {
        sum += 1 / (i + 1);
        break;
      }
    }
  }
  return sum / predictions.length;
}

/** Fraction of queries with at least one relevant id among their first k (the benchmarks' Recall@k). */
export function recallAtK(ranked: string[][], relevant: string[][], k: number): number {
  checkQueries('recallAtK', ranked, relevant);
  checkK('recallAtK', k);
  let hits = 0;
  for (let q = 0; q < ranked.length; q++) {
    const rel = new Set(relevant[q]);
    const list = ranked[q]!;
    const n = Math.min(list.length, k);
    for (let i = 0; i < n; i++) {
      if (rel.has(list[i]!)) {
        hits++;
        break;
      }
    }
  }
  return hits / ranked.length;
}

/**
 * Mean over queries of |first k ∩ relevant| / k. A list shorter than k is padded with misses; an id
 * repeated within the first k counts once.
 */
export function precisionAtK(ranked: string[][], relevant: string[][], k: number): number {
  checkQueries('precisionAtK', ranked, relevant);
  checkK('precisionAtK', k);
  let sum = 0;
  for (let q = 0; q < ranked.length; q++) {
    const rel = new Set(relevant[q]);
    const seen = new Set<string>();
    const list = ranked[q]!;
    let hits = 0;
    for (let i = 0; i < Math.min(list.length, k); i++) {
      const id = list[i]!;
      if (rel.has(id) && !seen.has(id)) hits++;
      seen.add(id);
    }
    sum += hits / k;
  }
  return sum / ranked.length;
}

/**
 * Average precision of one ranked list: AP = (1/R) Σ_i P@i·rel(i), R = number of distinct relevant ids.
 * Relevant ids never retrieved count as misses (they stay in R). A repeated id counts at its first rank only.
 * With no relevant ids at all, AP is 0.
 */
export function averagePrecision(ranked: string[], relevant: string[]): number {
  const rel = new Set(relevant);
  if (rel.size === 0) return 0;
  const seen = new Set<string>();
  let hits = 0;
  let sum = 0;
  for (let i = 0; i < ranked.length; i++) {
    const id = ranked[i]!;
    if (seen.has(id)) continue;
    seen.add(id);
    if (rel.has(id)) {
      hits++;
      sum += hits / (i + 1);
    }
  }
  return sum / rel.size;
}

/** Mean of averagePrecision over queries (every query counts, one without relevant ids as 0). */
export function meanAveragePrecision(ranked: string[][], relevant: string[][]): number {
  checkQueries('meanAveragePrecision', ranked, relevant);
  let sum = 0;
  for (let q = 0; q < ranked.length; q++) sum += averagePrecision(ranked[q]!, relevant[q]!);
  return sum / ranked.length;
}
