// face-api's three face networks rebuilt as ONNX from the weights in the @vladmandic/face-api npm package, so that
// onnxruntime runs them with its threads (tfjs' wasm backend has one thread in Node): the SSD-MobileNetV1 face
// detector, the 68-point landmark net and dlib's 128-d ResNet. Each graph is exactly the forward pass face-api runs
// (its source: src/ssdMobilenetv1, src/faceLandmarkNet + src/faceFeatureExtractor, src/faceRecognitionNet), with
// the input normalisation folded in, so every model takes raw RGB pixels 0…255 in NCHW. face-api's tfjs forward
// stays as the test oracle (test/face-onnx.test.ts: equal to 1e-4).
import path from 'node:path';
import { OnnxGraph } from '../../formats/onnx-graph.js';
import type { ModelCard } from '../../models/model-card.js';
import { appendMobileNetV1Body, faceApiModelDir, SSD_WEIGHTS_MANIFEST } from '../../models/mobilenet-v1.js';
import { floatWeight, onnxConvKernel, onnxDepthwiseKernel, readTfjsWeights, type TfWeight } from '../../models/tfjs-weights.js';

export const FACE_DETECTOR_MODEL_NAME = 'visid-face-ssd-mobilenetv1-v1';
export const FACE_LANDMARK_MODEL_NAME = 'visid-face-landmark68-v1';
export const FACE_RESNET_MODEL_NAME = 'visid-face-resnet128-v1';

/** The mean RGB face-api (after dlib) subtracts before dividing by 255, for the landmark and recognition nets. */
const FACE_MEAN_RGB = [122.782, 117.001, 104.298];

export interface BuiltModel {
  onnx: Uint8Array;
  card: ModelCard & Record<string, unknown>;
}

type Weights = Map<string, TfWeight>;

/** x ↦ (x − mean_c) / 255 per channel, as face-api's normalize(x, meanRgb).div(255). */
function faceNormalize(g: OnnxGraph, x: string): string {
  const mean = g.weight(FACE_MEAN_RGB, [1, 3, 1, 1]);
  return g.node('Mul', [g.node('Sub', [x, mean]), g.weight([1 / 255], [])]);
}

/** A TF conv (kernel [kh, kw, in, out]) + bias as one ONNX Conv; `scale` folds a following x·w + b into it. */
function conv(
  g: OnnxGraph,
  x: string,
  kernel: { shape: number[]; values: Float32Array },
  bias: Float32Array,
  o: { stride: number; pad: 'same' | 'valid'; scale?: { w: Float32Array; b: Float32Array } },
): string {
  const [kh, kw, cin, cout] = kernel.shape as [number, number, number, number];
  let k = onnxConvKernel(kernel);
  let b = bias;
  if (o.scale) {
    // (conv(x) + bias)·w + b = conv(x; kernel·w) + (bias·w + b), per output channel.
    k = k.slice();
    b = new Float32Array(cout);
    const per = cin * kh * kw;
    for (let c = 0; c < cout; c++) {
      for (let i = 0; i < per; i++) k[c * per + i]! *= o.scale.w[c]!;
      b[c] = bias[c]! * o.scale.w[c]! + o.scale.b[c]!;
    }
  }
  return g.node('Conv', [x, g.weight(k, [cout, cin, kh, kw]), g.weight(b, [cout])], {
    kernel_shape: [kh, kw],
    strides: [o.stride, o.stride],
    ...(o.pad === 'same' ? { auto_pad: 'SAME_UPPER' } : { pads: [0, 0, 0, 0] }),
  });
}

// ---------------------------------------------------------------------------------------------------------------
// SSD-MobileNetV1 face detector

/**
 * The detector up to its raw outputs, for any square input side S: `box_encodings` [N, A, 4] (ty, tx, th, tw against
 * the anchors of `ssdAnchors(S)`) and `scores` [N, A] (sigmoid of the face class). Boxes are decoded and
 * suppressed in JavaScript (`decodeSsdBoxes`, `nonMaxSuppression`), where it costs microseconds.
 */
