// Data-parallel training over worker threads (TensorFlow.js' wasm backend runs one thread in Node): each worker holds
// a replica of the network, the loss and the optimiser; every step each computes the gradients of its shard of the
// batch (its loss weighted by its share of the batch), the main thread sums them, and every replica applies the same
// sum with its own optimiser — so the replicas stay identical, and a run is deterministic for a fixed seed and
// worker count. The main thread keeps a replica too, filled from worker 0 for validation, checkpoints and export.
//
// What this changes: batch-norm batch statistics (freezeBn: false) and batch mining (triplet, contrastive…) see a
// shard, not the whole batch, as in PyTorch's DistributedDataParallel without SyncBatchNorm.
import { Worker } from 'node:worker_threads';
import { tf } from '../tf/runtime.js';
import { deserializeError, type SerializedError } from '../util/errors.js';
import type { NetSpec } from '../models/networks.js';
import type { LossConfig } from './loss-factory.js';
import type { Optimizer, OptimizerSpec } from './optimizers.js';

export interface ReplicaSetup {
  spec: NetSpec;
  loss: LossConfig;
  numClasses: number;
  embeddingDim: number;
  seed: number;
  projectionDim?: number;
  optimizer: OptimizerSpec;
  lr: number;
  /** Names (in the replica's own parameter naming) that learn at `lrScale` × the rate. */
  groups: Array<{ names: string[]; lrScale: number }>;
  backend?: string;
  /** Rows per gradient computation inside a replica (bounded memory); default the whole shard. */
  microBatch?: number;
}

/** A parameter's values by the name every replica gives it (network parameter names, then loss.i). */
export type StateValues = Array<{ name: string; shape: number[]; values: Float32Array }>;

type Reply = { id: number; error?: SerializedError } & Record<string, unknown>;

class Replica {
  private next = 0;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  constructor(readonly worker: Worker) {
    worker.on('message', (r: Reply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.error) p.reject(deserializeError(r.error));
      else p.resolve(r);
    });
    worker.on('error', (err) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
  }
  call(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }
}

export class DataParallel {
  private constructor(private readonly replicas: Replica[]) {}

  static async start(workers: number, setup: ReplicaSetup): Promise<DataParallel> {
    const replicas = Array.from({ length: workers }, () => new Replica(new Worker(new URL('./train-worker.js', import.meta.url))));
    const dp = new DataParallel(replicas);
    try {
      await Promise.all(replicas.map((r) => r.call({ type: 'init', setup })));
    } catch (err) {
      await dp.close();
      throw err;
    }
    return dp;
  }

  get size(): number {
    return this.replicas.length;
  }

  /**
   * One training step on a batch (NHWC rows `x`, labels `y`): shards of consecutive rows, one per worker; the summed
   * shard gradients applied by every replica. Returns the batch's loss.
   */
  async step(x: Float32Array, shape: number[], y: Int32Array, lr: number): Promise<number> {
    const n = shape[0]!;
    const per = x.length / n;
    const w = Math.min(this.replicas.length, n);
    const bounds = Array.from({ length: w + 1 }, (_, i) => Math.round((i * n) / w));
    const replies = await Promise.all(
      this.replicas.slice(0, w).map((r, i) => {
        const xs = x.slice(bounds[i]! * per, bounds[i + 1]! * per);
        const ys = y.slice(bounds[i]!, bounds[i + 1]!);
        return r.call({ type: 'grads', x: xs, shape: [bounds[i + 1]! - bounds[i]!, ...shape.slice(1)], y: ys, weight: (bounds[i + 1]! - bounds[i]!) / n }, [xs.buffer, ys.buffer]);
      }),
    );
    // Summed in worker order, so the result does not depend on which worker answered first.
    const grads = (replies[0]!['grads'] as Float32Array[]).map((g) => Float64Array.from(g));
    for (const r of replies.slice(1)) (r['grads'] as Float32Array[]).forEach((g, j) => {
      const acc = grads[j]!;
      for (let k = 0; k < g.length; k++) acc[k]! += g[k]!;
    });
    const summed = grads.map((g) => Float32Array.from(g));
    const loss = replies.reduce((s, r) => s + (r['loss'] as number), 0);
    if (!Number.isFinite(loss)) throw new Error(`the loss became ${loss}; lower the learning rate`);
    await Promise.all(this.replicas.map((r) => r.call({ type: 'apply', grads: summed, lr })));
    return loss;
  }

  /** Worker 0's parameters (network and loss) and optimiser state. */
  async state(): Promise<{ params: StateValues; optimizer: StateValues }> {
    const r = await this.replicas[0]!.call({ type: 'state' });
    return { params: r['params'] as StateValues, optimizer: r['optimizer'] as StateValues };
  }

  /** Sets every replica's parameters (and optimiser state, when given). */
  async load(params: StateValues, optimizer?: StateValues): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.call({ type: 'load', params, optimizer })));
  }

  async close(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.worker.terminate()));
  }
}

/** Variables' values by parameter name (for `DataParallel.load`). */
export function stateOf(named: Array<{ name: string; variable: tf.Variable }>): StateValues {
  return named.map((p) => ({ name: p.name, shape: p.variable.shape, values: Float32Array.from(p.variable.dataSync() as Float32Array) }));
}

/** Writes `values` into variables by parameter name; every variable must be there. */
export function assignState(named: Array<{ name: string; variable: tf.Variable }>, values: StateValues): void {
  const by = new Map(values.map((v) => [v.name, v]));
  for (const p of named) {
    const v = by.get(p.name);
    if (!v) throw new Error(`replica state has no '${p.name}'`);
    p.variable.assign(tf.tensor(v.values, v.shape));
  }
}

/** Optimiser slots keyed by parameter name instead of this thread's tfjs variable names (for replicas). */
export async function optimizerStateByParam(optimizer: Optimizer, named: Array<{ name: string; variable: tf.Variable }>): Promise<StateValues> {
  const byVar = new Map(named.map((p) => [p.variable.name, p.name]));
  const out: StateValues = [];
  for (const w of await optimizer.getWeights()) {
    const [varName, ...slot] = w.name.split('/');
    const key = w.name === 'iter' ? 'iter' : byVar.has(varName!) ? `${byVar.get(varName!)}/${slot.join('/')}` : undefined;
    if (key) out.push({ name: key, shape: w.tensor.shape, values: Float32Array.from(await w.tensor.data()) });
  }
  return out;
}

export async function setOptimizerStateByParam(optimizer: Optimizer, named: Array<{ name: string; variable: tf.Variable }>, state: StateValues): Promise<void> {
  const byName = new Map(named.map((p) => [p.name, p.variable.name]));
  const weights = state.flatMap((w) => {
    if (w.name === 'iter') return [{ name: 'iter', tensor: tf.scalar(w.values[0]!) }];
    const cut = w.name.lastIndexOf('/');
    const v = byName.get(w.name.slice(0, cut));
    return v ? [{ name: `${v}/${w.name.slice(cut + 1)}`, tensor: tf.tensor(w.values, w.shape) }] : [];
  });
  if (weights.length > 0) await optimizer.setWeights(weights);
}
