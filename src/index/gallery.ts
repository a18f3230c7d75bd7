// A gallery on disk: descriptor segments (header + float32 rows) and their metadata, committed atomically by a manifest.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VisidError } from '../util/errors.js';
import { fileSha256 } from './ann-files.js';
import { writeFileAtomic } from '../util/atomic.js';
import { assertFiniteRows } from '../util/vectors.js';
import { encodeNpy, readNpy } from '../formats/npy.js';
import { validateGalleryItem, type GalleryItem } from './items.js';
import { buildApproximateIndex, openApproximateIndex, removeApproximateIndex, updateApproximateIndex, parseIndexSpec, formatIndexSpec, rowsInMemory, type ApproximateIndex, type IndexSpec, type BuildOptions, type RowSource } from './ann.js';
import { SegmentRows } from './segment-rows.js';
import { acquireGalleryLock, isAlive } from './gallery-lock.js';

export type { GalleryItem } from './items.js';

/** The model that made the descriptors, so queries are embedded the same way. */
export interface GalleryModel {
  /** Content hash of the model file (or any stable id for imported descriptors). */
  id: string;
  name?: string;
  /** Path of the .onnx file when the gallery was built. */
  path?: string;
  /** Embedding options used (input size, scales, flip...), free-form. */
  config?: Record<string, unknown>;
}

interface SegmentInfo {
  name: string;
  count: number;
  vectorsSha256: string;
  metaSha256: string;
}

interface Manifest {
  format: 'visid-gallery';
  version: 1;
  dim: number;
  dtype: 'float32';
  model: GalleryModel;
  dataRoot?: string;
  segments: SegmentInfo[];
  /** Ids removed from each segment (kept until compaction rewrites it). */
  removed: Record<string, string[]>;
  count: number;
  nextSegment: number;
  updatedAt: string;
  /** The approximate index kept beside the segments (a spec: Flat, HNSW32, HNSW32,SQ8...); none = Flat. */
  index?: string;
}

const MANIFEST = 'gallery.json';
const SEGMENT_NAME = /^seg-\d{6,}$/;
const MAGIC = 'VISIDVEC';
const HEADER_BYTES = 64;
const DTYPE_FLOAT32 = 1;

const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

/** The binary header of a vectors file: magic, version, count, dim, dtype, model id (first 32 chars). */
function encodeHeader(count: number, dim: number, modelId: string): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  h.write(MAGIC, 0, 'latin1');
  h.writeUInt32LE(1, 8);
  h.writeUInt32LE(count, 12);
  h.writeUInt32LE(dim, 16);
  h.writeUInt32LE(DTYPE_FLOAT32, 20);
  h.write(modelId.slice(0, 32), 24, 'latin1');
  return h;
}

