// IVF<lists>,PQ<m>[,RFlat]: faiss' IndexIVFPQ for a gallery's unit-length rows (inner product = cosine). A k-means
// coarse quantiser splits the rows into inverted lists; each row's residual from its list centroid is coded as m
// bytes by a product quantiser. A search visits the `nprobe` lists nearest the query and scores every code there
// from one m×256 lookup table (asymmetric distance: the query stays exact); `,RFlat` re-ranks the best candidates
// with the float rows, read from wherever the gallery keeps them (memory or the segment files on disk).
//
// No IVF-PQ library installs offline from npm with a usable speed (measured: faiss-node builds from source;
// LanceDB 0.31's IVF_PQ answers one query in 1.1–3 ms at 200 k rows), so the quantisers are trained and applied
// with onnxruntime GEMMs (quantizers.ts) and the list scan — one table lookup per byte — is the loop below.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VisidError } from '../util/errors.js';
import { WorkerPool } from '../util/worker-pool.js';
import { scanQueries, type ScanJob, type ScanMessage } from './ivfpq-scan.js';
import { KernelMemory, type KernelCall } from './ivfpq-kernel.js';
import { CandidateScorer, CentroidSearch, kmeans, ProductQuantizer, sampleIndices, seededRandom } from './quantizers.js';
import { formatIndexSpec, installIndexFile, readCurrentMeta, temporaryIndexFile, type AnnMeta, type BuildOptions, type IvfPqSpec, type RowSource } from './ann-files.js';

export const IVFPQ_FILE = 'ann.ivfpq';
const MAGIC = 'VISIDIVF';
const HEADER_BYTES = 32;
/** Rows encoded per onnxruntime call while building (bounded memory for any gallery size). */
const ENCODE_BLOCK = 65_536;
/** Queries whose lookup tables are computed in one GEMM (m·256 floats each: 32 KiB for PQ32). */
const QUERY_BLOCK = 1024;

export interface IvfPqSearchOptions {
  /** Lists visited per query (default min(lists, 32)); more: better recall, slower. */
  nprobe?: number;
  /** Scan threads (default: all cores). */
  threads?: number;
  /** The WebAssembly scan (default); false: the JavaScript one (same results; for tests and comparison). */
  kernel?: boolean;
  /** With RFlat: candidates re-ranked exactly per result (default 4 → 4·k candidates). */
  refineFactor?: number;
  /** The float rows for RFlat re-ranking. */
  rows?: RowSource;
}

function unitRows(x: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let o = 0; o < x.length; o += dim) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += x[o + j]! * x[o + j]!;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < dim; j++) out[o + j] = x[o + j]! * inv;
  }
  return out;
}

/** The parts of an IVF-PQ index: quantisers and inverted lists (row numbers and codes grouped by list). */
interface Parts {
  lists: number;
  m: number;
  dim: number;
  centroids: Float32Array;
  pq: ProductQuantizer;
  /** listStart[l] … listStart[l+1]: list l's entries in `ids` and (×m) in `codes`. */
  listStart: Uint32Array;
  ids: Uint32Array;
  codes: Uint8Array;
}

export class IvfPqIndex {
  private coarse?: Promise<CentroidSearch>;
  private scorer?: Promise<CandidateScorer>;
  private gatherBuffer?: Float32Array;

  private constructor(
    readonly file: string,
    readonly meta: AnnMeta,
    private readonly parts: Parts,
  ) {}

  get spec(): IvfPqSpec {
    return { kind: 'ivfpq', lists: this.parts.lists, m: this.parts.m, refine: /RFlat$/i.test(this.meta.spec) };
  }

  /** Bytes the index holds in memory (codes, row numbers, quantisers). */
  get memoryBytes(): number {
    const p = this.parts;
    return p.codes.byteLength + p.ids.byteLength + p.listStart.byteLength + p.centroids.byteLength + p.pq.codebooks.byteLength;
  }

