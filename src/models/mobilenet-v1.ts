// A trained backbone that installs offline: the MobileNetV1 body of the SSD face detector whose weights ship in the @vladmandic/face-api npm package, rebuilt as ONNX (feature map, or GeM-pooled).
//
// The weights (trained by face-api's author on WIDER FACE) are stored uint8-quantized: value = min + q · scale. The
// network, exactly as face-api runs it: input x/127.5 − 1; conv 0 (3×3, stride 2) + bias + ReLU6; then 13 blocks of
// depthwise 3×3 (stride 2 in blocks 2, 4, 6, 12) + batch norm (ε = 0.001) + ReLU6 and pointwise 1×1 + bias + ReLU6;
// TensorFlow's 'same' padding, which is ONNX's SAME_UPPER. Batch norms are folded into the depthwise weights.
import { createRequire } from 'node:module';
import path from 'node:path';
import { OnnxGraph } from '../formats/onnx-graph.js';
import { floatWeight, onnxConvKernel, readTfjsWeights, type TfWeight } from './tfjs-weights.js';
import type { ModelCard } from './model-card.js';

export { readTfjsWeights, type TfWeight } from './tfjs-weights.js';

const require = createRequire(import.meta.url);

export const MOBILENET_MAP_MODEL_NAME = 'visid-mobilenetv1-wider-map-v1';
export const MOBILENET_GEM_MODEL_NAME = 'visid-mobilenetv1-wider-gem-v1';
/** TF's batch-norm ε as face-api passes it. */
const BN_EPSILON = 0.0010000000474974513;
/** Blocks whose depthwise convolution has stride 2. */
const STRIDE_2 = new Set([2, 4, 6, 12]);

/** Folder of face-api's weights inside node_modules. */
export function faceApiModelDir(): string {
  return path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
}

export const SSD_WEIGHTS_MANIFEST = 'ssd_mobilenetv1_model-weights_manifest.json';

/**
 * The 14 layers of face-api's MobileNetV1 (conv 0 and blocks 1–13) appended to `g` after `x` (the input already
 * scaled to [−1, 1]): returns the block-11 and block-13 feature maps (the SSD heads read both).
 */
export function appendMobileNetV1Body(g: OnnxGraph, weights: Map<string, TfWeight>, x: string): { conv11: string; conv13: string } {
  const where = SSD_WEIGHTS_MANIFEST;
  const get = (name: string) => floatWeight(weights, name, where);
  const relu6 = (t: string) => g.node('Clip', [t, g.weight([0], []), g.weight([6], [])]);
  const pointwise = (t: string, layer: number, stride: number) => {
    const w = get(`MobilenetV1/Conv2d_${layer}_pointwise/weights`);
    const b = get(`MobilenetV1/Conv2d_${layer}_pointwise/convolution_bn_offset`);
    const [kh, kw, cin, cout] = w.shape as [number, number, number, number];
    return relu6(g.node('Conv', [t, g.weight(onnxConvKernel(w), [cout, cin, kh, kw]), g.weight(b.values, [cout])], { kernel_shape: [kh, kw], strides: [stride, stride], auto_pad: 'SAME_UPPER' }));
  };
  x = pointwise(x, 0, 2);
  let conv11 = '';
  for (let layer = 1; layer <= 13; layer++) {
    const dw = get(`MobilenetV1/Conv2d_${layer}_depthwise/depthwise_weights`);
    const gamma = get(`MobilenetV1/Conv2d_${layer}_depthwise/BatchNorm/gamma`).values;
    const beta = get(`MobilenetV1/Conv2d_${layer}_depthwise/BatchNorm/beta`).values;
    const mean = get(`MobilenetV1/Conv2d_${layer}_depthwise/BatchNorm/moving_mean`).values;
    const variance = get(`MobilenetV1/Conv2d_${layer}_depthwise/BatchNorm/moving_variance`).values;
    const [kh, kw, c] = dw.shape as [number, number, number, number];
    // Depthwise [kh, kw, C, 1] → [C, 1, kh, kw], with the batch norm folded in: w·γ/σ and β − μ·γ/σ.
    const kernel = new Float32Array(c * kh * kw);
    const bias = new Float32Array(c);
    for (let ch = 0; ch < c; ch++) {
      const s = gamma[ch]! / Math.sqrt(variance[ch]! + BN_EPSILON);
      for (let y = 0; y < kh; y++) for (let xx = 0; xx < kw; xx++) kernel[(ch * kh + y) * kw + xx] = dw.values[(y * kw + xx) * c + ch]! * s;
      bias[ch] = beta[ch]! - mean[ch]! * s;
    }
    const stride = STRIDE_2.has(layer) ? 2 : 1;
    x = relu6(g.node('Conv', [x, g.weight(kernel, [c, 1, kh, kw]), g.weight(bias, [c])], { kernel_shape: [kh, kw], strides: [stride, stride], group: c, auto_pad: 'SAME_UPPER' }));
    x = pointwise(x, layer, 1);
    if (layer === 11) conv11 = x;
  }
  return { conv11, conv13: x };
}

/**
 * The MobileNetV1 body as ONNX, from face-api's SSD weights: output the block-13 feature map [N, 1024, H/32, W/32]
 * (`pooled: false`) or its GeM (p = 3) pooling to 1024-d. Any input size (multi-scale works).
 */
export async function buildMobileNetV1Model(options: { pooled?: boolean; modelDir?: string } = {}): Promise<{ onnx: Uint8Array; card: ModelCard }> {
  const weights = await readTfjsWeights(path.join(options.modelDir ?? faceApiModelDir(), SSD_WEIGHTS_MANIFEST));
  const name = options.pooled ? MOBILENET_GEM_MODEL_NAME : MOBILENET_MAP_MODEL_NAME;
  const g = new OnnxGraph(name);
  const x = appendMobileNetV1Body(g, weights, g.input('image', ['N', 3, 'H', 'W'])).conv13;
  const description = options.pooled
    ? 'MobileNetV1 body of face-api\'s SSD face detector (trained on WIDER FACE; weights from the @vladmandic/face-api npm package) + GeM (p = 3), 1024-d. A trained, general-purpose-ish feature extractor that installs offline; faces and people are what it saw most.'
    : 'MobileNetV1 body of face-api\'s SSD face detector (trained on WIDER FACE; weights from the @vladmandic/face-api npm package): the block-13 feature map [N, 1024, H/32, W/32], for GeM heads (CosPlace) and local-feature re-ranking.';
  if (options.pooled) {
    const clipped = g.node('Clip', [x, g.weight([1e-6], []), g.weight([1e6], [])]);
    const pooled = g.node('GlobalAveragePool', [g.node('Pow', [clipped, g.weight([3], [])])]);
    g.node('Flatten', [g.node('Pow', [pooled, g.weight([1 / 3], [])])], { axis: 1 }, ['embedding']);
    g.output('embedding', ['N', 1024]);
  } else {
    g.node('Identity', [x], {}, ['features']);
    g.output('features', ['N', 1024, 'h', 'w']);
  }
  const card: ModelCard = {
    name,
    inputSize: [256, 256],
    layout: 'NCHW',
    // face-api feeds x / 127.5 − 1, i.e. (x/255 − 0.5) / 0.5.
    mean: [0.5, 0.5, 0.5],
    std: [0.5, 0.5, 0.5],
    resize: 'shorter-crop',
    inputName: 'image',
    outputName: options.pooled ? 'embedding' : 'features',
    ...(options.pooled ? { outputDim: 1024 } : {}),
    description,
  };
  return { onnx: g.toBytes(description), card };
}
