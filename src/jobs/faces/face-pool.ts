// Runs the face pipeline on many photos in parallel worker threads (tfjs' WebAssembly backend is single-threaded in Node).
import { availableParallelism } from 'node:os';
import { WorkerPool } from '../../util/worker-pool.js';
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

type Message = { input: string | Uint8Array; name: string; options: FaceOptions };
type Reply = { faces: DetectedFace[]; embeddings: Float32Array[]; width: number; height: number };

/**
 * A long-lived pool of face workers, each with its own copy of the models (about 100 MB, loaded once).
 * Photos are paths or file bytes; at most one photo per worker at a time, the rest queue.
 */
export class FacePool {
  private readonly pool: WorkerPool<Message, Reply>;

  constructor(readonly size = availableParallelism()) {
    this.pool = new WorkerPool(new URL('./face-worker.js', import.meta.url), size, 'face');
  }

  async faces(input: string | Uint8Array, options: FaceOptions = {}, name = typeof input === 'string' ? input : '<upload>'): Promise<PhotoFaces> {
    const r = await this.pool.run({ input, name, options }, name);
    return { file: name, width: r.width, height: r.height, faces: r.faces.map((f, j) => ({ ...f, embedding: r.embeddings[j]! })) };
  }

  close(): Promise<void> {
    return this.pool.close();
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
