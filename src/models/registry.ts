// Models by name (as timm names them): `--model photo`, `--model photo-small`, the default Fashion-MNIST model, the
// untrained and face-detector baselines. Each is shipped in models/ or built on first use from an npm package's
// weights (nothing is downloaded); a name that is not here is taken as a path to an ONNX file.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { VisidError } from '../util/errors.js';
import { builtModelPath, DEFAULT_MODEL_NAME, defaultModelPath, PACKAGE_MODELS_DIR } from './default-files.js';
import { buildUntrainedModel, UNTRAINED_MAP_MODEL_NAME, UNTRAINED_MODEL_NAME } from './default-model.js';
import { buildMobileNetV1Model, MOBILENET_GEM_MODEL_NAME, MOBILENET_MAP_MODEL_NAME } from './mobilenet-v1.js';
import { buildPhotoBackbone, PHOTO_BACKBONES, photoModelName, type PhotoBackboneName } from './photo-backbones.js';

export interface RegisteredModel {
  /** The short name users type. */
  name: string;
  /** The model file's base name in models/ (also accepted as a name). */
  file: string;
  /** 'pooled' gives one descriptor per image; 'map' a feature map [N, C, h, w] (for GeM heads, local features). */
  output: 'pooled' | 'map';
  dim: number;
  inputSize: [number, number];
  description: string;
  source: string;
  licence: string;
  /** How many megabytes the ONNX file has. */
  sizeMb: number;
  /** Builds the ONNX file and card; absent for files that ship in the package. */
  build?: () => Promise<{ onnx: Uint8Array; card: unknown }> | { onnx: Uint8Array; card: unknown };
}

const NSFWJS = 'the nsfwjs npm package (Keras layers model; ImageNet-initialised, trained by nsfwjs\' authors on a 5-class photo classifier)';

function photo(name: string, backbone: PhotoBackboneName, output: 'gem' | 'map', sizeMb: number, note: string): RegisteredModel {
  const b = PHOTO_BACKBONES[backbone];
  return {
    name,
    file: photoModelName(backbone, output),
    output: output === 'gem' ? 'pooled' : 'map',
    dim: b.channels,
    inputSize: [b.inputSize, b.inputSize],
    description: `${b.title} body ${output === 'gem' ? '+ GeM' : 'feature map'}; ${note}`,
    source: NSFWJS,
    licence: 'MIT (nsfwjs)',
    sizeMb,
    build: () => buildPhotoBackbone(backbone, output),
  };
}

