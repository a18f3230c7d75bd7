// HNSW<M>[,F16|,SQ8]: a graph index over the gallery's rows with float32, float16 or int8 storage, built by usearch
// (a maintained native HNSW library whose npm package ships prebuilt binaries), memory-mapped on load.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import type * as UsearchModule from 'usearch';
import { VisidError } from '../util/errors.js';
import { isUnitLength, l2NormalizeRows } from '../util/vectors.js';
import { formatIndexSpec, installIndexFile, parseIndexSpec, readCurrentMeta, temporaryIndexFile, type AnnMeta, type BuildOptions, type HnswSpec, type IndexSpec, type RowSource } from './ann-files.js';

type Usearch = typeof UsearchModule;
let loaded: Usearch | undefined;
/**
 * usearch's native module, loaded on first use (galleries without an index never load it) and through its CommonJS
 * build: the ESM build finds its binary from the caller's stack and loops forever when run outside the package tree.
 */
export function usearchLib(): Usearch {
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

export const HNSW_FILE = 'ann.usearch';

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
      const spec = this.spec as HnswSpec;
      index = new (usearchLib().Index)({ metric: usearchLib().MetricKind.IP, dimensions: this.meta.dim, connectivity: spec.m, quantization: scalarKind(spec.storage), expansion_add: this.meta.efConstruction ?? 128, expansion_search: ef, multi: false });
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

  /** Builds an index over the rows of `source` (normalised: inner product = cosine) and writes it into `dir`. */
  static async buildFrom(dir: string, spec: HnswSpec, source: RowSource, galleryUpdatedAt: string, options: BuildOptions = {}): Promise<HnswIndex> {
    const efConstruction = options.efConstruction ?? 128;
    const index = new (usearchLib().Index)({ metric: usearchLib().MetricKind.IP, dimensions: source.dim, connectivity: spec.m, quantization: scalarKind(spec.storage), expansion_add: efConstruction, expansion_search: 64, multi: false });
    addRows(index, source, 0, options);
    return HnswIndex.write(dir, index, spec, source.rows, source.dim, galleryUpdatedAt, efConstruction);
  }

  /**
   * After an append: when the index on disk is current for the commit before it (`before`), the new rows are
   * added to it (keys continue the row numbers) instead of rebuilding the graph; otherwise it is rebuilt from
   * all rows of `source`.
   */
  static async extendFrom(dir: string, spec: HnswSpec, source: RowSource, before: { galleryUpdatedAt: string; rows: number }, galleryUpdatedAt: string, options: BuildOptions = {}): Promise<HnswIndex> {
    const dim = source.dim;
    const current = await HnswIndex.open(dir, { ...before, dim }).catch(() => undefined);
    if (!current || current.meta.spec !== formatIndexSpec(spec)) return HnswIndex.buildFrom(dir, spec, source, galleryUpdatedAt, options);
    const index = new (usearchLib().Index)({ metric: usearchLib().MetricKind.IP, dimensions: dim, connectivity: spec.m, quantization: scalarKind(spec.storage), expansion_add: current.meta.efConstruction ?? 128, expansion_search: 64, multi: false });
    index.load(current.file);
    addRows(index, source, before.rows, options);
    return HnswIndex.write(dir, index, spec, source.rows, dim, galleryUpdatedAt, current.meta.efConstruction ?? 128);
  }

  private static async write(dir: string, index: UsearchModule.Index, spec: IndexSpec, rows: number, dim: number, galleryUpdatedAt: string, efConstruction: number): Promise<HnswIndex> {
    // usearch writes the file itself: to a temporary name, fsynced, then put in place with its description.
    const tmp = temporaryIndexFile(dir, HNSW_FILE);
    try {
      index.save(tmp);
      const handle = await fs.open(tmp, 'r+');
      await handle.sync();
      await handle.close();
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    const meta = await installIndexFile(dir, tmp, HNSW_FILE, { spec: formatIndexSpec(spec), galleryUpdatedAt, rows, dim, efConstruction });
    return new HnswIndex(path.join(dir, HNSW_FILE), meta);
  }

  /** The gallery's current HNSW index; undefined when there is none; a VisidError when stale or damaged. */
  static async open(dir: string, expect: { galleryUpdatedAt: string; rows: number; dim: number }, verify = false): Promise<HnswIndex | undefined> {
    const current = await readCurrentMeta(dir, expect, () => HNSW_FILE, verify);
    if (!current || current.spec.kind !== 'hnsw') return undefined;
    const opened = new HnswIndex(current.file, current.meta);
    opened.view(64);
    return opened;
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

/** Adds rows [first, source.rows) of `source` (keys = row numbers), normalised, in blocks. */
function addRows(index: UsearchModule.Index, source: RowSource, first: number, options: BuildOptions): void {
  const threads = options.threads ?? os.availableParallelism();
  const batch = 65_536;
  for (let start = first; start < source.rows; start += batch) {
    const n = Math.min(batch, source.rows - start);
    const keys = new BigUint64Array(n);
    for (let i = 0; i < n; i++) keys[i] = BigInt(start + i);
    const block = source.read(start, n);
    index.add(keys, isUnitLength(block, source.dim) ? block : l2NormalizeRows(Float32Array.from(block), source.dim), threads);
    options.onProgress?.(start + n - first, source.rows - first);
  }
}

