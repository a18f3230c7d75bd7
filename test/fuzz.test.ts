// Fuzzing every parser and untrusted input (fast-check): each one either succeeds or throws a VisidError that names
// the item; never a TypeError, a hang, a 500, a path outside its root, or a change to stored data.
// CI runs VISID_FUZZ_RUNS (default 40) cases per property with a fixed seed; `npm run fuzz` runs many more with a
// fresh seed (printed, so a failure can be replayed with VISID_FUZZ_SEED).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, promises as fs, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../src/server/app.js';
import { Gallery, VisidError } from '../src/api.js';
import { readManifestDataset } from '../src/data/manifest.js';
import { decodeNpy, encodeNpy } from '../src/formats/npy.js';
import { validateCard } from '../src/models/model-card.js';
import { validateConfig } from '../src/train/config.js';
import { AugmentPipeline } from '../src/augment/pipeline.js';
import { readLfwPairFile } from '../src/jobs/faces/pairs.js';
import { readSoftLabels } from '../src/jobs/video/annotations.js';
import { loadLabelSet } from '../src/jobs/video/label-set.js';
import { validateGalleryItem } from '../src/index/items.js';
import { isInside } from '../src/data/paths.js';
import { writeColourGallery } from './helpers.js';

const RUNS = Number(process.env['VISID_FUZZ_RUNS'] ?? 40);
const SEED = process.env['VISID_FUZZ_SEED'] !== undefined ? Number(process.env['VISID_FUZZ_SEED']) : process.env['VISID_FUZZ_RUNS'] ? Date.now() % 2 ** 31 : 20261201;
const params = { numRuns: RUNS, seed: SEED, endOnFailure: true };
const TOKEN = 'fuzz-token';
if (process.env['VISID_FUZZ_RUNS']) process.stderr.write(`fuzz: ${RUNS} cases per property, seed ${SEED}\n`);

let dir: string;
let app: FastifyInstance;
let galleryDir: string;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'visid-fuzz-'));
  galleryDir = await writeColourGallery(dir);
  app = await buildServer({ galleries: [galleryDir], token: TOKEN, maxUploadBytes: 256 * 1024, maxConcurrent: 1, maxQueue: 64, reportsDir: dir });
});

after(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `fn`: success, or a VisidError whose message names `item` (when given). Anything else fails the case. */
async function cleanly(fn: () => unknown, item?: string): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (err) {
    if (!(err instanceof VisidError)) throw new Error(`not a VisidError: ${(err as Error)?.stack ?? String(err)}`);
    if (item !== undefined && !err.message.includes(item)) throw new Error(`error does not name ${item}: ${err.message}`);
    return false;
  }
}

/** Random edits of a valid text: deletions, insertions of random or structural characters, truncation. */
const mutated = (seed: string) =>
  fc
    .tuple(
      fc.array(fc.record({ at: fc.nat(), del: fc.nat({ max: 6 }), ins: fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom(',', '"', '\n', '\t', '{', '}', '[', ']', ':', '..', '/', '\\', '\0', '-1', 'NaN', '1e999', '\u2028', '\ufeff')) }), { maxLength: 6 }),
      fc.option(fc.nat(), { nil: undefined }),
    )
    .map(([edits, cut]) => {
      let s = seed;
      for (const e of edits) {
        const at = e.at % (s.length + 1);
        s = s.slice(0, at) + e.ins + s.slice(at + e.del);
      }
      return cut === undefined ? s : s.slice(0, cut % (s.length + 1));
    });

const mutatedBytes = (seed: Uint8Array) =>
  fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 8 }).chain((edits) =>
    fc.option(fc.nat(), { nil: undefined }).map((cut) => {
      const b = Uint8Array.from(seed);
      for (const e of edits) b[e.at % b.length] = e.value;
      return cut === undefined ? b : b.subarray(0, cut % (b.length + 1));
    }),
  );

async function hashTree(root: string): Promise<string> {
  const h = createHash('sha256');
  for (const f of (await fs.readdir(root)).sort()) {
    if (f === 'uploads') continue;
    h.update(f).update(await fs.readFile(path.join(root, f)));
  }
  return h.digest('hex');
}

