// A trained backbone that installs offline: the MobileNetV1 body of the SSD face detector whose weights ship in the @vladmandic/face-api npm package, rebuilt as ONNX (feature map, or GeM-pooled).
//
// The weights (trained by face-api's author on WIDER FACE) are stored uint8-quantized: value = min + q · scale. The
// network, exactly as face-api runs it: input x/127.5 − 1; conv 0 (3×3, stride 2) + bias + ReLU6; then 13 blocks of
// depthwise 3×3 (stride 2 in blocks 2, 4, 6, 12) + batch norm (ε = 0.001) + ReLU6 and pointwise 1×1 + bias + ReLU6;
// TensorFlow's 'same' padding, which is ONNX's SAME_UPPER. Batch norms are folded into the depthwise weights.
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { OnnxGraph } from './onnx-graph.js';
import type { ModelCard } from './model-card.js';
import { VisidError } from '../util/errors.js';

const require = createRequire(import.meta.url);

export const MOBILENET_MAP_MODEL_NAME = 'visid-mobilenetv1-wider-map-v1';
export const MOBILENET_GEM_MODEL_NAME = 'visid-mobilenetv1-wider-gem-v1';
/** TF's batch-norm ε as face-api passes it. */
const BN_EPSILON = 0.0010000000474974513;
/** Blocks whose depthwise convolution has stride 2. */
const STRIDE_2 = new Set([2, 4, 6, 12]);

interface ManifestWeight {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { scale: number; min: number; dtype: string };
}

export interface TfWeight {
  shape: number[];
  values: Float32Array;
}

/** Folder of face-api's weights inside node_modules. */
export function faceApiModelDir(): string {
  return path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
}

/** Reads a tfjs weights manifest and its .bin, dequantizing uint8 weights; by name. */
export async function readTfjsWeights(manifestFile: string): Promise<Map<string, TfWeight>> {
  const manifest = JSON.parse(await fs.readFile(manifestFile, 'utf8')) as Array<{ paths: string[]; weights: ManifestWeight[] }>;
  const out = new Map<string, TfWeight>();
  for (const group of manifest) {
    const bin = Buffer.concat(await Promise.all(group.paths.map((p) => fs.readFile(path.join(path.dirname(manifestFile), p)))));
    let offset = 0;
    for (const w of group.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const values = new Float32Array(n);
      if (w.quantization) {
        if (w.quantization.dtype !== 'uint8') throw new VisidError('E_MODEL', `weight ${w.name} is quantized as ${w.quantization.dtype}; only uint8 is read`, { item: manifestFile });
        const { scale, min } = w.quantization;
        for (let i = 0; i < n; i++) values[i] = min + bin[offset + i]! * scale;
        offset += n;
      } else {
        if (w.dtype !== 'float32') throw new VisidError('E_MODEL', `weight ${w.name} has dtype ${w.dtype}`, { item: manifestFile });
        for (let i = 0; i < n; i++) values[i] = bin.readFloatLE(offset + 4 * i);
        offset += 4 * n;
      }
      out.set(w.name, { shape: w.shape, values });
    }
    if (offset !== bin.length) throw new VisidError('E_MODEL', `weights use ${offset} of the ${bin.length} bytes of ${group.paths.join(', ')}`, { item: manifestFile });
  }
  return out;
}

/** TF conv kernel [kh, kw, in, out] → ONNX [out, in, kh, kw]. */
function convKernel(w: TfWeight): Float32Array {
  const [kh, kw, cin, cout] = w.shape as [number, number, number, number];
  const out = new Float32Array(w.values.length);
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < cin; i++) for (let o = 0; o < cout; o++) {
    out[((o * cin + i) * kh + y) * kw + x] = w.values[((y * kw + x) * cin + i) * cout + o]!;
  }
  return out;
}

function get(weights: Map<string, TfWeight>, name: string): TfWeight {
  const w = weights.get(name);
  if (!w) throw new VisidError('E_MODEL', `face-api's SSD weights have no '${name}'`);
  return w;
}

/**
 * The MobileNetV1 body as ONNX, from face-api's SSD weights: output the block-13 feature map [N, 1024, H/32, W/32]
 * (`pooled: false`) or its GeM (p = 3) pooling to 1024-d. Any input size (multi-scale works).
 */
export async function buildMobileNetV1Model(options: { pooled?: boolean; modelDir?: string } = {}): Promise<{ onnx: Uint8Array; card: ModelCard }> {
  const weights = await readTfjsWeights(path.join(options.modelDir ?? faceApiModelDir(), 'ssd_mobilenetv1_model-weights_manifest.json'));
  const name = options.pooled ? MOBILENET_GEM_MODEL_NAME : MOBILENET_MAP_MODEL_NAME;
  const g = new OnnxGraph(name);
  let x = g.input('image', ['N', 3, 'H', 'W']);
  const relu6 = (t: string) => g.node('Clip', [t, g.weight([0], []), g.weight([6], [])]);
  const pointwise = (t: string, layer: number, stride: number) => {
    const w = get(weights, `MobilenetV1/Conv2d_${layer}_pointwise/weights`);
    const b = get(weights, `MobilenetV1/Conv2d_${layer}_pointwise/convolution_bn_offset`);
    const [kh, kw, cin, cout] = w.shape as [number, number, number, number];
    return relu6(g.node('Conv', [t, g.weight(convKernel(w), [cout, cin, kh, kw]), g.weight(b.values, [cout])], { kernel_shape: [kh, kw], strides: [stride, stride], auto_pad: 'SAME_UPPER' }));
  };
  x = pointwise(x, 0, 2);
  for (let layer = 1; layer <= 13; layer++) {
    const dw = get(weights, `MobilenetV1/Conv2d_${layer}_depthwise/depthwise_weights`);
    const gamma = get(weights, `MobilenetV1/Conv2d_${layer}_depthwise/BatchNorm/gamma`).values;
    const beta = get(weights, `MobilenetV1/Conv2d_${layer}_depthwise/BatchNorm/beta`).values;
    const mean = get(weights, `MobilenetV1/Conv2d_${layer}_depthwise/BatchNorm/moving_mean`).values;
    const variance = get(weights, `MobilenetV1/Conv2d_${layer}_depthwise/BatchNorm/moving_variance`).values;
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
  }
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
