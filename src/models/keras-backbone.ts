// A pretrained Keras body (nsfwjs' MobileNetV2 / InceptionV3, or any Keras layers model folder) as a trainable visid
// layer: the forward pass on TensorFlow.js core ops with variables initialised from the Keras weights, any suffix
// of it trainable (the whole body, or its last N blocks), batch norms with frozen statistics or batch statistics,
// and an ONNX export that writes the current weights through the same converter as the shipped backbones.
//
// Blocks: a block ends where the whole network passes through one merge layer (an Add or Concatenate every path
// from the input to the output goes through: MobileNetV2's residual adds, InceptionV3's mixed0…mixed10); the
// layers after the last such merge are the last block. `last-2-blocks` trains the last two.
import { tf } from '../tf/runtime.js';
import { VisidError } from '../util/errors.js';
import type { Layer, Param } from './layers.js';
import { OnnxGraph } from '../formats/onnx-graph.js';
import { appendKerasLayers, layersUpTo, type KerasLayer, type KerasLayersModel } from './keras-layers-onnx.js';
import type { TfWeight } from './tfjs-weights.js';

/** The body's layers up to `until`, split into blocks (each a list of layer names, in order). */
export function kerasBlocks(model: KerasLayersModel, until: string): string[][] {
  const layers = layersUpTo(model, until);
  const inputs = new Map(layers.map((l) => [l.name, (l.inbound_nodes[0] ?? []).map(([src]) => src)]));
  const input = layers.find((l) => l.class_name === 'InputLayer')!.name;
  /** Whether `until` is still reachable from the input when `cut` is removed (backwards search from `until`). */
  const reachableWithout = (cut: string): boolean => {
    const seen = new Set<string>([cut]);
    const stack = [until];
    while (stack.length) {
      const n = stack.pop()!;
      if (n === input) return true;
      for (const src of inputs.get(n) ?? []) if (!seen.has(src)) {
        seen.add(src);
        stack.push(src);
      }
    }
    return false;
  };
  const blocks: string[][] = [];
  let current: string[] = [];
  for (const l of layers) {
    current.push(l.name);
    if ((l.class_name === 'Add' || l.class_name === 'Concatenate') && l.name !== until && !reachableWithout(l.name)) {
      blocks.push(current);
      current = [];
    }
  }
  if (current.length) blocks.push(current);
  return blocks;
}

export type Trainable = 'all' | 'none' | `last-${number}-blocks`;

/**
 * The last layer of the frozen trunk `trainable` leaves (the end of the block before the first trainable one;
 * `until` itself for 'none'), or undefined when everything trains.
 */
export function trunkEnd(model: KerasLayersModel, until: string, trainable: Trainable): string | undefined {
  if (trainable === 'all') return undefined;
  if (trainable === 'none') return until;
  const blocks = kerasBlocks(model, until);
  const n = Number(/^last-(\d+)-blocks?$/.exec(trainable)?.[1] ?? 0);
  return n >= blocks.length ? undefined : blocks[blocks.length - n - 1]!.at(-1);
}

/** The layers `trainable` makes trainable (the rest keep their pretrained weights, and their BN statistics). */
export function trainableLayers(model: KerasLayersModel, until: string, trainable: Trainable): Set<string> {
  const blocks = kerasBlocks(model, until);
  if (trainable === 'all') return new Set(blocks.flat());
  if (trainable === 'none') return new Set();
  const m = /^last-(\d+)-blocks?$/.exec(trainable);
  if (!m || Number(m[1]) < 1) throw new VisidError('E_INPUT', `trainable must be all, none or last-<n>-blocks, got '${trainable}'`);
  return new Set(blocks.slice(-Number(m[1])).flat());
}

export interface KerasBackboneOptions {
  until: string;
  trainable: Trainable;
  /**
   * Batch norms use their moving statistics in training too (the usual choice when fine-tuning with small batches);
   * false: batch statistics, with the moving ones updated at `bnMomentum`.
   */
  freezeBn?: boolean;
  bnMomentum?: number;
  /** Layer name prefix of the parameters (checkpoints). */
  name?: string;
  /**
   * A frozen trunk's last layer (a block end): `apply` also takes that layer's output instead of an image (told
   * apart by its channel count) and runs only the layers after it — the trunk then runs elsewhere (onnxruntime).
   */
  from?: string;
}

interface Vars {
  kernel?: tf.Variable;
  bias?: tf.Variable;
  gamma?: tf.Variable;
  beta?: tf.Variable;
  mean?: tf.Variable;
  variance?: tf.Variable;
}

export class KerasBackbone implements Layer {
  readonly kind = 'keras-backbone';
  private readonly layers: KerasLayer[];
  private readonly vars = new Map<string, Vars>();
  readonly trainableNames: Set<string>;
  /** The first layer with a trainable weight (everything before it is a frozen trunk). */
  readonly firstTrainable?: string;

