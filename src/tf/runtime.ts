// Picks and initialises the TensorFlow.js backend for training: tfjs-node when installed, else WebAssembly.
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from './wasm-kernels.js';

const require = createRequire(import.meta.url);

export type TrainBackend = 'tensorflow' | 'wasm' | 'cpu';

export { tf };

/** Whether @tensorflow/tfjs-node can be loaded (it is optional: its install downloads libtensorflow). */
export function hasTfjsNode(): boolean {
  try {
    require.resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

/**
 * Selects the backend: the one asked for (or VISID_TF_BACKEND), else tfjs-node's native TensorFlow when a user has
 * installed it, else WebAssembly (about 30× the pure-JS CPU backend on matrix products). Idempotent.
 */
export async function initTf(wanted?: TrainBackend): Promise<TrainBackend> {
  const choice = wanted ?? (process.env.VISID_TF_BACKEND as TrainBackend | undefined) ?? (hasTfjsNode() ? 'tensorflow' : 'wasm');
  if (choice === 'tensorflow') {
    try {
      require('@tensorflow/tfjs-node');
    } catch (err) {
      throw new Error(`backend 'tensorflow' needs @tensorflow/tfjs-node installed: ${(err as Error).message}`);
    }
  }
  if (choice === 'wasm') registerWasmTrainingKernels();
  if (tf.getBackend() !== choice) {
    const ok = await tf.setBackend(choice);
    if (!ok) throw new Error(`TensorFlow.js backend '${choice}' failed to initialise`);
  }
  await tf.ready();
  return choice;
}