function validateManifest(m: unknown, file: string): Manifest {
  const bad = (why: string) => new VisidError('E_GALLERY', `invalid gallery manifest: ${why}`, { item: file });
  if (typeof m !== 'object' || m === null) throw bad('not a JSON object');
  const o = m as Manifest;
  if (o.format !== 'visid-gallery') throw bad(`format is '${String(o.format)}'`);
  if (o.version !== 1) throw bad(`unsupported version ${String(o.version)}`);
  if (!Number.isInteger(o.dim) || o.dim <= 0) throw bad(`dim ${String(o.dim)}`);
  if (o.dtype !== 'float32') throw bad(`dtype ${String(o.dtype)}`);
  if (!o.model || typeof o.model.id !== 'string') throw bad('model.id missing');
  if (o.model.name !== undefined && typeof o.model.name !== 'string') throw bad('model.name must be a string');
  if (o.model.path !== undefined && typeof o.model.path !== 'string') throw bad('model.path must be a string');
  if (o.dataRoot !== undefined && (typeof o.dataRoot !== 'string' || !path.isAbsolute(o.dataRoot))) throw bad('dataRoot must be an absolute path');
  if (!Number.isInteger(o.nextSegment) || o.nextSegment < 1) throw bad(`nextSegment ${JSON.stringify(o.nextSegment)}`);
  if (!Array.isArray(o.segments)) throw bad('segments must be an array');
  const names = new Set<string>();
  o.segments.forEach((seg, i) => {
    if (typeof seg !== 'object' || seg === null) throw bad(`segments[${i}] is not an object`);
    // Segment names are generated (seg-000001): anything else, '../../etc/passwd' say, would be read outside the folder.
    if (typeof seg.name !== 'string' || !SEGMENT_NAME.test(seg.name)) throw bad(`segments[${i}].name ${JSON.stringify(seg.name)} is not a segment name (seg-NNNNNN)`);
    if (names.has(seg.name)) throw bad(`segment ${seg.name} is listed twice`);
    names.add(seg.name);
    if (!Number.isInteger(seg.count) || seg.count < 0) throw bad(`segments[${i}].count ${JSON.stringify(seg.count)}`);
    if (typeof seg.vectorsSha256 !== 'string' || typeof seg.metaSha256 !== 'string') throw bad(`segments[${i}] checksums missing`);
    if (Number(seg.name.slice(4)) >= o.nextSegment) throw bad(`segments[${i}].name ${seg.name} is not below nextSegment ${o.nextSegment}`);
  });
  if (typeof o.removed !== 'object' || o.removed === null || Array.isArray(o.removed)) throw bad('removed must be an object of id lists');
  for (const [seg, ids] of Object.entries(o.removed)) {
    if (!names.has(seg)) throw bad(`removed lists ids of an unknown segment '${seg}'`);
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) throw bad(`removed['${seg}'] must be a list of ids`);
  }
  if (!Number.isInteger(o.count) || o.count < 0) throw bad(`count ${JSON.stringify(o.count)}`);
  if (o.index !== undefined) {
    if (typeof o.index !== 'string') throw bad('index must be a spec string');
    parseIndexSpec(o.index);
  }
  return o;
}

export interface CreateGalleryOptions {
  dim: number;
  model: GalleryModel;
  /** Folder the item paths are relative to (thumbnails are served only from inside it). */
  dataRoot?: string;
}

export interface OpenGalleryOptions {
  /**
   * Leave the descriptors in the segment files and read rows when needed (a gallery larger than memory): only the
   * items, and an index's codes, are held in memory. The segment headers and sizes are checked, not the checksums
   * (`verify: true` streams every file through them).
   */
  vectorsOnDisk?: boolean | 'auto';
  verify?: boolean;
}

/** With vectorsOnDisk 'auto': descriptors beyond this share of the machine's memory stay on disk. */
const AUTO_ON_DISK_FRACTION = 0.25;

/**
 * A gallery loaded in memory (or, opened with `vectorsOnDisk`, with its descriptors read from the segment files
 * when needed). `vectors` holds `count` rows of `dim` float32 values, row i described by `items[i]`. Writes (append, remove, compact) take a lock file, write new files atomically, then commit by
 * rewriting the manifest atomically: a crash leaves the gallery as it was before that write.
 */
export class Gallery {
  private constructor(
    readonly dir: string,
    private manifest: Manifest,
    private _vectors: Float32Array,
    private _items: GalleryItem[],
    private rowSegments: string[],
    /** With vectorsOnDisk: where each row lives in the segment files. */
    private disk?: SegmentRows,
  ) {}

  /** True when the descriptors stay in the segment files (see OpenGalleryOptions.vectorsOnDisk). */
  get vectorsOnDisk(): boolean {
    return this.disk !== undefined;
  }

  /** The rows, in blocks or by number, from memory or from disk: what indexes build from and re-rank with. */
  rowSource(): RowSource {
    return this.disk ?? rowsInMemory(this._vectors, this.dim);
  }

  /** Closes the segment files a gallery opened with vectorsOnDisk reads from. */
  close(): void {
    this.disk?.close();
  }

  private refuseOnDisk(what: string): void {
    if (this.disk) throw new VisidError('E_GALLERY', `${what} needs the descriptors in memory; this gallery was opened with them on disk (open it without --vectors-on-disk)`, { item: this.dir });
  }

