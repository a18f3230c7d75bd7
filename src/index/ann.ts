// Approximate-search indexes of a gallery, chosen by a faiss-style spec string and persisted beside its segments:
// `Flat` (exact, the default), `HNSW<M>` with float32, `,F16` or `,SQ8` storage (hnsw.ts, usearch), or
// `IVF<lists>,PQ<m>[,RFlat]` (ivfpq.ts). Each is derived data recorded in ann.json with the gallery commit it was
// built from; a stale or damaged one is never used (exact search is, and says why).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fsyncDir } from '../util/atomic.js';
import { INDEX_META, type BuildOptions, type IndexSpec, type RowSource } from './ann-files.js';
import { HnswIndex, HNSW_FILE } from './hnsw.js';
import { IvfPqIndex, IVFPQ_FILE } from './ivfpq.js';

export { parseIndexSpec, formatIndexSpec, rowsInMemory, type IndexSpec, type HnswSpec, type IvfPqSpec, type AnnMeta, type BuildOptions, type RowSource } from './ann-files.js';
export { HnswIndex } from './hnsw.js';
export { IvfPqIndex, type IvfPqSearchOptions } from './ivfpq.js';

export type ApproximateIndex = HnswIndex | IvfPqIndex;

type Expect = { galleryUpdatedAt: string; rows: number; dim: number };

/** The gallery's current approximate index of the kind `spec` names; undefined for Flat or when there is none. */
export async function openApproximateIndex(dir: string, spec: IndexSpec, expect: Expect, verify = false): Promise<ApproximateIndex | undefined> {
  if (spec.kind === 'hnsw') return HnswIndex.open(dir, expect, verify);
  if (spec.kind === 'ivfpq') return IvfPqIndex.open(dir, expect, verify);
  return undefined;
}

/** Builds the index `spec` names from `source` (a no-op for Flat). */
export async function buildApproximateIndex(dir: string, spec: IndexSpec, source: RowSource, galleryUpdatedAt: string, options: BuildOptions = {}): Promise<void> {
  if (spec.kind === 'hnsw') await HnswIndex.buildFrom(dir, spec, source, galleryUpdatedAt, options);
  else if (spec.kind === 'ivfpq') await IvfPqIndex.build(dir, spec, source, galleryUpdatedAt, options);
}

/**
 * Makes the index follow a write: `before` (the commit and rows before an append) lets an index extend itself
 * instead of rebuilding; undefined means rows were renumbered (removal, compaction).
 */
export async function updateApproximateIndex(dir: string, spec: IndexSpec, source: RowSource, before: { galleryUpdatedAt: string; rows: number } | undefined, galleryUpdatedAt: string, options: BuildOptions = {}): Promise<void> {
  if (spec.kind === 'hnsw') {
    if (before) await HnswIndex.extendFrom(dir, spec, source, before, galleryUpdatedAt, options);
    else await HnswIndex.buildFrom(dir, spec, source, galleryUpdatedAt, options);
  } else if (spec.kind === 'ivfpq') {
    await IvfPqIndex.update(dir, spec, source, before, galleryUpdatedAt, options);
  }
}

/** Removes a gallery's index files (back to exact search). */
export async function removeApproximateIndex(dir: string): Promise<void> {
  await fs.rm(path.join(dir, INDEX_META), { force: true });
  for (const f of [HNSW_FILE, IVFPQ_FILE]) await fs.rm(path.join(dir, f), { force: true });
  await fsyncDir(dir);
}
