// Keras layers models as TensorFlow.js stores them (model.json with a Keras `model_config` + weight shards) →
// ONNX, up to a chosen layer: the convolutional body of a classifier as a feature extractor (its feature map, or
// GeM-pooled), for the layers ImageNet CNNs are made of. The image enters NCHW (Keras is NHWC); Concatenate on the
// channel axis becomes axis 1; batch norms stay BatchNormalization nodes, which onnxruntime folds into the
// convolutions. An unknown layer is an error naming it.
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { VisidError } from '../util/errors.js';
import { OnnxGraph, type AttributeValue } from '../formats/onnx-graph.js';
import { floatWeight, onnxConvKernel, onnxDepthwiseKernel, readTfjsWeightGroups, type TfjsWeightGroup, type TfWeight } from './tfjs-weights.js';

const require = createRequire(import.meta.url);

export interface KerasLayer {
  name: string;
  class_name: string;
  config: Record<string, unknown> & { name: string };
  /** [[[inboundLayer, nodeIndex, tensorIndex, kwargs], …]] */
  inbound_nodes: Array<Array<[string, number, number, unknown?]>>;
}

export interface KerasLayersModel {
  /** The model.json object (tfjs' format: modelTopology + weightsManifest), for tfjs to load the same model. */
  json: { modelTopology: { model_config: { class_name: string; config: { layers: KerasLayer[]; input_layers: unknown[]; output_layers: unknown[] } } }; weightsManifest: TfjsWeightGroup[] };
  layers: KerasLayer[];
  weights: Map<string, TfWeight>;
  /** The shards' bytes in manifest order (for tfjs' fromMemory). */
  weightData: Buffer;
  where: string;
}

async function assemble(json: KerasLayersModel['json'], read: (shard: string) => Promise<Buffer>, where: string): Promise<KerasLayersModel> {
  const config = json.modelTopology?.model_config;
  if (!config || !Array.isArray(config.config?.layers)) throw new VisidError('E_MODEL', 'not a Keras layers model (no modelTopology.model_config.config.layers)', { item: where });
  if (config.class_name !== 'Model' && config.class_name !== 'Functional') throw new VisidError('E_MODEL', `Keras ${config.class_name} models are not read (functional Model only)`, { item: where });
  const shards = new Map<string, Buffer>();
  const cached = async (p: string) => {
    let b = shards.get(p);
    if (!b) shards.set(p, (b = await read(p)));
    return b;
  };
  const weights = await readTfjsWeightGroups(json.weightsManifest, cached, where);
  const weightData = Buffer.concat(json.weightsManifest.flatMap((g) => g.paths.map((p) => shards.get(p)!)));
  return { json, layers: config.config.layers, weights, weightData, where };
}

/** A Keras layers model from a folder (model.json + its shards), as `tfjs.converters.save_keras_model` writes it. */
export async function readKerasLayersModel(dir: string): Promise<KerasLayersModel> {
  const file = dir.endsWith('.json') ? dir : path.join(dir, 'model.json');
  let json: KerasLayersModel['json'];
  try {
    json = JSON.parse(await fs.readFile(file, 'utf8')) as KerasLayersModel['json'];
  } catch (err) {
    throw new VisidError('E_MODEL', `cannot read the layers model: ${(err as Error).message}`, { item: file, cause: err });
  }
  return assemble(json, (p) => fs.readFile(path.join(path.dirname(file), p)), file);
}

export type NsfwjsModelName = 'mobilenet_v2' | 'inception_v3';

/**
 * One of the Keras models inside the nsfwjs npm package (MIT): `dist/models/<name>/model.min.js` and its
 * `group1-shardXofY.min.js` files are CommonJS modules holding the model JSON and base64 shards.
 */
export async function readNsfwjsModel(name: NsfwjsModelName): Promise<KerasLayersModel> {
  // The package exports only its entry points; the model files sit in dist/models/ beside dist/cjs/core.js.
  const dir = path.join(path.dirname(require.resolve('nsfwjs/core')), '..', 'models', name);
  const json = require(path.join(dir, 'model.min.js')) as KerasLayersModel['json'];
  return assemble(json, async (p) => Buffer.from(require(path.join(dir, `${p}.min.js`)) as string, 'base64'), path.join(dir, 'model.min.js'));
}

