// Sharded serving: `visid serve --shards a,b|b2,...` routes each search to every shard (a `visid serve` holding part
// of each gallery; `|` separates replicas of one shard, tried in order), each with its own timeout, merges the
// top-k and says which shards answered. The shards do the work (embedding an uploaded image, searching); the router
// only forwards the request body as it came and merges the answers.
import Fastify, { type FastifyInstance } from 'fastify';
import { VisidError } from '../util/errors.js';
import { defaultAllowedHosts, hostOf } from './app.js';

export interface Shard {
  /** Base URLs of the replicas holding this shard, tried in order. */
  replicas: string[];
}

/** "http://a:8081|http://a2:8081,http://b:8082" → two shards, the first with a replica. */
export function parseShards(text: string): Shard[] {
  const shards = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => ({
      replicas: s.split('|').map((u) => {
        let url: URL;
        try {
          url = new URL(u.trim());
        } catch {
          throw new VisidError('E_INPUT', `not a URL: '${u}'`, { item: '--shards' });
        }
        if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new VisidError('E_INPUT', `shard URL must be http(s): '${u}'`, { item: '--shards' });
        return url.toString().replace(/\/$/, '');
      }),
    }));
  if (shards.length === 0) throw new VisidError('E_INPUT', 'no shard URLs given', { item: '--shards' });
  return shards;
}

export interface RouterOptions {
  shards: Shard[];
  /** Per shard request (each replica try), in ms. */
  shardTimeoutMs?: number;
  maxRequestBytes?: number;
  logger?: boolean;
  /** Host names the router answers to (as `visid serve`); default localhost names; '*' for any. */
  allowedHosts?: string[];
}

interface ShardAnswer {
  shard: number;
  url?: string;
  ok: boolean;
  ms: number;
  status?: number;
  error?: string;
  body?: unknown;
}

type Hit = { id: string; label?: string; score: number; count?: number; thumbnail?: string; shard?: number };

/** Asks one shard (replica after replica) and returns its JSON answer or why it did not answer. */
async function ask(shard: Shard, index: number, path: string, init: { method: string; headers: Record<string, string>; body?: Buffer }, timeoutMs: number): Promise<ShardAnswer> {
  const t0 = performance.now();
  let last: ShardAnswer = { shard: index, ok: false, ms: 0, error: 'no replica' };
  for (const base of shard.replicas) {
    try {
      const res = await fetch(base + path, { method: init.method, headers: init.headers, body: init.body, signal: AbortSignal.timeout(timeoutMs) });
      const body = (await res.json().catch(() => undefined)) as unknown;
      const ms = performance.now() - t0;
      // A 4xx is the request's fault (the same on every replica): it is the answer. 5xx/503: try the next replica.
      if (res.status < 500) return { shard: index, url: base, ok: res.ok, ms, status: res.status, body, ...(res.ok ? {} : { error: (body as { error?: string })?.error ?? `HTTP ${res.status}` }) };
      last = { shard: index, url: base, ok: false, ms, status: res.status, error: (body as { error?: string })?.error ?? `HTTP ${res.status}` };
    } catch (err) {
      const e = err as Error;
      last = { shard: index, url: base, ok: false, ms: performance.now() - t0, error: e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : e.message };
    }
  }
  return last;
}

/** Merges the shards' top-k lists: hits by score; unique labels by each label's best hit (counts summed). */
export function mergeShardResults(lists: Array<{ shard: number; uniqueLabels: boolean; results: Hit[] }>): Hit[] {
  const k = Math.max(0, ...lists.map((l) => l.results.length));
  const unique = lists.some((l) => l.uniqueLabels);
  const all = lists.flatMap((l) => l.results.map((h) => ({ ...h, shard: l.shard })));
  if (!unique) return all.sort((a, b) => b.score - a.score || a.id.localeCompare(b.id)).slice(0, k);
  const best = new Map<string, Hit>();
  for (const h of all) {
    const key = h.label ?? h.id;
    const seen = best.get(key);
    if (!seen) best.set(key, { ...h });
    else {
      const count = (seen.count ?? 1) + (h.count ?? 1);
      if (h.score > seen.score) best.set(key, { ...h, count });
      else seen.count = count;
    }
  }
  return [...best.values()].sort((a, b) => b.score - a.score || (a.label ?? '').localeCompare(b.label ?? '')).slice(0, k);
}

