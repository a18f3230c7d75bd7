// Where the shipped models live: the trained default (committed weights) and the untrained reference (built on first use).
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { VisidError } from '../util/errors.js';
import { buildUntrainedModel, UNTRAINED_MAP_MODEL_NAME, UNTRAINED_MODEL_NAME } from './default-model.js';
import { buildMobileNetV1Model, MOBILENET_GEM_MODEL_NAME, MOBILENET_MAP_MODEL_NAME } from './mobilenet-v1.js';
import { packagePath } from '../util/package-root.js';

/** The package's models/ folder (shipped in the repository). */
export const PACKAGE_MODELS_DIR = packagePath('models');

/**
 * visid's default model: a residual CNN trained by visid itself on Fashion-MNIST
 * (configs/default-fashion-mnist.yaml), 28×28 grey input, 64-d descriptors.
 */
export const DEFAULT_MODEL_NAME = 'visid-fashion-mnist-resnet-v2';

/** Path of the trained default model's .onnx file (it ships with the package). */
export async function defaultModelPath(dir = PACKAGE_MODELS_DIR): Promise<string> {
  const onnxPath = path.join(dir, `${DEFAULT_MODEL_NAME}.onnx`);
  if (!(await fs.access(onnxPath).then(() => true, () => false))) {
    throw new VisidError('E_MODEL', 'the default model is missing from the package (reinstall visid, or pass --model)', { item: onnxPath });
  }
  return onnxPath;
}

/** Path of the untrained reference model, creating it (and its card) from its deterministic builder if needed. */
export async function untrainedModelPath(dir = PACKAGE_MODELS_DIR): Promise<string> {
  return builtModelPath(dir, UNTRAINED_MODEL_NAME, () => buildUntrainedModel());
}

/** Path of the untrained feature-map backbone (the same convolutions, no pooling), built on first use. */
export async function untrainedFeatureMapModelPath(dir = PACKAGE_MODELS_DIR): Promise<string> {
  return builtModelPath(dir, UNTRAINED_MAP_MODEL_NAME, () => buildUntrainedModel({ featureMap: true }));
}

/**
 * Path of the MobileNetV1 backbone rebuilt from face-api's SSD weights (feature map, or GeM-pooled 1024-d), built on
 * first use from the @vladmandic/face-api npm package (13 MB; not kept in the repository).
 */
export async function mobileNetModelPath(options: { pooled?: boolean } = {}, dir = PACKAGE_MODELS_DIR): Promise<string> {
  return builtModelPath(dir, options.pooled ? MOBILENET_GEM_MODEL_NAME : MOBILENET_MAP_MODEL_NAME, () => buildMobileNetV1Model(options));
}

/** Where built models go when the package folder is read-only (a global install): the user's cache. */
export function userModelCacheDir(): string {
  return path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'visid', 'models');
}

/**
 * Path of a model visid builds on first use from npm packages' weights (`name`.onnx + its card): the package's models/
 * folder, or the user cache when that is read-only; built by `build` when neither has it.
 */
export async function builtModelPath(dir: string, name: string, build: () => { onnx: Uint8Array; card: unknown } | Promise<{ onnx: Uint8Array; card: unknown }>): Promise<string> {
  const exists = (p: string) => fs.access(p).then(() => true, () => false);
  const onnxPath = path.join(dir, `${name}.onnx`);
  if (await exists(onnxPath)) return onnxPath;
  const cached = path.join(userModelCacheDir(), `${name}.onnx`);
  if (await exists(cached)) return cached;
  const { onnx, card } = await build();
  const write = async (target: string) => {
    await fs.mkdir(target, { recursive: true });
    // The card first: a model file is only ever found beside its card.
    await writeFileAtomic(path.join(target, `${name}.json`), JSON.stringify(card, null, 2) + '\n');
    await writeFileAtomic(path.join(target, `${name}.onnx`), onnx);
    return path.join(target, `${name}.onnx`);
  };
  try {
    return await write(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EROFS' && code !== 'EPERM') throw err;
    return write(userModelCacheDir());
  }
}
