// Builds a ResNet-50-shaped ONNX network with seeded random weights (batch norm folded into conv biases), for speed tests.
import { OnnxGraph } from '../src/formats/onnx-graph.js';
import { gaussian, mulberry32 } from '../src/util/random.js';

/** ResNet-50 (v1.5: stride in the 3×3 conv) to the 2048-d pooled feature: ~23.5M weights, ~4.1 GFLOPs at 224×224. */
export function buildResNet50(seed = 50): Uint8Array {
  const g = new OnnxGraph('resnet50_random');
  const rand = gaussian(mulberry32(seed));
  const conv = (x: string, cin: number, cout: number, k: number, stride: number, relu: boolean): string => {
    const fanIn = cin * k * k;
    const scale = Math.sqrt(2 / fanIn);
    const w = new Float32Array(cout * fanIn);
    for (let i = 0; i < w.length; i++) w[i] = rand() * scale;
    const b = new Float32Array(cout);
    const pad = Math.floor(k / 2);
    const y = g.node('Conv', [x, g.weight(w, [cout, cin, k, k]), g.weight(b, [cout])], {
      kernel_shape: [k, k],
      strides: [stride, stride],
      pads: [pad, pad, pad, pad],
    });
    return relu ? g.node('Relu', [y]) : y;
  };
  let x = g.input('image', ['N', 3, 224, 224]);
  x = conv(x, 3, 64, 7, 2, true);
  x = g.node('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  let cin = 64;
  const stages: Array<[number, number, number]> = [
    [64, 3, 1],
    [128, 4, 2],
    [256, 6, 2],
    [512, 3, 2],
  ];
  for (const [width, blocks, stride] of stages) {
    for (let b = 0; b < blocks; b++) {
      const s = b === 0 ? stride : 1;
      const cout = width * 4;
      let y = conv(x, cin, width, 1, 1, true);
      y = conv(y, width, width, 3, s, true);
      y = conv(y, width, cout, 1, 1, false);
      const shortcut = b === 0 ? conv(x, cin, cout, 1, s, false) : x;
      x = g.node('Relu', [g.node('Add', [y, shortcut])]);
      cin = cout;
    }
  }
  const pooled = g.node('GlobalAveragePool', [x]);
  g.node('Flatten', [pooled], { axis: 1 }, ['features']);
  g.output('features', ['N', 2048]);
  return g.toBytes('ResNet-50 shape, random weights: for speed measurements only');
}
