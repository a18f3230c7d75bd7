// Where the embedded default model lives in the package, written on first use from its deterministic builder.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../util/atomic.js';
import { buildDefaultModel, DEFAULT_MODEL_NAME } from './default-model.js';

/** The package's models/ folder (shipped in the repository). */
export const PACKAGE_MODELS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../models');

/** Path of the default model's .onnx file, creating it (and its card) if it is not there yet. */
export async function defaultModelPath(dir = PACKAGE_MODELS_DIR): Promise<string> {
  const onnxPath = path.join(dir, `${DEFAULT_MODEL_NAME}.onnx`);
  const exists = await fs.access(onnxPath).then(() => true, () => false);
  if (!exists) {
    const { onnx, card } = buildDefaultModel();
    await fs.mkdir(dir, { recursive: true });
    await writeFileAtomic(path.join(dir, `${DEFAULT_MODEL_NAME}.json`), JSON.stringify(card, null, 2) + '\n');
    await writeFileAtomic(onnxPath, onnx);
  }
  return onnxPath;
}