export async function buildFaceDetectorModel(modelDir = faceApiModelDir()): Promise<BuiltModel> {
  const weights = await readTfjsWeights(path.join(modelDir, SSD_WEIGHTS_MANIFEST));
  const get = (name: string) => floatWeight(weights, name, SSD_WEIGHTS_MANIFEST);
  const g = new OnnxGraph(FACE_DETECTOR_MODEL_NAME);
  const image = g.input('image', ['N', 3, 'S', 'S']);
  // face-api: x / 127.5 − 1.
  const scaled = g.node('Sub', [g.node('Mul', [image, g.weight([1 / 127.5], [])]), g.weight([1], [])]);
  const { conv11, conv13 } = appendMobileNetV1Body(g, weights, scaled);
  const relu6 = (t: string) => g.node('Clip', [t, g.weight([0], []), g.weight([6], [])]);
  // Extra feature layers: 1×1 then 3×3 stride 2, four times (pointwiseConvLayer: conv + offset + ReLU6, 'same').
  const extra: string[] = [];
  let t = conv13;
  for (let i = 0; i < 8; i++) {
    const w = get(`Prediction/Conv2d_${i}_pointwise/weights`);
    t = relu6(conv(g, t, w, get(`Prediction/Conv2d_${i}_pointwise/convolution_bn_offset`).values, { stride: i % 2 === 1 ? 2 : 1, pad: 'same' }));
    extra.push(t);
  }
  const sources = [conv11, conv13, extra[1]!, extra[3]!, extra[5]!, extra[7]!];
  const encodings: string[] = [];
  const classes: string[] = [];
  sources.forEach((src, k) => {
    const head = (kind: 'BoxEncodingPredictor' | 'ClassPredictor', per: number) => {
      const w = get(`Prediction/BoxPredictor_${k}/${kind}/weights`);
      const y = conv(g, src, w, get(`Prediction/BoxPredictor_${k}/${kind}/biases`).values, { stride: 1, pad: 'same' });
      // NCHW → NHWC, then [N, f·f·anchors, per]: the order TF's reshape gives (cells row-major, then anchor types).
      return g.node('Reshape', [g.node('Transpose', [y], { perm: [0, 2, 3, 1] }), g.int64([0, -1, per])]);
    };
    encodings.push(head('BoxEncodingPredictor', 4));
    classes.push(head('ClassPredictor', 3));
  });
  g.node('Concat', encodings, { axis: 1 }, ['box_encodings']);
  const logits = g.node('Concat', classes, { axis: 1 });
  // Class 1 is "face" (0 is background): face-api slices from 1 and keeps the first.
  const face = g.node('Slice', [logits, g.int64([1]), g.int64([2]), g.int64([2])]);
  g.node('Reshape', [g.node('Sigmoid', [face]), g.int64([0, -1])], {}, ['scores']);
  g.output('box_encodings', ['N', 'A', 4]);
  g.output('scores', ['N', 'A']);
  const description =
    "face-api's SSD-MobileNetV1 face detector (trained on WIDER FACE; weights from the @vladmandic/face-api npm package) as ONNX: raw RGB 0–255 [N, 3, S, S] → box encodings and face scores per SSD anchor.";
  return {
    onnx: g.toBytes(description),
    card: { name: FACE_DETECTOR_MODEL_NAME, inputSize: [512, 512], layout: 'NCHW', mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255], resize: 'exact', inputName: 'image', outputName: 'scores', description },
  };
}

/**
 * The SSD anchors [ymin, xmin, ymax, xmax] (normalised) for a square input of side S, in the order of the model's
 * outputs. TF's SSD anchor generator as configured for face-api's model (the 5,118 anchors of its
 * `Output/extra_dim` at S = 512): six layers with scales 0.2…0.95, the lowest layer with 3 boxes (0.1 at 1:1, 0.2 at
 * 2:1 and 1:2), the others with 6 (s at 1:1, √(s·s′) at 1:1, s at 2:1, 1:2, 3:1, 1:3); centres at cell centres of
 * grids of ⌈S/16⌉, ⌈S/32⌉ then halving (SAME padding).
 */