  /** Trains the quantisers on a seeded sample of `source`, codes every row and writes the index into `dir`. */
  static async build(dir: string, spec: IvfPqSpec, source: RowSource, galleryUpdatedAt: string, options: BuildOptions = {}): Promise<IvfPqIndex> {
    const { dim, rows } = source;
    if (dim % spec.m !== 0) throw new VisidError('E_INPUT', `${formatIndexSpec(spec)}: PQ${spec.m} needs a dimension divisible by ${spec.m}; the gallery has ${dim}`);
    const needed = Math.max(spec.lists, 256);
    if (rows < needed) throw new VisidError('E_INPUT', `${formatIndexSpec(spec)} needs at least ${needed} rows to train its quantisers; the gallery has ${rows} (use fewer lists, or Flat)`);
    const random = seededRandom(options.seed ?? 1234);
    const sample = sampleIndices(rows, Math.max(needed, Math.min(rows, (options.trainPerList ?? 64) * spec.lists)), random);
    const x = unitRows(source.pick(sample), dim);
    const centroids = await kmeans(x, dim, spec.lists, { iterations: options.kmeansIterations ?? 20, seed: options.seed, threads: options.threads });
    const coarse = await CentroidSearch.create(centroids, dim, options.threads);
    // The product quantiser learns residuals: faiss trains it on up to 256 points per codeword.
    const pqRows = Math.min(sample.length, 65_536);
    const pqSample = x.subarray(0, pqRows * dim);
    const residuals = residualsOf(pqSample, await coarse.nearest(pqSample, 1), centroids, dim);
    const pq = await ProductQuantizer.train(residuals, dim, spec.m, { iterations: options.kmeansIterations ?? 20, seed: options.seed, threads: options.threads });
    const coded = await encodeRows(source, 0, rows, coarse, pq, options);
    await coarse.close();
    await pq.close();
    const parts = layOut(spec.lists, spec.m, dim, centroids, pq, coded.assign, coded.codes, 0);
    return IvfPqIndex.write(dir, spec, parts, galleryUpdatedAt);
  }

  /**
   * After a write. Appended rows (`before` = the commit and row count the index on disk was current for) are coded
   * with the index's quantisers and added to its lists; after a removal or compaction (rows renumbered) every row
   * is coded again with the same quantisers (like faiss, removal does not retrain). Without a usable index on disk
   * the quantisers are trained anew.
   */
  static async update(dir: string, spec: IvfPqSpec, source: RowSource, before: { galleryUpdatedAt: string; rows: number } | undefined, galleryUpdatedAt: string, options: BuildOptions = {}): Promise<IvfPqIndex> {
    const file = path.join(dir, IVFPQ_FILE);
    const old = await readParts(file).catch(() => undefined);
    if (!old || old.lists !== spec.lists || old.m !== spec.m || old.dim !== source.dim) return IvfPqIndex.build(dir, spec, source, galleryUpdatedAt, options);
    // The file just read is current for the commit before an append when ann.json says so (no second read of it).
    const current = before && old.ids.length === before.rows ? await readCurrentMeta(dir, { ...before, dim: source.dim }, () => IVFPQ_FILE).catch(() => undefined) : undefined;
    const coarse = await CentroidSearch.create(old.centroids, source.dim, options.threads);
    let parts: Parts;
    if (current?.spec.kind === 'ivfpq' && before) {
      const coded = await encodeRows(source, before.rows, source.rows, coarse, old.pq, options);
      parts = mergeLists(old, coded.assign, coded.codes, before.rows);
    } else {
      const coded = await encodeRows(source, 0, source.rows, coarse, old.pq, options);
      parts = layOut(old.lists, old.m, old.dim, old.centroids, old.pq, coded.assign, coded.codes, 0);
    }
    await coarse.close();
    await old.pq.close();
    return IvfPqIndex.write(dir, spec, parts, galleryUpdatedAt);
  }

