// Writes a trained network as an ONNX model + card that the Embedder loads like any other model.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { writeFileAtomic } from '../util/atomic.js';
import { OnnxGraph } from '../formats/onnx-graph.js';
import type { EmbeddingNet } from './networks.js';
import { loadCard, type ModelCard } from './model-card.js';

/** What a trained model's card records beyond the preprocessing: how it was made. */
export interface TrainedCardExtras {
  /** The network spec, so the weights can be re-loaded for fine-tuning. */
  net: EmbeddingNet['spec'];
  training?: Record<string, unknown>;
  /** For heads: the frozen backbone the head was trained on (file name and SHA-256). */
  backbone?: { file: string; sha256: string };
}

/**
 * A CNN as a standalone ONNX model: NCHW float input 'pixels' [N, 3, H, W] (already mean/std-normalised by the
 * Embedder), output 'descriptor' [N, D]. A grey-input network averages the three channels first, so RGB files work.
 */
export function cnnToOnnx(net: EmbeddingNet, name: string, o: { dynamicSize?: boolean } = {}): Uint8Array {
  const [h, w, c] = net.sampleShape as [number, number, number];
  const g = new OnnxGraph(name);
  // A fully convolutional body with global pooling takes any size (multi-scale), when asked to.
  let x = g.input('pixels', ['N', 3, o.dynamicSize ? 'H' : h, o.dynamicSize ? 'W' : w]);
  if (c === 1) x = g.node('ReduceMean', [x], { axes: [1], keepdims: 1 });
  const out = net.body.toOnnx(g, x);
  g.node('Identity', [out], {}, ['descriptor']);
  g.output('descriptor', ['N', (net.spec as { embeddingDim: number }).embeddingDim]);
  return g.toBytes(`visid trained ${net.spec.type}`);
}

/**
 * Several CNNs of one input size as one ONNX model (a snapshot ensemble, seed 002 §2.4): each member's descriptor is
 * L2-normalised and the results concatenated, scaled by 1/√M. The cosine of two such descriptors is the mean of
 * the members' cosines — the sum-of-similarities ensemble of seed 000 §2.5.2.
 */
export function cnnEnsembleToOnnx(nets: EmbeddingNet[], name: string): Uint8Array {
  const [h, w, c] = nets[0]!.sampleShape as [number, number, number];
  const g = new OnnxGraph(name);
  let x = g.input('pixels', ['N', 3, h, w]);
  if (c === 1) x = g.node('ReduceMean', [x], { axes: [1], keepdims: 1 });
  const parts = nets.map((net) => g.node('LpNormalization', [net.body.toOnnx(g, x)], { axis: 1, p: 2 }));
  const joined = parts.length === 1 ? parts[0]! : g.node('Concat', parts, { axis: 1 });
  g.node('Mul', [joined, g.weight([1 / Math.sqrt(nets.length)], [])], {}, ['descriptor']);
  const dim = nets.reduce((s, n) => s + (n.spec as { embeddingDim: number }).embeddingDim, 0);
  g.output('descriptor', ['N', dim]);
  return g.toBytes(`visid snapshot ensemble of ${nets.length}`);
}

/**
 * A head appended to its frozen backbone's ONNX graph, so the pair is one model. The backbone's output feeds the
 * head (a feature-map output is pooled by the head's GeM).
 */
export function headOnBackboneToOnnx(net: EmbeddingNet, backboneBytes: Uint8Array, name: string): Uint8Array {
  const g = new OnnxGraph(name, 'visid_head/');
  const features = OnnxGraph.outputNameOf(backboneBytes);
  const out = net.body.toOnnx(g, features);
  g.node('Identity', [out], {}, ['visid_descriptor']);
  g.output('visid_descriptor', ['N', (net.spec as { embeddingDim: number }).embeddingDim]);
  return g.appendTo(backboneBytes, `visid head on ${name}`);
}

/**
 * A multi-label classifier as one model: the frozen backbone, the trained head's logits, then a Sigmoid, so the
 * output 'visid_scores' [N, C] holds each class's probability (seed 002's sigmoid outputs).
 */
export function multiLabelClassifierToOnnx(net: EmbeddingNet, backboneBytes: Uint8Array, name: string): Uint8Array {
  const g = new OnnxGraph(name, 'visid_classifier/');
  const logits = net.body.toOnnx(g, OnnxGraph.outputNameOf(backboneBytes));
  g.node('Sigmoid', [logits], {}, ['visid_scores']);
  g.output('visid_scores', ['N', (net.spec as { embeddingDim: number }).embeddingDim]);
  return g.appendTo(backboneBytes, `visid multi-label classifier on ${name}`);
}

/**
 * The input side of a backbone's card (size, layout, normalisation, resize, input name), for a model that appends
 * layers to that backbone: the new model takes exactly the backbone's input.
 */
export async function backboneInputCard(backbone: string): Promise<Pick<ModelCard, 'inputSize' | 'layout' | 'mean' | 'std' | 'resize' | 'inputName'>> {
  const { inputSize, layout, mean, std, resize, inputName } = await loadCard(backbone);
  return { inputSize, layout, mean, std, resize, ...(inputName ? { inputName } : {}) };
}

/** Writes `<out>.onnx` and `<out>.json` atomically; returns the .onnx path. */
export async function writeTrainedModel(outOnnx: string, bytes: Uint8Array, card: ModelCard & TrainedCardExtras): Promise<string> {
  await fs.mkdir(path.dirname(outOnnx), { recursive: true });
  await writeFileAtomic(outOnnx, bytes);
  await writeFileAtomic(outOnnx.replace(/\.onnx$/i, '') + '.json', JSON.stringify(card, null, 2) + '\n');
  return outOnnx;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