export async function buildRouter(options: RouterOptions): Promise<FastifyInstance> {
  const timeout = options.shardTimeoutMs ?? 5000;
  const maxBytes = options.maxRequestBytes ?? 33 * 1024 * 1024;
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: maxBytes });
  // Bodies are forwarded byte for byte: the shards parse and check them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBytes }, (_req, body, done) => done(null, body));
  const allowed = new Set((options.allowedHosts ?? defaultAllowedHosts()).map((h) => h.toLowerCase()));
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    const host = hostOf(req.headers.host ?? '');
    if (!allowed.has('*') && !allowed.has(host)) return reply.status(421).send({ error: `host '${host}' is not served here`, code: 'E_HOST' });
  });
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (err instanceof VisidError) return reply.status(400).send({ error: err.message, code: err.code });
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    return reply.status(status).send({ error: status === 500 ? 'internal error' : err.message, code: err.code ?? 'E_HTTP' });
  });
  const shardsOf = (answers: ShardAnswer[]) => answers.map(({ body: _b, ...a }) => ({ ...a, ms: Math.round(a.ms) }));

  app.get('/health', async () => {
    const answers = await Promise.all(options.shards.map((s, i) => ask(s, i, '/health', { method: 'GET', headers: {} }, timeout)));
    return { status: answers.every((a) => a.ok) ? 'ok' : answers.some((a) => a.ok) ? 'degraded' : 'down', shards: shardsOf(answers) };
  });

  app.get('/galleries', async (_req, reply) => {
    const answers = await Promise.all(options.shards.map((s, i) => ask(s, i, '/galleries', { method: 'GET', headers: {} }, timeout)));
    const merged = new Map<string, { name: string; model?: string; count: number; dim: number; shards: number }>();
    for (const a of answers) {
      if (!a.ok || !Array.isArray(a.body)) continue;
      for (const g of a.body as Array<{ name: string; model?: string; count: number; dim: number }>) {
        const m = merged.get(g.name);
        if (!m) merged.set(g.name, { ...g, shards: 1 });
        else {
          if (m.dim !== g.dim) throw new VisidError('E_DIM', `gallery '${g.name}' has dimension ${m.dim} on one shard and ${g.dim} on shard ${a.shard}`);
          m.count += g.count;
          m.shards++;
        }
      }
    }
    if (!answers.some((a) => a.ok)) return reply.status(503).send({ error: 'no shard answered', code: 'E_SHARDS', shards: shardsOf(answers) });
    return [...merged.values()];
  });

  app.post('/galleries/:name/search', async (req, reply) => {
    const { name } = req.params as { name: string };
    const body = req.body as Buffer | undefined;
    const headers: Record<string, string> = {};
    if (req.headers['content-type']) headers['content-type'] = req.headers['content-type'];
    const answers = await Promise.all(options.shards.map((s, i) => ask(s, i, `/galleries/${encodeURIComponent(name)}/search`, { method: 'POST', headers, body }, timeout)));
    const ok = answers.filter((a) => a.ok);
    if (ok.length === 0) {
      // Every shard refused the request itself (400: bad query) → that answer; none reachable → 503.
      const refused = answers.find((a) => a.status !== undefined && a.status < 500);
      if (refused) return reply.status(refused.status!).send({ ...(refused.body as object), shards: shardsOf(answers) });
      return reply.status(503).send({ error: 'no shard answered', code: 'E_SHARDS', shards: shardsOf(answers) });
    }
    const lists = ok.map((a) => {
      const b = a.body as { uniqueLabels: boolean; results: Hit[] };
      // Thumbnails live on the shard that holds the item.
      return { shard: a.shard, uniqueLabels: b.uniqueLabels, results: b.results.map((h) => ({ ...h, thumbnail: h.thumbnail ? a.url + h.thumbnail : undefined })) };
    });
    return { uniqueLabels: lists.some((l) => l.uniqueLabels), results: mergeShardResults(lists), complete: ok.length === answers.length, shards: shardsOf(answers) };
  });
  return app;
}
