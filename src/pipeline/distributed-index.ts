// Distributed indexing through a real job queue (BullMQ on Redis): `visid index --queue redis://…` enqueues the
// items not yet in the gallery (or its shards) as batches; `visid worker --queue redis://…`, on any machine that
// sees the same files, embeds each batch with the gallery's own model and settings and commits it. A worker killed
// mid-batch loses its lock; BullMQ hands the batch to another worker, which commits only the ids not yet stored —
// so nothing is lost and nothing is added twice.
import { createHash } from 'node:crypto';
import path from 'node:path';
// BullMQ and ioredis are loaded when a queue is used (they cost `visid index` 0.7 s of start-up otherwise).
import type { Job } from 'bullmq';
import type { Redis, RedisOptions } from 'ioredis';
import { VisidError } from '../util/errors.js';
import type { Dataset, Item } from '../data/item.js';
import { Gallery } from '../index/gallery.js';
import type { Embedder } from '../models/embedder.js';
import { embedConfigOf, toGalleryItem, type IndexOptions } from './index-dataset.js';
import { embedConfigOfGallery, embedderForGallery } from './gallery-embedder.js';

export const INDEX_QUEUE = 'visid-index';

/** One batch: the gallery it goes to and its items (absolute paths). */
export interface IndexJob {
  gallery: string;
  dataRoot: string;
  items: Item[];
  maxPixels?: number;
}

/** redis://[:password@]host[:port][/db] → ioredis options (BullMQ's Redis client). */
export function redisOptions(url: string): RedisOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new VisidError('E_INPUT', `not a Redis URL: '${url}' (redis://host:6379)`, { item: '--queue' });
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new VisidError('E_INPUT', `not a Redis URL: '${url}' (redis://host:6379)`, { item: '--queue' });
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 6379),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    // Workers block on Redis; BullMQ requires this for them.
    maxRetriesPerRequest: null,
  };
}

/** A Redis connection for BullMQ (in ESM it takes a client, not options). */
async function connect(url: string): Promise<Redis> {
  const { Redis } = await import('ioredis');
  return new Redis(redisOptions(url));
}

/** The shard an id goes to: a stable hash, the same on every machine and run. */
export function shardOf(id: string, shards: number): number {
  return createHash('sha256').update(id).digest().readUInt32LE(0) % shards;
}

export interface EnqueueOptions extends IndexOptions {
  queue: string;
  /** Items per job (default 256). */
  jobItems?: number;
  /** Split the gallery into this many shard galleries `<out>/shard-<i>` by id hash (default 1: `<out>` itself). */
  shards?: number;
  /** Attempts per job before it is reported failed (default 3). */
  attempts?: number;
  onProgress?: (n: number) => void;
}

export interface EnqueueSummary {
  galleries: string[];
  enqueued: number;
  alreadyIndexed: number;
  jobs: number;
  failed: Array<{ job: string; error: string }>;
}

/** The gallery dirs a run writes to, created with the model's dim, id and settings when missing. */
async function prepareGalleries(dataset: Dataset, embedder: Embedder, out: string, shards: number, options: IndexOptions): Promise<Gallery[]> {
  const dirs = shards === 1 ? [out] : Array.from({ length: shards }, (_, i) => path.join(out, `shard-${i}`));
  const config = embedConfigOf(options);
  const galleries: Gallery[] = [];
  for (const dir of dirs) {
    if (await Gallery.exists(dir)) {
      const g = await Gallery.open(dir);
      if (g.model.id !== embedder.modelId) throw new VisidError('E_GALLERY', `gallery was built with another model (${g.model.name ?? g.model.id.slice(0, 12)})`, { item: dir });
      galleries.push(g);
    } else {
      galleries.push(await Gallery.create(dir, { dim: embedder.dim!, dataRoot: dataset.root, model: { id: embedder.modelId, name: embedder.card.name, path: path.resolve(embedder.modelPath), config: { ...config, card: embedder.card } } }));
    }
  }
  return galleries;
}

