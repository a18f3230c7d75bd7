// Runs the face pipeline on many photos in parallel worker threads (tfjs' WebAssembly backend is single-threaded in Node).
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { deserializeError, SerializedError, VisidError } from '../util/errors.js';
import type { DetectedFace } from './faces.js';
import type { FaceOptions } from './service.js';

export interface PhotoFaces {
  /** The photo's path or name. */
  file: string;
  width: number;
  height: number;
  /** Faces, best detection score first, each with its L2-normalised embedding. */
  faces: Array<DetectedFace & { embedding: Float32Array }>;
}

type Reply = { faces?: DetectedFace[]; embeddings?: Float32Array[]; width?: number; height?: number; error?: SerializedError };

interface Job {
  input: string | Uint8Array;
  name: string;
  options: FaceOptions;
  resolve: (r: PhotoFaces) => void;
  reject: (e: Error) => void;
}

/**
 * A long-lived pool of face workers, each with its own copy of the models (about 100 MB, loaded once).
 * Photos are paths or file bytes; at most one photo per worker at a time, the rest queue.
 */
export class FacePool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Job>();
  private readonly queue: Job[] = [];
  private closed = false;

  constructor(readonly size = availableParallelism()) {}

  faces(input: string | Uint8Array, options: FaceOptions = {}, name = typeof input === 'string' ? input : '<upload>'): Promise<PhotoFaces> {
    if (this.closed) return Promise.reject(new VisidError('E_INPUT', 'face pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ input, name, options, resolve, reject });
      this.pump();
    });
  }

  private spawn(): Worker {
    const worker = new Worker(new URL('./face-worker.js', import.meta.url));
    worker.on('message', (r: Reply) => {
      const job = this.busy.get(worker);
      this.busy.delete(worker);
      worker.unref();
      this.idle.push(worker);
      if (job) {
        if (r.error) job.reject(deserializeError(r.error));
        else job.resolve({ file: job.name, width: r.width!, height: r.height!, faces: r.faces!.map((f, j) => ({ ...f, embedding: r.embeddings![j]! })) });
      }
      this.pump();
    });
    worker.on('error', (err) => {
      this.busy.get(worker)?.reject(new VisidError('E_IMAGE', `face worker failed: ${err.message}`, { item: this.busy.get(worker)?.name }));
      this.busy.delete(worker);
      this.pump();
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
      worker.postMessage({ input: job.input, name: job.name, options: job.options });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new VisidError('E_INPUT', 'face pool closed', { item: job.name }));
    const workers = [...this.idle, ...this.busy.keys()];
    this.idle.length = 0;
    this.busy.clear();
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Faces of every photo (in input order; a failed photo gives its Error), with up to `workers` in parallel. */
export async function facesOfPhotos(files: string[], options: FaceOptions = {}, workers = availableParallelism(), onDone?: () => void): Promise<Array<PhotoFaces | Error>> {
  const pool = new FacePool(Math.max(1, Math.min(workers, files.length)));
  try {
    return await Promise.all(
      files.map((f) =>
        pool.faces(f, options).then(
          (r) => (onDone?.(), r),
          (e: Error) => (onDone?.(), e),
        ),
      ),
    );
  } finally {
    await pool.close();
  }
}
