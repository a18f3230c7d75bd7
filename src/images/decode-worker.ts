// Worker-thread entry of the image pool: preprocesses one image per message and transfers the tensors back.
import { parentPort } from 'node:worker_threads';
import sharp from 'sharp';
import { serializeError } from '../util/errors.js';
import { preprocessImage } from './preprocess.js';
import type { PreprocessSpec } from './preprocess.js';

// Each worker is one of several in parallel: one libvips thread each avoids oversubscribing the cores.
sharp.concurrency(1);

parentPort!.on('message', async (msg: { input: string | Uint8Array; name: string; spec: PreprocessSpec; flip: boolean }) => {
  try {
    const { tensor, flipped } = await preprocessImage(msg.input, msg.spec, msg.flip, msg.name);
    const transfer = [tensor.buffer as ArrayBuffer];
    if (flipped) transfer.push(flipped.buffer as ArrayBuffer);
    parentPort!.postMessage({ tensor, flipped }, transfer);
  } catch (err) {
    parentPort!.postMessage({ error: serializeError(err, msg.name) });
  }
});