/** Enqueues the items not yet stored, waits until every batch is committed (or failed), and reports. */
export async function enqueueIndexing(dataset: Dataset, embedder: Embedder, out: string, options: EnqueueOptions): Promise<EnqueueSummary> {
  const shards = options.shards ?? 1;
  const jobItems = options.jobItems ?? 256;
  const galleries = await prepareGalleries(dataset, embedder, out, shards, options);
  const stored = galleries.map((g) => new Set(g.items.map((it) => it.id)));
  const perShard: Item[][] = galleries.map(() => []);
  let already = 0;
  for (const item of dataset.items) {
    const s = shards === 1 ? 0 : shardOf(item.id, shards);
    if (stored[s]!.has(item.id)) already++;
    else perShard[s]!.push(item);
  }
  const options_ = options.onResume;
  options_?.(already, perShard.reduce((a, b) => a + b.length, 0));
  const { Queue, QueueEvents } = await import('bullmq');
  const queueConnection = await connect(options.queue);
  const eventsConnection = await connect(options.queue);
  const queue = new Queue<IndexJob>(INDEX_QUEUE, { connection: queueConnection });
  const events = new QueueEvents(INDEX_QUEUE, { connection: eventsConnection });
  const failed: EnqueueSummary['failed'] = [];
  let jobs = 0;
  try {
    await events.waitUntilReady();
    const waits: Array<Promise<void>> = [];
    for (const [s, items] of perShard.entries()) {
      for (let start = 0; start < items.length; start += jobItems) {
        const batch = items.slice(start, start + jobItems);
        // A job id from its content: enqueueing the same batch again (a re-run) does not duplicate it.
        const jobId = createHash('sha256').update(galleries[s]!.dir).update(batch.map((it) => it.id).join('\n')).digest('hex').slice(0, 32);
        const job = await queue.add('embed', { gallery: galleries[s]!.dir, dataRoot: galleries[s]!.dataRoot ?? dataset.root, items: batch, maxPixels: options.maxPixels }, { jobId, attempts: options.attempts ?? 3, backoff: { type: 'fixed', delay: 500 }, removeOnComplete: true, removeOnFail: 1000 });
        jobs++;
        waits.push(
          job.waitUntilFinished(events).then(
            () => options.onProgress?.(batch.length),
            (err: Error) => void failed.push({ job: jobId, error: err.message }),
          ),
        );
      }
    }
    await Promise.all(waits);
  } finally {
    await events.close();
    await queue.close();
    queueConnection.disconnect();
    eventsConnection.disconnect();
  }
  return { galleries: galleries.map((g) => g.dir), enqueued: perShard.reduce((a, b) => a + b.length, 0), alreadyIndexed: already, jobs, failed };
}

/**
 * Commits embedded rows whose ids are not stored yet: opens the gallery afresh each try (another worker may have
 * committed since) and retries while another writer holds the lock.
 */
async function appendMissing(dir: string, vectors: Float32Array, items: ReturnType<typeof toGalleryItem>[]): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      const g = await Gallery.open(dir);
      const dim = g.dim;
      const keep = items.map((it, i) => [it, i] as const).filter(([it]) => g.indexOf(it.id) < 0);
      if (keep.length === 0) return 0;
      const v = new Float32Array(keep.length * dim);
      keep.forEach(([, i], j) => v.set(vectors.subarray(i * dim, (i + 1) * dim), j * dim));
      await g.append(v, keep.map(([it]) => it));
      return keep.length;
    } catch (err) {
      const busy = err instanceof VisidError && (err.code === 'E_LOCKED' || /changed on disk/.test(err.message));
      if (!busy || attempt > 200) throw err;
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
    }
  }
}

export interface WorkerOptions {
  queue: string;
  concurrency?: number;
  /** How long a job's lock lasts without renewal: a killed worker's batch goes back to the queue after it. */
  lockMs?: number;
  threads?: number;
  onJob?: (event: 'start' | 'done' | 'failed', job: Job<IndexJob>, detail: string) => void;
}

/** A worker processing index jobs until closed. */
export async function startIndexWorker(options: WorkerOptions): Promise<{ close: () => Promise<void> }> {
  const embedders = new Map<string, Promise<Embedder>>();
  const { Worker } = await import('bullmq');
  const connection = await connect(options.queue);
  const worker = new Worker<IndexJob>(
    INDEX_QUEUE,
    async (job) => {
      options.onJob?.('start', job, `${job.data.items.length} items → ${job.data.gallery}`);
      const gallery = await Gallery.open(job.data.gallery);
      const todo = job.data.items.filter((it) => gallery.indexOf(it.id) < 0);
      if (todo.length === 0) return { added: 0 };
      const key = `${gallery.model.id}:${JSON.stringify(gallery.model.config?.['card'] ?? {})}`;
      if (!embedders.has(key)) embedders.set(key, embedderForGallery(gallery, undefined, options.threads));
      const embedder = await embedders.get(key)!;
      const config = embedConfigOfGallery(gallery);
      const result = await embedder.embedFiles(todo.map((it) => it.path), { ...config, maxPixels: job.data.maxPixels });
      const added = await appendMissing(job.data.gallery, result.vectors, result.indices.map((i) => toGalleryItem(todo[i]!, job.data.dataRoot)));
      return { added };
    },
    { connection: connection, concurrency: options.concurrency ?? 1, lockDuration: options.lockMs ?? 30_000, stalledInterval: Math.max(500, Math.round((options.lockMs ?? 30_000) / 2)) },
  );
  worker.on('completed', (job, r: { added: number }) => options.onJob?.('done', job, `${r.added} added`));
  worker.on('failed', (job, err) => job && options.onJob?.('failed', job, err.message));
  await worker.waitUntilReady();
  return {
    close: async () => {
      await worker.close();
      connection.disconnect();
      for (const e of embedders.values()) await (await e.catch(() => undefined))?.close();
    },
  };
}