  get dim(): number {
    return this.manifest.dim;
  }
  get model(): GalleryModel {
    return this.manifest.model;
  }
  get dataRoot(): string | undefined {
    return this.manifest.dataRoot;
  }
  get count(): number {
    return this._items.length;
  }
  get vectors(): Float32Array {
    this.refuseOnDisk('reading all descriptors as one array');
    return this._vectors;
  }
  get items(): readonly GalleryItem[] {
    return this._items;
  }
  /** The commit this gallery was loaded at (changes with every write). */
  get updatedAt(): string {
    return this.manifest.updatedAt;
  }
  /** The approximate index the gallery keeps (Flat when none). */
  get indexSpec(): IndexSpec {
    return parseIndexSpec(this.manifest.index ?? 'Flat');
  }

  /**
   * Chooses the gallery's index and builds it: HNSW<M>[,F16|,SQ8] or IVF<n>,PQ<m>[,RFlat] is built from the rows
   * now and follows every write; Flat removes it. The spec is committed in gallery.json after the index file is in
   * place, so a crash leaves the old state or the new one.
   */
  async setIndex(spec: IndexSpec, options: BuildOptions = {}): Promise<void> {
    await withLock(this.dir, async () => {
      await this.refuseIfChangedOnDisk();
      const next: Manifest = { ...this.manifest, updatedAt: new Date().toISOString() };
      if (spec.kind === 'flat') delete next.index;
      else next.index = formatIndexSpec(spec);
      await buildApproximateIndex(this.dir, spec, this.rowSource(), next.updatedAt, options);
      await this.commit(next);
      if (spec.kind === 'flat') await removeApproximateIndex(this.dir);
    });
  }

  /** Opens the gallery's current approximate index; undefined for Flat. Stale or damaged: a VisidError. */
  async openIndex(verify = false): Promise<ApproximateIndex | undefined> {
    const spec = this.indexSpec;
    if (spec.kind === 'flat') return undefined;
    const index = await openApproximateIndex(this.dir, spec, { galleryUpdatedAt: this.manifest.updatedAt, rows: this.count, dim: this.dim }, verify);
    if (!index) throw new VisidError('E_GALLERY', `gallery.json names index ${this.manifest.index} but its files are missing: run visid reindex`, { item: this.dir });
    return index;
  }

  /**
   * After a write: the approximate index follows the new rows, written before the commit that makes it current
   * (a crash in between leaves an index for a commit that never happened: stale, so unused). An append extends
   * it; a removal or compaction (rows renumbered) rebuilds it.
   */
  private async indexFor(next: Manifest, source: () => RowSource, appended = false): Promise<void> {
    const spec = parseIndexSpec(next.index ?? 'Flat');
    if (spec.kind === 'flat') return;
    await updateApproximateIndex(this.dir, spec, source(), appended ? { galleryUpdatedAt: this.manifest.updatedAt, rows: this.count } : undefined, next.updatedAt);
  }

  /** Creates an empty gallery in `dir` (which must not hold one already). */
  static async create(dir: string, options: CreateGalleryOptions): Promise<Gallery> {
    const abs = path.resolve(dir);
    if (!Number.isInteger(options.dim) || options.dim <= 0) throw new VisidError('E_DIM', `invalid descriptor dimension ${options.dim}`);
    await fs.mkdir(abs, { recursive: true });
    if (await exists(path.join(abs, MANIFEST))) throw new VisidError('E_GALLERY', 'a gallery already exists here', { item: abs });
    // Segments without their manifest are a gallery whose gallery.json was lost: starting over would overwrite them.
    const orphans = (await fs.readdir(abs)).filter((f) => /^seg-\d+\.(vec|jsonl)$/.test(f));
    if (orphans.length > 0) {
      throw new VisidError('E_GALLERY', `gallery.json is missing but ${orphans.length} segment files remain (${orphans.slice(0, 2).join(', ')}…); restore gallery.json or move the segments away`, { item: abs });
    }
    const manifest: Manifest = {
      format: 'visid-gallery',
      version: 1,
      dim: options.dim,
      dtype: 'float32',
      model: options.model,
      dataRoot: options.dataRoot ? path.resolve(options.dataRoot) : undefined,
      segments: [],
      removed: {},
      count: 0,
      nextSegment: 1,
      updatedAt: new Date().toISOString(),
    };
    await withLock(abs, () => writeFileAtomic(path.join(abs, MANIFEST), JSON.stringify(manifest, null, 2)));
    return new Gallery(abs, manifest, new Float32Array(0), [], []);
  }

