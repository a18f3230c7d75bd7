// Trainable embedding networks — small residual CNNs and heads for frozen-backbone features — from a JSON spec.
import { Conv2d, BatchNorm, Dense, Dropout, GeM, Layer, LeakyRelu, Param, PRelu, Relu, ResidualBlock, Sequential } from './layers.js';
import { tf } from '../tf/runtime.js';
import { KerasBackbone, type Trainable } from './keras-backbone.js';
import { loadedPretrainedBackbone } from './pretrained.js';

/** A small residual CNN trained end to end (input NHWC, uint8-range images normalised by the trainer). */
export interface CnnSpec {
  type: 'resnet';
  /** Input height, width and channels (1 for grey, 3 for RGB). */
  input: [number, number, number];
  /** Channels of the stem and of each stage (each stage after the first halves the resolution). */
  widths: number[];
  /** Residual blocks per stage. */
  blocksPerStage: number;
  embeddingDim: number;
  /** GeM's initial p (learned), default 3. */
  gemP?: number;
  seed?: number;
}

/** A head trained on cached features of a frozen backbone. */
export interface HeadSpec {
  type: 'head';
  /** Feature length, or [C, H, W] when the backbone outputs feature maps (GeM pools them first). */
  input: number | [number, number, number];
  /**
   * linear: FC. fc-bn: FC-BN (seed 000 §2.3 neck), optionally PReLU and dropout. projector: FC-BN-LeakyReLU-FC
   * to `projectorDim` then a learnable reduction matrix (no bias) to the embedding (seed 004 §3.2).
   */
  kind: 'linear' | 'fc-bn' | 'projector';
  embeddingDim: number;
  prelu?: boolean;
  dropout?: number;
  hiddenDim?: number;
  projectorDim?: number;
  gemP?: number;
  seed?: number;
}

/**
 * A pretrained Keras body fine-tuned end to end (or its last blocks) with GeM and an FC(-BN) head. The body comes
 * from `loadPretrainedBackbone` (await it before building).
 */
export interface PretrainedSpec {
  type: 'pretrained';
  /** A backbone name (photo, photo-small, photo-inceptionv3) or a Keras layers model folder. */
  backbone: string;
  /** The body's last layer (its feature map). */
  until: string;
  /** Input height, width, channels (3). */
  input: [number, number, number];
  trainable: Trainable;
  freezeBn: boolean;
  /** The frozen trunk's last layer when the trunk runs in onnxruntime during training (see KerasBackbone `from`). */
  from?: string;
  /** projector: seed 004's FC-BN-LeakyReLU-FC to `projectorDim`, then a reduction to the descriptor (copy detection). */
  head: 'linear' | 'fc-bn' | 'projector';
  hiddenDim?: number;
  projectorDim?: number;
  embeddingDim: number;
  gemP?: number;
  seed?: number;
}

export type NetSpec = CnnSpec | HeadSpec | PretrainedSpec;

/** Intermediate outputs some losses train on (seed 004 §3.2: triplet on the pooled feature, CE on the projection). */
export interface NetOutputs {
  embedding: tf.Tensor2D;
  /** The pooled feature before the head's layers, when something trainable produced it (a CNN's or a feature-map head's GeM). */
  features?: tf.Tensor2D;
  /** The projector's output (projector heads): the 8192-d space before the reduction matrix. */
  projection?: tf.Tensor2D;
}

export interface EmbeddingNet {
  spec: NetSpec;
  body: Sequential;
  /** Shape of one input sample (NHWC for images, [D] or [H, W, C] for features). */
  sampleShape: number[];
  params(): Param[];
  /** Trainable variables (BN running statistics excluded). */
  trainable(): tf.Variable[];
  apply(x: tf.Tensor, training: boolean): tf.Tensor2D;
  /** The embedding with the intermediate outputs of NetOutputs (those this network has). */
  applyTapped(x: tf.Tensor, training: boolean): NetOutputs;
}

/** Layer indices whose outputs are tapped. */
interface Taps {
  features?: number;
  projection?: number;
}

function net(spec: NetSpec, layers: Layer[], sampleShape: number[], taps: Taps = {}): EmbeddingNet {
  const body = new Sequential(layers);
  return {
    spec,
    body,
    sampleShape,
    params: () => body.params(),
    trainable: () => body.params().map((p) => p.variable).filter((v) => v.trainable),
    apply: (x, training) => body.apply(x, training) as tf.Tensor2D,
    applyTapped(x, training) {
      const out: Partial<NetOutputs> = {};
      let t = x;
      layers.forEach((layer, i) => {
        t = layer.apply(t, training);
        if (i === taps.features) out.features = t as tf.Tensor2D;
        if (i === taps.projection) out.projection = t as tf.Tensor2D;
      });
      return { ...out, embedding: t as tf.Tensor2D };
    },
  };
}

