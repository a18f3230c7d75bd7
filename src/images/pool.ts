// A pool of worker threads that decode and preprocess images in parallel, so every core works while the model runs.
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { VisidError, VisidErrorCode } from '../util/errors.js';
import { Preprocessed, PreprocessSpec, preprocessImage } from './preprocess.js';

interface Job {
  id: number;
  path: string;
  spec: PreprocessSpec;
  flip: boolean;
  resolve: (p: Preprocessed) => void;
  reject: (e: Error) => void;
}

type Reply = { id: number; tensor?: Float32Array; flipped?: Float32Array; error?: { code: VisidErrorCode; message: string; item?: string } };

export interface ImagePoolOptions {
  /** Worker threads; 0 decodes on the calling thread (sharp still uses its own threads). Default: one per core. */
  workers?: number;
}

export class ImagePool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: Job[] = [];
  private readonly running = new Map<number, Job>();
  private readonly size: number;
  private nextId = 0;
  private closed = false;

  constructor(options: ImagePoolOptions = {}) {
    this.size = options.workers ?? availableParallelism();
  }

  /** Decodes and preprocesses one image file. */
  preprocess(path: string, spec: PreprocessSpec, flip = false): Promise<Preprocessed> {
    if (this.closed) return Promise.reject(new VisidError('E_INPUT', 'image pool is closed'));
    if (this.size === 0) return preprocessImage(path, spec, flip);
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, path, spec, flip, resolve, reject });
      this.pump();
    });
  }

  private spawn(): Worker {
    const worker = new Worker(new URL('./decode-worker.js', import.meta.url));
    worker.on('message', (reply: Reply) => {
      const job = this.running.get(reply.id);
      this.running.delete(reply.id);
      // An idle worker must not keep the process alive; a busy one must.
      worker.unref();
      this.idle.push(worker);
      if (job) {
        if (reply.error) job.reject(new VisidError(reply.error.code, reply.error.message.replace(`${reply.error.item}: `, ''), { item: reply.error.item }));
        else job.resolve({ tensor: reply.tensor!, flipped: reply.flipped });
      }
      this.pump();
    });
    worker.on('error', (err) => {
      // A crashed worker fails the jobs it held; the pool replaces it on demand.
      for (const [id, job] of this.running) {
        if ((job as Job & { worker?: Worker }).worker === worker) {
          this.running.delete(id);
          job.reject(err);
        }
      }
      this.workers.splice(this.workers.indexOf(worker), 1);
      this.pump();
    });
    this.workers.push(worker);
    return worker;
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let worker = this.idle.pop();
      if (!worker) {
        if (this.workers.length >= this.size) return;
        worker = this.spawn();
      }
      const job = this.queue.shift()!;
      (job as Job & { worker?: Worker }).worker = worker;
      this.running.set(job.id, job);
      worker.ref();
      worker.postMessage({ id: job.id, path: job.path, spec: job.spec, flip: job.flip });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
    this.idle.length = 0;
  }
}
