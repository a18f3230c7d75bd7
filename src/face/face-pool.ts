// Runs the face pipeline on many photos in parallel worker threads (tfjs' WebAssembly backend is single-threaded in Node).
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { deserializeError, SerializedError } from '../util/errors.js';
import type { DetectedFace } from './faces.js';
import type { FaceOptions } from './service.js';

export interface PhotoFaces {
  file: string;
  width: number;
  height: number;
  /** Faces, best detection score first, each with its L2-normalised embedding. */
  faces: Array<DetectedFace & { embedding: Float32Array }>;
}

type Reply = { faces?: DetectedFace[]; embeddings?: Float32Array[]; width?: number; height?: number; error?: SerializedError };

/**
 * Maps photos to their faces with up to `workers` photos in flight; results come back in input order.
 * Each worker loads its own copy of the models (about 100 MB).
 */
export async function facesOfPhotos(files: string[], options: FaceOptions = {}, workers = availableParallelism(), onDone?: () => void): Promise<Array<PhotoFaces | Error>> {
  const results: Array<PhotoFaces | Error> = new Array(files.length);
  let next = 0;
  const pool = Array.from({ length: Math.max(1, Math.min(workers, files.length)) }, () => new Worker(new URL('./face-worker.js', import.meta.url)));
  try {
    await Promise.all(
      pool.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            const send = () => {
              if (next >= files.length) return resolve();
              const i = next++;
              worker.once('message', (r: Reply) => {
                if (r.error) results[i] = deserializeError(r.error);
                else {
                  results[i] = { file: files[i]!, width: r.width!, height: r.height!, faces: r.faces!.map((f, j) => ({ ...f, embedding: r.embeddings![j]! })) };
                }
                onDone?.();
                send();
              });
              worker.postMessage({ file: files[i], options });
            };
            worker.once('error', reject);
            send();
          }),
      ),
    );
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
  return results;
}