test('manifests (CSV and JSONL): VisidError naming file:line or items inside the data root', { timeout: 180_000 }, async () => {
  const root = path.join(dir, 'data');
  const realRoot = realpathSync(root);
  const csv = 'path,label,lat,lon,split\nred/0.png,red,45.5,9.1,train\nred/1.png,red,,,val\ngreen/0.png,"gr,een",,,\n';
  const jsonl = '{"path":"red/0.png","label":"red","labels":["a","b"]}\n{"path":"blue/0.png","utm_east":500000,"utm_north":4649776,"utm_zone":"32T"}\n';
  for (const [ext, seed] of [['csv', csv], ['jsonl', jsonl]] as const) {
    await fc.assert(
      fc.asyncProperty(mutated(seed), async (text) => {
        const file = path.join(dir, `m.${ext}`);
        await fs.writeFile(file, text);
        let items: Array<{ path: string }> = [];
        await cleanly(async () => (items = (await readManifestDataset(file, root)).items), 'm.' + ext);
        for (const it of items) assert.ok(isInside(realRoot, realpathSync(it.path)), `${it.path} is outside the data root`);
      }),
      params,
    );
  }
});

test('.npy: decodes or names the file', { timeout: 60_000 }, async () => {
  const good = Buffer.concat(encodeNpy(Float32Array.from({ length: 12 }, (_, i) => i / 3), [3, 4]));
  await fc.assert(
    fc.asyncProperty(fc.oneof(mutatedBytes(good), fc.uint8Array({ maxLength: 200 })), async (bytes) => {
      await cleanly(() => {
        const { data, shape } = decodeNpy(bytes, 'q.npy');
        assert.equal(data.length, shape.reduce((a, b) => a * b, 1));
      }, 'q.npy');
    }),
    { ...params, numRuns: RUNS * 4 },
  );
});

test('gallery manifests, segment headers and metadata: open cleanly or name the file; the files are never changed', { timeout: 180_000 }, async () => {
  const copy = path.join(dir, 'fuzz-gallery');
  const manifest = await fs.readFile(path.join(galleryDir, 'gallery.json'), 'utf8');
  const seg = (await fs.readdir(galleryDir)).find((f) => f.endsWith('.vec'))!;
  const vec = await fs.readFile(path.join(galleryDir, seg));
  const meta = await fs.readFile(path.join(galleryDir, seg.replace('.vec', '.jsonl')), 'utf8');
  await fc.assert(
    fc.asyncProperty(fc.oneof(mutated(manifest), fc.jsonValue().map((v) => JSON.stringify(v))), mutatedBytes(vec.subarray(0, 64)), fc.option(mutated(meta), { nil: undefined }), async (m, header, metaText) => {
      await fs.rm(copy, { recursive: true, force: true });
      await fs.cp(galleryDir, copy, { recursive: true });
      await fs.writeFile(path.join(copy, 'gallery.json'), m);
      await fs.writeFile(path.join(copy, seg), Buffer.concat([header, vec.subarray(64)]));
      if (metaText !== undefined) await fs.writeFile(path.join(copy, seg.replace('.vec', '.jsonl')), metaText);
      const before = await hashTree(copy);
      await cleanly(async () => {
        const g = await Gallery.open(copy);
        assert.equal(g.vectors.length, g.count * g.dim);
      });
      assert.equal(await hashTree(copy), before, 'opening changed the files');
    }),
    params,
  );
});

test('gallery items (import lines): validated or refused naming the line', { timeout: 60_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(fc.oneof(fc.jsonValue(), fc.dictionary(fc.constantFrom('id', 'label', 'labels', 'lat', 'lon', 'path', 'heading', 'utmEast', 'utmNorth', 'split'), fc.jsonValue())), async (raw) => {
      await cleanly(() => {
        const it = validateGalleryItem(raw, 'items.jsonl:7');
        assert.equal(typeof it.id, 'string');
        if (it.label !== undefined) assert.equal(typeof it.label, 'string');
        if (it.path !== undefined) assert.ok(!path.isAbsolute(it.path) && !it.path.split('/').includes('..'));
      }, 'items.jsonl:7');
    }),
    { ...params, numRuns: RUNS * 8 },
  );
});