  /** True when `dir` holds a gallery manifest. */
  static async exists(dir: string): Promise<boolean> {
    return exists(path.join(path.resolve(dir), MANIFEST));
  }

  /** Loads and validates a gallery: sizes, dimensions, checksums and ids are all checked. */
  static async open(dir: string, options: OpenGalleryOptions = {}): Promise<Gallery> {
    const abs = path.resolve(dir);
    const manifestFile = path.join(abs, MANIFEST);
    let text: string;
    try {
      text = await fs.readFile(manifestFile, 'utf8');
    } catch {
      throw new VisidError('E_NOT_FOUND', 'no gallery here (gallery.json missing)', { item: abs });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new VisidError('E_GALLERY', `gallery manifest is not valid JSON: ${(err as Error).message}`, { item: manifestFile });
    }
    const manifest = validateManifest(parsed, manifestFile);
    const dim = manifest.dim;
    const parts: Float32Array[] = [];
    const items: GalleryItem[] = [];
    const rowSegments: string[] = [];
    const seen = new Set<string>();
    const vectorBytes = manifest.segments.reduce((n, seg) => n + seg.count * dim * 4, 0);
    const leaveOnDisk = options.vectorsOnDisk === 'auto' ? vectorBytes > AUTO_ON_DISK_FRACTION * os.totalmem() : Boolean(options.vectorsOnDisk);
    const onDisk = leaveOnDisk ? new SegmentRows(dim) : undefined;
    for (const seg of manifest.segments) {
      const { vectors, metas } = await readSegment(abs, seg, dim, onDisk ? { bodies: false, verify: options.verify } : undefined);
      const removed = new Set(manifest.removed[seg.name] ?? []);
      let keep: number[] | undefined;
      if (removed.size > 0) keep = [];
      metas.forEach((meta, i) => {
        if (removed.has(meta.id)) return;
        if (seen.has(meta.id)) throw new VisidError('E_GALLERY', `duplicate id '${meta.id}' across segments`, { item: path.join(abs, seg.name) });
        seen.add(meta.id);
        items.push(meta);
        rowSegments.push(seg.name);
        keep?.push(i);
      });
      if (onDisk) onDisk.addSegment(segmentFile(abs, seg.name), HEADER_BYTES, seg.count, keep);
      else if (!keep) parts.push(vectors);
      else {
        const kept = new Float32Array(keep.length * dim);
        keep.forEach((row, j) => kept.set(vectors.subarray(row * dim, (row + 1) * dim), j * dim));
        parts.push(kept);
      }
    }
    if (items.length !== manifest.count) {
      throw new VisidError('E_GALLERY', `manifest says ${manifest.count} items but segments hold ${items.length}`, { item: manifestFile });
    }
    return new Gallery(abs, manifest, concat(parts, onDisk ? 0 : items.length * dim), items, rowSegments, onDisk);
  }

  /** Index of the row with this id, or -1. */
  indexOf(id: string): number {
    return this._items.findIndex((it) => it.id === id);
  }

