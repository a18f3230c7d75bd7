// The frozen trunk of a fine-tuned backbone run by onnxruntime (its threads) instead of tfjs' single-threaded wasm:
// in last-N-blocks (or head-only) training the layers before the trainable ones only run forward, and onnxruntime
// runs MobileNetV2's forward about 6× faster than tfjs here (bench/RESULTS.md). Their output feeds the trainable top.
import { availableParallelism } from 'node:os';
import ort from 'onnxruntime-node';
import { tf } from '../tf/runtime.js';
import { trunkToOnnx } from '../models/keras-backbone.js';
import type { KerasLayersModel } from '../models/keras-layers-onnx.js';

export class FrozenTrunk {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(model: KerasLayersModel, from: string, threads = availableParallelism()): Promise<FrozenTrunk> {
    return new FrozenTrunk(await ort.InferenceSession.create(trunkToOnnx(model, from), { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' }));
  }

  /** NHWC images [N, H, W, 3] → the trunk's NHWC output. */
  async run(x: tf.Tensor): Promise<tf.Tensor4D> {
    const [n, h, w, c] = x.shape as [number, number, number, number];
    const src = x.dataSync() as Float32Array;
    const nchw = new Float32Array(src.length);
    for (let b = 0; b < n; b++) for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) for (let k = 0; k < c; k++) nchw[((b * c + k) * h + y) * w + xx] = src[((b * h + y) * w + xx) * c + k]!;
    const out = (await this.session.run({ image: new ort.Tensor('float32', nchw, [n, c, h, w]) }))['trunk']!;
    const [, C, H, W] = out.dims as [number, number, number, number];
    const o = out.data as Float32Array;
    const nhwc = new Float32Array(o.length);
    for (let b = 0; b < n; b++) for (let k = 0; k < C; k++) for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) nhwc[((b * H + y) * W + xx) * C + k] = o[((b * C + k) * H + y) * W + xx]!;
    return tf.tensor4d(nhwc, [n, H, W, C]);
  }

  close(): Promise<void> {
    return this.session.release();
  }
}
