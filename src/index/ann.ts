// Approximate-search indexes of a gallery, chosen by a faiss-style spec string and persisted beside its segments:
// `Flat` (exact, the default) or `HNSW<M>` with float32, `,F16` or `,SQ8` (int8) storage, built by usearch (a
// maintained native HNSW library whose npm package ships prebuilt binaries). The index file is derived data: it
// records the gallery commit it was built from, and a stale or damaged one is never used (exact search is).
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import type * as UsearchModule from 'usearch';
import { VisidError } from '../util/errors.js';
import { writeFileAtomic, fsyncDir } from '../util/atomic.js';

export type IndexSpec = { kind: 'flat' } | { kind: 'hnsw'; m: number; storage: 'f32' | 'f16' | 'i8' };

/** Parses "Flat", "HNSW32", "HNSW32,F16", "HNSW32,SQ8" (faiss' index factory names). */
export function parseIndexSpec(text: string): IndexSpec {
  const s = text.trim();
  if (/^flat$/i.test(s)) return { kind: 'flat' };
  const m = /^HNSW(\d+)(?:,(Flat|F16|SQ8))?$/i.exec(s);
  if (m) {
    const links = Number(m[1]);
    if (links < 4 || links > 256) throw new VisidError('E_INPUT', `HNSW links per node must be 4 to 256, not ${links}`, { item: text });
    const storage = (m[2] ?? 'flat').toUpperCase();
    return { kind: 'hnsw', m: links, storage: storage === 'F16' ? 'f16' : storage === 'SQ8' ? 'i8' : 'f32' };
  }
  if (/^IVF\d+/i.test(s)) throw new VisidError('E_INPUT', 'IVF indexes are not available yet; use Flat or HNSW<M>[,F16|,SQ8]', { item: text });
  throw new VisidError('E_INPUT', 'unknown index spec: use Flat, HNSW<M>, HNSW<M>,F16 or HNSW<M>,SQ8 (e.g. HNSW32)', { item: text });
}

export function formatIndexSpec(spec: IndexSpec): string {
  return spec.kind === 'flat' ? 'Flat' : `HNSW${spec.m}${spec.storage === 'f16' ? ',F16' : spec.storage === 'i8' ? ',SQ8' : ''}`;
}

type Usearch = typeof UsearchModule;
let loaded: Usearch | undefined;
/**
 * usearch's native module, loaded on first use (galleries without an index never load it) and through its CommonJS
 * build: the ESM build finds its binary from the caller's stack and loops forever when run outside the package tree.
 */