export interface KerasConversion {
  name: string;
  /** The layer whose output is the feature map (e.g. MobileNetV2's 'out_relu', InceptionV3's 'mixed10'). */
  until: string;
  /** 'map': the [N, C, h, w] feature map; 'gem': GeM (p = 3) over it, [N, C]. */
  output: 'map' | 'gem';
  inputName?: string;
  /** Nodes between the raw NCHW input and the model's input layer (e.g. x/255). */
  preprocess?: (g: OnnxGraph, x: string) => string;
  docString?: string;
}

/** The layers `until` depends on, in dependency order. */
export function layersUpTo(model: KerasLayersModel, until: string): KerasLayer[] {
  const byName = new Map(model.layers.map((l) => [l.name, l]));
  if (!byName.has(until)) throw new VisidError('E_MODEL', `the model has no layer '${until}'`, { item: model.where });
  const order: KerasLayer[] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const layer = byName.get(name);
    if (!layer) throw new VisidError('E_MODEL', `a layer reads '${name}', which does not exist`, { item: model.where });
    for (const node of layer.inbound_nodes) for (const [src] of node) visit(src);
    order.push(layer);
  };
  visit(until);
  return order;
}

/**
 * Appends the layers of `model` up to `until` to `g`, reading `input` (NCHW) where the model's input layer is, with
 * `weights` (default: the model's own; a trained copy when a fine-tuned backbone is exported). Returns the name of
 * `until`'s output.
 */