  constructor(readonly model: KerasLayersModel, readonly o: KerasBackboneOptions) {
    this.layers = layersUpTo(model, o.until);
    this.trainableNames = trainableLayers(model, o.until, o.trainable);
    const get = (layer: KerasLayer, name: string): TfWeight | undefined => model.weights.get(`${layer.name}/${name}`);
    for (const l of this.layers) {
      const t = this.trainableNames.has(l.name);
      const v = (w: TfWeight | undefined, trainable: boolean) => (w ? tf.variable(tf.tensor(w.values as Float32Array, w.shape), trainable) : undefined);
      if (l.class_name === 'Conv2D' || l.class_name === 'Dense') this.vars.set(l.name, { kernel: v(get(l, 'kernel'), t), bias: l.config['use_bias'] ? v(get(l, 'bias'), t) : undefined });
      else if (l.class_name === 'DepthwiseConv2D') this.vars.set(l.name, { kernel: v(get(l, 'depthwise_kernel'), t), bias: l.config['use_bias'] ? v(get(l, 'bias'), t) : undefined });
      else if (l.class_name === 'BatchNormalization') {
        const mean = get(l, 'moving_mean')!;
        const n = mean.shape[0]!;
        this.vars.set(l.name, {
          gamma: l.config['scale'] === false ? undefined : v(get(l, 'gamma'), t),
          beta: l.config['center'] === false ? undefined : v(get(l, 'beta'), t),
          mean: v(mean, false),
          variance: v(get(l, 'moving_variance'), false),
        });
        if (!this.vars.get(l.name)!.mean || n === 0) throw new VisidError('E_MODEL', `batch norm '${l.name}' has no moving mean`, { item: model.where });
      }
      if (t && !this.firstTrainable && this.vars.has(l.name)) this.firstTrainable = l.name;
    }
  }

  /** Channels of a layer's output, from the configs (filters, depth multipliers, concatenations). */
  channelsOf(name = this.o.until): number {
    const byName = new Map(this.layers.map((l) => [l.name, l]));
    const memo = new Map<string, number>();
    const of = (n: string): number => {
      const hit = memo.get(n);
      if (hit !== undefined) return hit;
      const l = byName.get(n)!;
      const ins = (l.inbound_nodes[0] ?? []).map(([src]) => src);
      const c = l.config;
      const value =
        l.class_name === 'InputLayer'
          ? Number((c['batch_input_shape'] as number[] | undefined)?.[3] ?? 3)
          : l.class_name === 'Conv2D'
            ? Number(c['filters'])
            : l.class_name === 'DepthwiseConv2D'
              ? of(ins[0]!) * Number(c['depth_multiplier'] ?? 1)
              : l.class_name === 'Concatenate'
                ? ins.reduce((a, i) => a + of(i), 0)
                : of(ins[0]!);
      memo.set(n, value);
      return value;
    };
    return of(name);
  }

  params(): Param[] {
    const prefix = this.o.name ?? 'backbone';
    const out: Param[] = [];
    for (const [layer, v] of this.vars) {
      // Frozen layers' weights are the package's: only what can change goes into checkpoints.
      const frozen = !this.trainableNames.has(layer);
      for (const [k, variable] of Object.entries(v) as Array<[string, tf.Variable | undefined]>) {
        if (!variable) continue;
        const isStat = k === 'mean' || k === 'variance';
        if (frozen || (isStat && this.o.freezeBn !== false)) continue;
        out.push({ name: `${prefix}.${layer}.${k}`, variable });
      }
    }
    return out;
  }

  /** The layers a trunk output at `from` feeds (everything after the trunk). */
  private afterTrunk?: KerasLayer[];

