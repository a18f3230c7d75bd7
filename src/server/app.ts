// The visid HTTP API (Fastify): health, galleries, search by image or descriptor, add/remove items, thumbnails, metrics.
import { createHash, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import Fastify, { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import fastifyStatic from '@fastify/static';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import client from 'prom-client';
import { VisidError, VisidErrorCode } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { resolveInsideRoot, isInside } from '../data/paths.js';
import { DEFAULT_MAX_PIXELS } from '../images/decode.js';
import { GalleryRegistry, ServedGallery } from './registry.js';
import { Limiter } from './limiter.js';
import { FacePool } from '../face/face-pool.js';
import { decide, FACE_MODEL, onlyFace } from '../face/service.js';

export interface ServeOptions {
  galleries: string[];
  /** Bearer token for routes that change a gallery; without it they are refused unless readOnly. */
  token?: string;
  readOnly?: boolean;
  maxUploadBytes?: number;
  maxPixels?: number;
  /** Image decodes/embeddings (uploads, adds, verify) running at once, and waiting beyond those; more get 503. */
  maxConcurrent?: number;
  maxQueue?: number;
  /** Searches waiting for the next batched pass over a gallery; more get 503. */
  maxPendingSearches?: number;
  requestTimeoutMs?: number;
  logger?: boolean;
}

const STATUS: Record<VisidErrorCode, number> = {
  E_INPUT: 400,
  E_IMAGE: 400,
  E_IMAGE_TOO_LARGE: 413,
  E_DATASET: 400,
  E_PATH_ESCAPE: 404,
  E_NOT_FOUND: 404,
  E_DUPLICATE: 409,
  E_DIM: 400,
  E_NAN: 400,
  E_MODEL: 500,
  E_GALLERY: 500,
  E_LOCKED: 503,
};

const hitSchema = {
  type: 'object',
  properties: { id: { type: 'string' }, label: { type: 'string' }, score: { type: 'number' }, thumbnail: { type: 'string' } },
} as const;

const labelSchema = {
  type: 'object',
  properties: { label: { type: 'string' }, score: { type: 'number' }, id: { type: 'string' }, count: { type: 'integer' }, thumbnail: { type: 'string' } },
} as const;

const errorSchema = { type: 'object', properties: { error: { type: 'string' }, code: { type: 'string' }, field: { type: 'string' } } } as const;

function thumbnailUrl(gallery: string, id: string): string {
  return `/galleries/${encodeURIComponent(gallery)}/items/${encodeURIComponent(id)}/image`;
}

export async function buildServer(options: ServeOptions): Promise<FastifyInstance> {
  const readOnly = options.readOnly ?? false;
  if (!readOnly && !options.token) {
    throw new VisidError('E_INPUT', 'routes that change galleries need a token (set VISID_TOKEN) — or serve with --read-only');
  }
  const maxUploadBytes = options.maxUploadBytes ?? 16 * 1024 * 1024;
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const registry = await GalleryRegistry.open(options.galleries, options.maxPendingSearches ?? 1024);
  const limiter = new Limiter(options.maxConcurrent ?? 2, options.maxQueue ?? 32);

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: maxUploadBytes,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
  });
  // Only JSON and multipart bodies are understood; anything else is 415.
  app.removeContentTypeParser('text/plain');

  const metrics = new client.Registry();
  const requests = new client.Counter({ name: 'visid_http_requests_total', help: 'HTTP requests', labelNames: ['route', 'method', 'status'], registers: [metrics] });
  const latency = new client.Histogram({
    name: 'visid_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['route', 'method'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [metrics],
  });
  new client.Gauge({
    name: 'visid_gallery_items',
    help: 'Items per gallery',
    labelNames: ['gallery'],
    registers: [metrics],
    collect() {
      for (const g of registry.list()) this.set({ gallery: g.name }, g.gallery.count);
    },
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    latency.observe({ route, method: req.method }, reply.elapsedTime / 1000);
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'visid', version: '0.1.0', description: 'Visual identification: search galleries by image or descriptor.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(multipart, { limits: { fileSize: maxUploadBytes, files: 64, fields: 64, fieldSize: 64 * 1024 } });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: Array<{ instancePath?: string; params?: { missingProperty?: string } }> }, _req, reply) => {
    if (err instanceof VisidError) {
      const status = STATUS[err.code] ?? 400;
      return reply.status(status).send({ error: err.message, code: err.code, field: (err as VisidError & { field?: string }).field });
    }
    if (err.validation) {
      const v = err.validation[0];
      const field = v?.params?.missingProperty ?? v?.instancePath?.replace(/^\//, '').replace(/\//g, '.') ?? undefined;
      return reply.status(400).send({ error: err.message, code: 'E_INPUT', field });
    }
    if (err.code === 'FST_REQ_FILE_TOO_LARGE' || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.statusCode === 413) {
      return reply.status(413).send({ error: `upload larger than ${maxUploadBytes} bytes`, code: 'E_TOO_LARGE' });
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || err.statusCode === 415) {
      return reply.status(415).send({ error: 'unsupported content type: send application/json or multipart/form-data', code: 'E_MEDIA_TYPE' });
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) app.log.error(err);
    return reply.status(status).send({ error: status === 500 ? 'internal error' : err.message, code: err.code ?? 'E_HTTP' });
  });

  const requireToken = async (req: FastifyRequest, reply: FastifyReply) => {
    if (readOnly) return reply.status(403).send({ error: 'server is read-only', code: 'E_READ_ONLY' });
    const header = req.headers.authorization ?? '';
    const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
    const want = Buffer.from(options.token!);
    // Compare hashes so the comparison takes the same time whatever the lengths.
    const same = timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(want).digest());
    if (!same) return reply.status(401).header('www-authenticate', 'Bearer').send({ error: 'missing or wrong bearer token', code: 'E_AUTH' });
  };

  app.get('/health', { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' }, galleries: { type: 'integer' } } } } } }, async () => ({
    status: 'ok',
    galleries: registry.list().length,
  }));

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.header('content-type', metrics.contentType);
    return metrics.metrics();
  });

  app.get(
    '/galleries',
    { schema: { response: { 200: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, model: { type: 'string' }, count: { type: 'integer' }, dim: { type: 'integer' } } } } } } },
    async () => registry.list().map((g) => ({ name: g.name, model: g.gallery.model.name ?? g.gallery.model.id, count: g.gallery.count, dim: g.gallery.dim })),
  );

  /** Reads a multipart request: files (bytes) and text fields, refusing non-image files early. */
  async function readMultipart(req: FastifyRequest): Promise<{ files: Array<{ field: string; name: string; data: Buffer }>; fields: Record<string, string[]> }> {
    const files: Array<{ field: string; name: string; data: Buffer }> = [];
    const fields: Record<string, string[]> = {};
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        const data = await part.toBuffer();
        files.push({ field: part.fieldname, name: part.filename || part.fieldname, data });
      } else (fields[part.fieldname] ??= []).push(String(part.value));
    }
    return { files, fields };
  }

  function fieldError(field: string, message: string): VisidError {
    const e = new VisidError('E_INPUT', message) as VisidError & { field?: string };
    e.field = field;
    return e;
  }

  function parseK(value: unknown, field = 'k'): number {
    if (value === undefined) return 10;
    const k = Number(value);
    if (!Number.isInteger(k) || k < 1 || k > 1000) throw fieldError(field, `'${field}' must be an integer from 1 to 1000`);
    return k;
  }

  function parseBool(value: unknown, field: string): boolean {
    if (value === undefined) return false;
    if (value === true || value === 'true' || value === '1') return true;
    if (value === false || value === 'false' || value === '0') return false;
    throw fieldError(field, `'${field}' must be true or false`);
  }

  async function search(g: ServedGallery, query: Float32Array, k: number, uniqueLabels: boolean) {
    if (uniqueLabels) {
      const labels = await registry.searchLabels(g, query, k);
      return { uniqueLabels: true, results: labels.map((l) => ({ ...l, thumbnail: thumbnailUrl(g.name, l.id) })) };
    }
    const hits = await registry.search(g, query, k);
    return { uniqueLabels: false, results: hits.map((h) => ({ id: h.id, label: h.label, score: h.score, thumbnail: thumbnailUrl(g.name, h.id) })) };
  }

  app.post(
    '/galleries/:name/search',
    {
      schema: {
        description: 'Search with an uploaded image (multipart field "image", optional fields k, uniqueLabels) or a JSON descriptor.',
        params: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
        body: {
          type: 'object',
          properties: { descriptor: { type: 'array', items: { type: 'number' } }, k: { type: 'integer', minimum: 1, maximum: 1000 }, uniqueLabels: { type: 'boolean' } },
          required: ['descriptor'],
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: { uniqueLabels: { type: 'boolean' }, results: { type: 'array', items: { anyOf: [hitSchema, labelSchema] } } } }, 400: errorSchema, 404: errorSchema },
      },
      // JSON and multipart bodies share this route, so the schema documents the JSON form and the handler
      // checks both by hand, naming the field at fault.
      validatorCompiler: () => () => true,
    },
    async (req) => {
      const { name } = req.params as { name: string };
      const g = registry.get(name);
      if (req.isMultipart()) {
        const { files, fields } = await readMultipart(req);
        const image = files.find((f) => f.field === 'image');
        if (!image) throw fieldError('image', "multipart search needs a file in field 'image'");
        const k = parseK(fields['k']?.[0]);
        const unique = parseBool(fields['uniqueLabels']?.[0], 'uniqueLabels');
        // Embedding is the expensive, bounded part; the search itself joins the gallery's batched pass.
        const vectors = await limiter.run(() => registry.embed(g, [image.data], [image.name], maxPixels));
        return search(g, vectors, k, unique);
      }
      {
        const body = req.body as { descriptor?: unknown; k?: unknown; uniqueLabels?: unknown } | undefined;
        if (!body || !Array.isArray(body.descriptor)) throw fieldError('descriptor', "JSON search needs 'descriptor': an array of numbers");
        const d = body.descriptor as unknown[];
        if (d.length !== g.gallery.dim) throw fieldError('descriptor', `'descriptor' has ${d.length} values; gallery '${name}' has dimension ${g.gallery.dim}`);
        if (!d.every((x) => typeof x === 'number' && Number.isFinite(x))) throw fieldError('descriptor', "'descriptor' must hold finite numbers only");
        return search(g, Float32Array.from(d as number[]), parseK(body.k), parseBool(body.uniqueLabels, 'uniqueLabels'));
      }
    },
  );

  app.post(
    '/galleries/:name/items',
    {
      preHandler: requireToken,
      schema: {
        description: 'Add images (multipart fields "image", one or more, and "label", one per image or one for all). Needs the bearer token.',
        params: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
        security: [{ bearer: [] }],
      },
    },
    async (req) => {
      const { name } = req.params as { name: string };
      const g = registry.get(name);
      if (!req.isMultipart()) throw new VisidError('E_INPUT', 'send the images as multipart/form-data');
      const { files, fields } = await readMultipart(req);
      const images = files.filter((f) => f.field === 'image');
      if (images.length === 0) throw fieldError('image', "no files in field 'image'");
      const labels = fields['label'] ?? [];
      if (labels.length !== 0 && labels.length !== 1 && labels.length !== images.length) {
        throw fieldError('label', `give one 'label' for all images or one per image (${images.length}), not ${labels.length}`);
      }
      return limiter.run(async () => {
        const vectors = await registry.embed(g, images.map((f) => f.data), images.map((f) => f.name), maxPixels);
        const uploads = path.join(g.gallery.dir, 'uploads');
        await fs.mkdir(uploads, { recursive: true });
        const items: Array<{ id: string; path: string; label?: string }> = [];
        for (let i = 0; i < images.length; i++) {
          const hash = createHash('sha256').update(images[i]!.data).digest('hex').slice(0, 24);
          const meta = await sharp(images[i]!.data).metadata();
          const file = path.join(uploads, `${hash}.${meta.format === 'jpeg' ? 'jpg' : meta.format}`);
          await writeFileAtomic(file, images[i]!.data);
          const label = labels.length === 1 ? labels[0] : labels[i];
          items.push({ id: `uploads/${path.basename(file)}`, path: file, ...(label ? { label } : {}) });
        }
        await registry.write(g, (gallery) => gallery.append(vectors, items));
        return { added: items.map((it) => ({ id: it.id, label: it.label, thumbnail: thumbnailUrl(name, it.id) })), count: g.gallery.count };
      });
    },
  );

  app.delete(
    '/galleries/:name/items/:id',
    {
      preHandler: requireToken,
      schema: { params: { type: 'object', properties: { name: { type: 'string' }, id: { type: 'string' } }, required: ['name', 'id'] }, security: [{ bearer: [] }] },
    },
    async (req) => {
      const { name, id } = req.params as { name: string; id: string };
      const g = registry.get(name);
      await registry.write(g, (gallery) => gallery.remove([id]));
      return { removed: id, count: g.gallery.count };
    },
  );

  app.get(
    '/galleries/:name/items/:id/image',
    { schema: { params: { type: 'object', properties: { name: { type: 'string' }, id: { type: 'string' } }, required: ['name', 'id'] }, querystring: { type: 'object', properties: { size: { type: 'integer', minimum: 16, maximum: 1024 } } } } },
    async (req, reply) => {
      const { name, id } = req.params as { name: string; id: string };
      const size = (req.query as { size?: number }).size ?? 256;
      const g = registry.get(name);
      // Only the recorded path of an item that is in the gallery is ever opened, and only inside its roots.
      const row = g.gallery.indexOf(id);
      if (row < 0) throw new VisidError('E_NOT_FOUND', `no item '${id}' in gallery '${name}'`);
      const item = g.gallery.items[row]!;
      if (!item.path) throw new VisidError('E_NOT_FOUND', `item '${id}' has no image`);
      const uploads = path.join(g.gallery.dir, 'uploads');
      let file: string;
      if (path.isAbsolute(item.path) && isInside(uploads, path.resolve(item.path))) file = await resolveInsideRoot(uploads, path.relative(uploads, item.path), id);
      else if (g.gallery.dataRoot) file = await resolveInsideRoot(g.gallery.dataRoot, item.path, id);
      else throw new VisidError('E_NOT_FOUND', `item '${id}' has no image inside the gallery's data root`);
      const jpeg = await sharp(file, { limitInputPixels: maxPixels, autoOrient: true }).resize(size, size, { fit: 'inside' }).jpeg({ quality: 80 }).toBuffer();
      reply.header('content-type', 'image/jpeg').header('cache-control', 'max-age=300');
      return reply.send(jpeg);
    },
  );

  app.get(
    '/galleries/:name/items',
    {
      schema: {
        description: 'Items of a gallery, a page at a time, with thumbnail URLs.',
        params: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
        querystring: { type: 'object', properties: { offset: { type: 'integer', minimum: 0 }, limit: { type: 'integer', minimum: 1, maximum: 500 }, label: { type: 'string' } } },
      },
    },
    async (req) => {
      const { name } = req.params as { name: string };
      const { offset = 0, limit = 50, label } = req.query as { offset?: number; limit?: number; label?: string };
      const g = registry.get(name);
      const all = label === undefined ? g.gallery.items : g.gallery.items.filter((it) => it.label === label);
      return {
        count: all.length,
        offset,
        items: all.slice(offset, offset + limit).map((it) => ({ id: it.id, label: it.label, thumbnail: thumbnailUrl(name, it.id) })),
      };
    },
  );

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

  // The web page, built by Vite into dist/web (see web/): bundled files only, no CDN.
  const webRoot = fileURLToPath(new URL('../../web', import.meta.url));
  if (existsSync(path.join(webRoot, 'index.html'))) {
    await app.register(fastifyStatic, { root: webRoot, prefix: '/', index: 'index.html', wildcard: false });
  } else {
    app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.status(404).send({ error: 'web page not built: run npm run build', code: 'E_NOT_FOUND' }));
  }

  app.addHook('onClose', async () => {
    await faces?.close();
    await registry.close();
  });
  return app;
}
