// Trainable layers on TensorFlow.js core ops, each able to write itself into an ONNX graph for inference.
//
// Models are built from these rather than tfjs-layers so that every trained part has one exact ONNX counterpart:
// training runs NHWC in tfjs; the exported graph runs NCHW (the Embedder's layout) with transposed conv weights.
import { tf } from '../tf/runtime.js';
import { OnnxGraph } from '../formats/onnx-graph.js';

/** Named parameters: trainable ones go to the optimiser; the rest (BN running statistics) are state. */
export interface Param {
  name: string;
  variable: tf.Variable;
}

export interface Layer {
  readonly kind: string;
  params(): Param[];
  apply(x: tf.Tensor, training: boolean): tf.Tensor;
  /** Appends this layer's inference graph; `input` is an NCHW (or [N, D]) tensor name; returns the output name. */
  toOnnx(g: OnnxGraph, input: string): string;
}

/** Seeded He-normal initialiser (fan-in), deterministic per seed. */
function heNormal(shape: number[], fanIn: number, seed: number): tf.Tensor {
  return tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', seed);
}

async function values(v: tf.Variable): Promise<Float32Array> {
  return (await v.data()) as Float32Array;
}

function syncValues(v: tf.Variable): Float32Array {
  return v.dataSync() as Float32Array;
}

export class Conv2d implements Layer {
  readonly kind = 'conv2d';
  readonly kernel: tf.Variable;
  readonly bias?: tf.Variable;
  constructor(
    private readonly name: string,
    inC: number,
    readonly outC: number,
    readonly size: number,
    readonly stride: number,
    seed: number,
    useBias = false,
  ) {
    this.kernel = tf.variable(heNormal([size, size, inC, outC], size * size * inC, seed));
    if (useBias) this.bias = tf.variable(tf.zeros([outC]));
  }

  params(): Param[] {
    return [{ name: `${this.name}.kernel`, variable: this.kernel }, ...(this.bias ? [{ name: `${this.name}.bias`, variable: this.bias }] : [])];
  }

  apply(x: tf.Tensor): tf.Tensor {
    const y = tf.conv2d(x as tf.Tensor4D, this.kernel as unknown as tf.Tensor4D, this.stride, 'same');
    return this.bias ? tf.add(y, this.bias) : y;
  }

  toOnnx(g: OnnxGraph, input: string): string {
    const [kh, kw, ci, co] = this.kernel.shape as number[];
    // HWIO → OIHW
    const t = tf.transpose(this.kernel, [3, 2, 0, 1]);
    const w = t.dataSync() as Float32Array;
    t.dispose();
    const inputs = [input, g.weight(w, [co!, ci!, kh!, kw!])];
    if (this.bias) inputs.push(g.weight(syncValues(this.bias), [co!]));
    // TF 'same' padding puts the odd pixel at the end: SAME_UPPER.
    return g.node('Conv', inputs, { kernel_shape: [kh!, kw!], strides: [this.stride, this.stride], auto_pad: 'SAME_UPPER' });
  }
}

/** Batch normalisation over the last axis (channels in NHWC, features in [N, D]) with running statistics. */
export class BatchNorm implements Layer {
  readonly kind = 'batchnorm';
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
  readonly movingMean: tf.Variable;
  readonly movingVar: tf.Variable;
  constructor(
    private readonly name: string,
    readonly channels: number,
    private readonly momentum = 0.9,
    private readonly epsilon = 1e-5,
  ) {
    this.gamma = tf.variable(tf.ones([channels]));
    this.beta = tf.variable(tf.zeros([channels]));
    this.movingMean = tf.variable(tf.zeros([channels]), false);
    this.movingVar = tf.variable(tf.ones([channels]), false);
  }

  params(): Param[] {
    return [
      { name: `${this.name}.gamma`, variable: this.gamma },
      { name: `${this.name}.beta`, variable: this.beta },
      { name: `${this.name}.moving_mean`, variable: this.movingMean },
      { name: `${this.name}.moving_var`, variable: this.movingVar },
    ];
  }

