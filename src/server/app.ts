// The visid HTTP server (Fastify): shared limits, errors, auth, metrics and OpenAPI, with each part's routes as a plugin.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import Fastify, { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import client from 'prom-client';
import { VisidError, VisidErrorCode } from '../util/errors.js';
import { DEFAULT_MAX_PIXELS } from '../images/decode.js';
import { GalleryRegistry } from './registry.js';
import { Limiter } from './limiter.js';
import type { ServeOptions, ServerContext } from './context.js';
import { galleryRoutes } from './routes/galleries.js';
import { faceRoutes } from './routes/faces.js';
import { reportRoutes } from './routes/reports.js';
import { webRoutes } from './routes/web.js';

export type { ServeOptions } from './context.js';


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
  E_TOO_LARGE: 413,
};

/**
 * Error messages name files by their paths; a client learns nothing from the server's folder layout, so an
 * absolute path in a message is cut to its last part (`/srv/visid/galleries/faces` → `faces`).
 */
export function redactPaths(message: string): string {
  return message.replace(/(^|[\s'"(=])(\/(?:[^\s'"():/]+\/)+)([^\s'"():/]*)/g, (_m, lead: string, _dir: string, last: string) => `${lead}${last || '.'}`);
}

/** The host names a server listening on `listen` answers to by default. */
export function defaultAllowedHosts(listen?: string): string[] {
  const hosts = ['localhost', '127.0.0.1', '::1', hostname().toLowerCase()];
  if (listen && listen !== '0.0.0.0' && listen !== '::') hosts.push(listen.toLowerCase());
  return hosts;
}

/** The host part of a Host header ("[::1]:8080" → "::1", "Example.org:80" → "example.org"). */
export function hostOf(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') >>> 0);
  const colon = h.lastIndexOf(':');
  return colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

/** Route plugins, each a self-contained group of routes (and pages) for one part of visid. */
const ROUTE_PLUGINS: Array<(app: FastifyInstance, ctx: ServerContext) => Promise<void>> = [galleryRoutes, faceRoutes, reportRoutes, webRoutes];

export async function buildServer(options: ServeOptions): Promise<FastifyInstance> {
  const readOnly = options.readOnly ?? false;
  if (!readOnly && !options.token) {
    throw new VisidError('E_INPUT', 'routes that change galleries need a token (set VISID_TOKEN) — or serve with --read-only');
  }
  const maxUploadBytes = options.maxUploadBytes ?? 16 * 1024 * 1024;
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const registry = await GalleryRegistry.open(options.galleries, options.maxPendingSearches ?? 1024);
  const limiter = new Limiter(options.maxConcurrent ?? 2, options.maxQueue ?? 32);

  const maxRequestBytes = options.maxRequestBytes ?? 2 * maxUploadBytes + 1024 * 1024;
  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  const allowedHosts = new Set((options.allowedHosts ?? defaultAllowedHosts()).map((h) => h.toLowerCase()));
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: maxUploadBytes,
    requestTimeout,
    // Node checks request timeouts every connectionsCheckingInterval (30 s by default): a slow body then lives
    // up to twice --timeout. Checking every second keeps the limit what it says.
    serverFactory: (handler) => createServer({ requestTimeout, connectionsCheckingInterval: Math.min(1000, requestTimeout), headersTimeout: Math.min(60_000, requestTimeout) }, handler),
  });
  // DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends Host: evil.example; it gets nothing.
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-content-type-options', 'nosniff').header('x-frame-options', 'DENY').header('referrer-policy', 'no-referrer');
    if (allowedHosts.has('*')) return;
    const host = hostOf(req.headers.host ?? '');
    if (!allowedHosts.has(host)) return reply.status(421).send({ error: `host '${host}' is not served here (serve with --allow-host ${host || '<name>'})`, code: 'E_HOST' });
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

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: Array<{ instancePath?: string; params?: { missingProperty?: string } }> }, req, reply) => {
    // An error in the middle of a multipart body leaves the rest of it unread: the connection cannot be reused.
    if (req.isMultipart()) reply.header('connection', 'close');
    if (err instanceof VisidError) {
      const status = STATUS[err.code] ?? 400;
      return reply.status(status).send({ error: redactPaths(err.message), code: err.code, field: (err as VisidError & { field?: string }).field });
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
    return reply.status(status).send({ error: status === 500 ? 'internal error' : redactPaths(err.message), code: err.code ?? 'E_HTTP' });
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


  const ctx: ServerContext = { options, registry, limiter, maxPixels, maxRequestBytes, requireToken };
  // Each recipe's routes are one plugin: adding a recipe adds a line here and touches nothing else.
  for (const routes of ROUTE_PLUGINS) await app.register(async (child) => routes(child, ctx));

  app.addHook('onClose', async () => registry.close());
  return app;
}