  /**
   * Appends rows. Refuses (and changes nothing) on a dimension mismatch, a non-finite value, or an id that
   * is already stored or repeated in the batch.
   */
  async append(vectors: Float32Array, items: GalleryItem[]): Promise<void> {
    const dim = this.dim;
    if (items.length === 0) throw new VisidError('E_INPUT', 'nothing to append: no items');
    if (vectors.length !== items.length * dim) {
      throw new VisidError('E_DIM', `got ${vectors.length} values for ${items.length} items of dimension ${dim}`, { item: this.dir });
    }
    assertFiniteRows(vectors, dim, items.map((it) => it.id));
    const ids = new Set(this._items.map((it) => it.id));
    for (const it of items) {
      if (typeof it.id !== 'string' || it.id.length === 0) throw new VisidError('E_INPUT', 'every item needs a non-empty id');
      if (ids.has(it.id)) throw new VisidError('E_DUPLICATE', `id is already in the gallery ${this.dir}`, { item: it.id });
      ids.add(it.id);
    }
    await withLock(this.dir, async () => {
      await this.refuseIfChangedOnDisk();
      const name = `seg-${String(this.manifest.nextSegment).padStart(6, '0')}`;
      const info = await writeSegment(this.dir, name, vectors, items, dim, this.model.id);
      const next: Manifest = {
        ...this.manifest,
        segments: [...this.manifest.segments, info],
        count: this.manifest.count + items.length,
        nextSegment: this.manifest.nextSegment + 1,
        updatedAt: new Date().toISOString(),
      };
      const appended = this.disk?.with(segmentFile(this.dir, name), HEADER_BYTES, items.length);
      await this.indexFor(next, () => appended ?? rowsInMemory(concat([this._vectors, vectors], this._vectors.length + vectors.length), dim), true);
      await this.commit(next);
      if (appended) this.disk = appended;
    });
    if (!this.disk) this._vectors = concat([this._vectors, vectors], this._vectors.length + vectors.length);
    this._items = [...this._items, ...items.map((it) => ({ ...it }))];
    this.rowSegments = [...this.rowSegments, ...items.map(() => this.manifest.segments.at(-1)!.name)];
  }

  /** Removes rows by id; an unknown id throws and nothing is removed. */
  async remove(ids: string[]): Promise<void> {
    const rows = ids.map((id) => {
      const row = this.indexOf(id);
      if (row < 0) throw new VisidError('E_NOT_FOUND', `no such id in the gallery ${this.dir}`, { item: id });
      return row;
    });
    const drop = new Set(rows);
    const dim = this.dim;
    const keep = this._items.map((_, i) => i).filter((i) => !drop.has(i));
    const kept = this.disk?.keep(keep);
    const vectors = new Float32Array(kept ? 0 : keep.length * dim);
    if (!kept) keep.forEach((row, j) => vectors.set(this._vectors.subarray(row * dim, (row + 1) * dim), j * dim));
    await withLock(this.dir, async () => {
      await this.refuseIfChangedOnDisk();
      const removed: Record<string, string[]> = {};
      for (const [k, v] of Object.entries(this.manifest.removed)) removed[k] = [...v];
      for (const row of drop) (removed[this.rowSegments[row]!] ??= []).push(this._items[row]!.id);
      const next = { ...this.manifest, removed, count: this.manifest.count - drop.size, updatedAt: new Date().toISOString() };
      await this.indexFor(next, () => kept ?? rowsInMemory(vectors, dim));
      await this.commit(next);
    });
    if (kept) this.disk = kept;
    this._vectors = vectors;
    this._items = keep.map((i) => this._items[i]!);
    this.rowSegments = keep.map((i) => this.rowSegments[i]!);
  }

  /** Segments on disk (each append adds one). */
  get segmentCount(): number {
    return this.manifest.segments.length;
  }

  /**
   * The compaction policy of long-running writers (the server): compacts when there are more than `maxSegments`
   * segments or removed rows make up more than `maxRemovedFraction` of those stored. Returns whether it did.
   */
  async compactIfFragmented(maxSegments = 16, maxRemovedFraction = 0.25): Promise<boolean> {
    if (this.disk) return false;
    const stored = this.manifest.segments.reduce((n, s) => n + s.count, 0);
    const removed = stored - this.count;
    if (this.manifest.segments.length <= maxSegments && removed <= maxRemovedFraction * stored) return false;
    await this.compact();
    return true;
  }

  /** Rewrites all live rows into one segment and deletes the old segment files. */
  async compact(): Promise<void> {
    this.refuseOnDisk('compaction');
    await withLock(this.dir, async () => {
      await this.refuseIfChangedOnDisk();
      const old = this.manifest.segments.map((s) => s.name);
      const name = `seg-${String(this.manifest.nextSegment).padStart(6, '0')}`;
      const segments = this.count > 0 ? [await writeSegment(this.dir, name, this._vectors, this._items, this.dim, this.model.id)] : [];
      const next = { ...this.manifest, segments, removed: {}, nextSegment: this.manifest.nextSegment + 1, updatedAt: new Date().toISOString() };
      await this.indexFor(next, () => rowsInMemory(this._vectors, this.dim));
      await this.commit(next);
      for (const seg of old) {
        await fs.rm(path.join(this.dir, `${seg}.vec`), { force: true });
        await fs.rm(path.join(this.dir, `${seg}.jsonl`), { force: true });
      }
      this.rowSegments = this._items.map(() => name);
    });
  }

