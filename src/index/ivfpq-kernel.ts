// The WebAssembly list scan (assembly/ivfpq-scan.ts, built into ivfpq-scan.wasm beside this file) and the shared
// memory it works in: an index's codes, row numbers, list bounds and codebooks are copied into one shared
// WebAssembly.Memory once, and every search block gets scratch space after them. The scan workers import the same
// memory, so nothing is copied per search.
import { readFileSync } from 'node:fs';

const PAGE = 65_536;
const MAX_PAGES = 65_536; // 4 GiB: wasm32's limit
let compiled: WebAssembly.Module | null | undefined;

/** The compiled kernel, or null when the .wasm is missing or cannot compile (the JavaScript scan is used). */
export function scanModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(readFileSync(new URL('./ivfpq-scan.wasm', import.meta.url)));
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

export type ScanExport = (codes: number, ids: number, listStart: number, m: number, nprobe: number, probes: number, dots: number, queries: number, codebooks: number, dim: number, first: number, count: number, keep: number, outRows: number, outScores: number, lut: number, heapS: number, heapR: number) => void;

export function instantiate(memory: WebAssembly.Memory): ScanExport {
  const instance = new WebAssembly.Instance(scanModule()!, { env: { memory, abort: () => undefined } });
  return instance.exports['scanQueries'] as ScanExport;
}

/** The arguments of one kernel call (byte offsets into the shared memory), as sent to a worker. */
export interface KernelCall {
  memory: WebAssembly.Memory;
  /** Identifies the memory across messages (a worker instantiates once per memory). */
  memoryId: number;
  args: Parameters<ScanExport>;
}

let nextMemoryId = 1;
const align = (n: number) => Math.ceil(n / 64) * 64;

/** An index's lists in wasm memory, with views for JavaScript, and a bump region for per-search scratch. */
export class KernelMemory {
  readonly id = nextMemoryId++;
  readonly scan: ScanExport;
  readonly offsets: { codes: number; ids: number; listStart: number; codebooks: number };
  private readonly scratchStart: number;

  private constructor(
    readonly memory: WebAssembly.Memory,
    parts: { codes: Uint8Array; ids: Uint32Array; listStart: Uint32Array; codebooks: Float32Array },
  ) {
    let at = 0;
    const place = (bytes: number) => {
      const o = at;
      at = align(at + bytes);
      return o;
    };
    this.offsets = { codes: place(parts.codes.byteLength), ids: place(parts.ids.byteLength), listStart: place(parts.listStart.byteLength), codebooks: place(parts.codebooks.byteLength) };
    this.scratchStart = at;
    this.ensure(at);
    new Uint8Array(memory.buffer, this.offsets.codes, parts.codes.byteLength).set(parts.codes);
    new Uint32Array(memory.buffer, this.offsets.ids, parts.ids.length).set(parts.ids);
    new Uint32Array(memory.buffer, this.offsets.listStart, parts.listStart.length).set(parts.listStart);
    new Float32Array(memory.buffer, this.offsets.codebooks, parts.codebooks.length).set(parts.codebooks);
    this.scan = instantiate(memory);
  }

  /** Copies the lists into a new shared memory; undefined when the kernel is unavailable or the lists exceed 4 GiB. */
  static create(parts: { codes: Uint8Array; ids: Uint32Array; listStart: Uint32Array; codebooks: Float32Array }): KernelMemory | undefined {
    if (!scanModule()) return undefined;
    const bytes = align(parts.codes.byteLength) + align(parts.ids.byteLength) + align(parts.listStart.byteLength) + align(parts.codebooks.byteLength);
    if (bytes + 64 * PAGE > MAX_PAGES * PAGE) return undefined;
    const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / PAGE) + 1, maximum: MAX_PAGES, shared: true });
    return new KernelMemory(memory, parts);
  }

  views(parts: { codes: Uint8Array; ids: Uint32Array; listStart: Uint32Array }): { codes: Uint8Array; ids: Uint32Array; listStart: Uint32Array } {
    const buf = this.memory.buffer;
    return { codes: new Uint8Array(buf, this.offsets.codes, parts.codes.byteLength), ids: new Uint32Array(buf, this.offsets.ids, parts.ids.length), listStart: new Uint32Array(buf, this.offsets.listStart, parts.listStart.length) };
  }

  private ensure(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / PAGE));
  }

  /** Scratch regions (byte offsets) for one search block; valid until the next call. */
  scratch(sizes: Record<string, number>): Record<string, number> {
    const out: Record<string, number> = {};
    let at = this.scratchStart;
    for (const [name, bytes] of Object.entries(sizes)) {
      out[name] = at;
      at = align(at + bytes);
    }
    this.ensure(at);
    return out;
  }
}