  private static async write(dir: string, spec: IvfPqSpec, parts: Parts, galleryUpdatedAt: string): Promise<IvfPqIndex> {
    const tmp = temporaryIndexFile(dir, IVFPQ_FILE);
    const header = Buffer.alloc(HEADER_BYTES);
    header.write(MAGIC, 0, 'latin1');
    header.writeUInt32LE(1, 8);
    header.writeUInt32LE(parts.lists, 12);
    header.writeUInt32LE(parts.m, 16);
    header.writeUInt32LE(parts.dim, 20);
    header.writeUInt32LE(parts.ids.length, 24);
    const sections = [header, parts.centroids, parts.pq.codebooks, parts.listStart, parts.ids, parts.codes].map((a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    const handle = await fs.open(tmp, 'w');
    try {
      for (const s of sections) {
        // Large sections go in pieces: one write call is limited to 2 GiB.
        for (let o = 0; o < s.length; o += 1 << 30) await handle.write(s, o, Math.min(1 << 30, s.length - o));
      }
      await handle.sync();
      await handle.close();
    } catch (err) {
      await handle.close().catch(() => undefined);
      await fs.rm(tmp, { force: true });
      throw err;
    }
    const meta = await installIndexFile(dir, tmp, IVFPQ_FILE, { spec: formatIndexSpec(spec), galleryUpdatedAt, rows: parts.ids.length, dim: parts.dim });
    return new IvfPqIndex(path.join(dir, IVFPQ_FILE), meta, parts);
  }

  /** The gallery's current IVF-PQ index; undefined when there is none; a VisidError when stale or damaged. */
  static async open(dir: string, expect: { galleryUpdatedAt: string; rows: number; dim: number }, verify = false): Promise<IvfPqIndex | undefined> {
    const current = await readCurrentMeta(dir, expect, () => IVFPQ_FILE, verify);
    if (!current || current.spec.kind !== 'ivfpq') return undefined;
    const parts = await readParts(current.file);
    if (parts.lists !== current.spec.lists || parts.m !== current.spec.m || parts.dim !== expect.dim || parts.ids.length !== expect.rows) {
      throw new VisidError('E_GALLERY', `index file holds IVF${parts.lists},PQ${parts.m} over ${parts.ids.length} rows of ${parts.dim}, not ${current.meta.spec} over ${expect.rows} of ${expect.dim}`, { item: current.file });
    }
    return new IvfPqIndex(current.file, current.meta, parts);
  }

  /** Searches run one at a time: they share the kernel's scratch memory. */
  private queue: Promise<unknown> = Promise.resolve();

  /** The approximate top-k rows of each query with their scores (cosines: exact ones after an RFlat re-rank). */
  search(queries: Float32Array, k: number, options: IvfPqSearchOptions = {}): Promise<{ indices: Int32Array; scores: Float32Array }> {
    const run = this.queue.then(() => this.searchNow(queries, k, options));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private kernel?: KernelMemory | null;

  /** The WebAssembly scan over the lists, which move into its shared memory on first use (null: JS scan). */
  private kernelMemory(useKernel: boolean): KernelMemory | undefined {
    if (!useKernel) return undefined;
    if (this.kernel === undefined) {
      const p = this.parts;
      this.kernel = KernelMemory.create({ codes: p.codes, ids: p.ids, listStart: p.listStart, codebooks: p.pq.codebooks }) ?? null;
      // One copy of the lists: the JavaScript side reads them where the kernel does.
      if (this.kernel) Object.assign(this.parts, this.kernel.views(p));
    }
    return this.kernel ?? undefined;
  }

  private async searchNow(queries: Float32Array, k: number, options: IvfPqSearchOptions): Promise<{ indices: Int32Array; scores: Float32Array }> {
    const kernel = this.kernelMemory(options.kernel ?? true);
    const { dim, lists, m, centroids, listStart, ids, codes, pq } = this.parts;
    const nq = queries.length / dim;
    const out = { indices: new Int32Array(nq * k).fill(-1), scores: new Float32Array(nq * k).fill(-Infinity) };
    if (nq === 0 || ids.length === 0) return out;
    const nprobe = Math.max(1, Math.min(lists, options.nprobe ?? 32));
    const refine = this.spec.refine && options.rows !== undefined;
    const kk = refine ? k * Math.max(1, options.refineFactor ?? 4) : k;
    const q = unitRows(queries, dim);
    this.coarse ??= CentroidSearch.create(centroids, dim);
    const coarse = await this.coarse;
    const pool = this.scanPool(nq, options.threads);
    const cand = new Int32Array(kk);
    for (let q0 = 0; q0 < nq; q0 += QUERY_BLOCK) {
      const qn = Math.min(QUERY_BLOCK, nq - q0);
      const block = q.subarray(q0 * dim, (q0 + qn) * dim);
      // Probes with their q·centroid (the score of the list's centre): one GEMM per block; the scan makes the tables.
      const probes = await coarse.nearestWithDots(block, nprobe);
      let outRows: Int32Array;
      let outScores: Float32Array;
      const nParts = pool ? Math.min(pool.size, qn) : 1;
      const per = Math.ceil(qn / nParts);
      if (kernel) {
        // Probes, queries and results in the kernel's shared memory; each part has its own table and heap.
        const sizes: Record<string, number> = { probes: qn * nprobe * 4, dots: qn * nprobe * 4, queries: qn * dim * 4, outRows: qn * kk * 4, outScores: qn * kk * 4 };
        for (let i = 0; i < nParts; i++) Object.assign(sizes, { [`lut${i}`]: m * 256 * 4, [`heapS${i}`]: kk * 4, [`heapR${i}`]: kk * 4 });
        const at = kernel.scratch(sizes);
        const buf = kernel.memory.buffer;
        new Int32Array(buf, at['probes']!, qn * nprobe).set(probes.indices);
        new Float32Array(buf, at['dots']!, qn * nprobe).set(probes.dots);
        new Float32Array(buf, at['queries']!, qn * dim).set(block);
        const o = kernel.offsets;
        const calls: KernelCall[] = [];
        for (let i = 0, first = 0; first < qn; i++, first += per) {
          calls.push({ memory: kernel.memory, memoryId: kernel.id, args: [o.codes, o.ids, o.listStart, m, nprobe, at['probes']!, at['dots']!, at['queries']!, o.codebooks, dim, first, Math.min(per, qn - first), kk, at['outRows']!, at['outScores']!, at[`lut${i}`]!, at[`heapS${i}`]!, at[`heapR${i}`]!] });
        }
        if (!pool) kernel.scan(...calls[0]!.args);
        else await Promise.all(calls.map((call) => pool.run({ kernel: call }, `IVF-PQ queries ${q0 + call.args[10]}…`)));
        outRows = new Int32Array(buf, at['outRows']!, qn * kk);
        outScores = new Float32Array(buf, at['outScores']!, qn * kk);
      } else {
        const job: ScanJob = { m, codes, ids, listStart, nprobe, probes: shared(probes.indices), dots: shared(probes.dots), queries: shared(block), codebooks: this.sharedCodebooks(), keep: kk, outRows: shared(new Int32Array(qn * kk)), outScores: shared(new Float32Array(qn * kk)) };
        if (!pool) scanQueries(job, 0, qn);
        else {
          // The scan splits across worker threads by queries; the lists are shared, not copied.
          const parts = [];
          for (let first = 0; first < qn; first += per) parts.push(pool.run({ job, first, count: Math.min(per, qn - first) }, `IVF-PQ queries ${q0 + first}…`));
          await Promise.all(parts);
        }
        outRows = job.outRows;
        outScores = job.outScores;
      }
      if (refine) {
        // Exact re-rank: every query's candidates read from the float rows (in row order: sequential on disk)
        // into one [qn, kk, dim] block, scored by one batched GEMM, the top k kept.
        const candRows = new Int32Array(qn * kk).fill(-1);
        // Reused between searches (they are queued): a fresh 80 MB block per search costs its page faults.
        if (!this.gatherBuffer || this.gatherBuffer.length < qn * kk * dim) this.gatherBuffer = new Float32Array(qn * kk * dim);
        // Slots past a query's candidates keep old rows: their row is −1, so insertTop skips them.
        const gathered = this.gatherBuffer.subarray(0, qn * kk * dim);
        for (let b = 0; b < qn; b++) {
          let n = 0;
          for (let j = 0; j < kk; j++) if (outRows[b * kk + j]! >= 0) cand[n++] = outRows[b * kk + j]!;
          const byRow = cand.subarray(0, n).sort();
          options.rows!.pick(byRow, gathered, b * kk * dim);
          candRows.set(byRow, b * kk);
        }
        this.scorer ??= CandidateScorer.create(options.threads);
        const { dots, norms } = await (await this.scorer).score(block, gathered, qn, kk, dim);
        for (let b = 0; b < qn; b++) insertTop(out, q0 + b, k, candRows, dots, norms, b * kk, kk);
        continue;
      }
      for (let b = 0; b < qn; b++) {
        const qi = q0 + b;
        // Best first, ties to the lower row (the kernel leaves its heap unordered).
        const order = Array.from({ length: kk }, (_, j) => b * kk + j)
          .filter((j) => outRows[j]! >= 0)
          .sort((x, y) => outScores[y]! - outScores[x]! || outRows[x]! - outRows[y]!);
        for (let j = 0; j < Math.min(k, order.length); j++) {
          out.indices[qi * k + j] = outRows[order[j]!]!;
          out.scores[qi * k + j] = outScores[order[j]!]!;
        }
      }
    }
    return out;
  }

  private codebooksShared?: Float32Array;
  private sharedCodebooks(): Float32Array {
    this.codebooksShared ??= shared(this.parts.pq.codebooks);
    return this.codebooksShared;
  }

  private pool?: WorkerPool<ScanMessage, { done: true }>;

  /** Scan threads for a search of `nq` queries: none for a few queries (a thread hand-off costs more). */
  private scanPool(nq: number, threads = os.availableParallelism()): WorkerPool<ScanMessage, { done: true }> | undefined {
    if (threads <= 1 || nq < 64) return undefined;
    if (!this.pool || this.pool.size !== threads) {
      void this.pool?.close();
      this.pool = new WorkerPool(new URL('./ivfpq-worker.js', import.meta.url), threads, 'IVF-PQ scan');
    }
    return this.pool;
  }

  async close(): Promise<void> {
    await this.pool?.close();
    this.pool = undefined;
    if (this.coarse) await (await this.coarse).close();
    if (this.scorer) await (await this.scorer).close();
    this.coarse = undefined;
    this.scorer = undefined;
    this.gatherBuffer = undefined;
    await this.parts.pq.close();
  }
}

/**
 * The exact top-k of one query's candidates (rows[at … at + count), −1 for none) from their dot products and squared
 * norms: cosine = q·r / |r| (q is unit length), kept by insertion into the output slots (k is small), ties to the
 * lower row.
 */
function insertTop(out: { indices: Int32Array; scores: Float32Array }, qi: number, k: number, rows: Int32Array, dots: Float32Array, norms: Float32Array, at: number, count: number): void {
  const base = qi * k;
  let size = 0;
  for (let c = at; c < at + count; c++) {
    const row = rows[c]!;
    if (row < 0) continue;
    const score = norms[c]! > 0 ? dots[c]! / Math.sqrt(norms[c]!) : 0;
    if (size === k && score <= out.scores[base + k - 1]!) continue;
    let i = size < k ? size++ : k - 1;
    while (i > 0 && (out.scores[base + i - 1]! < score || (out.scores[base + i - 1]! === score && out.indices[base + i - 1]! > row))) {
      out.scores[base + i] = out.scores[base + i - 1]!;
      out.indices[base + i] = out.indices[base + i - 1]!;
      i--;
    }
    out.scores[base + i] = score;
    out.indices[base + i] = row;
  }
}

function residualsOf(x: Float32Array, assign: Int32Array, centroids: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < assign.length; i++) {
    const c = assign[i]! * dim;
    for (let j = 0; j < dim; j++) out[i * dim + j] = x[i * dim + j]! - centroids[c + j]!;
  }
  return out;
}

/** Codes rows [start, end) of `source`: list of each row and its m-byte residual code, in blocks. */
async function encodeRows(source: RowSource, start: number, end: number, coarse: CentroidSearch, pq: ProductQuantizer, options: BuildOptions): Promise<{ assign: Int32Array; codes: Uint8Array }> {
  const dim = source.dim;
  const assign = new Int32Array(end - start);
  const codes = new Uint8Array((end - start) * pq.m);
  for (let s = start; s < end; s += ENCODE_BLOCK) {
    const n = Math.min(ENCODE_BLOCK, end - s);
    const x = unitRows(source.read(s, n), dim);
    const a = await coarse.nearest(x, 1);
    assign.set(a, s - start);
    codes.set(await pq.encode(residualsOf(x, a, coarse.centroids, dim), options.threads), (s - start) * pq.m);
    options.onProgress?.(s + n - start, end - start);
  }
  return { assign, codes };
}

/** Groups coded rows (row numbers from `firstRow`) by list. */
function layOut(lists: number, m: number, dim: number, centroids: Float32Array, pq: ProductQuantizer, assign: Int32Array, codes: Uint8Array, firstRow: number): Parts {
  const listStart = new Uint32Array(new SharedArrayBuffer((lists + 1) * 4));
  for (let i = 0; i < assign.length; i++) listStart[assign[i]! + 1]!++;
  for (let l = 0; l < lists; l++) listStart[l + 1] += listStart[l]!;
  const fill = listStart.slice(0, lists);
  const ids = new Uint32Array(new SharedArrayBuffer(assign.length * 4));
  const grouped = new Uint8Array(new SharedArrayBuffer(codes.length));
  for (let i = 0; i < assign.length; i++) {
    const at = fill[assign[i]!]!++;
    ids[at] = firstRow + i;
    grouped.set(codes.subarray(i * m, (i + 1) * m), at * m);
  }
  return { lists, m, dim, centroids, pq, listStart, ids, codes: grouped };
}

/** The old lists with new rows (numbered from `firstRow`) added at the end of theirs. */
function mergeLists(old: Parts, assign: Int32Array, codes: Uint8Array, firstRow: number): Parts {
  const added = layOut(old.lists, old.m, old.dim, old.centroids, old.pq, assign, codes, firstRow);
  const { lists, m } = old;
  const listStart = new Uint32Array(new SharedArrayBuffer((lists + 1) * 4));
  for (let l = 0; l < lists; l++) listStart[l + 1] = listStart[l]! + (old.listStart[l + 1]! - old.listStart[l]!) + (added.listStart[l + 1]! - added.listStart[l]!);
  const ids = new Uint32Array(new SharedArrayBuffer((old.ids.length + added.ids.length) * 4));
  const out = new Uint8Array(new SharedArrayBuffer(ids.length * m));
  for (let l = 0; l < lists; l++) {
    let at = listStart[l]!;
    for (const p of [old, added]) {
      const a = p.listStart[l]!;
      const b = p.listStart[l + 1]!;
      ids.set(p.ids.subarray(a, b), at);
      out.set(p.codes.subarray(a * m, b * m), at * m);
      at += b - a;
    }
  }
  return { ...old, listStart, ids, codes: out };
}

/** A copy of `a` in shared memory (worker threads read it without a copy). */
function shared<T extends Int32Array | Float32Array | Uint32Array | Uint8Array>(a: T): T {
  const out = new (a.constructor as new (b: SharedArrayBuffer) => T)(new SharedArrayBuffer(a.byteLength));
  out.set(a as never);
  return out;
}

/** Reads and checks an index file (sizes and list bounds; the checksum is ann.json's business). */
async function readParts(file: string): Promise<Parts> {
  const bytes = await fs.readFile(file);
  const bad = (why: string) => new VisidError('E_GALLERY', `not a usable IVF-PQ index: ${why}`, { item: file });
  if (bytes.length < HEADER_BYTES || bytes.subarray(0, 8).toString('latin1') !== MAGIC) throw bad('bad magic');
  if (bytes.readUInt32LE(8) !== 1) throw bad(`unknown version ${bytes.readUInt32LE(8)}`);
  const lists = bytes.readUInt32LE(12);
  const m = bytes.readUInt32LE(16);
  const dim = bytes.readUInt32LE(20);
  const rows = bytes.readUInt32LE(24);
  if (lists < 1 || m < 1 || dim < 1 || dim % m !== 0) throw bad(`bad shape (lists ${lists}, m ${m}, dim ${dim})`);
  const sizes = [lists * dim * 4, 256 * dim * 4, (lists + 1) * 4, rows * 4, rows * m];
  const expected = HEADER_BYTES + sizes.reduce((a, b) => a + b, 0);
  if (bytes.length !== expected) throw bad(`${bytes.length} bytes, expected ${expected}`);
  // A private, 4-byte-aligned copy of each section (fs.readFile may hand back a pooled, unaligned buffer).
  let o = HEADER_BYTES;
  // The lists go to shared memory (scan threads read them); the quantisers stay private (onnxruntime takes them).
  const take = (n: number, share = true): ArrayBufferLike => {
    const part = new Uint8Array(share ? new SharedArrayBuffer(n) : new ArrayBuffer(n));
    part.set(bytes.subarray(o, o + n));
    o += n;
    return part.buffer;
  };
  const centroids = new Float32Array(take(sizes[0]!, false));
  const codebooks = new Float32Array(take(sizes[1]!, false));
  const listStart = new Uint32Array(take(sizes[2]!));
  const ids = new Uint32Array(take(sizes[3]!));
  const codes = new Uint8Array(take(sizes[4]!));
  if (listStart[0] !== 0 || listStart[lists] !== rows) throw bad('list bounds do not cover the rows');
  for (let l = 0; l < lists; l++) if (listStart[l + 1]! < listStart[l]!) throw bad(`list ${l} has negative length`);
  for (let i = 0; i < rows; i++) if (ids[i]! >= rows) throw bad(`row number ${ids[i]} out of range`);
  if (!centroids.every(Number.isFinite) || !codebooks.every(Number.isFinite)) throw bad('quantiser values are not finite');
  return { lists, m, dim, centroids, pq: ProductQuantizer.fromCodebooks(dim, m, codebooks), listStart, ids, codes };
}