  /** Writes the descriptors as a (count × dim) float32 .npy file, and optionally the items as JSONL beside it. */
  async exportNpy(file: string, metaFile?: string): Promise<void> {
    this.refuseOnDisk('export');
    await writeFileAtomic(file, encodeNpy(this._vectors, [this.count, this.dim]));
    if (metaFile) await writeFileAtomic(metaFile, this._items.map((it) => JSON.stringify(it)).join('\n') + (this.count ? '\n' : ''));
  }

  /** Appends descriptors from a (n × dim) .npy file, described by `items` (same order). */
  async importNpy(file: string, items: GalleryItem[]): Promise<void> {
    const { data, shape } = await readNpy(file);
    if (shape.length !== 2 || shape[1] !== this.dim) {
      throw new VisidError('E_DIM', `expected shape (n, ${this.dim}), got (${shape.join(', ')})`, { item: file });
    }
    if (shape[0] !== items.length) throw new VisidError('E_INPUT', `${shape[0]} rows but ${items.length} items`, { item: file });
    await this.append(data, items);
  }

  private async commit(next: Manifest): Promise<void> {
    await writeFileAtomic(path.join(this.dir, MANIFEST), JSON.stringify(next, null, 2));
    this.manifest = next;
  }

  /** Another process may have written since we loaded: refuse rather than overwrite its commit. */
  private async refuseIfChangedOnDisk(): Promise<void> {
    const onDisk = JSON.parse(await fs.readFile(path.join(this.dir, MANIFEST), 'utf8')) as Manifest;
    if (onDisk.updatedAt !== this.manifest.updatedAt || onDisk.nextSegment !== this.manifest.nextSegment) {
      throw new VisidError('E_GALLERY', 'the gallery changed on disk since it was opened; open it again', { item: this.dir });
    }
  }
}

