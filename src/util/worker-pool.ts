// A pool of worker threads running one script: one job per worker at a time, a queue for the rest, errors as VisidErrors.
import { Worker } from 'node:worker_threads';
import { deserializeError, SerializedError, VisidError } from './errors.js';

interface Job<Msg, Out> {
  msg: Msg;
  name: string;
  resolve: (r: Out) => void;
  reject: (e: Error) => void;
}

/**
 * Workers start on demand up to `size`. Each replies to a message with a result, or `{ error }` (a serialised
 * VisidError). An idle worker does not keep the process alive; a busy one does.
 */
export class WorkerPool<Msg, Out extends object> {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Job<Msg, Out>>();
  private readonly queue: Job<Msg, Out>[] = [];
  private closed = false;

  constructor(
    private readonly script: URL,
    readonly size: number,
    private readonly label: string,
  ) {}

  /** Sends `msg` to a free worker; `name` names the item in errors. */
  run(msg: Msg, name: string): Promise<Out> {
    if (this.closed) return Promise.reject(new VisidError('E_INPUT', `${this.label} pool is closed`, { item: name }));
    return new Promise((resolve, reject) => {
      this.queue.push({ msg, name, resolve, reject });
      this.pump();
    });
  }

  private spawn(): Worker {
    const worker = new Worker(this.script);
    worker.on('message', (reply: Out & { error?: SerializedError }) => {
      const job = this.busy.get(worker);
      this.busy.delete(worker);
      worker.unref();
      this.idle.push(worker);
      if (job) {
        if (reply.error) job.reject(deserializeError(reply.error));
        else job.resolve(reply);
      }
      this.pump();
    });
    const fail = (err: Error) => {
      // A crashed worker fails the job it held; a new worker is started on demand.
      const job = this.busy.get(worker);
      this.busy.delete(worker);
      const i = this.idle.indexOf(worker);
      if (i >= 0) this.idle.splice(i, 1);
      job?.reject(new VisidError('E_IMAGE', `${this.label} thread failed: ${err.message}`, { item: job.name }));
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
      worker.postMessage(job.msg);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new VisidError('E_INPUT', `${this.label} pool closed`, { item: job.name }));
    const workers = [...this.idle, ...this.busy.keys()];
    this.idle.length = 0;
    this.busy.clear();
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
