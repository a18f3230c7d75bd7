// A scan thread of IVF-PQ search: scores its share of a block of queries against the shared inverted lists, with
// the WebAssembly kernel (instantiated once per shared memory) or the JavaScript loop.
import { parentPort } from 'node:worker_threads';
import { serializeError } from '../util/errors.js';
import { scanQueries, type ScanMessage } from './ivfpq-scan.js';
import { instantiate, type ScanExport } from './ivfpq-kernel.js';

const kernels = new Map<number, ScanExport>();

parentPort!.on('message', (msg: ScanMessage) => {
  try {
    if (msg.kernel) {
      let scan = kernels.get(msg.kernel.memoryId);
      if (!scan) {
        if (kernels.size >= 8) kernels.clear(); // indexes come and go; keep a few instances
        scan = instantiate(msg.kernel.memory);
        kernels.set(msg.kernel.memoryId, scan);
      }
      scan(...msg.kernel.args);
    } else scanQueries(msg.job, msg.first, msg.count);
    parentPort!.postMessage({ done: true });
  } catch (err) {
    parentPort!.postMessage({ error: serializeError(err) });
  }
});
