// Gathers searches that arrive while another runs into one batched search: one pass over the gallery serves them all.
import { VisidError } from '../util/errors.js';
import type { GallerySearcher } from '../search/gallery-search.js';
import type { Hit } from '../search/labels.js';

interface Pending {
  query: Float32Array;
  k: number;
  resolve: (hits: Hit[]) => void;
  reject: (err: Error) => void;
}

/**
 * Exact search is bound by reading the gallery from memory, so B queries in one matrix product cost little more
 * than one. While a batch runs, new queries wait; the next batch takes all of them (up to `maxBatch`).
 */
export class SearchBatcher {
  private pending: Pending[] = [];
  private running = false;

  constructor(
    private readonly searcher: () => GallerySearcher,
    private readonly maxBatch = 64,
    /** Queries allowed to wait; beyond that a search is refused at once (503) rather than queued without end. */
    private readonly maxPending = 1024,
  ) {}

  search(query: Float32Array, k: number): Promise<Hit[]> {
    if (this.pending.length >= this.maxPending) return Promise.reject(new VisidError('E_LOCKED', 'server is busy: too many searches waiting, try again shortly'));
    return new Promise((resolve, reject) => {
      this.pending.push({ query, k, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, this.maxBatch);
        const searcher = this.searcher();
        const dim = batch[0]!.query.length;
        const queries = new Float32Array(batch.length * dim);
        batch.forEach((p, i) => queries.set(p.query, i * dim));
        const kMax = Math.max(...batch.map((p) => p.k));
        try {
          const hits = await searcher.search(queries, { k: kMax });
          batch.forEach((p, i) => p.resolve(hits[i]!.slice(0, p.k)));
        } catch (err) {
          for (const p of batch) p.reject(err as Error);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
