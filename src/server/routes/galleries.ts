// Gallery routes: list galleries, search by image or descriptor, add/remove/list items, thumbnails.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { VisidError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { isInside, resolveInsideRoot } from '../../data/paths.js';
import { assertRasterFormat, assertRegularFile } from '../../images/decode.js';
import type { ServedGallery } from '../registry.js';
import { errorSchema, fieldError, hitSchema, labelSchema, parseBool, parseK, readMultipart, thumbnailUrl } from '../http.js';
import type { ServerContext } from '../context.js';

export async function galleryRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const { registry, limiter, maxPixels, requireToken, maxRequestBytes } = ctx;

  app.get(
    '/galleries',
    { schema: { response: { 200: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, model: { type: 'string' }, count: { type: 'integer' }, dim: { type: 'integer' } } } } } } },
    async () => registry.list().map((g) => ({ name: g.name, model: g.gallery.model.name ?? g.gallery.model.id, count: g.gallery.count, dim: g.gallery.dim })),
  );

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
        const { files, fields } = await readMultipart(req, { files: { image: 1 }, fields: { k: 1, uniqueLabels: 1 }, maxBytes: maxRequestBytes });
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
        if (typeof body !== 'object' || body === null || Array.isArray(body)) throw fieldError('descriptor', "JSON search needs an object with 'descriptor': an array of numbers");
        const unknown = Object.keys(body).find((key) => !['descriptor', 'k', 'uniqueLabels'].includes(key));
        if (unknown) throw fieldError(unknown, `unknown field '${unknown}' (this route takes descriptor, k, uniqueLabels)`);
        if (!Array.isArray(body.descriptor)) throw fieldError('descriptor', "JSON search needs 'descriptor': an array of numbers");
        const d = body.descriptor as unknown[];
        if (d.length !== g.gallery.dim) throw fieldError('descriptor', `'descriptor' has ${d.length} values; gallery '${name}' has dimension ${g.gallery.dim}`);
        if (!d.every((x) => typeof x === 'number' && Number.isFinite(x))) throw fieldError('descriptor', "'descriptor' must hold finite numbers only");
        return search(g, Float32Array.from(d as number[]), parseK(body.k, 'k', true), parseBool(body.uniqueLabels, 'uniqueLabels', true));
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
      const { files, fields } = await readMultipart(req, { files: { image: 64 }, fields: { label: 64 }, maxBytes: maxRequestBytes });
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
      let jpeg: Buffer;
      try {
        await assertRegularFile(file, id);
        const source = sharp(file, { limitInputPixels: maxPixels, autoOrient: true });
        await assertRasterFormat(source, id);
        jpeg = await source.resize(size, size, { fit: 'inside' }).jpeg({ quality: 80 }).toBuffer();
      } catch (err) {
        if (err instanceof VisidError) throw err;
        // The source was changed or damaged after it was indexed: the thumbnail is gone, the server is fine.
        throw new VisidError('E_NOT_FOUND', `the image of item '${id}' can no longer be read`);
      }
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

}