function usearchLib(): Usearch {
  if (!loaded) {
    try {
      loaded = createRequire(import.meta.url)('usearch') as Usearch;
    } catch (err) {
      // A platform without usearch's prebuilt binary: galleries still search exactly, and say why.
      throw new VisidError('E_GALLERY', `the HNSW library (usearch) cannot load here: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return loaded;
}

const INDEX_FILE = 'ann.usearch';
const INDEX_META = 'ann.json';

/** What `ann.json` records: the spec, and the gallery commit and rows the index was built from. */
export interface AnnMeta {
  format: 'visid-ann';
  version: 1;
  spec: string;
  /** The gallery manifest's updatedAt when the index was built: any later write makes it stale. */
  galleryUpdatedAt: string;
  rows: number;
  dim: number;
  bytes: number;
  sha256: string;
  efConstruction: number;
  builtAt: string;
}

export interface BuildOptions {
  efConstruction?: number;
  threads?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * An HNSW graph over the gallery's unit-length rows (inner product = cosine), keys = row numbers. Loaded by
 * memory-mapping the file (`view`), so a large index is paged in by the kernel, not copied into the heap.
 */
export class HnswIndex {
  /** One mapped view per search beam: usearch fixes the beam (expansion_search) when an index is opened. */
  private readonly views = new Map<number, UsearchModule.Index>();

  private constructor(
    readonly file: string,
    readonly meta: AnnMeta,
  ) {}

  private view(ef: number): UsearchModule.Index {
    let index = this.views.get(ef);
    if (!index) {
      const spec = this.spec as Extract<IndexSpec, { kind: 'hnsw' }>;
      index = new (usearchLib().Index)({ metric: usearchLib().MetricKind.IP, dimensions: this.meta.dim, connectivity: spec.m, quantization: scalarKind(spec.storage), expansion_add: this.meta.efConstruction, expansion_search: ef, multi: false });
      try {
        index.view(this.file);
      } catch (err) {
        throw new VisidError('E_GALLERY', `index file cannot be read: ${(err as Error).message}`, { item: this.file });
      }
      if (Number(index.size()) !== this.meta.rows) throw new VisidError('E_GALLERY', `index holds ${index.size()} rows, expected ${this.meta.rows}`, { item: this.file });
      this.views.set(ef, index);
    }
    return index;
  }

  get spec(): IndexSpec {
    return parseIndexSpec(this.meta.spec);
  }

  /** Builds an index over `vectors` (rows × dim, unit length) and writes it into `dir` (atomically, meta last). */
  static async build(dir: string, spec: Extract<IndexSpec, { kind: 'hnsw' }>, vectors: Float32Array, dim: number, galleryUpdatedAt: string, options: BuildOptions = {}): Promise<HnswIndex> {
    const efConstruction = options.efConstruction ?? 128;
    const index = new (usearchLib().Index)({ metric: usearchLib().MetricKind.IP, dimensions: dim, connectivity: spec.m, quantization: scalarKind(spec.storage), expansion_add: efConstruction, expansion_search: 64, multi: false });
    addRows(index, vectors, dim, 0, options);
    return HnswIndex.write(dir, index, spec, vectors.length / dim, dim, galleryUpdatedAt, efConstruction);
  }

  /**
   * After an append: when the index on disk is current for the commit before it (`before`), the new rows are
   * added to it (keys continue the row numbers) instead of rebuilding the graph; otherwise it is rebuilt from
   * `all` rows.
   */
  static async extend(dir: string, spec: Extract<IndexSpec, { kind: 'hnsw' }>, all: Float32Array, dim: number, before: { galleryUpdatedAt: string; rows: number }, galleryUpdatedAt: string, options: BuildOptions = {}): Promise<HnswIndex> {
    const current = await HnswIndex.open(dir, { ...before, dim }).catch(() => undefined);
    if (!current || current.meta.spec !== formatIndexSpec(spec)) return HnswIndex.build(dir, spec, all, dim, galleryUpdatedAt, options);
    const index = new (usearchLib().Index)({ metric: usearchLib().MetricKind.IP, dimensions: dim, connectivity: spec.m, quantization: scalarKind(spec.storage), expansion_add: current.meta.efConstruction, expansion_search: 64, multi: false });
    index.load(current.file);
    addRows(index, all.subarray(before.rows * dim), dim, before.rows, options);
    return HnswIndex.write(dir, index, spec, all.length / dim, dim, galleryUpdatedAt, current.meta.efConstruction);
  }

  private static async write(dir: string, index: UsearchModule.Index, spec: IndexSpec, rows: number, dim: number, galleryUpdatedAt: string, efConstruction: number): Promise<HnswIndex> {
    // usearch writes the file itself: to a temporary name, fsynced, then renamed — a crash leaves the old index.
    const tmp = path.join(dir, `.${INDEX_FILE}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      index.save(tmp);
      const handle = await fs.open(tmp, 'r+');
      await handle.sync();
      await handle.close();
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    const bytes = (await fs.stat(tmp)).size;
    const sha256 = await fileSha256(tmp);
    // The description goes first, marked for a file not yet in place: a crash between the two renames leaves a
    // description whose size or checksum does not match, which open() refuses (exact search, then reindex).
    await fs.rename(tmp, path.join(dir, INDEX_FILE));
    await fsyncDir(dir);
    const meta: AnnMeta = { format: 'visid-ann', version: 1, spec: formatIndexSpec(spec), galleryUpdatedAt, rows, dim, bytes, sha256, efConstruction, builtAt: new Date().toISOString() };
    await writeFileAtomic(path.join(dir, INDEX_META), JSON.stringify(meta, null, 2));
    return new HnswIndex(path.join(dir, INDEX_FILE), meta);
  }

  /**
   * The gallery's index if there is one and it is current (built from commit `galleryUpdatedAt` with `rows`
   * rows of `dim`); undefined when there is none; a VisidError naming the file when it is stale or damaged
   * (`why` says which), so a caller can fall back to exact search and say so.
   */
  static async open(dir: string, expect: { galleryUpdatedAt: string; rows: number; dim: number }, verify = false): Promise<HnswIndex | undefined> {
    const metaFile = path.join(dir, INDEX_META);
    const text = await fs.readFile(metaFile, 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    let meta: AnnMeta;
    try {
      meta = JSON.parse(text) as AnnMeta;
    } catch {
      throw new VisidError('E_GALLERY', 'index metadata is not valid JSON', { item: metaFile });
    }
    if (meta?.format !== 'visid-ann' || meta.version !== 1 || typeof meta.spec !== 'string') throw new VisidError('E_GALLERY', 'not a visid index description', { item: metaFile });
    const spec = parseIndexSpec(meta.spec);
    if (spec.kind !== 'hnsw') return undefined;
    if (meta.galleryUpdatedAt !== expect.galleryUpdatedAt || meta.rows !== expect.rows || meta.dim !== expect.dim) {
      throw new VisidError('E_GALLERY', `index ${meta.spec} is stale (built for ${meta.rows} rows at ${meta.galleryUpdatedAt}; the gallery has ${expect.rows} rows at ${expect.galleryUpdatedAt}): run visid reindex`, { item: metaFile });
    }
    const file = path.join(dir, INDEX_FILE);
    const size = await fs.stat(file).then((s) => s.size, () => -1);
    if (size !== meta.bytes) throw new VisidError('E_GALLERY', `index file is ${size < 0 ? 'missing' : `${size} bytes, expected ${meta.bytes}`}`, { item: file });
    if (verify && (await fileSha256(file)) !== meta.sha256) throw new VisidError('E_GALLERY', 'index checksum mismatch', { item: file });
    const opened = new HnswIndex(file, meta);
    opened.view(64);
    return opened;
  }

  /** Removes a gallery's index (back to exact search). */
  static async remove(dir: string): Promise<void> {
    await fs.rm(path.join(dir, INDEX_META), { force: true });
    await fs.rm(path.join(dir, INDEX_FILE), { force: true });
    await fsyncDir(dir);
  }

  /**
   * The approximate top-k rows of each query (unit-length queries; scores are inner products = cosines).
   * `ef` is the search beam (≥ k; higher: better recall, slower).
   */
  search(queries: Float32Array, k: number, ef = Math.max(128, k), threads = os.availableParallelism()): { indices: Int32Array; scores: Float32Array } {
    const dim = this.meta.dim;
    const nq = queries.length / dim;
    const out = { indices: new Int32Array(nq * k).fill(-1), scores: new Float32Array(nq * k).fill(-Infinity) };
    if (nq === 0) return out;
    const r = this.view(Math.max(ef, k)).search(queries, k, threads) as unknown as { keys: BigUint64Array; distances: Float32Array; counts?: BigUint64Array };
    for (let q = 0; q < nq; q++) {
      const found = r.counts ? Number(r.counts[q] ?? 0n) : Math.min(k, r.keys.length);
      for (let j = 0; j < Math.min(found, k); j++) {
        out.indices[q * k + j] = Number(r.keys[q * k + j]!);
        out.scores[q * k + j] = 1 - r.distances[q * k + j]!; // usearch's ip distance is 1 − dot
      }
    }
    return out;
  }
}

function scalarKind(storage: 'f32' | 'f16' | 'i8'): UsearchModule.ScalarKind {
  const { ScalarKind } = usearchLib();
  return storage === 'f16' ? ScalarKind.F16 : storage === 'i8' ? ScalarKind.I8 : ScalarKind.F32;
}

function addRows(index: UsearchModule.Index, vectors: Float32Array, dim: number, firstKey: number, options: BuildOptions): void {
  const rows = vectors.length / dim;
  const threads = options.threads ?? os.availableParallelism();
  const batch = 65_536;
  for (let start = 0; start < rows; start += batch) {
    const n = Math.min(batch, rows - start);
    const keys = new BigUint64Array(n);
    for (let i = 0; i < n; i++) keys[i] = BigInt(firstKey + start + i);
    index.add(keys, vectors.subarray(start * dim, (start + n) * dim), threads);
    options.onProgress?.(start + n, rows);
  }
}

async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  const handle = await fs.open(file, 'r');
  try {
    for await (const chunk of handle.createReadStream()) h.update(chunk as Buffer);
  } finally {
    await handle.close().catch(() => undefined);
  }
  return h.digest('hex');
}
