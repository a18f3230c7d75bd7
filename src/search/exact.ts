// Exact k-nearest-neighbour search: blocked GEMM + TopK run by onnxruntime, merged across blocks with bounded memory.
import ort from 'onnxruntime-node';
import { VisidError } from '../util/errors.js';
import { assertFiniteRows, l2NormalizeRows, rowSquaredNorms } from '../util/vectors.js';
import { OnnxGraph } from '../formats/onnx-graph.js';
import { emptyTopK, mergeTopK, TopK } from './topk.js';

/** cosine: inner product of L2-normalised vectors. ip: raw inner product. l2: squared Euclidean distance. */
export type Metric = 'cosine' | 'ip' | 'l2';

export interface ExactSearchOptions {
  metric?: Metric;
  /** Memory for one block of scores, in bytes (default 64 MiB); bounds memory for any gallery size. */
  scoreMemoryBytes?: number;
  /** Gallery rows per block (default: up to 262,144, or all). */
  blockRows?: number;
  /** onnxruntime intra-op threads (default: all cores). */
  threads?: number;
}

export interface SearchResult extends TopK {
  metric: Metric;
  /** For l2, `scores` hold negated squared distances; `distances` holds them positive. */
  distances?: Float32Array;
}

/** The kernel graph: scores = alpha·Q·Gᵀ + bias (Gemm, no transposed copy), then TopK along the gallery axis. */
function kernelBytes(withBias: boolean): Uint8Array {
  const g = new OnnxGraph('visid_exact_search');
  const q = g.input('queries', ['q', 'd']);
  const x = g.input('gallery', ['n', 'd']);
  const k = g.input('k', [1]);
  const inputs = [q, x];
  if (withBias) inputs.push(g.input('bias', ['n']));
  const kInt = g.node('Cast', [k], { to: 7 });
  const scores = g.node('Gemm', inputs, { transB: 1, alpha: { float: withBias ? 2 : 1 }, beta: { float: 1 } });
  g.node('TopK', [scores, kInt], { axis: 1, largest: 1, sorted: 1 }, ['values', 'indices']);
  g.output('values', ['q', 'kk']);
  g.output('indices', ['q', 'kk'], 'int64');
  return g.toBytes('visid exact search kernel');
}

/**
 * An exact index over a fixed matrix of `dim`-dimensional row vectors. For cosine the rows are normalised on
 * construction (a copy is made only when some row is not already unit-length).
 */
export class ExactIndex {
  readonly metric: Metric;
  readonly count: number;
  private readonly vectors: Float32Array;
  private readonly blockRows: number;
  private readonly scoreMemoryBytes: number;
  private readonly bias?: Float32Array;
  private session?: ort.InferenceSession;
  private readonly threads: number;

  private constructor(vectors: Float32Array, readonly dim: number, options: ExactSearchOptions) {
    this.metric = options.metric ?? 'cosine';
    if (dim <= 0 || !Number.isInteger(dim)) throw new VisidError('E_DIM', `invalid dimension ${dim}`);
    if (vectors.length % dim !== 0) throw new VisidError('E_DIM', `${vectors.length} values is not a whole number of ${dim}-d rows`);
    this.count = vectors.length / dim;
    if (this.metric === 'cosine') {
      const norms = rowSquaredNorms(vectors, dim);
      const unit = norms.every((n) => n === 0 || Math.abs(n - 1) < 1e-4);
      vectors = unit ? vectors : l2NormalizeRows(Float32Array.from(vectors), dim);
    }
    this.vectors = vectors;
    if (this.metric === 'l2') this.bias = rowSquaredNorms(vectors, dim).map((v) => -v);
    this.scoreMemoryBytes = options.scoreMemoryBytes ?? 64 * 1024 * 1024;
    this.blockRows = Math.max(1, Math.min(options.blockRows ?? 262_144, this.count || 1));
    this.threads = options.threads ?? 0;
  }

  static async create(vectors: Float32Array, dim: number, options: ExactSearchOptions = {}): Promise<ExactIndex> {
    const index = new ExactIndex(vectors, dim, options);
    index.session = await ort.InferenceSession.create(kernelBytes(index.metric === 'l2'), {
      intraOpNumThreads: index.threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    return index;
  }

  /** Top-k of each of the `queries` rows (row-major, `dim` columns). */
  async search(queries: Float32Array, k: number): Promise<SearchResult> {
    if (!Number.isInteger(k) || k < 1) throw new VisidError('E_INPUT', `k must be a positive integer, got ${k}`);
    if (queries.length % this.dim !== 0) {
      throw new VisidError('E_DIM', `query has ${queries.length % this.dim === 0 ? '' : queries.length + ' values, not a multiple of '}dimension ${this.dim}`);
    }
    assertFiniteRows(queries, this.dim);
    const nq = queries.length / this.dim;
    if (this.metric === 'cosine') queries = l2NormalizeRows(Float32Array.from(queries), this.dim);
    const acc = emptyTopK(nq, k);
    if (this.count === 0 || nq === 0) return { ...acc, metric: this.metric, distances: this.metric === 'l2' ? new Float32Array(nq * k).fill(Infinity) : undefined };

    const queryBatch = Math.max(1, Math.min(nq, Math.floor(this.scoreMemoryBytes / 4 / this.blockRows)));
    for (let q0 = 0; q0 < nq; q0 += queryBatch) {
      const rows = Math.min(queryBatch, nq - q0);
      const qTensor = new ort.Tensor('float32', queries.subarray(q0 * this.dim, (q0 + rows) * this.dim), [rows, this.dim]);
      for (let g0 = 0; g0 < this.count; g0 += this.blockRows) {
        const n = Math.min(this.blockRows, this.count - g0);
        const kb = Math.min(k, n);
        const feeds: Record<string, ort.Tensor> = {
          queries: qTensor,
          gallery: new ort.Tensor('float32', this.vectors.subarray(g0 * this.dim, (g0 + n) * this.dim), [n, this.dim]),
          k: new ort.Tensor('float32', new Float32Array([kb]), [1]),
        };
        if (this.bias) feeds['bias'] = new ort.Tensor('float32', this.bias.subarray(g0, g0 + n), [n]);
        const out = await this.session!.run(feeds);
        mergeTopK(acc, out['values']!.data as Float32Array, out['indices']!.data as BigInt64Array, kb, g0, q0, rows);
      }
    }
    if (this.metric !== 'l2') return { ...acc, metric: this.metric };
    // Scores are 2q·g − |g|²; the squared distance is |q|² minus that.
    const qNorms = rowSquaredNorms(queries, this.dim);
    const distances = new Float32Array(nq * k);
    for (let q = 0; q < nq; q++) {
      for (let j = 0; j < k; j++) {
        const i = q * k + j;
        distances[i] = acc.indices[i]! < 0 ? Infinity : Math.max(0, qNorms[q]! - acc.scores[i]!);
      }
    }
    return { ...acc, metric: this.metric, distances };
  }

  async close(): Promise<void> {
    await this.session?.release();
    this.session = undefined;
  }
}
