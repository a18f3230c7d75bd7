// Worker-thread entry of the face pool: decodes a photo, finds its faces and embeds each, on its own tfjs instance.
import { parentPort } from 'node:worker_threads';
import { serializeError } from '../../util/errors.js';
import { decodeRgb } from '../../images/decode.js';
import { FaceSystem } from './faces.js';
import type { FaceOptions } from './service.js';

const system = FaceSystem.load();

parentPort!.on('message', async (msg: { input: string | Uint8Array; name: string; options: FaceOptions }) => {
  try {
    const s = await system;
    const image = await decodeRgb(msg.input, { name: msg.name, maxPixels: msg.options.maxPixels });
    const faces = await s.detect(image, msg.options);
    const embeddings = [];
    for (const face of faces) embeddings.push(await s.embedFace(image, face, msg.options));
    parentPort!.postMessage({ faces, embeddings, width: image.width, height: image.height });
  } catch (err) {
    parentPort!.postMessage({ error: serializeError(err, msg.name) });
  }
});
