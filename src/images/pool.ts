// A pool of worker threads that decode and preprocess images in parallel, so every core works while the model runs.
import { availableParallelism } from 'node:os';
import { WorkerPool } from '../util/worker-pool.js';
import { Preprocessed, PreprocessSpec, preprocessImage } from './preprocess.js';

export interface ImagePoolOptions {
  /** Worker threads; 0 decodes on the calling thread (sharp still uses its own threads). Default: one per core. */
  workers?: number;
}

type Message = { input: string | Uint8Array; name: string; spec: PreprocessSpec; flip: boolean };

export class ImagePool {
  private readonly pool?: WorkerPool<Message, Preprocessed>;

  constructor(options: ImagePoolOptions = {}) {
    const size = options.workers ?? availableParallelism();
    if (size > 0) this.pool = new WorkerPool(new URL('./decode-worker.js', import.meta.url), size, 'image decoder');
  }

  /** Decodes and preprocesses one image (a file path, or the file's bytes named `name` in errors). */
  async preprocess(input: string | Uint8Array, spec: PreprocessSpec, flip = false, name = typeof input === 'string' ? input : '<upload>'): Promise<Preprocessed> {
    if (!this.pool) return preprocessImage(input, spec, flip, name);
    const { tensor, flipped } = await this.pool.run({ input, name, spec, flip }, name);
    return { tensor, flipped };
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }
}
