// `visid serve`: the HTTP API over one or more galleries (token from VISID_TOKEN for routes that change them).
import { Command } from 'commander';
import { buildServer, defaultAllowedHosts } from '../server/app.js';
import { buildRouter, parseShards, type Shard } from '../server/router.js';
import { VisidError } from '../util/errors.js';
import { positiveInt } from './options.js';
import { RECOGNIZER_NAMES, recognizerSpec } from '../jobs/faces/recognizers.js';

interface ServeFlags {
  port: number;
  host: string;
  readOnly?: boolean;
  maxUploadMb: number;
  maxConcurrent: number;
  maxQueue: number;
  maxPendingSearches: number;
  timeout: number;
  log?: boolean;
  reports?: string;
  recognizer?: string;
  allowHost: string[];
  shards?: Shard[];
  shardTimeout: number;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve galleries over HTTP: search by image or descriptor, add and remove items (bearer token from VISID_TOKEN), thumbnails, /metrics, /openapi.json')
    .argument('[galleries...]', 'gallery folders (each served under its folder name); none with --shards')
    .option('--shards <urls>', "route searches to these visid servers and merge their top-k: 'http://a:8081,http://b:8082'; 'url1|url2' = replicas of one shard", (v: string) => parseShards(v))
    .option('--shard-timeout <ms>', 'with --shards: how long one shard (each replica) may take', positiveInt, 5000)
    .option('-p, --port <n>', 'port', (v) => Number(v), 8080)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--read-only', 'serve without the routes that change galleries (no token needed)')
    .option('--max-upload-mb <n>', 'largest upload in MiB', positiveInt, 16)
    .option('--max-concurrent <n>', 'image uploads being embedded at once (search, add, verify)', positiveInt, 2)
    .option('--max-queue <n>', 'uploads waiting beyond those; more get 503', positiveInt, 32)
    .option('--max-pending-searches <n>', 'searches waiting for the next batched pass; more get 503', positiveInt, 1024)
    .option('--timeout <ms>', 'request timeout', positiveInt, 30_000)
    .option('--reports <dir>', 'folder of HTML reports (visid eval --report) to list on the page')
    .option('--log', 'log every request (JSON lines)')
    .option('--allow-host <name>', "a host name clients use to reach this server (repeatable; default: localhost, 127.0.0.1, ::1, this machine's name and --host; '*' for any)", (v: string, acc: string[]) => [...acc, ...v.split(',').map((h) => h.trim()).filter(Boolean)], [] as string[])
    .option('--recognizer <name>', `face recognizer for POST /verify and the page's face verification (${RECOGNIZER_NAMES.join(', ')}; a request may name another)`, (v: string) => recognizerSpec(v).name)
    .action(async (galleries: string[], o: ServeFlags) => {
      if (o.shards && galleries.length > 0) throw new VisidError('E_INPUT', 'a router (--shards) serves no galleries of its own: give either gallery folders or --shards');
      if (!o.shards && galleries.length === 0) throw new VisidError('E_INPUT', 'give the gallery folders to serve (or --shards <urls> to route to other servers)');
      const app = o.shards ? await buildRouter({ shards: o.shards, shardTimeoutMs: o.shardTimeout, logger: o.log, allowedHosts: [...defaultAllowedHosts(o.host), ...o.allowHost], maxRequestBytes: 2 * o.maxUploadMb * 1024 * 1024 + 1024 * 1024 }) : await buildServer({
        galleries,
        token: process.env['VISID_TOKEN'] || undefined,
        readOnly: o.readOnly,
        maxUploadBytes: o.maxUploadMb * 1024 * 1024,
        maxConcurrent: o.maxConcurrent,
        maxQueue: o.maxQueue,
        maxPendingSearches: o.maxPendingSearches,
        requestTimeoutMs: o.timeout,
        logger: o.log,
        reportsDir: o.reports,
        faceRecognizer: o.recognizer,
        allowedHosts: [...defaultAllowedHosts(o.host), ...o.allowHost],
      });
      let address: string;
      try {
        address = await app.listen({ port: o.port, host: o.host });
      } catch (err) {
        await app.close();
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') throw new VisidError('E_INPUT', `port ${o.port} on ${o.host} is already in use (another server?); choose another with --port`);
        if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EACCES') throw new VisidError('E_INPUT', `cannot listen on ${o.host}:${o.port} (${code})`);
        throw err;
      }
      process.stderr.write(o.shards ? `visid routing to ${o.shards.length} shards at ${address}\n` : `visid serving ${galleries.length} galleries at ${address}${o.readOnly ? ' (read-only)' : ''}\n`);
      const stop = () => void app.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