/** Deletes a gallery that holds no segments (its manifest and lock), and the folder when nothing else is in it. */
export async function removeEmptyGallery(dir: string): Promise<void> {
  const manifest = validateManifest(JSON.parse(await fs.readFile(path.join(dir, MANIFEST), 'utf8')), path.join(dir, MANIFEST));
  if (manifest.segments.length > 0) throw new VisidError('E_GALLERY', 'not empty: it holds segments', { item: dir });
  await fs.rm(path.join(dir, MANIFEST), { force: true });
  await fs.rmdir(dir).catch(() => undefined);
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

function concat(parts: Float32Array[], total: number): Float32Array {
  if (parts.length === 1 && parts[0]!.length === total) return parts[0]!;
  const out = new Float32Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

async function writeSegment(dir: string, name: string, vectors: Float32Array, items: readonly GalleryItem[], dim: number, modelId: string): Promise<SegmentInfo> {
  const header = encodeHeader(items.length, dim, modelId);
  const body = new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength);
  const meta = items.map((it) => JSON.stringify(it)).join('\n') + '\n';
  await writeFileAtomic(path.join(dir, `${name}.vec`), [header, body]);
  await writeFileAtomic(path.join(dir, `${name}.jsonl`), meta);
  return {
    name,
    count: items.length,
    vectorsSha256: createHash('sha256').update(header).update(body).digest('hex'),
    metaSha256: sha256(meta),
  };
}

const segmentFile = (dir: string, name: string) => path.join(dir, `${name}.vec`);

/**
 * Reads and checks one segment. Without `bodies` the descriptors stay on disk: the header and size are checked
 * (and, with `verify`, the checksum, streamed), and `vectors` comes back empty.
 */
async function readSegment(dir: string, seg: SegmentInfo, dim: number, onDisk?: { bodies: false; verify?: boolean }): Promise<{ vectors: Float32Array; metas: GalleryItem[] }> {
  const vecFile = segmentFile(dir, seg.name);
  const metaFile = path.join(dir, `${seg.name}.jsonl`);
  const expected = HEADER_BYTES + seg.count * dim * 4;
  const bytes = onDisk ? await readHeaderOf(vecFile, expected) : await fs.readFile(vecFile).catch(() => {
    throw new VisidError('E_GALLERY', 'segment file is missing', { item: vecFile });
  });
  if (!onDisk && bytes.length !== expected) throw new VisidError('E_GALLERY', `segment is ${bytes.length} bytes, expected ${expected} (truncated or corrupt)`, { item: vecFile });
  if (bytes.subarray(0, 8).toString('latin1') !== MAGIC) throw new VisidError('E_GALLERY', 'not a visid vectors file (bad magic)', { item: vecFile });
  const count = bytes.readUInt32LE(12);
  const fileDim = bytes.readUInt32LE(16);
  if (count !== seg.count || fileDim !== dim || bytes.readUInt32LE(20) !== DTYPE_FLOAT32) {
    throw new VisidError('E_GALLERY', `header says ${count}×${fileDim}, manifest says ${seg.count}×${dim}`, { item: vecFile });
  }
  const digest = onDisk ? (onDisk.verify ? await fileSha256(vecFile) : seg.vectorsSha256) : sha256(bytes);
  if (digest !== seg.vectorsSha256) throw new VisidError('E_GALLERY', 'checksum mismatch: descriptors are corrupt', { item: vecFile });
  const metaText = await fs.readFile(metaFile, 'utf8').catch(() => {
    throw new VisidError('E_GALLERY', 'segment metadata is missing', { item: metaFile });
  });
  if (sha256(metaText) !== seg.metaSha256) throw new VisidError('E_GALLERY', 'checksum mismatch: metadata is corrupt', { item: metaFile });
  const metas = metaText
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l, i) => {
      let raw: unknown;
      try {
        raw = JSON.parse(l);
      } catch {
        throw new VisidError('E_GALLERY', 'metadata row is not valid JSON', { item: `${metaFile}:${i + 1}` });
      }
      try {
        return validateGalleryItem(raw, `${metaFile}:${i + 1}`, { absolutePaths: true });
      } catch (err) {
        throw new VisidError('E_GALLERY', (err as Error).message);
      }
    });
  if (metas.length !== seg.count) throw new VisidError('E_GALLERY', `${metas.length} metadata rows for ${seg.count} descriptors`, { item: metaFile });
  if (onDisk) return { vectors: new Float32Array(0), metas };
  // Copy out of the file buffer so the rows are 4-byte aligned.
  const vectors = new Float32Array(seg.count * dim);
  new Uint8Array(vectors.buffer).set(bytes.subarray(HEADER_BYTES));
  return { vectors, metas };
}

/** The header of a segment file, after checking its size is `expected` (the body is left on disk). */
async function readHeaderOf(vecFile: string, expected: number): Promise<Buffer> {
  const handle = await fs.open(vecFile, 'r').catch(() => {
    throw new VisidError('E_GALLERY', 'segment file is missing', { item: vecFile });
  });
  try {
    const size = (await handle.stat()).size;
    if (size !== expected) throw new VisidError('E_GALLERY', `segment is ${size} bytes, expected ${expected} (truncated or corrupt)`, { item: vecFile });
    const header = Buffer.alloc(HEADER_BYTES);
    await handle.read(header, 0, HEADER_BYTES, 0);
    return header;
  } finally {
    await handle.close();
  }
}

/** Runs `fn` holding the gallery's lock file (see gallery-lock.ts). */
async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const release = await acquireGalleryLock(dir);
  try {
    await removeStaleTemporaries(dir);
    return await fn();
  } finally {
    await release();
  }
}

/**
 * Temporary files of atomic writes (.<name>.<pid>.<random>.tmp) left by a writer killed mid-write. Under the lock
 * no other visid writes here, so those of dead processes are garbage.
 */
async function removeStaleTemporaries(dir: string): Promise<void> {
  for (const f of await fs.readdir(dir).catch(() => [] as string[])) {
    const m = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/.exec(f);
    if (m && (Number(m[1]) === process.pid ? false : !isAlive(Number(m[1])))) await fs.rm(path.join(dir, f), { force: true });
  }
}

