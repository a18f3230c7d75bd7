// Photo backbones that install offline: the convolutional bodies of the two Keras networks inside the nsfwjs npm
// package (MIT), ImageNet-initialised and then trained by nsfwjs' authors on a 5-class photo classifier, rebuilt as
// ONNX feature extractors on first use — InceptionV3 (299 px, 2048 channels at mixed10) and MobileNetV2 (224 px,
// 1280 channels at out_relu), each as a GeM descriptor or a feature map. Input: RGB in [0, 1], as nsfwjs feeds them.
import { kerasToOnnx, readNsfwjsModel, type NsfwjsModelName } from './keras-layers-onnx.js';
import type { ModelCard } from './model-card.js';

export interface PhotoBackbone {
  /** nsfwjs' model folder. */
  source: NsfwjsModelName;
  /** The layer whose output is the feature map. */
  until: string;
  channels: number;
  inputSize: number;
  title: string;
}

export const PHOTO_BACKBONES = {
  inceptionv3: { source: 'inception_v3', until: 'mixed10', channels: 2048, inputSize: 299, title: 'InceptionV3' },
  mobilenetv2: { source: 'mobilenet_v2', until: 'out_relu', channels: 1280, inputSize: 224, title: 'MobileNetV2 (α 1.0)' },
} as const satisfies Record<string, PhotoBackbone>;

export type PhotoBackboneName = keyof typeof PHOTO_BACKBONES;

export function photoModelName(backbone: PhotoBackboneName, output: 'gem' | 'map'): string {
  return `visid-photo-${backbone}-${output}-v1`;
}

/** The backbone as ONNX with its card: GeM (p = 3) descriptor [N, C], or the feature map [N, C, h, w]; any H, W. */
export async function buildPhotoBackbone(backbone: PhotoBackboneName, output: 'gem' | 'map'): Promise<{ onnx: Uint8Array; card: ModelCard }> {
  const b: PhotoBackbone = PHOTO_BACKBONES[backbone];
  const name = photoModelName(backbone, output);
  const description =
    `${b.title} body (ImageNet-initialised, trained by nsfwjs' authors as a 5-class photo classifier; Keras weights from the nsfwjs npm package, MIT) ` +
    (output === 'gem' ? `+ GeM (p = 3): a ${b.channels}-d photo descriptor` : `: the ${b.until} feature map [N, ${b.channels}, H/32, W/32]`);
  const model = await readNsfwjsModel(b.source);
  const onnx = kerasToOnnx(model, { name, until: b.until, output, docString: description });
  const card: ModelCard = {
    name,
    inputSize: [b.inputSize, b.inputSize],
    layout: 'NCHW',
    // nsfwjs feeds x / 255 and nothing else.
    mean: [0, 0, 0],
    std: [1, 1, 1],
    resize: 'shorter-crop',
    inputName: 'image',
    outputName: output === 'gem' ? 'embedding' : 'features',
    ...(output === 'gem' ? { outputDim: b.channels } : {}),
    description,
  };
  return { onnx, card };
}
