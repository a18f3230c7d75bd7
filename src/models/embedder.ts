// Runs an ONNX image model through onnxruntime: batches, flip / multi-scale views, L2-normalised descriptors.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { availableParallelism } from 'node:os';
import ort from 'onnxruntime-node';
import { VisidError } from '../util/errors.js';
import { FusionMode, fuseDescriptors, l2NormalizeRows } from '../util/vectors.js';
import { ImagePool } from '../images/pool.js';
import type { PreprocessSpec } from '../images/preprocess.js';
import { loadCard, ModelCard } from './model-card.js';

export interface EmbedderOptions {
  /** Card fields that override the card file (e.g. from CLI flags). */
  card?: Partial<ModelCard>;
  /** onnxruntime intra-op threads (default: one per core). */
  threads?: number;
  /** Decode worker threads (default: one per core; 0 decodes on the main thread). */
  workers?: number;
  /** Let onnxruntime's threads spin while waiting (faster only when nothing else needs the cores). Default false. */
  spinning?: boolean;
  /** L2-normalise descriptors (default true); false returns the raw outputs, e.g. backbone features for head training. */
  normalize?: boolean;
}

export interface EmbedOptions {
  batchSize?: number;
  /** Also embed the mirrored image and fuse it in (test-time augmentation). */
  flip?: boolean;
  /** Embed only the mirrored image (a training view); exclusive with flip. */
  mirror?: boolean;
  /** Input-size multipliers, e.g. [0.526, 0.588, 1, 1.7, 1.9] (seed 001 §8); default [1]. */
  scales?: number[];
  /** How views (scales, flips) are fused; default avg. */
  fusion?: FusionMode;
  /** Pixel limit per image (decompression-bomb guard). */
  maxPixels?: number;
  /** Scale every pixel value by this factor first (seed 001 §4.1: test-time darkening by 0.15). */
  brightness?: number;
  /** Called after each batch with the number of images done in it. */
  onProgress?: (n: number) => void;
  /** When given, a bad image is reported here and skipped instead of failing the whole run. */
  onError?: (index: number, error: Error) => void;
}

export interface EmbedResult {
  /** Descriptors of the images that succeeded, row-major. */
  vectors: Float32Array;
  /** Input positions of those rows (all of them unless onError skipped some). */
  indices: number[];
}

/** The embedder's own view of its configuration, stored in galleries so queries are embedded the same way. */
export interface EmbedConfig {
  flip: boolean;
  scales: number[];
  fusion: FusionMode;
  /** Pixel scaling before the model (test-time darkening), when used. */
  brightness?: number;
}

export class Embedder {
  private constructor(
    readonly modelPath: string,
    readonly modelId: string,
    readonly card: ModelCard,
    private readonly session: ort.InferenceSession,
    private readonly pool: ImagePool,
    private readonly inputName: string,
    private readonly outputName: string,
    private readonly fixedSpatial: boolean,
    private readonly normalize: boolean,
  ) {}

  /** Descriptor length, known after the first run (or from the card). */
  dim: number | undefined;
  /** Shape of one output row as the model returns it (e.g. [C, H, W] for a feature-map backbone), after the first run. */
  outputShape: number[] | undefined;