export function ssdAnchors(side: number): Float32Array {
  const scales = [0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 1.0];
  const grids: number[] = [Math.ceil(side / 16), Math.ceil(side / 32)];
  for (let i = 0; i < 4; i++) grids.push(Math.ceil(grids.at(-1)! / 2));
  const boxes: number[] = [];
  grids.forEach((f, layer) => {
    const s = scales[layer]!;
    const shapes: Array<[number, number]> =
      layer === 0
        ? [[0.1, 1], [s, 2], [s, 0.5]]
        : [[s, 1], [Math.sqrt(s * scales[layer + 1]!), 1], [s, 2], [s, 0.5], [s, 3], [s, 1 / 3]];
    for (let y = 0; y < f; y++) {
      for (let x = 0; x < f; x++) {
        const cy = (y + 0.5) / f;
        const cx = (x + 0.5) / f;
        for (const [scale, ratio] of shapes) {
          const h = scale / Math.sqrt(ratio);
          const w = scale * Math.sqrt(ratio);
          boxes.push(cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2);
        }
      }
    }
  });
  return Float32Array.from(boxes);
}

/** Decodes box encodings against anchors as face-api's outputLayer does: [ymin, xmin, ymax, xmax] normalised. */
export function decodeSsdBoxes(encodings: Float32Array, anchors: Float32Array): Float32Array {
  const n = anchors.length / 4;
  const out = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const [ay0, ax0, ay1, ax1] = [anchors[4 * i]!, anchors[4 * i + 1]!, anchors[4 * i + 2]!, anchors[4 * i + 3]!];
    const ah = ay1 - ay0;
    const aw = ax1 - ax0;
    const cy = ay0 + ah / 2 + (encodings[4 * i]! / 10) * ah;
    const cx = ax0 + aw / 2 + (encodings[4 * i + 1]! / 10) * aw;
    const h = Math.exp(encodings[4 * i + 2]! / 5) * ah;
    const w = Math.exp(encodings[4 * i + 3]! / 5) * aw;
    out[4 * i] = cy - h / 2;
    out[4 * i + 1] = cx - w / 2;
    out[4 * i + 2] = cy + h / 2;
    out[4 * i + 3] = cx + w / 2;
  }
  return out;
}

/** Intersection over union of boxes i and j of [ymin, xmin, ymax, xmax] rows. */
function iou(b: Float32Array, i: number, j: number): number {
  const y0i = Math.min(b[4 * i]!, b[4 * i + 2]!), x0i = Math.min(b[4 * i + 1]!, b[4 * i + 3]!);
  const y1i = Math.max(b[4 * i]!, b[4 * i + 2]!), x1i = Math.max(b[4 * i + 1]!, b[4 * i + 3]!);
  const y0j = Math.min(b[4 * j]!, b[4 * j + 2]!), x0j = Math.min(b[4 * j + 1]!, b[4 * j + 3]!);
  const y1j = Math.max(b[4 * j]!, b[4 * j + 2]!), x1j = Math.max(b[4 * j + 1]!, b[4 * j + 3]!);
  const ai = (y1i - y0i) * (x1i - x0i);
  const aj = (y1j - y0j) * (x1j - x0j);
  if (ai <= 0 || aj <= 0) return 0;
  const inter = Math.max(0, Math.min(y1i, y1j) - Math.max(y0i, y0j)) * Math.max(0, Math.min(x1i, x1j) - Math.max(x0i, x0j));
  return inter / (ai + aj - inter);
}

