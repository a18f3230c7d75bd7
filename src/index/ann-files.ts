// What every approximate index of a gallery shares: the faiss-style spec string that names it, and its files
// beside the segments — one index file plus `ann.json`, which records the gallery commit it was built from, its
// size and checksum. The index is derived data: a stale or damaged one is never used (exact search is).
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { VisidError } from '../util/errors.js';
import { writeFileAtomic, fsyncDir } from '../util/atomic.js';

export type HnswSpec = { kind: 'hnsw'; m: number; storage: 'f32' | 'f16' | 'i8' };
/** IVF<lists>,PQ<m>[,RFlat]: inverted lists over a k-means quantiser, m-byte product codes, optional exact re-rank. */
export type IvfPqSpec = { kind: 'ivfpq'; lists: number; m: number; refine: boolean };
export type IndexSpec = { kind: 'flat' } | HnswSpec | IvfPqSpec;

const SPEC_HELP = 'use Flat, HNSW<M>[,F16|,SQ8] or IVF<lists>,PQ<m>[,RFlat] (e.g. HNSW32, IVF4096,PQ32)';

/** Parses "Flat", "HNSW32", "HNSW32,F16", "HNSW32,SQ8", "IVF4096,PQ32", "IVF4096,PQ32,RFlat" (faiss' factory names). */
export function parseIndexSpec(text: string): IndexSpec {
  const s = text.trim();
  if (/^flat$/i.test(s)) return { kind: 'flat' };
  const h = /^HNSW(\d+)(?:,(Flat|F16|SQ8))?$/i.exec(s);
  if (h) {
    const links = Number(h[1]);
    if (links < 4 || links > 256) throw new VisidError('E_INPUT', `HNSW links per node must be 4 to 256, not ${links}`, { item: text });
    const storage = (h[2] ?? 'flat').toUpperCase();
    return { kind: 'hnsw', m: links, storage: storage === 'F16' ? 'f16' : storage === 'SQ8' ? 'i8' : 'f32' };
  }
  const v = /^IVF(\d+),PQ(\d+)(?:x8)?(,RFlat)?$/i.exec(s);
  if (v) {
    const lists = Number(v[1]);
    const m = Number(v[2]);
    if (lists < 1 || lists > 1 << 20) throw new VisidError('E_INPUT', `IVF lists must be 1 to ${1 << 20}, not ${lists}`, { item: text });
    if (m < 1 || m > 256) throw new VisidError('E_INPUT', `PQ sub-quantisers must be 1 to 256, not ${m}`, { item: text });
    return { kind: 'ivfpq', lists, m, refine: Boolean(v[3]) };
  }
  if (/^IVF/i.test(s)) throw new VisidError('E_INPUT', `unknown IVF index spec: ${SPEC_HELP}`, { item: text });
  throw new VisidError('E_INPUT', `unknown index spec: ${SPEC_HELP}`, { item: text });
}

export function formatIndexSpec(spec: IndexSpec): string {
  if (spec.kind === 'flat') return 'Flat';
  if (spec.kind === 'ivfpq') return `IVF${spec.lists},PQ${spec.m}${spec.refine ? ',RFlat' : ''}`;
  return `HNSW${spec.m}${spec.storage === 'f16' ? ',F16' : spec.storage === 'i8' ? ',SQ8' : ''}`;
}

export const INDEX_META = 'ann.json';

/** What `ann.json` records: the spec, and the gallery commit and rows the index was built from. */
export interface AnnMeta {
  format: 'visid-ann';
  version: 1;
  spec: string;
  /** The gallery manifest's updatedAt when the index was built: any later write makes it stale. */
  galleryUpdatedAt: string;
  rows: number;
  dim: number;
  /** The index file's name in the gallery folder, its size and checksum. */
  file?: string;
  bytes: number;
  sha256: string;
  /** HNSW only: the build beam. */
  efConstruction?: number;
  builtAt: string;
}

export interface BuildOptions {
  /** HNSW build beam (default 128). */
  efConstruction?: number;
  /** IVF: k-means iterations (default 20) and training rows per list (default 64, at most all rows). */
  kmeansIterations?: number;
  trainPerList?: number;
  /** IVF: seed of the training sample and of k-means (default 1234). */
  seed?: number;
  /**
   * Build threads (default: all cores). HNSW: usearch's threads insert rows in no fixed order, so a threaded build
   * differs from run to run (its recall too, by about ±0.5 point); on 1 thread the file is the same every time.
   * IVF: onnxruntime threads of k-means and coding.
   */
  threads?: number;
  onProgress?: (done: number, total: number) => void;
}

