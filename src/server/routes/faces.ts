// Face routes: POST /verify (two photos, one face each) through the same onnxruntime pipeline as `visid face verify`.
import type { FastifyInstance } from 'fastify';
import { VisidError } from '../../util/errors.js';
import { faceEngine, verifyFiles } from '../../jobs/faces/service.js';
import { RECOGNIZER_NAMES, recognizerSpec } from '../../jobs/faces/recognizers.js';
import { fieldError, readMultipart } from '../http.js';
import type { ServerContext } from '../context.js';

export async function faceRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const { limiter, maxPixels } = ctx;
  const defaultRecognizer = recognizerSpec(ctx.options.faceRecognizer).name;
  app.post(
    '/verify',
    {
      schema: {
        description: `Face verification: multipart files "a" and "b" (exactly one face each), optional fields "threshold" (cosine) and "recognizer" (${RECOGNIZER_NAMES.join(', ')}; default ${defaultRecognizer}).`,
      },
    },
    async (req) => {
      if (!req.isMultipart()) throw new VisidError('E_INPUT', 'send the two photos as multipart/form-data fields a and b');
      const { files, fields } = await readMultipart(req, { files: { a: 1, b: 1 }, fields: { threshold: 1, recognizer: 1 }, maxBytes: ctx.maxRequestBytes });
      const a = files.find((f) => f.field === 'a');
      const b = files.find((f) => f.field === 'b');
      if (!a) throw fieldError('a', "missing photo 'a'");
      if (!b) throw fieldError('b', "missing photo 'b'");
      const name = fields['recognizer']?.[0] ?? defaultRecognizer;
      if (!(RECOGNIZER_NAMES as readonly string[]).includes(name)) throw fieldError('recognizer', `'recognizer' must be one of ${RECOGNIZER_NAMES.join(', ')}`);
      let threshold: number | undefined;
      if (fields['threshold']?.[0] !== undefined) {
        threshold = Number(fields['threshold'][0]);
        if (!(threshold >= -1 && threshold <= 1)) throw fieldError('threshold', "'threshold' must be a cosine similarity in [-1, 1]");
      }
      return limiter.run(async () => {
        // onnxruntime runs the networks off the event loop; models load once per recognizer, on first use.
        const engine = await faceEngine(name);
        return verifyFiles(engine, { name: a.name, data: a.data }, { name: b.name, data: b.data }, { maxPixels, threshold });
      });
    },
  );
}