  apply(x: tf.Tensor, training: boolean): tf.Tensor {
    const values = new Map<string, tf.Tensor>();
    let layers = this.layers;
    if (this.o.from && x.shape[3] !== 3 && x.shape[3] === this.channelsOf(this.o.from)) {
      const trunk = new Set(layersUpTo(this.model, this.o.from).map((l) => l.name));
      this.afterTrunk ??= this.layers.filter((l) => !trunk.has(l.name));
      layers = this.afterTrunk;
      values.set(this.o.from, x);
    }
    const pair = (v: unknown, d: number): [number, number] => (Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : typeof v === 'number' ? [v, v] : [d, d]);
    const act = (a: unknown, t: tf.Tensor) => (a === 'relu' ? tf.relu(t) : a === 'relu6' ? tf.relu6(t) : a === 'sigmoid' ? tf.sigmoid(t) : a === 'tanh' ? tf.tanh(t) : t);
    for (const l of layers) {
      const c = l.config;
      const ins = (l.inbound_nodes[0] ?? []).map(([src]) => values.get(src)!);
      const v = this.vars.get(l.name);
      const pad = c['padding'] === 'same' ? 'same' : 'valid';
      let y: tf.Tensor;
      switch (l.class_name) {
        case 'InputLayer':
          y = x;
          break;
        case 'Conv2D': {
          y = tf.conv2d(ins[0] as tf.Tensor4D, v!.kernel as unknown as tf.Tensor4D, pair(c['strides'], 1), pad, 'NHWC', pair(c['dilation_rate'], 1));
          if (v!.bias) y = tf.add(y, v!.bias);
          y = act(c['activation'], y);
          break;
        }
        case 'DepthwiseConv2D': {
          y = tf.depthwiseConv2d(ins[0] as tf.Tensor4D, v!.kernel as unknown as tf.Tensor4D, pair(c['strides'], 1), pad, 'NHWC', pair(c['dilation_rate'], 1));
          if (v!.bias) y = tf.add(y, v!.bias);
          y = act(c['activation'], y);
          break;
        }
        case 'BatchNormalization': {
          const eps = Number(c['epsilon'] ?? 1e-3);
          const t = ins[0]!;
          if (training && this.o.freezeBn === false && this.trainableNames.has(l.name)) {
            const { mean, variance } = tf.moments(t, [0, 1, 2]);
            const m = this.o.bnMomentum ?? Number(c['momentum'] ?? 0.99);
            tf.tidy(() => {
              v!.mean!.assign(tf.add(tf.mul(v!.mean!, m), tf.mul(mean, 1 - m)));
              v!.variance!.assign(tf.add(tf.mul(v!.variance!, m), tf.mul(variance, 1 - m)));
            });
            let n = tf.div(tf.sub(t, mean), tf.sqrt(tf.add(variance, eps)));
            if (v!.gamma) n = tf.mul(n, v!.gamma);
            y = v!.beta ? tf.add(n, v!.beta) : n;
          } else {
            // Frozen statistics: one per-channel scale and shift (cheaper to differentiate than tf.batchNorm).
            const inv = tf.rsqrt(tf.add(v!.variance!, eps));
            const scale = v!.gamma ? tf.mul(v!.gamma, inv) : inv;
            const shift = v!.beta ? tf.sub(v!.beta, tf.mul(v!.mean!, scale)) : tf.neg(tf.mul(v!.mean!, scale));
            y = tf.add(tf.mul(t, scale), shift);
          }
          break;
        }
        case 'ReLU': {
          const max = c['max_value'];
          y = typeof max === 'number' ? (max === 6 ? tf.relu6(ins[0]!) : tf.clipByValue(ins[0]!, 0, max)) : tf.relu(ins[0]!);
          break;
        }
        case 'Activation':
          y = act(c['activation'], ins[0]!);
          break;
        case 'ZeroPadding2D': {
          const p = c['padding'];
          const [[t, b], [lf, r]] = Array.isArray(p) && Array.isArray(p[0]) ? (p as [[number, number], [number, number]]) : [pair(p, 0), pair(p, 0)];
          y = tf.pad(ins[0]!, [[0, 0], [t, b], [lf, r], [0, 0]]);
          break;
        }
        case 'MaxPooling2D':
          y = tf.maxPool(ins[0] as tf.Tensor4D, pair(c['pool_size'], 2), pair(c['strides'] ?? c['pool_size'], 2), pad);
          break;
        case 'AveragePooling2D':
          y = tf.avgPool(ins[0] as tf.Tensor4D, pair(c['pool_size'], 2), pair(c['strides'] ?? c['pool_size'], 2), pad);
          break;
        case 'Add':
          y = ins.length === 2 ? tf.add(ins[0]!, ins[1]!) : tf.addN(ins);
          break;
        case 'Concatenate':
          y = tf.concat(ins, 3);
          break;
        case 'Dropout':
        case 'SpatialDropout2D':
          y = ins[0]!;
          break;
        default:
          throw new VisidError('E_MODEL', `layer '${l.name}' (${l.class_name}) is not supported for training`, { item: this.model.where });
      }
      values.set(l.name, y);
    }
    return values.get(this.o.until)!;
  }

  /** The current weights in the Keras naming the converter reads. */
  currentWeights(): Map<string, TfWeight> {
    const out = new Map(this.model.weights);
    const keys: Record<string, string> = { kernel: 'kernel', bias: 'bias', gamma: 'gamma', beta: 'beta', mean: 'moving_mean', variance: 'moving_variance' };
    for (const l of this.layers) {
      const v = this.vars.get(l.name);
      if (!v) continue;
      for (const [k, variable] of Object.entries(v) as Array<[string, tf.Variable | undefined]>) {
        if (!variable) continue;
        const name = `${l.name}/${l.class_name === 'DepthwiseConv2D' && k === 'kernel' ? 'depthwise_kernel' : keys[k]}`;
        out.set(name, { shape: variable.shape, dtype: 'float32', values: variable.dataSync() as Float32Array });
      }
    }
    return out;
  }

  toOnnx(g: OnnxGraph, input: string): string {
    return appendKerasLayers(g, this.model, input, this.o.until, { weights: this.currentWeights() });
  }
}

/** The layers of `model` up to `from` as an ONNX model: NCHW image in, that layer's output ('trunk') out. */
export function trunkToOnnx(model: KerasLayersModel, from: string): Uint8Array {
  const g = new OnnxGraph('visid_frozen_trunk');
  const out = appendKerasLayers(g, model, g.input('image', ['N', 3, 'H', 'W']), from);
  g.node('Identity', [out], {}, ['trunk']);
  g.output('trunk', ['N', 'C', 'h', 'w']);
  return g.toBytes('frozen trunk of a fine-tuned backbone');
}