  static async load(modelPath: string, options: EmbedderOptions = {}): Promise<Embedder> {
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(modelPath);
    } catch {
      throw new VisidError('E_NOT_FOUND', 'model file does not exist', { item: modelPath });
    }
    const card = await loadCard(modelPath, options.card);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, {
        intraOpNumThreads: options.threads ?? availableParallelism(),
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        // Spinning onnxruntime threads would steal the cores the decode workers need between batches.
        ...(options.spinning ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
      });
    } catch (err) {
      throw new VisidError('E_MODEL', `onnxruntime cannot load the model: ${(err as Error).message}`, { item: modelPath, cause: err });
    }
    const inputName = card.inputName ?? session.inputNames[0]!;
    const outputName = card.outputName ?? session.outputNames[0]!;
    if (!session.inputNames.includes(inputName)) throw new VisidError('E_MODEL', `model has no input '${inputName}' (has ${session.inputNames.join(', ')})`, { item: modelPath });
    if (!session.outputNames.includes(outputName)) throw new VisidError('E_MODEL', `model has no output '${outputName}' (has ${session.outputNames.join(', ')})`, { item: modelPath });
    const meta = session.inputMetadata.find((m) => m.name === inputName);
    let fixedSpatial = false;
    if (meta && meta.isTensor && meta.shape.length === 4) {
      const [h, w] = card.layout === 'NCHW' ? [meta.shape[2], meta.shape[3]] : [meta.shape[1], meta.shape[2]];
      const c = card.layout === 'NCHW' ? meta.shape[1] : meta.shape[3];
      if (typeof c === 'number' && c !== 3) throw new VisidError('E_MODEL', `input '${inputName}' has ${c} channels in ${card.layout} layout, expected 3 (check 'layout' in the card)`, { item: modelPath });
      fixedSpatial = typeof h === 'number' && typeof w === 'number';
      if (fixedSpatial && (h !== card.inputSize[0] || w !== card.inputSize[1])) {
        throw new VisidError('E_MODEL', `model input is ${h}×${w} but the card says ${card.inputSize[0]}×${card.inputSize[1]}`, { item: modelPath });
      }
    }
    const modelId = createHash('sha256').update(bytes).digest('hex');
    const pool = new ImagePool({ workers: options.workers });
    const embedder = new Embedder(modelPath, modelId, card, session, pool, inputName, outputName, fixedSpatial, options.normalize ?? true);
    embedder.dim = card.outputDim;
    return embedder;
  }

  /** The preprocessing for one scale of this model's input. */
  spec(scale = 1, maxPixels?: number): PreprocessSpec {
    const [h, w] = this.card.inputSize;
    return {
      width: Math.max(1, Math.round(w * scale)),
      height: Math.max(1, Math.round(h * scale)),
      resize: this.card.resize,
      layout: this.card.layout,
      mean: this.card.mean,
      std: this.card.std,
      maxPixels,
    };
  }

  /**
   * Runs the model on `n` preprocessed images packed in `batch` (height×width each) and returns n
   * L2-normalised descriptors. `names` label rows in errors.
   */
  async embedTensors(batch: Float32Array, n: number, height: number, width: number, names?: string[]): Promise<Float32Array> {
    if (batch.length !== n * 3 * height * width) {
      throw new VisidError('E_DIM', `batch holds ${batch.length} values, ${n} images of 3×${height}×${width} need ${n * 3 * height * width}`);
    }
    const dims = this.card.layout === 'NCHW' ? [n, 3, height, width] : [n, height, width, 3];
    let out: ort.Tensor;
    try {
      const result = await this.session.run({ [this.inputName]: new ort.Tensor('float32', batch, dims) });
      out = result[this.outputName]!;
    } catch (err) {
      throw new VisidError('E_MODEL', `inference failed: ${(err as Error).message}`, { item: this.modelPath, cause: err });
    }
    if (out.type !== 'float32') throw new VisidError('E_MODEL', `output '${this.outputName}' is ${out.type}, expected float32`, { item: this.modelPath });
    const data = out.data as Float32Array;
    if (data.length % n !== 0 || out.dims[0] !== n) {
      throw new VisidError('E_MODEL', `output shape [${out.dims}] does not have one row per image (${n})`, { item: this.modelPath });
    }
    const dim = data.length / n;
    this.outputShape = out.dims.slice(1).map(Number);
    if (this.card.outputDim !== undefined && dim !== this.card.outputDim) {
      throw new VisidError('E_DIM', `model output has dimension ${dim}, the card says ${this.card.outputDim}`, { item: this.modelPath });
    }
    if (this.dim !== undefined && dim !== this.dim) throw new VisidError('E_DIM', `model output changed dimension from ${this.dim} to ${dim}`, { item: this.modelPath });
    this.dim = dim;
    const vectors = Float32Array.from(data);
    for (let i = 0; i < vectors.length; i++) {
      if (!Number.isFinite(vectors[i]!)) {
        throw new VisidError('E_NAN', 'model produced a non-finite descriptor', { item: names?.[Math.floor(i / dim)] ?? `row ${Math.floor(i / dim)}` });
      }
    }
    return this.normalize ? l2NormalizeRows(vectors, dim) : vectors;
  }

  /**
   * Embeds images (file paths, or files' bytes; `names` label them in errors): decoding runs in worker threads
   * one batch ahead of inference.
   */
  async embedFiles(paths: Array<string | Uint8Array>, options: EmbedOptions & { names?: string[] } = {}): Promise<EmbedResult> {
    const nameOf = (i: number) => options.names?.[i] ?? (typeof paths[i] === 'string' ? (paths[i] as string) : `image ${i}`);
    const batchSize = options.batchSize ?? 32;
    const scales = options.scales ?? [1];
    const fusion = options.fusion ?? 'avg';
    const flip = options.flip ?? false;
    const mirror = options.mirror ?? false;
    if (flip && mirror) throw new VisidError('E_INPUT', 'flip (fuse the mirror in) and mirror (the mirror alone) exclude each other');
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new VisidError('E_INPUT', `batch size must be a positive integer, got ${batchSize}`);
    if (scales.length === 0 || scales.some((s) => !(s > 0))) throw new VisidError('E_INPUT', `scales must be positive numbers, got [${scales}]`);
    if (this.fixedSpatial && scales.some((s) => s !== 1)) {
      throw new VisidError('E_MODEL', 'multi-scale needs a model with dynamic height/width inputs; this one is fixed', { item: this.modelPath });
    }
    if (options.brightness !== undefined && !(options.brightness > 0 && Number.isFinite(options.brightness))) throw new VisidError('E_INPUT', `brightness factor must be a positive number, got ${options.brightness}`);
    const specs = scales.map((s) => ({ ...this.spec(s, options.maxPixels), ...(options.brightness === undefined ? {} : { brightness: options.brightness }) }));
    const rows: Float32Array[] = [];
    const indices: number[] = [];

    // Starts decoding a batch for every scale; the promises settle in the workers while the model runs.
    const prepare = (start: number) => {
      const end = Math.min(start + batchSize, paths.length);
      return specs.map((spec) =>
        Promise.allSettled(paths.slice(start, end).map((p, j) => this.pool.preprocess(p, spec, flip || mirror, nameOf(start + j)))),
      );
    };

    let pending = paths.length > 0 ? prepare(0) : [];
    for (let start = 0; start < paths.length; start += batchSize) {
      const end = Math.min(start + batchSize, paths.length);
      const settledPerScale = await Promise.all(pending);
      pending = end < paths.length ? prepare(end) : [];
      // An image fails if any of its views failed.
      const ok: number[] = [];
      for (let i = 0; i < end - start; i++) {
        const failed = settledPerScale.map((s) => s[i]!).find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
        if (!failed) ok.push(i);
        else if (options.onError) options.onError(start + i, failed.reason as Error);
        else {
          await Promise.allSettled(pending.flat());
          throw failed.reason;
        }
      }
      if (ok.length > 0) {
        const names = ok.map((i) => nameOf(start + i));
        const views: Float32Array[][] = ok.map(() => []);
        for (let s = 0; s < specs.length; s++) {
          const spec = specs[s]!;
          const settled = settledPerScale[s]!;
          const per = 3 * spec.width * spec.height;
          for (const useFlip of flip ? [false, true] : [mirror]) {
            const batch = new Float32Array(ok.length * per);
            ok.forEach((i, j) => {
              const r = (settled[i] as PromiseFulfilledResult<{ tensor: Float32Array; flipped?: Float32Array }>).value;
              batch.set(useFlip ? r.flipped! : r.tensor, j * per);
            });
            const out = await this.embedTensors(batch, ok.length, spec.height, spec.width, names);
            const dim = this.dim!;
            ok.forEach((_, j) => views[j]!.push(out.subarray(j * dim, (j + 1) * dim)));
          }
        }
        for (let j = 0; j < ok.length; j++) {
          rows.push(views[j]!.length === 1 ? views[j]![0]! : fuseDescriptors(views[j]!, fusion));
          indices.push(start + ok[j]!);
        }
      }
      options.onProgress?.(end - start);
    }
    const dim = this.dim ?? 0;
    const vectors = new Float32Array(rows.length * dim);
    rows.forEach((r, i) => vectors.set(r, i * dim));
    return { vectors, indices };
  }

  async close(): Promise<void> {
    await this.pool.close();
    await this.session.release();
  }
}
