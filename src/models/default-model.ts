// visid's untrained reference network: fixed seeded random convolutions + GeM pooling (the baseline trained models are compared with).
import { OnnxGraph } from '../formats/onnx-graph.js';
import { IMAGENET_MEAN, IMAGENET_STD, ModelCard } from './model-card.js';
import { gaussian, mulberry32 } from '../util/random.js';

export const UNTRAINED_MODEL_NAME = 'visid-random-conv-gem-v0';
/** The same convolutions without the pooling: a [N, 128, H/8, W/8] feature map (for GeM heads and local-feature matching). */
export const UNTRAINED_MAP_MODEL_NAME = 'visid-random-conv-map-v0';

/**
 * Builds the untrained reference network, deterministically (same bytes on every machine):
 * three stride-2 convolutions (3→32 5×5, 32→64 3×3, 64→128 3×3) with seeded Gaussian weights (He scale)
 * and ReLU, then GeM pooling (p = 3) to a 128-d descriptor. It is NOT trained: random convolutional features
 * pooled by GeM are a known, honest baseline that separates colours and textures, not identities.
 * Input: float32 [N, 3, H, W], any H and W (multi-scale works); output `embedding` [N, 128].
 */
export function buildUntrainedModel(options: { featureMap?: boolean } = {}): { onnx: Uint8Array; card: ModelCard } {
  const name = options.featureMap ? UNTRAINED_MAP_MODEL_NAME : UNTRAINED_MODEL_NAME;
  const g = new OnnxGraph(name);
  const rand = gaussian(mulberry32(20260101));
  let x = g.input('image', ['N', 3, 'H', 'W']);
  const layers: Array<[number, number, number]> = [
    [3, 32, 5],
    [32, 64, 3],
    [64, 128, 3],
  ];
  for (const [cin, cout, ks] of layers) {
    const fanIn = cin * ks * ks;
    const w = new Float32Array(cout * fanIn);
    const scale = Math.sqrt(2 / fanIn);
    for (let o = 0; o < cout; o++) {
      // Zero-mean filters: responses depend on patterns and colour contrasts, not on overall brightness.
      let mean = 0;
      for (let j = 0; j < fanIn; j++) mean += (w[o * fanIn + j] = rand() * scale);
      mean /= fanIn;
      for (let j = 0; j < fanIn; j++) w[o * fanIn + j]! -= mean;
    }
    const weight = g.weight(w, [cout, cin, ks, ks]);
    const pad = Math.floor(ks / 2);
    x = g.node('Conv', [x, weight], { kernel_shape: [ks, ks], strides: [2, 2], pads: [pad, pad, pad, pad] });
    x = g.node('Relu', [x]);
  }
  // Both models share the input side of the card: 160×160, ImageNet normalisation, shorter side scaled and cropped.
  const input = { inputSize: [160, 160] as [number, number], layout: 'NCHW' as const, mean: IMAGENET_MEAN, std: IMAGENET_STD, resize: 'shorter-crop' as const, inputName: 'image' };
  if (options.featureMap) {
    g.node('Identity', [x], {}, ['features']);
    g.output('features', ['N', 128, 'h', 'w']);
    const card: ModelCard = {
      name,
      ...input,
      outputName: 'features',
      description:
        'Untrained feature-map backbone built by visid itself: the 3 seeded random convolutions + ReLU of ' +
        `${UNTRAINED_MODEL_NAME} without pooling, [N, 128, H/8, W/8]. For GeM heads (CosPlace) and local-feature re-ranking.`,
    };
    return { onnx: g.toBytes(card.description), card };
  }
  // GeM: (mean over H×W of x^p)^(1/p), p = 3; clipped away from 0 so the root is defined.
  const clipped = g.node('Clip', [x, g.weight([1e-6], []), g.weight([1e6], [])]);
  const cubed = g.node('Pow', [clipped, g.weight([3], [])]);
  const pooled = g.node('GlobalAveragePool', [cubed]);
  const root = g.node('Pow', [pooled, g.weight([1 / 3], [])]);
  g.node('Flatten', [root], { axis: 1 }, ['embedding']);
  g.output('embedding', ['N', 128]);
  const card: ModelCard = {
    name: UNTRAINED_MODEL_NAME,
    ...input,
    outputName: 'embedding',
    outputDim: 128,
    description:
      'Untrained baseline built by visid itself: 3 seeded random convolutions + ReLU + GeM (p=3), 128-d. ' +
      'Matches colour and texture, not identity; replace it with a trained model (see `visid index --model`).',
  };
  return { onnx: g.toBytes(card.description), card };
}