/** Greedy non-maximum suppression as face-api's: candidates above `minScore`, best first, IoU > `iouThreshold` suppressed. */
export function nonMaxSuppression(boxes: Float32Array, scores: Float32Array, maxOutput: number, iouThreshold: number, minScore: number): number[] {
  const candidates: number[] = [];
  for (let i = 0; i < scores.length; i++) if (scores[i]! > minScore) candidates.push(i);
  candidates.sort((a, b) => scores[b]! - scores[a]! || a - b);
  const selected: number[] = [];
  for (const c of candidates) {
    if (selected.length >= maxOutput) break;
    if (selected.every((s) => iou(boxes, c, s) <= iouThreshold)) selected.push(c);
  }
  return selected;
}

// ---------------------------------------------------------------------------------------------------------------
// 68-point landmark net

/** The landmark net: raw RGB [N, 3, 112, 112] → 136 values (x, y interleaved, in units of the 112 input). */
export async function buildFaceLandmarkModel(modelDir = faceApiModelDir()): Promise<BuiltModel> {
  const file = 'face_landmark_68_model-weights_manifest.json';
  const weights: Weights = await readTfjsWeights(path.join(modelDir, file));
  const get = (name: string) => floatWeight(weights, name, file);
  const g = new OnnxGraph(FACE_LANDMARK_MODEL_NAME);
  let x = faceNormalize(g, g.input('image', ['N', 3, 112, 112]));
  // tf.separableConv2d(x, depthwise, pointwise, stride, 'same') + bias: depthwise (stride, no bias), then 1×1 + bias.
  const separable = (t: string, prefix: string, stride: number) => {
    const dw = get(`${prefix}/depthwise_filter`);
    const [kh, kw, c, m] = dw.shape as [number, number, number, number];
    const d = g.node('Conv', [t, g.weight(onnxDepthwiseKernel(dw), [c * m, 1, kh, kw])], { kernel_shape: [kh, kw], strides: [stride, stride], group: c, auto_pad: 'SAME_UPPER' });
    return conv(g, d, get(`${prefix}/pointwise_filter`), get(`${prefix}/bias`).values, { stride: 1, pad: 'same' });
  };
  const relu = (t: string) => g.node('Relu', [t]);
  const add = (a: string, b: string) => g.node('Add', [a, b]);
  for (let block = 0; block < 4; block++) {
    const p = `dense${block}`;
    // denseBlock4: out1 = relu(conv0 stride 2); out_k = sep(relu(out1 + … + out_{k−1})); result relu(Σ out).
    const out1 = relu(block === 0 ? conv(g, x, get(`${p}/conv0/filters`), get(`${p}/conv0/bias`).values, { stride: 2, pad: 'same' }) : separable(x, `${p}/conv0`, 2));
    const out2 = separable(out1, `${p}/conv1`, 1);
    const out3 = separable(relu(add(out1, out2)), `${p}/conv2`, 1);
    const out4 = separable(relu(add(out1, add(out2, out3))), `${p}/conv3`, 1);
    x = relu(add(out1, add(out2, add(out3, out4))));
  }
  const pooled = g.node('Flatten', [g.node('AveragePool', [x], { kernel_shape: [7, 7], strides: [2, 2] })], { axis: 1 });
  const fc = get('fc/weights');
  g.node('Add', [g.node('MatMul', [pooled, g.weight(fc.values, fc.shape)]), g.weight(get('fc/bias').values, [136])], {}, ['landmarks']);
  g.output('landmarks', ['N', 136]);
  const description = "face-api's 68-point face landmark net (weights from the @vladmandic/face-api npm package) as ONNX: raw RGB 0–255 [N, 3, 112, 112] of a face box padded to a square → 68 (x, y) in [0, 1] of that square.";
  return {
    onnx: g.toBytes(description),
    card: { name: FACE_LANDMARK_MODEL_NAME, inputSize: [112, 112], layout: 'NCHW', mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255], resize: 'exact', inputName: 'image', outputName: 'landmarks', outputDim: 136, description },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// dlib's 128-d ResNet (face-api's faceRecognitionNet)

/** dlib's face recognition ResNet: raw RGB [N, 3, 150, 150] aligned chip → 128-d descriptor (not normalised). */
export async function buildFaceResNetModel(modelDir = faceApiModelDir()): Promise<BuiltModel> {
  const file = 'face_recognition_model-weights_manifest.json';
  const weights: Weights = await readTfjsWeights(path.join(modelDir, file));
  const get = (name: string) => floatWeight(weights, name, file);
  const g = new OnnxGraph(FACE_RESNET_MODEL_NAME);
  let x = faceNormalize(g, g.input('image', ['N', 3, 150, 150]));
  // Static spatial sizes: the chip is always 150×150, and residualDown's zero padding depends on them.
  let side = 150;
  let channels = 3;
  const layer = (t: string, prefix: string, stride: 1 | 2) =>
    conv(g, t, get(`${prefix}/conv/filters`), get(`${prefix}/conv/bias`).values, {
      stride,
      pad: stride === 2 ? 'valid' : 'same',
      scale: { w: get(`${prefix}/scale/weights`).values, b: get(`${prefix}/scale/biases`).values },
    });
  const relu = (t: string) => g.node('Relu', [t]);
  const residual = (t: string, prefix: string) => relu(g.node('Add', [layer(relu(layer(t, `${prefix}/conv1`, 1)), `${prefix}/conv2`, 1), t]));
  const residualDown = (t: string, prefix: string) => {
    const cout = get(`${prefix}/conv1/conv/filters`).shape[3]!;
    let out = layer(relu(layer(t, `${prefix}/conv1`, 2)), `${prefix}/conv2`, 1);
    const convSide = Math.floor((side - 3) / 2) + 1;
    const poolSide = Math.floor(side / 2);
    let pooled = g.node('AveragePool', [t], { kernel_shape: [2, 2], strides: [2, 2] });
    // face-api appends a zero row and column to the conv branch when it is one smaller than the pooled one…
    if (convSide !== poolSide) out = g.node('Pad', [out, g.int64([0, 0, 0, 0, 0, 0, poolSide - convSide, poolSide - convSide])]);
    // …and zero channels to the pooled branch when the block widens.
    if (cout !== channels) pooled = g.node('Pad', [pooled, g.int64([0, 0, 0, 0, 0, cout - channels, 0, 0])]);
    side = poolSide;
    channels = cout;
    return relu(g.node('Add', [pooled, out]));
  };
  x = relu(layer(x, 'conv32_down', 2));
  side = Math.floor((side - 7) / 2) + 1;
  channels = 32;
  x = g.node('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2] });
  side = Math.floor((side - 3) / 2) + 1;
  for (const p of ['conv32_1', 'conv32_2', 'conv32_3']) x = residual(x, p);
  x = residualDown(x, 'conv64_down');
  for (const p of ['conv64_1', 'conv64_2', 'conv64_3']) x = residual(x, p);
  x = residualDown(x, 'conv128_down');
  for (const p of ['conv128_1', 'conv128_2']) x = residual(x, p);
  x = residualDown(x, 'conv256_down');
  for (const p of ['conv256_1', 'conv256_2']) x = residual(x, p);
  x = residualDown(x, 'conv256_down_out');
  const pooled = g.node('Flatten', [g.node('GlobalAveragePool', [x])], { axis: 1 });
  const fc = get('fc');
  g.node('MatMul', [pooled, g.weight(fc.values, fc.shape)], {}, ['embedding']);
  g.output('embedding', ['N', 128]);
  const description = "dlib's face recognition ResNet (dlib_face_recognition_resnet_model_v1, 99.38 % on LFW by its authors; weights from the @vladmandic/face-api npm package) as ONNX: raw RGB 0–255 [N, 3, 150, 150] aligned chip → 128-d.";
  return {
    onnx: g.toBytes(description),
    card: { name: FACE_RESNET_MODEL_NAME, inputSize: [150, 150], layout: 'NCHW', mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255], resize: 'exact', inputName: 'image', outputName: 'embedding', outputDim: 128, description },
  };
}
