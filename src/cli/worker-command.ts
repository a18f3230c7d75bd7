// `visid worker --queue redis://…`: embeds and commits the batches `visid index --queue` enqueues, until stopped.
import { Command } from 'commander';
import { startIndexWorker } from '../pipeline/distributed-index.js';
import { positiveInt } from './options.js';

export function workerCommand(): Command {
  return new Command('worker')
    .description('process distributed indexing jobs from a Redis queue (BullMQ): embed each batch with its gallery\'s model and commit it; Ctrl-C stops after the current batch')
    .requiredOption('--queue <redis-url>', 'Redis URL, e.g. redis://queue-host:6379')
    .option('--concurrency <n>', 'batches processed at once', positiveInt, 1)
    .option('--lock-ms <n>', "a batch's lock without renewal; a dead worker's batch is retried after it", positiveInt, 30_000)
    .option('--threads <n>', 'onnxruntime threads', positiveInt)
    .option('-q, --quiet', 'no per-job lines')
    .action(async (o: { queue: string; concurrency: number; lockMs: number; threads?: number; quiet?: boolean }) => {
      const worker = await startIndexWorker({
        queue: o.queue,
        concurrency: o.concurrency,
        lockMs: o.lockMs,
        threads: o.threads,
        onJob: (event, job, detail) => {
          if (!o.quiet || event === 'failed') process.stderr.write(`${new Date().toISOString()} job ${job.id} ${event}: ${detail}\n`);
        },
      });
      process.stderr.write(`visid worker ${process.pid} waiting for jobs on ${o.queue}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => void worker.close().then(resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
