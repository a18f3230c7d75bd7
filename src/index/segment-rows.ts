// A gallery's descriptors left in its segment files: rows are read with positioned reads when an index is built
// (in blocks, sequentially) or re-ranks its candidates (a few rows per query), so a gallery larger than memory
// never becomes one array. The kernel's page cache does the caching.
import fs from 'node:fs';
import { VisidError } from '../util/errors.js';
import type { RowSource } from './ann-files.js';

class Files {
  private readonly fds = new Map<string, number>();
  fd(file: string): number {
    let fd = this.fds.get(file);
    if (fd === undefined) {
      try {
        fd = fs.openSync(file, 'r');
      } catch (err) {
        throw new VisidError('E_GALLERY', `segment file cannot be opened: ${(err as Error).message}`, { item: file });
      }
      this.fds.set(file, fd);
    }
    return fd;
  }
  close(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }
}

export class SegmentRows implements RowSource {
  private segFiles: string[] = [];
  private headerBytes: number[] = [];
  private rowSeg = new Int32Array(1024);
  private rowPos = new Int32Array(1024);
  private n = 0;

  constructor(
    readonly dim: number,
    private readonly files = new Files(),
  ) {}

  get rows(): number {
    return this.n;
  }

  /** Adds a segment's rows (all, or the positions in `keep`) after the rows already here. */
  addSegment(file: string, headerBytes: number, count: number, keep?: readonly number[]): void {
    const seg = this.segFiles.length;
    this.segFiles.push(file);
    this.headerBytes.push(headerBytes);
    const add = keep ? keep.length : count;
    this.reserve(this.n + add);
    for (let i = 0; i < add; i++) {
      this.rowSeg[this.n] = seg;
      this.rowPos[this.n++] = keep ? keep[i]! : i;
    }
  }

  /** A copy with one more segment at the end (this one is unchanged until the caller commits to the copy). */
  with(file: string, headerBytes: number, count: number): SegmentRows {
    const out = this.copy(Int32Array.from({ length: this.n }, (_, i) => i));
    out.addSegment(file, headerBytes, count);
    return out;
  }

  /** A copy holding only the rows numbered `rows` (renumbered 0…). */
  keep(rows: readonly number[]): SegmentRows {
    return this.copy(rows);
  }

  private copy(rows: ArrayLike<number>): SegmentRows {
    const out = new SegmentRows(this.dim, this.files);
    out.segFiles = [...this.segFiles];
    out.headerBytes = [...this.headerBytes];
    out.reserve(rows.length);
    for (let i = 0; i < rows.length; i++) {
      out.rowSeg[i] = this.rowSeg[rows[i]!]!;
      out.rowPos[i] = this.rowPos[rows[i]!]!;
    }
    out.n = rows.length;
    return out;
  }

  private reserve(size: number): void {
    if (size <= this.rowSeg.length) return;
    const cap = Math.max(size, this.rowSeg.length * 2);
    const seg = new Int32Array(cap);
    seg.set(this.rowSeg.subarray(0, this.n));
    const pos = new Int32Array(cap);
    pos.set(this.rowPos.subarray(0, this.n));
    this.rowSeg = seg;
    this.rowPos = pos;
  }

  read(start: number, count: number): Float32Array {
    if (start < 0 || start + count > this.n) throw new VisidError('E_INPUT', `rows ${start}…${start + count - 1} are outside the gallery's ${this.n}`);
    return this.pick(Int32Array.from({ length: count }, (_, i) => start + i));
  }

  pick(rows: ArrayLike<number>, into?: Float32Array, at = 0): Float32Array {
    const dim = this.dim;
    const out = into ?? new Float32Array(rows.length * dim);
    const bytes = new Uint8Array(out.buffer, out.byteOffset + at * 4);
    const rowBytes = dim * 4;
    // Runs of rows stored next to each other in one file become one read.
    for (let i = 0; i < rows.length; ) {
      const r = rows[i]!;
      if (r < 0 || r >= this.n) throw new VisidError('E_INPUT', `row ${r} is outside the gallery's ${this.n}`);
      const seg = this.rowSeg[r]!;
      const pos = this.rowPos[r]!;
      let run = 1;
      while (i + run < rows.length && run < 65_536) {
        const next = rows[i + run]!;
        if (next < 0 || next >= this.n || this.rowSeg[next] !== seg || this.rowPos[next] !== pos + run) break;
        run++;
      }
      const file = this.segFiles[seg]!;
      const fd = this.files.fd(file);
      let done = 0;
      const want = run * rowBytes;
      while (done < want) {
        const got = fs.readSync(fd, bytes, i * rowBytes + done, want - done, this.headerBytes[seg]! + pos * rowBytes + done);
        if (got === 0) throw new VisidError('E_GALLERY', `segment ended before row ${pos + Math.floor(done / rowBytes)} (truncated since it was opened?)`, { item: file });
        done += got;
      }
      i += run;
    }
    return out;
  }

  close(): void {
    this.files.close();
  }
}