test('model cards and training configs: validated or refused naming the file', { timeout: 60_000 }, async () => {
  const cardKeys = fc.constantFrom('inputSize', 'mean', 'std', 'layout', 'resize', 'outputDim', 'name', 'input', 'output', 'scales');
  await fc.assert(
    fc.asyncProperty(fc.dictionary(cardKeys, fc.jsonValue()), async (raw) => {
      await cleanly(() => validateCard(raw as Record<string, unknown>, 'model.json'), 'model.json');
    }),
    { ...params, numRuns: RUNS * 4 },
  );
  const configKeys = fc.constantFrom('data', 'out', 'model', 'loss', 'epochs', 'batchSize', 'lr', 'optimizer', 'schedule', 'sampler', 'augment', 'embeddingDim', 'workers', 'microBatch', 'valFraction', 'seed');
  const base = { data: 'data.csv', out: 'runs/x', model: { type: 'resnet' }, loss: { name: 'arcface' }, epochs: 1 };
  await fc.assert(
    fc.asyncProperty(fc.dictionary(configKeys, fc.jsonValue()), fc.boolean(), async (raw, onBase) => {
      await cleanly(() => validateConfig(onBase ? { ...base, ...raw } : raw, 'train.yaml', dir), 'train.yaml');
    }),
    { ...params, numRuns: RUNS * 4 },
  );
});

test('augmentation configs: build or refuse naming the file', { timeout: 120_000 }, async () => {
  const seed = 'pipeline:\n  - { op: RandomResizedCrop, p: 1, size: 32, scale: [0.3, 1] }\n  - { op: HorizontalFlip, p: 0.5 }\n  - op: OneOf\n    p: 0.5\n    ops:\n      - { op: GaussianBlur, sigma: [0.5, 2] }\n      - { op: JpegCompression, quality: [20, 60] }\n';
  await fc.assert(
    fc.asyncProperty(mutated(seed), async (text) => {
      const file = path.join(dir, 'aug.yaml');
      await fs.writeFile(file, text);
      await cleanly(() => AugmentPipeline.fromFile(file), 'aug.yaml');
    }),
    params,
  );
});

test('LFW pairs files and annotation files: parsed or refused naming the file', { timeout: 120_000 }, async () => {
  const pairs = '3\nAaron_Peirsol\t1\t2\nAbel_Pacheco\t1\t4\nAbdullah\t1\tAbdullah_Gul\t13\n';
  await fc.assert(
    fc.asyncProperty(mutated(pairs), async (text) => {
      const file = path.join(dir, 'pairs.txt');
      await fs.writeFile(file, text);
      await cleanly(async () => {
        const r = await readLfwPairFile(file, path.join(dir, 'lfw'));
        for (const p of r.pairs) assert.ok(isInside(path.join(dir, 'lfw'), p.a) && isInside(path.join(dir, 'lfw'), p.b), `pair outside the root: ${p.a} ${p.b}`);
      }, 'pairs.txt');
    }),
    params,
  );
  const set = await loadLabelSet();
  const first = set.classes[0]!.name;
  const second = set.classes[1]!.name;
  const annotations = `image,label,annotator\nframes/a.jpg,${first},w1\nframes/a.jpg,${second},w2\nframes/b.jpg,${first},w1\n`;
  await fc.assert(
    fc.asyncProperty(mutated(annotations), async (text) => {
      const file = path.join(dir, 'annotations.csv');
      await fs.writeFile(file, text);
      await cleanly(() => readSoftLabels(file, set), 'annotations.csv');
    }),
    params,
  );
});

/** A JSON value or a deliberately wrong one for each search field. */
const searchBody = fc.oneof(
  fc.jsonValue(),
  fc.record(
    {
      descriptor: fc.oneof(fc.array(fc.oneof(fc.double(), fc.integer(), fc.string(), fc.constant(null)), { maxLength: 5 }), fc.jsonValue()),
      k: fc.jsonValue(),
      uniqueLabels: fc.jsonValue(),
    },
    { requiredKeys: [] },
  ),
);