export function appendKerasLayers(
  g: OnnxGraph,
  model: KerasLayersModel,
  input: string,
  until: string,
  o: { weights?: Map<string, TfWeight>; preprocess?: (g: OnnxGraph, x: string) => string } = {},
): string {
  const values = new Map<string, string>();
  const weights = o.weights ?? model.weights;
  const w = (layer: KerasLayer, name: string) => floatWeight(weights, `${layer.name}/${name}`, model.where);
  const fail = (layer: KerasLayer, message: string): never => {
    throw new VisidError('E_MODEL', `layer '${layer.name}' (${layer.class_name}): ${message}`, { item: model.where });
  };
  const activation = (layer: KerasLayer, x: string, a: unknown): string => {
    switch (a ?? 'linear') {
      case 'linear':
        return x;
      case 'relu':
        return g.node('Relu', [x]);
      case 'relu6':
        return g.node('Clip', [x, g.weight([0], []), g.weight([6], [])]);
      case 'sigmoid':
        return g.node('Sigmoid', [x]);
      case 'tanh':
        return g.node('Tanh', [x]);
      case 'swish':
        return g.node('Mul', [x, g.node('Sigmoid', [x])]);
      case 'softmax':
        return g.node('Softmax', [x], { axis: 1 });
      default:
        return fail(layer, `activation '${String(a)}'`);
    }
  };
  const pads = (layer: KerasLayer): Record<string, AttributeValue> => {
    const p = layer.config['padding'];
    if (p === 'same') return { auto_pad: 'SAME_UPPER' };
    if (p === 'valid') return { pads: [0, 0, 0, 0] };
    return fail(layer, `padding '${String(p)}'`);
  };
  const pair = (v: unknown, fallback: number): [number, number] => (Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : typeof v === 'number' ? [v, v] : [fallback, fallback]);

  for (const layer of layersUpTo(model, until)) {
    const c = layer.config;
    const ins = (layer.inbound_nodes[0] ?? []).map(([src]) => values.get(src)!);
    if (layer.class_name !== 'InputLayer' && c['data_format'] !== undefined && c['data_format'] !== 'channels_last') fail(layer, `data format ${String(c['data_format'])}`);
    let y: string;
    switch (layer.class_name) {
      case 'InputLayer':
        y = o.preprocess ? o.preprocess(g, input) : input;
        break;
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        const depthwise = layer.class_name === 'DepthwiseConv2D';
        const k = w(layer, depthwise ? 'depthwise_kernel' : 'kernel');
        const [kh, kw, cin, cm] = k.shape as [number, number, number, number];
        const cout = depthwise ? cin * cm : cm;
        const inputs = [ins[0]!, g.weight(depthwise ? onnxDepthwiseKernel(k) : onnxConvKernel(k), depthwise ? [cout, 1, kh, kw] : [cout, cin, kh, kw])];
        if (c['use_bias']) inputs.push(g.weight(w(layer, 'bias').values, [cout]));
        const conv = g.node('Conv', inputs, {
          kernel_shape: [kh, kw],
          strides: pair(c['strides'], 1),
          dilations: pair(c['dilation_rate'], 1),
          ...(depthwise ? { group: cin } : {}),
          ...pads(layer),
        });
        y = activation(layer, conv, c['activation']);
        break;
      }
      case 'BatchNormalization': {
        const axis = Number(c['axis']);
        if (axis !== -1 && axis !== 3) fail(layer, `axis ${axis}`);
        const mean = w(layer, 'moving_mean').values;
        const n = mean.length;
        const gamma = c['scale'] === false ? new Float32Array(n).fill(1) : w(layer, 'gamma').values;
        const beta = c['center'] === false ? new Float32Array(n) : w(layer, 'beta').values;
        y = g.node('BatchNormalization', [ins[0]!, g.weight(gamma, [n]), g.weight(beta, [n]), g.weight(mean, [n]), g.weight(w(layer, 'moving_variance').values, [n])], { epsilon: { float: Number(c['epsilon'] ?? 1e-3) } });
        break;
      }
      case 'ReLU': {
        const max = c['max_value'];
        const slope = Number(c['negative_slope'] ?? 0);
        const threshold = Number(c['threshold'] ?? 0);
        if (slope !== 0 || threshold !== 0) fail(layer, 'ReLU with a negative slope or threshold');
        y = typeof max === 'number' ? g.node('Clip', [ins[0]!, g.weight([0], []), g.weight([max], [])]) : g.node('Relu', [ins[0]!]);
        break;
      }
      case 'Activation':
        y = activation(layer, ins[0]!, c['activation']);
        break;
      case 'ZeroPadding2D': {
        const p = c['padding'];
        const [[t, b], [l, r]] = Array.isArray(p) && Array.isArray(p[0]) ? (p as [[number, number], [number, number]]) : [pair(p, 0), pair(p, 0)];
        y = g.node('Pad', [ins[0]!, g.int64([0, 0, t, l, 0, 0, b, r])]);
        break;
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D':
        // Keras' average pooling with 'same' ignores the padded cells: ONNX's count_include_pad = 0 (the default).
        y = g.node(layer.class_name === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', [ins[0]!], { kernel_shape: pair(c['pool_size'], 2), strides: pair(c['strides'] ?? c['pool_size'], 2), ...pads(layer) });
        break;
      case 'Add':
        y = ins.slice(1).reduce((acc, t) => g.node('Add', [acc, t]), ins[0]!);
        break;
      case 'Multiply':
        y = ins.slice(1).reduce((acc, t) => g.node('Mul', [acc, t]), ins[0]!);
        break;
      case 'Concatenate': {
        const axis = Number(c['axis'] ?? -1);
        if (axis !== -1 && axis !== 3) fail(layer, `concatenation on axis ${axis}`);
        y = g.node('Concat', ins, { axis: 1 });
        break;
      }
      case 'Dropout':
      case 'SpatialDropout2D':
        y = ins[0]!;
        break;
      default:
        return fail(layer, 'layer not supported by visid\'s Keras→ONNX converter');
    }
    values.set(layer.name, y);
  }
  return values.get(until)!;
}

export function kerasToOnnx(model: KerasLayersModel, o: KerasConversion): Uint8Array {
  const g = new OnnxGraph(o.name);
  const input = g.input(o.inputName ?? 'image', ['N', 3, 'H', 'W']);
  const features = appendKerasLayers(g, model, input, o.until, { preprocess: o.preprocess });
  if (o.output === 'gem') {
    const clipped = g.node('Clip', [features, g.weight([1e-6], []), g.weight([1e6], [])]);
    const pooled = g.node('GlobalAveragePool', [g.node('Pow', [clipped, g.weight([3], [])])]);
    g.node('Flatten', [g.node('Pow', [pooled, g.weight([1 / 3], [])])], { axis: 1 }, ['embedding']);
    g.output('embedding', ['N', 'C']);
  } else {
    g.node('Identity', [features], {}, ['features']);
    g.output('features', ['N', 'C', 'h', 'w']);
  }
  return g.toBytes(o.docString ?? '');
}
