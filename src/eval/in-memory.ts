// Retrieval metrics of descriptors held in memory (leave-one-out or query-vs-gallery), through the exact index and the metric functions.
import { ExactIndex } from '../search/exact.js';
import { mapAtK, recallAtK } from './metrics.js';

export interface InMemoryRetrieval {
  'recall@1': number;
  'recall@5': number;
  'map@5': number;
}

/**
 * Queries against a gallery by cosine similarity. Without a separate gallery every vector is a query against all
 * the others (leave-one-out: the query itself is dropped from its own ranking).
 */
export async function retrievalMetrics(
  dim: number,
  queries: { vectors: Float32Array; labels: ArrayLike<number> },
  gallery?: { vectors: Float32Array; labels: ArrayLike<number> },
): Promise<InMemoryRetrieval> {
  const leaveOneOut = gallery === undefined;
  const g = gallery ?? queries;
  const index = await ExactIndex.create(g.vectors, dim, { metric: 'cosine' });
  try {
    // Deep enough that the unique-label list for MAP@5 usually reaches 5 labels (as the gallery search widens).
    const k = 50 + (leaveOneOut ? 1 : 0);
    const res = await index.search(queries.vectors, Math.min(k, index.count));
    const nq = queries.labels.length;
    const kk = res.indices.length / nq;
    const ranked: string[][] = [];
    const relevant: string[][] = [];
    const truths: string[] = [];
    for (let q = 0; q < nq; q++) {
      const row: string[] = [];
      for (let j = 0; j < kk; j++) {
        const idx = Number(res.indices[q * kk + j]);
        if (leaveOneOut && idx === q) continue;
        row.push(String(g.labels[idx]));
      }
      ranked.push(row);
      truths.push(String(queries.labels[q]));
      // For Recall@k only "is a relevant label in the top k" matters: the label itself stands for all its items.
      relevant.push([String(queries.labels[q])]);
    }
    return {
      'recall@1': recallAtK(ranked, relevant, 1),
      'recall@5': recallAtK(ranked, relevant, 5),
      'map@5': mapAtK(ranked.map((r) => uniqueInOrder(r).slice(0, 5)), truths, 5),
    };
  } finally {
    await index.close();
  }
}

/** MAP@5 as in Hotel-ID: the ranked list of distinct labels. */
function uniqueInOrder(xs: string[]): string[] {
  return [...new Set(xs)];
}
