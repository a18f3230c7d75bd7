// A scan thread of IVF-PQ search: scores its share of a block of queries against the shared inverted lists.
import { parentPort } from 'node:worker_threads';
import { serializeError } from '../util/errors.js';
import { scanQueries, type ScanJob } from './ivfpq-scan.js';

parentPort!.on('message', (msg: { job: ScanJob; first: number; count: number }) => {
  try {
    scanQueries(msg.job, msg.first, msg.count);
    parentPort!.postMessage({ done: true });
  } catch (err) {
    parentPort!.postMessage({ error: serializeError(err) });
  }
});