  apply(x: tf.Tensor, training: boolean): tf.Tensor {
    if (!training) return tf.batchNorm(x, this.movingMean, this.movingVar, this.beta, this.gamma, this.epsilon);
    const axes = x.shape.map((_, i) => i).slice(0, -1);
    const { mean, variance } = tf.moments(x, axes);
    // Running statistics are state, updated outside the gradient tape.
    const m = tf.tensor(mean.dataSync(), mean.shape);
    const n = x.size / this.channels;
    const v = tf.tensor(variance.dataSync(), variance.shape).mul(n / Math.max(1, n - 1));
    tf.tidy(() => {
      this.movingMean.assign(tf.add(tf.mul(this.movingMean, this.momentum), tf.mul(m, 1 - this.momentum)));
      this.movingVar.assign(tf.add(tf.mul(this.movingVar, this.momentum), tf.mul(v, 1 - this.momentum)));
    });
    tf.dispose([m, v]);
    // Written with broadcasting ops rather than tf.batchNorm: its gradient tiles every operand to the input's
    // shape, and wasm's Tile is slow (a third of a training step's time).
    return tf.add(tf.mul(tf.sub(x, mean), tf.mul(tf.rsqrt(tf.add(variance, this.epsilon)), this.gamma)), this.beta);
  }

  toOnnx(g: OnnxGraph, input: string): string {
    const c = [this.channels];
    return g.node(
      'BatchNormalization',
      [input, g.weight(syncValues(this.gamma), c), g.weight(syncValues(this.beta), c), g.weight(syncValues(this.movingMean), c), g.weight(syncValues(this.movingVar), c)],
      { epsilon: { float: this.epsilon } },
    );
  }
}

export class Relu implements Layer {
  readonly kind = 'relu';
  params(): Param[] {
    return [];
  }
  apply(x: tf.Tensor): tf.Tensor {
    return tf.relu(x);
  }
  toOnnx(g: OnnxGraph, input: string): string {
    return g.node('Relu', [input]);
  }
}

export class LeakyRelu implements Layer {
  readonly kind = 'leaky-relu';
  constructor(private readonly alpha = 0.01) {}
  params(): Param[] {
    return [];
  }
  apply(x: tf.Tensor): tf.Tensor {
    return tf.leakyRelu(x, this.alpha);
  }
  toOnnx(g: OnnxGraph, input: string): string {
    return g.node('LeakyRelu', [input], { alpha: { float: this.alpha } });
  }
}

/** PReLU with one learned slope per feature (seed 000's FC-BN-PReLU neck). For [N, D] inputs. */
export class PRelu implements Layer {
  readonly kind = 'prelu';
  readonly alpha: tf.Variable;
  constructor(private readonly name: string, features: number) {
    this.alpha = tf.variable(tf.fill([features], 0.25));
  }
  params(): Param[] {
    return [{ name: `${this.name}.alpha`, variable: this.alpha }];
  }
  apply(x: tf.Tensor): tf.Tensor {
    return tf.prelu(x, this.alpha);
  }
  toOnnx(g: OnnxGraph, input: string): string {
    return g.node('PRelu', [input, g.weight(syncValues(this.alpha), [this.alpha.shape[0]!])]);
  }
}

/** Inverted dropout while training, identity at inference (so it exports as nothing). */
export class Dropout implements Layer {
  readonly kind = 'dropout';
  private calls = 0;
  constructor(private readonly rate: number, private readonly seed: number) {}
  params(): Param[] {
    return [];
  }
  apply(x: tf.Tensor, training: boolean): tf.Tensor {
    if (!training || this.rate === 0) return x;
    return tf.dropout(x, this.rate, undefined, this.seed + this.calls++);
  }
  toOnnx(_g: OnnxGraph, input: string): string {
    return input;
  }
}

export class Dense implements Layer {
  readonly kind = 'dense';
  readonly kernel: tf.Variable;
  readonly bias?: tf.Variable;
  constructor(private readonly name: string, readonly inF: number, readonly outF: number, seed: number, useBias = true) {
    this.kernel = tf.variable(heNormal([inF, outF], inF, seed));
    if (useBias) this.bias = tf.variable(tf.zeros([outF]));
  }
  params(): Param[] {
    return [{ name: `${this.name}.kernel`, variable: this.kernel }, ...(this.bias ? [{ name: `${this.name}.bias`, variable: this.bias }] : [])];
  }
  apply(x: tf.Tensor): tf.Tensor {
    const y = tf.matMul(x as tf.Tensor2D, this.kernel as unknown as tf.Tensor2D);
    return this.bias ? tf.add(y, this.bias) : y;
  }
  toOnnx(g: OnnxGraph, input: string): string {
    const inputs = [input, g.weight(syncValues(this.kernel), [this.inF, this.outF])];
    if (this.bias) inputs.push(g.weight(syncValues(this.bias), [this.outF]));
    else inputs.push(g.weight(new Float32Array(this.outF), [this.outF]));
    return g.node('Gemm', inputs);
  }
}

/**
 * GeM pooling (Radenović et al.; seed 001 §2, seed 004 §3.2 eq. 2): (mean x^p)^(1/p) over the spatial positions,
 * with p learned, initialised at 3. p → 1 is average pooling, p → ∞ max pooling. NHWC [N,H,W,C] → [N,C].
 */
