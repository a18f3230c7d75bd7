// Picks and initialises the TensorFlow.js backend for training: tfjs-node when installed, else WebAssembly.
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from './wasm-kernels.js';

const require = createRequire(import.meta.url);

/**
 * TensorFlow.js writes to the console from library code: a "Hi, looks like you are running TensorFlow.js in Node.js"
 * banner the first time its CPU backend holds data, and notes such as "backend was already registered". A visid
 * command prints only its own results, progress and errors, so tfjs' console output goes through its PROD flag, which
 * gates nothing but tfjs' own `warn`/`log` (tfjs' `enableProdMode` also clears DEBUG, already off by default).
 * VISID_TF_WARNINGS=1 keeps them, for debugging tfjs itself.
 */
export function quietTensorFlow(env: { set(flag: string, value: boolean): void } = tf.env()): void {
  if (process.env.VISID_TF_WARNINGS === '1') return;
  env.set('PROD', true);
}

quietTensorFlow();

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