export const MODELS: readonly RegisteredModel[] = [
  // Measured on real photos (bench/RESULTS.md, "photo backbones"): MobileNetV2 is ahead of InceptionV3 on both
  // checks here (LFW unseen-identity retrieval, copy detection on LFW photos) at a sixth of the cost, so it is both
  // the best and the fast model; InceptionV3 stays available by name.
  photo('photo', 'mobilenetv2', 'gem', 9, 'the general photo model, the default of visid index (the best measured here, and the fast one)'),
  photo('photo-map', 'mobilenetv2', 'map', 9, 'the photo model\'s feature map, for GeM heads (geo recipe) and local features'),
  photo('photo-small', 'mobilenetv2', 'gem', 9, 'the fast photo model (the same network as photo: the fastest is also the best measured)'),
  photo('photo-small-map', 'mobilenetv2', 'map', 9, 'the fast photo model\'s feature map (= photo-map)'),
  photo('photo-inceptionv3', 'inceptionv3', 'gem', 87, 'the larger nsfwjs network, 299 px (measured behind MobileNetV2 here; try it on your data)'),
  photo('photo-inceptionv3-map', 'inceptionv3', 'map', 87, 'the InceptionV3 feature map'),
  {
    name: 'copy',
    file: 'visid-copy-mobilenetv2-v1',
    output: 'pooled',
    dim: 256,
    inputSize: [160, 160],
    description: 'visid\'s copy descriptor: the photo backbone fine-tuned by instance discrimination on heavily edited LFW photos (issue 16), GeM + FC-BN, 256-d; for visid copy-detect (multi-scale ready)',
    source: 'trained by visid (npx visid train --config configs/copy-descriptor.yaml), shipped in models/',
    licence: 'MIT (visid; nsfwjs weights MIT); trained on LFW photos',
    sizeMb: 10,
  },
  {
    name: 'fashion-mnist',
    file: DEFAULT_MODEL_NAME,
    output: 'pooled',
    dim: 64,
    inputSize: [28, 28],
    description: 'residual CNN trained by visid with ArcFace on Fashion-MNIST (28×28 grey clothing); the demo\'s model',
    source: 'trained by visid (configs/default-fashion-mnist.yaml), shipped in models/',
    licence: 'MIT (visid); Fashion-MNIST MIT',
    sizeMb: 0.3,
  },
  {
    name: 'random-conv',
    file: UNTRAINED_MODEL_NAME,
    output: 'pooled',
    dim: 256,
    inputSize: [224, 224],
    description: 'untrained seeded random convolutions + GeM: an honest baseline',
    source: 'built by visid (seeded)',
    licence: 'MIT (visid)',
    sizeMb: 1,
    build: () => buildUntrainedModel(),
  },
  {
    name: 'random-conv-map',
    file: UNTRAINED_MAP_MODEL_NAME,
    output: 'map',
    dim: 256,
    inputSize: [224, 224],
    description: 'the same random convolutions, feature map',
    source: 'built by visid (seeded)',
    licence: 'MIT (visid)',
    sizeMb: 1,
    build: () => buildUntrainedModel({ featureMap: true }),
  },
  {
    name: 'mobilenet-wider',
    file: MOBILENET_GEM_MODEL_NAME,
    output: 'pooled',
    dim: 1024,
    inputSize: [256, 256],
    description: "MobileNetV1 body of face-api's SSD face detector (trained on WIDER FACE) + GeM",
    source: 'the @vladmandic/face-api npm package',
    licence: 'MIT (face-api)',
    sizeMb: 13,
    build: () => buildMobileNetV1Model({ pooled: true }),
  },
  {
    name: 'mobilenet-wider-map',
    file: MOBILENET_MAP_MODEL_NAME,
    output: 'map',
    dim: 1024,
    inputSize: [256, 256],
    description: "the face detector's MobileNetV1 body, feature map",
    source: 'the @vladmandic/face-api npm package',
    licence: 'MIT (face-api)',
    sizeMb: 13,
    build: () => buildMobileNetV1Model(),
  },
];

/** What `visid index` uses without --model. */
export const DEFAULT_INDEX_MODEL = 'photo';

/** The registered model `name` refers to (short name, file name, 'default' for the Fashion-MNIST model), if any. */
export function findModel(name: string): RegisteredModel | undefined {
  if (name === 'default') return MODELS.find((m) => m.file === DEFAULT_MODEL_NAME);
  const base = name.endsWith('.onnx') ? path.basename(name, '.onnx') : name;
  return MODELS.find((m) => m.name === name || (m.file === base && !name.includes(path.sep)));
}

/** The ONNX file of a registered model, built on first use (into models/, or the user cache). */
export async function registeredModelPath(m: RegisteredModel, dir = PACKAGE_MODELS_DIR): Promise<string> {
  if (!m.build) return m.file === DEFAULT_MODEL_NAME ? defaultModelPath(dir) : path.join(dir, `${m.file}.onnx`);
  return builtModelPath(dir, m.file, m.build);
}

/**
 * A `--model` value → an ONNX file: a registered name (built if needed), or a path that must exist. A name that
 * is neither is an error listing the names.
 */
export async function resolveModelName(model: string): Promise<string> {
  const m = findModel(model);
  if (m) return registeredModelPath(m);
  if (existsSync(model)) return model;
  throw new VisidError('E_NOT_FOUND', `no model file or model name '${model}' (names: ${MODELS.map((x) => x.name).join(', ')}; visid models lists them)`, { item: model });
}