export function buildCnn(spec: CnnSpec): EmbeddingNet {
  const [h, w, c] = spec.input;
  if (spec.widths.length === 0) throw new Error('a CNN needs at least one stage width');
  const seed = spec.seed ?? 1;
  const layers: Layer[] = [new Conv2d('stem', c, spec.widths[0]!, 3, 1, seed), new BatchNorm('stem_bn', spec.widths[0]!), new Relu()];
  let inC = spec.widths[0]!;
  spec.widths.forEach((width, stage) => {
    for (let b = 0; b < spec.blocksPerStage; b++) {
      const stride = b === 0 && stage > 0 ? 2 : 1;
      layers.push(new ResidualBlock(`stage${stage}.block${b}`, inC, width, stride, seed + 100 * (stage + 1) + 10 * b));
      inC = width;
    }
  });
  layers.push(new GeM('gem', spec.gemP ?? 3));
  const features = layers.length - 1;
  layers.push(new Dense('fc', inC, spec.embeddingDim, seed + 7), new BatchNorm('fc_bn', spec.embeddingDim));
  return net(spec, layers, [h, w, c], { features });
}

export function buildHead(spec: HeadSpec): EmbeddingNet {
  const seed = spec.seed ?? 1;
  const layers: Layer[] = [];
  let inF: number;
  let sampleShape: number[];
  const taps: Taps = {};
  if (Array.isArray(spec.input)) {
    taps.features = 0;
    const [c, h, w] = spec.input;
    layers.push(new GeM('gem', spec.gemP ?? 3));
    inF = c;
    sampleShape = [h, w, c];
  } else {
    inF = spec.input;
    sampleShape = [inF];
  }
  if (spec.kind === 'linear') {
    layers.push(new Dense('fc', inF, spec.embeddingDim, seed));
  } else if (spec.kind === 'fc-bn') {
    layers.push(new Dense('fc', inF, spec.embeddingDim, seed), new BatchNorm('bn', spec.embeddingDim));
    if (spec.prelu) layers.push(new PRelu('prelu', spec.embeddingDim));
    if (spec.dropout) layers.push(new Dropout(spec.dropout, seed + 3));
  } else if (spec.kind === 'projector') {
    taps.projection = pushProjector(layers, inF, spec, seed);
  } else {
    throw new Error(`unknown head kind '${(spec as HeadSpec).kind}' (linear, fc-bn, projector)`);
  }
  return net(spec, layers, sampleShape, taps);
}

/**
 * Seed 004 §3.2's projector: FC-BN-LeakyReLU-FC to `projectorDim` (8192 in the seed), then a learnable reduction
 * matrix (no bias) to the descriptor. Returns the index of the projection's layer (the soft-CE teacher's input).
 */
function pushProjector(layers: Layer[], inF: number, spec: { hiddenDim?: number; projectorDim?: number; embeddingDim: number }, seed: number): number {
  const hidden = spec.hiddenDim ?? 4096;
  const proj = spec.projectorDim ?? 8192;
  layers.push(new Dense('proj_fc1', inF, hidden, seed), new BatchNorm('proj_bn', hidden), new LeakyRelu(0.01), new Dense('proj_fc2', hidden, proj, seed + 1));
  const at = layers.length - 1;
  layers.push(new Dense('reduction', proj, spec.embeddingDim, seed + 2, false));
  return at;
}

export function buildPretrained(spec: PretrainedSpec): EmbeddingNet {
  const loaded = loadedPretrainedBackbone(spec.backbone, spec.until);
  const seed = spec.seed ?? 1;
  const body = new KerasBackbone(loaded.model, { until: spec.until, trainable: spec.trainable, freezeBn: spec.freezeBn, from: spec.from });
  const channels = body.channelsOf();
  const layers: Layer[] = [body, new GeM('gem', spec.gemP ?? 3)];
  const features = layers.length - 1;
  if (spec.head === 'projector') {
    const projection = pushProjector(layers, channels, spec, seed + 7);
    return net(spec, layers, spec.input, { features, projection });
  }
  layers.push(new Dense('fc', channels, spec.embeddingDim, seed + 7));
  if (spec.head === 'fc-bn') layers.push(new BatchNorm('fc_bn', spec.embeddingDim));
  return net(spec, layers, spec.input, { features });
}

export function buildNet(spec: NetSpec): EmbeddingNet {
  if (spec.type === 'resnet') return buildCnn(spec);
  if (spec.type === 'head') return buildHead(spec);
  if (spec.type === 'pretrained') return buildPretrained(spec);
  throw new Error(`unknown network type '${(spec as { type: string }).type}' (resnet, head, pretrained)`);
}
