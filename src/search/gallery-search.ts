// Searches a gallery with query descriptors: exact top-k hits with ids and labels, or top-k unique labels.
import { VisidError } from '../util/errors.js';
import type { Gallery } from '../index/gallery.js';
import { IvfPqIndex, type ApproximateIndex } from '../index/ann.js';
import { ExactIndex, ExactSearchOptions, Metric, type SearchResult } from './exact.js';
import { emptyTopK, mergeTopK } from './topk.js';
import { Hit, LabelHit, labelVoting, uniqueLabelRanking } from './labels.js';

export interface GallerySearchOptions extends ExactSearchOptions {
  k?: number;
  /** Search every row exactly even when the gallery keeps an approximate index. */
  exact?: boolean;
  /** HNSW search beam (default max(128, k)). */
  ef?: number;
  /** IVF lists visited per query (default min(lists, 32)). */
  nprobe?: number;
  /** IVF …,RFlat: candidates re-ranked exactly per result (default 4). */
  refineFactor?: number;
  /** For each query, an id that must not be returned (leave-one-out evaluation of a gallery on itself). */
  excludeIds?: (string | undefined)[];
}

export interface LabelSearchOptions extends GallerySearchOptions {
  /** 'best': labels ranked by their best hit (unique-label ranking); 'vote': by summed similarity. */
  mode?: 'best' | 'vote';
  /** For voting: how many nearest items vote (default 10·k). */
  voters?: number;
}

/** A reusable searcher over one gallery (the index is built once). */
export class GallerySearcher {
  private constructor(
    readonly gallery: Gallery,
    /** The exact index, built on first exact search: a gallery searched through its HNSW index never pays for it. */
    private readonly exactOptions: ExactSearchOptions,
    /** The gallery's approximate index, when it keeps a current one (cosine searches use it unless exact). */
    readonly ann: ApproximateIndex | undefined,
    /** Why the approximate index is not used (stale, damaged), for the caller to show. */
    readonly annProblem: string | undefined,
  ) {}

  static async create(gallery: Gallery, options: ExactSearchOptions & { exact?: boolean } = {}): Promise<GallerySearcher> {
    let ann: ApproximateIndex | undefined;
    let problem: string | undefined;
    if (!options.exact && (options.metric ?? 'cosine') === 'cosine') {
      try {
        ann = await gallery.openIndex();
      } catch (err) {
        if (!(err instanceof VisidError)) throw err;
        problem = `${err.message} — searching exactly`;
      }
    }
    const searcher = new GallerySearcher(gallery, options, ann, problem);
    if (!ann && !gallery.vectorsOnDisk) await searcher.exact();
    return searcher;
  }

  get metric(): Metric {
    return this.exactOptions.metric ?? 'cosine';
  }

  /** The top-k hits of each query. */
  async search(queries: Float32Array, options: GallerySearchOptions = {}): Promise<Hit[][]> {
    const k = options.k ?? 10;
    if (queries.length % this.gallery.dim !== 0) {
      throw new VisidError('E_DIM', `query descriptors have ${queries.length} values, not a multiple of the gallery's dimension ${this.gallery.dim}`);
    }
    const nq = queries.length / this.gallery.dim;
    const exclude = options.excludeIds;
    const extra = exclude ? 1 : 0;
    const kk = Math.min(k + extra, Math.max(this.gallery.count, 1));
    const res = this.ann && !options.exact ? { ...(await this.annSearch(queries, kk, options)), metric: 'cosine' as Metric, distances: undefined } : await this.exactSearch(queries, kk);
    const items = this.gallery.items;
    const out: Hit[][] = [];
    for (let q = 0; q < nq; q++) {
      const hits: Hit[] = [];
      for (let j = 0; j < kk && hits.length < k; j++) {
        const row = res.indices[q * kk + j]!;
        if (row < 0) break;
        const item = items[row]!;
        if (exclude && exclude[q] === item.id) continue;
        const score = res.metric === 'l2' ? res.distances![q * kk + j]! : res.scores[q * kk + j]!;
        hits.push({ row, id: item.id, label: item.label, score: res.metric === 'l2' ? -score : score });
      }
      out.push(hits);
    }
    return out;
  }

  private exactIndex?: Promise<ExactIndex>;

  private exact(): Promise<ExactIndex> {
    this.exactIndex ??= ExactIndex.create(this.gallery.vectors, this.gallery.dim, this.exactOptions);
    return this.exactIndex;
  }

