// Face routes: POST /verify (two photos, one face each) through a persistent face worker.
import type { FastifyInstance } from 'fastify';
import { VisidError } from '../../util/errors.js';
import { FacePool } from '../../jobs/faces/face-pool.js';
import { decide, FACE_MODEL, onlyFace } from '../../jobs/faces/service.js';
import { fieldError, readMultipart } from '../http.js';
import type { ServerContext } from '../context.js';

export async function faceRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const { limiter, maxPixels } = ctx;
  // Faces run in a worker (tfjs is synchronous and would stall every other request), started on first use.
  let faces: FacePool | undefined;
  app.post(
    '/verify',
    { schema: { description: 'Face verification: multipart files "a" and "b" (one face each), optional field "threshold" (cosine).' } },
    async (req) => {
      if (!req.isMultipart()) throw new VisidError('E_INPUT', 'send the two photos as multipart/form-data fields a and b');
      const { files, fields } = await readMultipart(req);
      const a = files.find((f) => f.field === 'a');
      const b = files.find((f) => f.field === 'b');
      if (!a) throw fieldError('a', "missing photo 'a'");
      if (!b) throw fieldError('b', "missing photo 'b'");
      let threshold = FACE_MODEL.threshold;
      if (fields['threshold']?.[0] !== undefined) {
        threshold = Number(fields['threshold'][0]);
        if (!(threshold >= -1 && threshold <= 1)) throw fieldError('threshold', "'threshold' must be a cosine similarity in [-1, 1]");
      }
      return limiter.run(async () => {
        faces ??= new FacePool(1);
        const [fa, fb] = await Promise.all([faces.faces(a.data, { maxPixels }, a.name), faces.faces(b.data, { maxPixels }, b.name)]);
        const one = onlyFace(fa.faces, a.name);
        const two = onlyFace(fb.faces, b.name);
        return { ...decide(one.embedding, two.embedding, threshold), boxes: { a: one.box, b: two.box } };
      });
    },
  );

  app.addHook('onClose', async () => {
    await faces?.close();
  });
}
