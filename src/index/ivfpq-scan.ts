// The hot loop of IVF-PQ search, shared by the searching thread and the scan workers (ivfpq-worker.ts): for each
// query, every code of its probed lists is scored from the query's lookup table and the best are kept in a heap.

/** The inverted lists and one block of queries' probes and tables, all in shared memory. */
export interface ScanJob {
  m: number;
  codes: Uint8Array;
  ids: Uint32Array;
  listStart: Uint32Array;
  nprobe: number;
  /** Per query: nprobe list numbers and q·centroid values. */
  probes: Int32Array;
  dots: Float32Array;
  /** The block's unit-length queries (dim = m·dsub values each) and the m×256×dsub codewords. */
  queries: Float32Array;
  codebooks: Float32Array;
  /** Candidates kept per query. */
  keep: number;
  /** Results: keep rows (−1 when fewer) and scores per query, best first. */
  outRows: Int32Array;
  outScores: Float32Array;
}

/** What a scan worker is sent: a JavaScript scan of part of a block, or one WebAssembly kernel call. */
export type ScanMessage = { job: ScanJob; first: number; count: number; kernel?: undefined } | { kernel: import('./ivfpq-kernel.js').KernelCall };

/** Scans queries [first, first + count) of the block. */
export function scanQueries(job: ScanJob, first: number, count: number): void {
  const { m, codes, ids, listStart, nprobe, probes, dots, queries, codebooks, keep, outRows, outScores } = job;
  const dim = queries.length / (probes.length / nprobe);
  const heap = new TopHeap(keep);
  // One table, reused query after query: it stays in the core's cache while the lists stream past.
  const lut = new Float32Array(m * 256);
  const words = m % 4 === 0 && codes.byteOffset % 4 === 0 ? new Uint32Array(codes.buffer, codes.byteOffset, codes.byteLength >> 2) : undefined;
  for (let b = first; b < first + count; b++) {
    innerProductTable(queries, b * dim, codebooks, m, dim / m, lut);
    heap.clear();
    for (let p = 0; p < nprobe; p++) {
      const list = probes[b * nprobe + p]!;
      const base = dots[b * nprobe + p]!;
      if (words) scanListWords(words, ids, listStart[list]!, listStart[list + 1]!, m >> 2, lut, base, heap);
      else scanList(codes, ids, listStart[list]!, listStart[list + 1]!, m, lut, base, heap);
    }
    heap.writeSorted(outRows, outScores, b * keep);
  }
}

/**
 * Scores every code of one list and offers it to the heap: score = base + Σ_s lut[s·256 + code_s]. The hot loop
 * of IVF-PQ search; the heap's current minimum is checked before any insertion work.
 */
/**
 * The inner-product lookup table of one query (asymmetric distance: the query is not quantised):
 * lut[s·256 + c] = q_s · codeword_s[c].
 */
export function innerProductTable(query: Float32Array, qo: number, codebooks: Float32Array, m: number, dsub: number, lut: Float32Array): void {
  if (dsub === 4) {
    for (let s = 0; s < m; s++) {
      const a = query[qo + s * 4]!;
      const b = query[qo + s * 4 + 1]!;
      const c = query[qo + s * 4 + 2]!;
      const d = query[qo + s * 4 + 3]!;
      for (let k = 0, o = s * 1024, l = s * 256; k < 256; k++, o += 4) lut[l + k] = a * codebooks[o]! + b * codebooks[o + 1]! + c * codebooks[o + 2]! + d * codebooks[o + 3]!;
    }
    return;
  }
  for (let s = 0; s < m; s++) {
    const qs = qo + s * dsub;
    for (let k = 0; k < 256; k++) {
      const o = (s * 256 + k) * dsub;
      let dot = 0;
      for (let j = 0; j < dsub; j++) dot += query[qs + j]! * codebooks[o + j]!;
      lut[s * 256 + k] = dot;
    }
  }
}

export function scanList(codes: Uint8Array, ids: Uint32Array, start: number, end: number, m: number, lut: Float32Array, base: number, heap: TopHeap): void {
  let o = start * m;
  for (let i = start; i < end; i++) {
    let s = base;
    let lo = 0;
    // Four sub-spaces per step: fewer loop branches; the table offsets step by 256.
    let j = 0;
    for (; j + 3 < m; j += 4, lo += 1024) {
      s += lut[lo + codes[o + j]!]! + lut[lo + 256 + codes[o + j + 1]!]! + lut[lo + 512 + codes[o + j + 2]!]! + lut[lo + 768 + codes[o + j + 3]!]!;
    }
    for (; j < m; j++, lo += 256) s += lut[lo + codes[o + j]!]!;
    if (s > heap.threshold) heap.push(s, ids[i]!);
    o += m;
  }
}

/** scanList for m divisible by 4: four codes per 32-bit load (little-endian: the first code is the low byte). */
export function scanListWords(words: Uint32Array, ids: Uint32Array, start: number, end: number, w: number, lut: Float32Array, base: number, heap: TopHeap): void {
  let o = start * w;
  for (let i = start; i < end; i++) {
    let s = base;
    for (let j = 0, lo = 0; j < w; j++, lo += 1024) {
      const x = words[o + j]!;
      s += lut[lo + (x & 255)]! + lut[lo + 256 + ((x >>> 8) & 255)]! + lut[lo + 512 + ((x >>> 16) & 255)]! + lut[lo + 768 + (x >>> 24)]!;
    }
    if (s > heap.threshold) heap.push(s, ids[i]!);
    o += w;
  }
}

/** A bounded min-heap of (score, row): keeps the `capacity` best offered. */
export class TopHeap {
  private readonly scores: Float32Array;
  private readonly rows: Int32Array;
  private size = 0;
  /** Scores at or below this cannot enter (−∞ until the heap is full). */
  threshold = -Infinity;

  constructor(readonly capacity: number) {
    this.scores = new Float32Array(capacity);
    this.rows = new Int32Array(capacity);
  }

  clear(): void {
    this.size = 0;
    this.threshold = -Infinity;
  }

  push(score: number, row: number): void {
    const { scores, rows } = this;
    if (this.size < this.capacity) {
      let i = this.size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (scores[parent]! <= score) break;
        scores[i] = scores[parent]!;
        rows[i] = rows[parent]!;
        i = parent;
      }
      scores[i] = score;
      rows[i] = row;
      if (this.size === this.capacity) this.threshold = scores[0]!;
      return;
    }
    // Replace the minimum and sift down.
    let i = 0;
    const n = this.size;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && scores[r]! < scores[l]! ? r : l;
      if (scores[c]! >= score) break;
      scores[i] = scores[c]!;
      rows[i] = rows[c]!;
      i = c;
    }
    scores[i] = score;
    rows[i] = row;
    this.threshold = scores[0]!;
  }

  /** Writes the kept entries best first (ties: lower row first) at `at`, padding with row −1 / −∞. */
  writeSorted(rows: Int32Array, scores: Float32Array, at: number): void {
    const order = Array.from({ length: this.size }, (_, i) => i).sort((a, b) => this.scores[b]! - this.scores[a]! || this.rows[a]! - this.rows[b]!);
    for (let j = 0; j < this.capacity; j++) {
      const i = order[j];
      rows[at + j] = i === undefined ? -1 : this.rows[i]!;
      scores[at + j] = i === undefined ? -Infinity : this.scores[i]!;
    }
  }
}

