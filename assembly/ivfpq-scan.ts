// The IVF-PQ list scan in WebAssembly (AssemblyScript, compiled by `npm run build` into
// dist/src/index/ivfpq-scan.wasm): the same computation as scanQueries in src/index/ivfpq-scan.ts — per query, the
// inner-product lookup table, then every code of the probed lists scored from it into a bounded min-heap — on
// float32 values without JavaScript's bounds checks and float64 conversions (measured 2–2.5× the JS loop).
// All arguments are byte offsets into the one shared memory that the searching thread and the scan workers import.

// @ts-nocheck: AssemblyScript, not TypeScript (u32, f32, load<T>, store<T>).

/** Offers (score, row) to the heap of `size` entries (capacity `cap`); returns the new size. */
@inline
function push(heapS: usize, heapR: usize, size: i32, cap: i32, score: f32, row: i32): i32 {
  if (size < cap) {
    let i = size;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const ps = load<f32>(heapS + (<usize>parent << 2));
      if (ps <= score) break;
      store<f32>(heapS + (<usize>i << 2), ps);
      store<i32>(heapR + (<usize>i << 2), load<i32>(heapR + (<usize>parent << 2)));
      i = parent;
    }
    store<f32>(heapS + (<usize>i << 2), score);
    store<i32>(heapR + (<usize>i << 2), row);
    return size + 1;
  }
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= size) break;
    const r = l + 1;
    let c = l;
    if (r < size && load<f32>(heapS + (<usize>r << 2)) < load<f32>(heapS + (<usize>l << 2))) c = r;
    const cs = load<f32>(heapS + (<usize>c << 2));
    if (cs >= score) break;
    store<f32>(heapS + (<usize>i << 2), cs);
    store<i32>(heapR + (<usize>i << 2), load<i32>(heapR + (<usize>c << 2)));
    i = c;
  }
  store<f32>(heapS + (<usize>i << 2), score);
  store<i32>(heapR + (<usize>i << 2), row);
  return size;
}

/**
 * Scans queries [first, first + count) of a block. Per query b: probes/dots hold nprobe list numbers (i32) and
 * q·centroid values (f32); queries hold dim f32; out holds `keep` rows (i32, −1 padded) and scores (f32), unsorted.
 * `lut` (m·256 f32) and the heap (keep f32 + keep i32) are this thread's scratch.
 */
export function scanQueries(codes: usize, ids: usize, listStart: usize, m: i32, nprobe: i32, probes: usize, dots: usize, queries: usize, codebooks: usize, dim: i32, first: i32, count: i32, keep: i32, outRows: usize, outScores: usize, lut: usize, heapS: usize, heapR: usize): void {
  const dsub = dim / m;
  const words = (m & 3) == 0;
  const w = m >> 2;
  for (let b = first; b < first + count; b++) {
    // The lookup table: lut[s·256 + c] = q_s · codeword_s[c].
    const q = queries + (<usize>(b * dim) << 2);
    if (dsub == 4) {
      for (let s = 0; s < m; s++) {
        const qs = q + (<usize>(s * 4) << 2);
        const a0 = load<f32>(qs), a1 = load<f32>(qs + 4), a2 = load<f32>(qs + 8), a3 = load<f32>(qs + 12);
        let cw = codebooks + (<usize>(s * 1024) << 2);
        let out = lut + (<usize>(s * 256) << 2);
        for (let c = 0; c < 256; c++) {
          store<f32>(out, a0 * load<f32>(cw) + a1 * load<f32>(cw + 4) + a2 * load<f32>(cw + 8) + a3 * load<f32>(cw + 12));
          cw += 16;
          out += 4;
        }
      }
    } else for (let s = 0; s < m; s++) {
      for (let c = 0; c < 256; c++) {
        const cw = codebooks + (<usize>((s * 256 + c) * dsub) << 2);
        let dot: f32 = 0;
        for (let j = 0; j < dsub; j++) dot += load<f32>(q + (<usize>(s * dsub + j) << 2)) * load<f32>(cw + (<usize>j << 2));
        store<f32>(lut + (<usize>(s * 256 + c) << 2), dot);
      }
    }
    let size = 0;
    let threshold: f32 = -Infinity;
    for (let p = 0; p < nprobe; p++) {
      const list = load<i32>(probes + (<usize>(b * nprobe + p) << 2));
      const base = load<f32>(dots + (<usize>(b * nprobe + p) << 2));
      const start = load<u32>(listStart + (<usize>list << 2));
      const end = load<u32>(listStart + (<usize>(list + 1) << 2));
      let o = codes + <usize>start * <usize>m;
      for (let i = start; i < end; i++) {
        let sum = base;
        if (words) {
          let lo = lut;
          for (let j = 0; j < w; j++) {
            const x = load<u32>(o + (<usize>j << 2));
            sum += load<f32>(lo + ((x & 255) << 2)) + load<f32>(lo + 1024 + (((x >>> 8) & 255) << 2)) + load<f32>(lo + 2048 + (((x >>> 16) & 255) << 2)) + load<f32>(lo + 3072 + ((x >>> 24) << 2));
            lo += 4096;
          }
        } else {
          for (let j = 0; j < m; j++) sum += load<f32>(lut + (<usize>(j * 256 + <i32>load<u8>(o + <usize>j)) << 2));
        }
        if (sum > threshold) {
          size = push(heapS, heapR, size, keep, sum, load<i32>(ids + (<usize>i << 2)));
          if (size == keep) threshold = load<f32>(heapS);
        }
        o += <usize>m;
      }
    }
    for (let j = 0; j < keep; j++) {
      const at = <usize>(b * keep + j) << 2;
      store<i32>(outRows + at, j < size ? load<i32>(heapR + (<usize>j << 2)) : -1);
      store<f32>(outScores + at, j < size ? load<f32>(heapS + (<usize>j << 2)) : -Infinity);
    }
  }
}