  /**
   * Exact top-k. A gallery whose descriptors stay on disk is streamed through in blocks (read, searched, merged),
   * so memory stays bounded by one block whatever the gallery's size.
   */
  private async exactSearch(queries: Float32Array, k: number): Promise<SearchResult> {
    if (!this.gallery.vectorsOnDisk) return (await this.exact()).search(queries, k);
    const source = this.gallery.rowSource();
    const dim = this.gallery.dim;
    const nq = queries.length / dim;
    const acc = emptyTopK(nq, k);
    const block = Math.max(1, Math.floor((256 * 1024 * 1024) / (dim * 4)));
    let l2: Float32Array | undefined;
    for (let start = 0; start < source.rows; start += block) {
      const n = Math.min(block, source.rows - start);
      const index = await ExactIndex.create(source.read(start, n), dim, this.exactOptions);
      const part = await index.search(queries, Math.min(k, n));
      await index.close();
      const kb = part.k;
      const scores = part.metric === 'l2' ? part.distances!.map((d) => -d) : part.scores;
      mergeTopK(acc, scores, part.indices, kb, start, 0, nq);
      if (part.metric === 'l2') l2 = new Float32Array(0);
    }
    if (!l2) return { ...acc, metric: this.metric };
    return { ...acc, metric: 'l2', distances: acc.scores.map((s) => -s) };
  }

  /**
   * HNSW candidates; with compressed storage (F16, SQ8) 4× as many are drawn and re-scored exactly from the float
   * rows in memory, which gives back the recall int8 distances lose and exact cosine scores.
   */
  private async annSearch(queries: Float32Array, k: number, options: GallerySearchOptions): Promise<{ indices: Int32Array; scores: Float32Array }> {
    const ann = this.ann!;
    if (ann instanceof IvfPqIndex) return ann.search(queries, k, { nprobe: options.nprobe, refineFactor: options.refineFactor, threads: options.threads, rows: this.gallery.rowSource() });
    const spec = ann.spec;
    if (spec.kind !== 'hnsw' || spec.storage === 'f32') return ann.search(queries, k, options.ef, options.threads);
    const dim = this.gallery.dim;
    const nq = queries.length / dim;
    const wide = Math.min(Math.max(4 * k, 40), this.gallery.count);
    const cand = ann.search(queries, wide, Math.max(options.ef ?? 128, wide), options.threads);
    const out = { indices: new Int32Array(nq * k).fill(-1), scores: new Float32Array(nq * k).fill(-Infinity) };
    const scored: Array<[number, number]> = [];
    const source = this.gallery.rowSource();
    for (let q = 0; q < nq; q++) {
      scored.length = 0;
      let found = 0;
      while (found < wide && cand.indices[q * wide + found]! >= 0) found++;
      const rows = source.pick(cand.indices.subarray(q * wide, q * wide + found));
      const qo = q * dim;
      let qn = 0;
      for (let j = 0; j < dim; j++) qn += queries[qo + j]! * queries[qo + j]!;
      qn = Math.sqrt(qn) || 1;
      for (let c = 0; c < found; c++) {
        const row = cand.indices[q * wide + c]!;
        let dot = 0;
        let rn = 0;
        const ro = c * dim;
        for (let j = 0; j < dim; j++) {
          dot += queries[qo + j]! * rows[ro + j]!;
          rn += rows[ro + j]! * rows[ro + j]!;
        }
        scored.push([row, dot / (qn * (Math.sqrt(rn) || 1))]);
      }
      scored.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
      for (let j = 0; j < Math.min(k, scored.length); j++) {
        out.indices[q * k + j] = scored[j]![0];
        out.scores[q * k + j] = scored[j]![1];
      }
    }
    return out;
  }

  /**
   * The top-k distinct labels of each query. Best-hit mode widens the search until k labels are found or
   * the gallery is exhausted, so the answer is exact.
   */
  async searchLabels(queries: Float32Array, options: LabelSearchOptions = {}): Promise<LabelHit[][]> {
    const k = options.k ?? 5;
    const mode = options.mode ?? 'best';
    const nq = queries.length / this.gallery.dim;
    if (mode === 'vote') {
      const hits = await this.search(queries, { ...options, k: options.voters ?? 10 * k });
      return hits.map((h) => labelVoting(h, k));
    }
    const results: LabelHit[][] = new Array(nq);
    let todo = [...Array(nq).keys()];
    let depth = Math.max(1, Math.min(Math.max(4 * k, 32), this.gallery.count));
    for (;;) {
      const sub = new Float32Array(todo.length * this.gallery.dim);
      todo.forEach((q, i) => sub.set(queries.subarray(q * this.gallery.dim, (q + 1) * this.gallery.dim), i * this.gallery.dim));
      const hits = await this.search(sub, {
        ...options,
        k: depth,
        excludeIds: options.excludeIds ? todo.map((q) => options.excludeIds![q]) : undefined,
      });
      const next: number[] = [];
      todo.forEach((q, i) => {
        const labels = uniqueLabelRanking(hits[i]!, k);
        results[q] = labels;
        if (labels.length < k && depth < this.gallery.count) next.push(q);
      });
      if (next.length === 0) return results;
      todo = next;
      depth = Math.min(depth * 4, this.gallery.count);
    }
  }

  async close(): Promise<void> {
    if (this.exactIndex) await (await this.exactIndex).close();
    if (this.ann instanceof IvfPqIndex) await this.ann.close();
  }
}
