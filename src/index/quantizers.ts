// The quantisers behind IVF-PQ (Jégou et al., "Product quantization for nearest neighbor search", 2011, as in faiss'
// IndexIVFPQ): a coarse k-means quantiser that splits the rows into inverted lists, and a product quantiser that
// codes each row's residual from its list centroid as m bytes. The heavy arithmetic (point-to-centroid distances)
// runs as onnxruntime GEMMs; what is left in JavaScript is linear in the data.
import ort from 'onnxruntime-node';
import { OnnxGraph } from '../formats/onnx-graph.js';
import { VisidError } from '../util/errors.js';

/** Seeded xorshift generator: training samples and k-means starts are reproducible. */
export function seededRandom(seed: number): () => number {
  let s = (seed >>> 0) || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** `count` distinct integers from [0, n), ascending (Floyd's algorithm: no n-sized array). */
export function sampleIndices(n: number, count: number, random: () => number): Int32Array {
  if (count >= n) return Int32Array.from({ length: n }, (_, i) => i);
  const chosen = new Set<number>();
  for (let j = n - count; j < n; j++) {
    const t = Math.floor(random() * (j + 1));
    chosen.add(chosen.has(t) ? j : t);
  }
  return Int32Array.from(chosen).sort();
}

function nearestKernel(): Uint8Array {
  const g = new OnnxGraph('visid_nearest_centroids');
  const x = g.input('points', ['n', 'd']);
  const c = g.input('centroids', ['k', 'd']);
  const bias = g.input('bias', ['k']);
  const top = g.input('top', [1]);
  // argmin |x − c|² = argmax 2x·c − |c|² (|x|² is the same for every centroid).
  const scores = g.node('Gemm', [x, c, bias], { transB: 1, alpha: { float: 2 }, beta: { float: 1 } });
  g.node('TopK', [scores, g.node('Cast', [top], { to: 7 })], { axis: 1, largest: 1, sorted: 1 }, ['values', 'indices']);
  g.output('values', ['n', 't']);
  g.output('indices', ['n', 't'], 'int64');
  return g.toBytes('visid nearest-centroid kernel');
}

function subspaceKernel(m: number): Uint8Array {
  const g = new OnnxGraph('visid_pq_encode');
  const x = g.input('points', ['n', 'd']);
  const books = g.input('codebooks', [m, 'dsub', 256]); // transposed: [m, dsub, 256]
  const bias = g.input('bias', [m, 1, 256]);
  const split = g.node('Reshape', [x, g.int64([0, m, -1])]);
  const perSub = g.node('Transpose', [split], { perm: [1, 0, 2] }); // [m, n, dsub]
  const dots = g.node('MatMul', [perSub, books]); // [m, n, 256]
  const two = g.weight([2], [1]);
  const scores = g.node('Add', [g.node('Mul', [dots, two]), bias]);
  g.node('ArgMax', [scores], { axis: 2, keepdims: 0 }, ['codes']);
  g.output('codes', [m, 'n'], 'int64');
  return g.toBytes('visid product-quantiser encoder');
}

// No spinning after a run: the scan threads need the cores the moment the GEMM is done.
const sessionOptions = (threads: number): ort.InferenceSession.SessionOptions => ({ intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', extra: { session: { intra_op: { allow_spinning: '0' } } } });

/** Nearest centroids of many points (squared L2), in blocks whose score matrix stays under 64 MiB. */
export class CentroidSearch {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly centroids: Float32Array,
    readonly count: number,
    readonly dim: number,
    private readonly bias: Float32Array,
  ) {}

  static async create(centroids: Float32Array, dim: number, threads = 0): Promise<CentroidSearch> {
    const count = centroids.length / dim;
    const bias = new Float32Array(count);
    for (let c = 0; c < count; c++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += centroids[c * dim + j]! ** 2;
      bias[c] = -s;
    }
    const session = await ort.InferenceSession.create(nearestKernel(), sessionOptions(threads));
    return new CentroidSearch(session, centroids, count, dim, bias);
  }

  /** The `top` nearest centroids of each point (row-major n×top), nearest first. */
  async nearest(points: Float32Array, top = 1): Promise<Int32Array> {
    return (await this.nearestWithDots(points, top)).indices;
  }

  /** As `nearest`, with each point's inner product with those centroids. */
  async nearestWithDots(points: Float32Array, top = 1): Promise<{ indices: Int32Array; dots: Float32Array }> {
    const n = points.length / this.dim;
    top = Math.min(top, this.count);
    const out = new Int32Array(n * top);
    const dots = new Float32Array(n * top);
    const block = Math.max(1, Math.floor((16 * 1024 * 1024) / this.count));
    const centroids = new ort.Tensor('float32', this.centroids, [this.count, this.dim]);
    const bias = new ort.Tensor('float32', this.bias, [this.count]);
    const topTensor = new ort.Tensor('float32', new Float32Array([top]), [1]);
    for (let s = 0; s < n; s += block) {
      const rows = Math.min(block, n - s);
      const r = await this.session.run({ points: new ort.Tensor('float32', points.subarray(s * this.dim, (s + rows) * this.dim), [rows, this.dim]), centroids, bias, top: topTensor });
      const idx = r['indices']!.data as BigInt64Array;
      const values = r['values']!.data as Float32Array;
      for (let i = 0; i < rows * top; i++) {
        const c = Number(idx[i]);
        out[s * top + i] = c;
        dots[s * top + i] = (values[i]! - this.bias[c]!) / 2; // value = 2x·c − |c|²
      }
    }
    return { indices: out, dots };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

export interface KMeansOptions {
  iterations?: number;
  seed?: number;
  threads?: number;
}

/**
 * Lloyd's k-means (squared L2) from `k` distinct random points; an emptied cluster takes half of the largest one
 * (faiss' rule: the big centroid is split into two slightly perturbed copies).
 */
export async function kmeans(points: Float32Array, dim: number, k: number, options: KMeansOptions = {}): Promise<Float32Array> {
  const n = points.length / dim;
  if (n < k) throw new VisidError('E_INPUT', `k-means needs at least ${k} points, got ${n}`);
  const random = seededRandom(options.seed ?? 1234);
  const start = sampleIndices(n, k, random);
  const centroids = new Float32Array(k * dim);
  start.forEach((row, c) => centroids.set(points.subarray(row * dim, (row + 1) * dim), c * dim));
  const sums = new Float64Array(k * dim);
  const counts = new Int32Array(k);
  for (let it = 0; it < (options.iterations ?? 20); it++) {
    const search = await CentroidSearch.create(centroids, dim, options.threads);
    const assign = await search.nearest(points, 1);
    await search.close();
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const c = assign[i]!;
      counts[c]!++;
      const o = i * dim;
      const co = c * dim;
      for (let j = 0; j < dim; j++) sums[co + j] += points[o + j]!;
    }
    for (let c = 0; c < k; c++) {
      if (counts[c]! === 0) continue;
      for (let j = 0; j < dim; j++) centroids[c * dim + j] = sums[c * dim + j]! / counts[c]!;
    }
    for (let c = 0; c < k; c++) {
      if (counts[c]! > 0) continue;
      let big = 0;
      for (let b = 1; b < k; b++) if (counts[b]! > counts[big]!) big = b;
      for (let j = 0; j < dim; j++) {
        const v = centroids[big * dim + j]!;
        const eps = (j % 2 === 0 ? 1 : -1) * 1e-4 * (Math.abs(v) + 1e-3);
        centroids[c * dim + j] = v + eps;
        centroids[big * dim + j] = v - eps;
      }
      const half = counts[big]! >> 1;
      counts[c] = half;
      counts[big] = counts[big]! - half;
    }
  }
  return centroids;
}

/** A product quantiser: `m` sub-spaces of dim/m values, 256 codewords each (one byte per sub-space). */
export class ProductQuantizer {
  private session?: ort.InferenceSession;
  private constructor(
    readonly dim: number,
    readonly m: number,
    /** m × 256 × dsub codewords. */
    readonly codebooks: Float32Array,
  ) {}

  get dsub(): number {
    return this.dim / this.m;
  }

  static fromCodebooks(dim: number, m: number, codebooks: Float32Array): ProductQuantizer {
    if (dim % m !== 0) throw new VisidError('E_INPUT', `PQ${m} needs a dimension divisible by ${m}; the gallery has ${dim}`);
    if (codebooks.length !== m * 256 * (dim / m)) throw new VisidError('E_GALLERY', `PQ codebooks hold ${codebooks.length} values, expected ${m * 256 * (dim / m)}`);
    return new ProductQuantizer(dim, m, codebooks);
  }

  /** Trains the m codebooks by k-means on the sub-vectors of `points`. */
  static async train(points: Float32Array, dim: number, m: number, options: KMeansOptions = {}): Promise<ProductQuantizer> {
    if (dim % m !== 0) throw new VisidError('E_INPUT', `PQ${m} needs a dimension divisible by ${m}; the gallery has ${dim}`);
    const n = points.length / dim;
    const dsub = dim / m;
    const codebooks = new Float32Array(m * 256 * dsub);
    const sub = new Float32Array(n * dsub);
    for (let s = 0; s < m; s++) {
      for (let i = 0; i < n; i++) sub.set(points.subarray(i * dim + s * dsub, i * dim + (s + 1) * dsub), i * dsub);
      codebooks.set(await kmeans(sub, dsub, 256, { ...options, seed: (options.seed ?? 1234) + s }), s * 256 * dsub);
    }
    return new ProductQuantizer(dim, m, codebooks);
  }

  private booksTensors?: { books: ort.Tensor; bias: ort.Tensor };

  private async prepare(threads: number): Promise<{ session: ort.InferenceSession; books: ort.Tensor; bias: ort.Tensor }> {
    const { m, dsub } = this;
    this.session ??= await ort.InferenceSession.create(subspaceKernel(m), sessionOptions(threads));
    if (!this.booksTensors) {
    const booksT = new Float32Array(m * dsub * 256);
    const bias = new Float32Array(m * 256);
    for (let s = 0; s < m; s++) {
      for (let c = 0; c < 256; c++) {
        let norm = 0;
        for (let j = 0; j < dsub; j++) {
          const v = this.codebooks[(s * 256 + c) * dsub + j]!;
          booksT[(s * dsub + j) * 256 + c] = v;
          norm += v * v;
        }
        bias[s * 256 + c] = -norm;
      }
    }
      this.booksTensors = { books: new ort.Tensor('float32', booksT, [m, dsub, 256]), bias: new ort.Tensor('float32', bias, [m, 1, 256]) };
    }
    return { session: this.session, ...this.booksTensors };
  }

  /** The m-byte codes of each row of `points` (n × m). */
  async encode(points: Float32Array, threads = 0): Promise<Uint8Array> {
    const { m } = this;
    const { session, books, bias } = await this.prepare(threads);
    const n = points.length / this.dim;
    const codes = new Uint8Array(n * m);
    const block = Math.max(1, Math.floor((16 * 1024 * 1024) / (256 * m)));
    for (let s = 0; s < n; s += block) {
      const rows = Math.min(block, n - s);
      const r = await session.run({ points: new ort.Tensor('float32', points.subarray(s * this.dim, (s + rows) * this.dim), [rows, this.dim]), codebooks: books, bias }, ['codes']);
      const out = r['codes']!.data as BigInt64Array; // [m, rows]
      for (let sub = 0; sub < m; sub++) for (let i = 0; i < rows; i++) codes[(s + i) * m + sub] = Number(out[sub * rows + i]);
    }
    return codes;
  }

  /** The reconstruction of one code (for tests and exact checks). */
  decode(code: ArrayLike<number>): Float32Array {
    const out = new Float32Array(this.dim);
    for (let s = 0; s < this.m; s++) out.set(this.codebooks.subarray((s * 256 + code[s]!) * this.dsub, (s * 256 + code[s]! + 1) * this.dsub), s * this.dsub);
    return out;
  }

  async close(): Promise<void> {
    await this.session?.release();
    this.session = undefined;
  }
}

function candidateKernel(): Uint8Array {
  const g = new OnnxGraph('visid_candidate_scores');
  const q = g.input('queries', ['n', 'd']);
  const c = g.input('candidates', ['n', 'k', 'd']);
  const column = g.node('Reshape', [q, g.int64([0, -1, 1])]); // [n, d, 1]
  g.node('Reshape', [g.node('MatMul', [c, column]), g.int64([0, -1])], {}, ['dots']); // [n, k]
  g.node('ReduceSumSquare', [c], { axes: [2], keepdims: 0 }, ['norms']); // [n, k]
  g.output('dots', ['n', 'k']);
  g.output('norms', ['n', 'k']);
  return g.toBytes('visid candidate re-scoring kernel');
}

/**
 * Exact cosines of each query with its own candidate rows, for a whole block of queries in one batched GEMM
 * (the re-rank of IVF-PQ's RFlat): dots[i, j] = q_i · c_ij and norms[i, j] = |c_ij|².
 */
export class CandidateScorer {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(threads = 0): Promise<CandidateScorer> {
    return new CandidateScorer(await ort.InferenceSession.create(candidateKernel(), sessionOptions(threads)));
  }

  async score(queries: Float32Array, candidates: Float32Array, n: number, k: number, dim: number): Promise<{ dots: Float32Array; norms: Float32Array }> {
    const r = await this.session.run({ queries: new ort.Tensor('float32', queries, [n, dim]), candidates: new ort.Tensor('float32', candidates, [n, k, dim]) });
    return { dots: r['dots']!.data as Float32Array, norms: r['norms']!.data as Float32Array };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