/** A temporary name in `dir` for an index file being written. */
export function temporaryIndexFile(dir: string, file: string): string {
  return path.join(dir, `.${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Puts a written, fsynced temporary index file in place as `file` and describes it in ann.json. The description
 * goes last: a crash between the two leaves a description whose size or checksum does not match the file (or a
 * description of another commit), which `readCurrentMeta` refuses — exact search, then reindex.
 */
export async function installIndexFile(dir: string, tmp: string, file: string, meta: Omit<AnnMeta, 'format' | 'version' | 'bytes' | 'sha256' | 'builtAt' | 'file'>): Promise<AnnMeta> {
  const bytes = (await fs.stat(tmp)).size;
  const sha256 = await fileSha256(tmp);
  await fs.rename(tmp, path.join(dir, file));
  await fsyncDir(dir);
  const full: AnnMeta = { format: 'visid-ann', version: 1, ...meta, file, bytes, sha256, builtAt: new Date().toISOString() };
  await writeFileAtomic(path.join(dir, INDEX_META), JSON.stringify(full, null, 2));
  return full;
}

/**
 * The gallery's index description if there is one and it is current (built from commit `galleryUpdatedAt` with
 * `rows` rows of `dim`) with its file in place; undefined when there is none; a VisidError naming the file when it
 * is stale or damaged, so a caller can fall back to exact search and say why.
 */
export async function readCurrentMeta(dir: string, expect: { galleryUpdatedAt: string; rows: number; dim: number }, defaultFile: (spec: IndexSpec) => string, verify = false): Promise<{ meta: AnnMeta; spec: IndexSpec; file: string } | undefined> {
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
  if (spec.kind === 'flat') return undefined;
  if (meta.galleryUpdatedAt !== expect.galleryUpdatedAt || meta.rows !== expect.rows || meta.dim !== expect.dim) {
    throw new VisidError('E_GALLERY', `index ${meta.spec} is stale (built for ${meta.rows} rows at ${meta.galleryUpdatedAt}; the gallery has ${expect.rows} rows at ${expect.galleryUpdatedAt}): run visid reindex`, { item: metaFile });
  }
  const name = meta.file ?? defaultFile(spec);
  if (name !== defaultFile(spec)) throw new VisidError('E_GALLERY', `index file name ${JSON.stringify(name)} is not ${defaultFile(spec)}`, { item: metaFile });
  const file = path.join(dir, name);
  const size = await fs.stat(file).then((s) => s.size, () => -1);
  if (size !== meta.bytes) throw new VisidError('E_GALLERY', `index file is ${size < 0 ? 'missing' : `${size} bytes, expected ${meta.bytes}`}`, { item: file });
  if (verify && (await fileSha256(file)) !== meta.sha256) throw new VisidError('E_GALLERY', 'index checksum mismatch', { item: file });
  return { meta, spec, file };
}

export async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  const handle = await fs.open(file, 'r');
  try {
    for await (const chunk of handle.createReadStream()) h.update(chunk as Buffer);
  } finally {
    await handle.close().catch(() => undefined);
  }
  return h.digest('hex');
}

/**
 * The float rows an index is built from and re-ranks with, read in blocks or picked by row number — from memory
 * or from the segment files on disk (a gallery larger than memory is never copied into one array).
 */
export interface RowSource {
  readonly rows: number;
  readonly dim: number;
  /** Rows [start, start + count), row-major. */
  read(start: number, count: number): Float32Array;
  /** The rows numbered `rows` (any order), row-major in that order; into `into` from value `at` when given. */
  pick(rows: ArrayLike<number>, into?: Float32Array, at?: number): Float32Array;
}

/** Rows held in one array. */
export function rowsInMemory(vectors: Float32Array, dim: number): RowSource {
  return {
    rows: vectors.length / dim,
    dim,
    read: (start, count) => vectors.subarray(start * dim, (start + count) * dim),
    pick: (rows, into, at = 0) => {
      const out = into ?? new Float32Array(rows.length * dim);
      for (let i = 0; i < rows.length; i++) out.set(vectors.subarray(rows[i]! * dim, (rows[i]! + 1) * dim), at + i * dim);
      return out;
    },
  };
}