test('JSON bodies of every route: 2xx or a 4xx naming the fault, never 500; stored data unchanged by refused writes', { timeout: 180_000 }, async () => {
  const before = await hashTree(galleryDir);
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('/galleries/colours/search', '/galleries/nope/search', '/galleries/colours/items', '/verify', '/galleries/colours/items/red%2F0.png'),
      fc.constantFrom('POST', 'DELETE', 'GET', 'PUT'),
      searchBody,
      fc.boolean(),
      async (route, method, body, auth) => {
        let url: string = route;
        // DELETE with the token really removes: only an unknown id may be deleted here.
        if (method === 'DELETE' && auth) url = '/galleries/colours/items/no-such-id';
        const res = await app.inject({ method: method as 'POST', url, payload: method === 'GET' ? undefined : (body as object), headers: auth ? { authorization: `Bearer ${TOKEN}` } : {} });
        assert.ok(res.statusCode < 500, `${method} ${url} ${JSON.stringify(body)} → ${res.statusCode} ${res.body}`);
        if (res.statusCode >= 400) assert.equal(typeof res.json().error, 'string');
      },
    ),
    { ...params, numRuns: RUNS * 4 },
  );
  assert.equal(await hashTree(galleryDir), before);
});

test('query strings and path parameters of the GET routes: never 500, never a file outside the roots', { timeout: 120_000 }, async () => {
  const segment = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('..', '../secret.txt', '%2e%2e%2fsecret.txt', 'red%2F0.png', '..%2F..%2Fetc%2Fpasswd', '%00', 'gallery.json', 'colours'));
  await fc.assert(
    fc.asyncProperty(fc.constantFrom('/galleries/colours/items/', '/galleries/', '/reports/', '/galleries/colours/items?label=', '/galleries/colours/items?offset=', '/galleries/colours/items/red%2F0.png/image?size='), segment, async (prefix, s) => {
      const url = prefix + (prefix.endsWith('=') ? encodeURIComponent(s) : s.includes('%') ? s : encodeURIComponent(s)) + (prefix === '/galleries/colours/items/' ? '/image' : '');
      const res = await app.inject({ url });
      assert.ok(res.statusCode < 500, `${url} → ${res.statusCode} ${res.body}`);
      assert.ok(!res.body.includes('top secret') && !res.body.includes('root:x:0'), `${url} leaked a file`);
    }),
    { ...params, numRuns: RUNS * 4 },
  );
});

/** A multipart body from random parts (known and unknown names, files and fields), boundary and truncation. */
const multipartRequest = fc.record({
  parts: fc.array(
    fc.record({
      name: fc.oneof(fc.constantFrom('image', 'k', 'uniqueLabels', 'label', 'a', 'b', 'threshold', 'recognizer'), fc.string({ maxLength: 6 })),
      file: fc.boolean(),
      data: fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constantFrom('5', 'true', '0', '-1', '1001', 'x'.repeat(70))),
    }),
    { maxLength: 6 },
  ),
  boundary: fc.constantFrom('fuzzBoundary', 'other', ''),
  cut: fc.option(fc.nat(), { nil: undefined }),
  url: fc.constantFrom('/galleries/colours/search', '/galleries/colours/items', '/verify'),
});

test('multipart requests: 2xx or 4xx, never 500; refused adds change nothing', { timeout: 300_000 }, async () => {
  const png = await fs.readFile(path.join(dir, 'data', 'red', '0.png'));
  await fc.assert(
    fc.asyncProperty(multipartRequest, fc.boolean(), async ({ parts, boundary, cut, url }, realImage) => {
      const chunks: Buffer[] = [];
      for (const p of parts) {
        chunks.push(Buffer.from(`--fuzzBoundary\r\nContent-Disposition: form-data; name="${p.name.replace(/["\r\n]/g, '')}"${p.file ? `; filename="f.png"` : ''}\r\n\r\n`));
        chunks.push(p.file && realImage && (p.name === 'image' || p.name === 'a') ? png : Buffer.from(p.data));
        chunks.push(Buffer.from('\r\n'));
      }
      chunks.push(Buffer.from('--fuzzBoundary--\r\n'));
      let body = Buffer.concat(chunks);
      if (cut !== undefined) body = body.subarray(0, cut % (body.length + 1));
      const galleryBefore = await hashTree(galleryDir);
      const res = await app.inject({
        method: 'POST',
        url,
        payload: body,
        headers: { 'content-type': `multipart/form-data${boundary ? `; boundary=${boundary}` : ''}`, authorization: `Bearer ${TOKEN}` },
      });
      assert.ok(res.statusCode < 500 || res.statusCode === 503, `${url} → ${res.statusCode} ${res.body}`);
      if (url.endsWith('/items') && res.statusCode !== 200) assert.equal(await hashTree(galleryDir), galleryBefore, 'a refused add changed the gallery');
    }),
    { ...params, numRuns: RUNS * 4 },
  );
});
