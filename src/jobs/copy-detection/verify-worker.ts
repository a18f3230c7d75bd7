// Worker-thread entry of local verification: finds one image's keypoints, or matches a query's keypoints against a
// list of references', per message. OpenCV's wasm build runs one thread; several workers use several cores.
import { parentPort } from 'node:worker_threads';
import sharp from 'sharp';
import { serializeError } from '../../util/errors.js';
import type { LocalFeatures } from '../../search/geometric-verification.js';
import { pairInliers, queryFeatures, type FeatureOptions } from './local-features.js';

sharp.concurrency(1);

export type VerifyWorkerMessage =
  | { kind: 'features'; file: string; name: string; options: FeatureOptions; mirror: boolean }
  | { kind: 'match'; name: string; query: LocalFeatures; mirror?: LocalFeatures; refs: LocalFeatures[] };

parentPort!.on('message', async (msg: VerifyWorkerMessage) => {
  try {
    if (msg.kind === 'features') {
      const f = await queryFeatures(msg.file, msg.name, msg.options, msg.mirror);
      const transfer = [f.plain, ...(f.mirror ? [f.mirror] : [])].flatMap((x) => [x.points.buffer as ArrayBuffer, x.descriptors.buffer as ArrayBuffer]);
      parentPort!.postMessage(f, transfer);
    } else {
      parentPort!.postMessage({ inliers: await pairInliers(msg.query, msg.mirror, msg.refs) });
    }
  } catch (err) {
    parentPort!.postMessage({ error: serializeError(err, msg.name) });
  }
});
