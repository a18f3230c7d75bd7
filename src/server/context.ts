// What the server is started with and what every route plugin receives: the plugins depend on this, never on app.ts.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { GalleryRegistry } from './registry.js';
import type { Limiter } from './limiter.js';

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
  /** Folder of HTML reports (from `visid eval --report`) to list and serve. */
  reportsDir?: string;
  requestTimeoutMs?: number;
  /** Face recognizer POST /verify uses when a request does not name one (default: visid's default). */
  faceRecognizer?: string;
  logger?: boolean;
  /** Bytes of one whole request (all parts); default 2 × maxUploadBytes + 1 MiB (POST /verify's two photos). */
  maxRequestBytes?: number;
  /**
   * Host names (without port) the server answers to; others get 421 (a DNS-rebinding page cannot read the
   * galleries). Default: localhost, 127.0.0.1, ::1, the machine's name and the listen address; '*' allows any.
   */
  allowedHosts?: string[];
}

/** What a route plugin needs from the server; a recipe adds its routes as one plugin taking this. */
export interface ServerContext {
  options: ServeOptions;
  registry: GalleryRegistry;
  /** Bounds the expensive image work (decode + embed) across all routes. */
  limiter: Limiter;
  maxPixels: number;
  /** Bytes one whole request may carry (all multipart parts together). */
  maxRequestBytes: number;
  /** preHandler for routes that change a gallery: bearer token, or 403 when read-only. */
  requireToken: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}
