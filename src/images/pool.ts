// A pool of worker threads that decode and preprocess images in parallel, so every core works while the model runs.
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { deserializeError, SerializedError, VisidError } from '../util/errors.js';
import { Preprocessed, PreprocessSpec, preprocessImage } from './preprocess.js';

interface Job {
  /** A file path, or the file's bytes. */
  input: string | Uint8Array;
  /** Name for errors. */
  name: string;
  spec: PreprocessSpec;
  flip: boolean;
  resolve: (p: Preprocessed) => void;
  reject: (e: Error) => void;
}

type Reply = { tensor?: Float32Array; flipped?: Float32Array; error?: SerializedError };

export interface ImagePoolOptions {
  /** Worker threads; 0 decodes on the calling thread (sharp still uses its own threads). Default: one per core. */
  workers?: number;
}

/** Each worker holds at most one job; replies come back in the worker's order, so one slot per worker suffices. */
export class ImagePool {
  private readonly busy = new Map<Worker, Job>();
  private readonly idle: Worker[] = [];
  private readonly queue: Job[] = [];
  private readonly size: number;
  private closed = false;

  constructor(options: ImagePoolOptions = {}) {
    this.size = options.workers ?? availableParallelism();
  }

  /** Decodes and preprocesses one image (a file path, or the file's bytes named `name` in errors). */
  preprocess(input: string | Uint8Array, spec: PreprocessSpec, flip = false, name = typeof input === 'string' ? input : '<upload>'): Promise<Preprocessed> {
    if (this.closed) return Promise.reject(new VisidError('E_INPUT', 'image pool is closed'));
    if (this.size === 0) return preprocessImage(input, spec, flip, name);
    return new Promise((resolve, reject) => {
      this.queue.push({ input, name, spec, flip, resolve, reject });
      this.pump();
    });
  }

  private spawn(): Worker {
    const worker = new Worker(new URL('./decode-worker.js', import.meta.url));
    worker.on('message', (reply: Reply) => {
      const job = this.busy.get(worker);
      this.busy.delete(worker);
      // An idle worker must not keep the process alive; a busy one must.
      worker.unref();
      this.idle.push(worker);
      if (job) {
        if (!reply.error) job.resolve({ tensor: reply.tensor!, flipped: reply.flipped });
        else job.reject(deserializeError(reply.error));
      }
      this.pump();
    });
    const fail = (err: Error) => {
      // A crashed worker fails the job it held; the pool starts a new worker on demand.
      this.busy.get(worker)?.reject(new VisidError('E_IMAGE', `decoder thread failed: ${err.message}`, { item: this.busy.get(worker)?.name }));
      this.busy.delete(worker);
      const i = this.idle.indexOf(worker);
      if (i >= 0) this.idle.splice(i, 1);
      this.pump();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!this.closed && this.busy.has(worker)) fail(new Error(`exited with code ${code}`));
    });
    return worker;
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let worker = this.idle.pop();
      if (!worker) {
        if (this.busy.size >= this.size) return;
        worker = this.spawn();
      }
      const job = this.queue.shift()!;
      this.busy.set(worker, job);
      worker.ref();
      worker.postMessage({ input: job.input, name: job.name, spec: job.spec, flip: job.flip });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const workers = [...this.idle, ...this.busy.keys()];
    for (const job of this.queue.splice(0)) job.reject(new VisidError('E_INPUT', 'image pool closed', { item: job.name }));
    this.idle.length = 0;
    this.busy.clear();
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