export class GeM implements Layer {
  readonly kind = 'gem';
  readonly p: tf.Variable;
  constructor(private readonly name: string, p = 3, learnable = true, private readonly eps = 1e-6) {
    this.p = tf.variable(tf.scalar(p), learnable);
  }
  params(): Param[] {
    return [{ name: `${this.name}.p`, variable: this.p }];
  }
  apply(x: tf.Tensor): tf.Tensor {
    const pooled = tf.mean(tf.pow(tf.maximum(x, this.eps), this.p), [1, 2]);
    return tf.pow(pooled, tf.div(1, this.p));
  }
  toOnnx(g: OnnxGraph, input: string): string {
    const p = this.p.dataSync()[0]!;
    const clipped = g.node('Max', [input, g.weight([this.eps], [])]);
    const powered = g.node('Pow', [clipped, g.weight([p], [])]);
    const pooled = g.node('GlobalAveragePool', [powered]);
    const root = g.node('Pow', [pooled, g.weight([1 / p], [])]);
    return g.node('Flatten', [root], { axis: 1 });
  }
}

/** Two 3×3 conv-BN layers with an identity (or 1×1 strided projection) shortcut: He et al.'s basic block. */
export class ResidualBlock implements Layer {
  readonly kind = 'residual';
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm;
  private readonly conv2: Conv2d;
  private readonly bn2: BatchNorm;
  private readonly shortcut?: { conv: Conv2d; bn: BatchNorm };
  constructor(name: string, inC: number, outC: number, stride: number, seed: number) {
    this.conv1 = new Conv2d(`${name}.conv1`, inC, outC, 3, stride, seed);
    this.bn1 = new BatchNorm(`${name}.bn1`, outC);
    this.conv2 = new Conv2d(`${name}.conv2`, outC, outC, 3, 1, seed + 1);
    this.bn2 = new BatchNorm(`${name}.bn2`, outC);
    if (stride !== 1 || inC !== outC) this.shortcut = { conv: new Conv2d(`${name}.short`, inC, outC, 1, stride, seed + 2), bn: new BatchNorm(`${name}.short_bn`, outC) };
  }
  params(): Param[] {
    return [this.conv1, this.bn1, this.conv2, this.bn2, ...(this.shortcut ? [this.shortcut.conv, this.shortcut.bn] : [])].flatMap((l) => l.params());
  }
  apply(x: tf.Tensor, training: boolean): tf.Tensor {
    const y = this.bn2.apply(this.conv2.apply(tf.relu(this.bn1.apply(this.conv1.apply(x), training))), training);
    const s = this.shortcut ? this.shortcut.bn.apply(this.shortcut.conv.apply(x), training) : x;
    return tf.relu(tf.add(y, s));
  }
  toOnnx(g: OnnxGraph, input: string): string {
    const a = g.node('Relu', [this.bn1.toOnnx(g, this.conv1.toOnnx(g, input))]);
    const y = this.bn2.toOnnx(g, this.conv2.toOnnx(g, a));
    const s = this.shortcut ? this.shortcut.bn.toOnnx(g, this.shortcut.conv.toOnnx(g, input)) : input;
    return g.node('Relu', [g.node('Add', [y, s])]);
  }
}

/** Layers applied in order. */
export class Sequential implements Layer {
  readonly kind = 'sequential';
  constructor(readonly layers: Layer[]) {}
  params(): Param[] {
    return this.layers.flatMap((l) => l.params());
  }
  apply(x: tf.Tensor, training: boolean): tf.Tensor {
    return this.layers.reduce((t, l) => l.apply(t, training), x);
  }
  toOnnx(g: OnnxGraph, input: string): string {
    return this.layers.reduce((name, l) => l.toOnnx(g, name), input);
  }
}

/** All parameter values by name (for checkpoints and soups). */
export async function snapshotParams(params: Param[]): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const p of params) out.set(p.name, (await values(p.variable)).slice());
  return out;
}

/** Loads parameter values by name, checking that every name exists with the right size. */
export function restoreParams(params: Param[], saved: Map<string, Float32Array>, source: string): void {
  for (const p of params) {
    const v = saved.get(p.name);
    if (!v) throw new Error(`${source} has no parameter '${p.name}'`);
    if (v.length !== p.variable.size) throw new Error(`${source}: parameter '${p.name}' has ${v.length} values, the model needs ${p.variable.size}`);
    p.variable.assign(tf.tensor(v, p.variable.shape));
  }
}
