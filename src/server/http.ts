// Shared pieces of the HTTP routes: multipart reading, field checks, schemas.
import type { FastifyRequest } from 'fastify';
import { VisidError } from '../util/errors.js';


export function thumbnailUrl(gallery: string, id: string): string {
  return `/galleries/${encodeURIComponent(gallery)}/items/${encodeURIComponent(id)}/image`;
}

export const hitSchema = {
  type: 'object',
  properties: { id: { type: 'string' }, label: { type: 'string' }, score: { type: 'number' }, thumbnail: { type: 'string' } },
} as const;

export const labelSchema = {
  type: 'object',
  properties: { label: { type: 'string' }, score: { type: 'number' }, id: { type: 'string' }, count: { type: 'integer' }, thumbnail: { type: 'string' } },
} as const;

export const errorSchema = { type: 'object', properties: { error: { type: 'string' }, code: { type: 'string' }, field: { type: 'string' } } } as const;

/** Which parts a route's multipart body may hold: file fields and text fields with how many of each. */
export interface MultipartSpec {
  files: Record<string, number>;
  fields: Record<string, number>;
  /** Bytes of all parts together (the per-file limit is the server's maxUploadBytes). */
  maxBytes: number;
}

const MULTIPART_LIMIT_CODES: Record<string, string> = {
  FST_FILES_LIMIT: 'too many files in one request',
  FST_FIELDS_LIMIT: 'too many text fields in one request',
  FST_PARTS_LIMIT: 'too many parts in one request',
};

/**
 * Reads a multipart request as `spec` allows. A part the route does not take is refused by its name before its
 * bytes are read; all parts together are bounded (413), not only each file; a malformed body (no boundary,
 * unterminated, cut off) is a 400 naming what is wrong — never a 500.
 */
export async function readMultipart(req: FastifyRequest, spec: MultipartSpec): Promise<{ files: Array<{ field: string; name: string; data: Buffer }>; fields: Record<string, string[]> }> {
  const tooLarge = () => new VisidError('E_TOO_LARGE', `request larger than ${spec.maxBytes} bytes`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > spec.maxBytes) throw tooLarge();
  const files: Array<{ field: string; name: string; data: Buffer }> = [];
  const fields: Record<string, string[]> = {};
  const counts = new Map<string, number>();
  let total = 0;
  try {
    for await (const part of req.parts()) {
      const allowed = part.type === 'file' ? spec.files[part.fieldname] : spec.fields[part.fieldname];
      if (allowed === undefined) {
        const takes = [...Object.keys(spec.files).map((f) => `file '${f}'`), ...Object.keys(spec.fields).map((f) => `field '${f}'`)].join(', ');
        throw fieldError(part.fieldname, `unexpected ${part.type === 'file' ? 'file' : 'field'} '${part.fieldname}' (this route takes ${takes})`);
      }
      const n = (counts.get(part.fieldname) ?? 0) + 1;
      if (n > allowed) throw fieldError(part.fieldname, `at most ${allowed} '${part.fieldname}' part${allowed === 1 ? '' : 's'} per request`);
      counts.set(part.fieldname, n);
      if (part.type === 'file') {
        const chunks: Buffer[] = [];
        for await (const chunk of part.file as AsyncIterable<Buffer>) {
          total += chunk.length;
          if (total > spec.maxBytes) throw tooLarge();
          chunks.push(chunk);
        }
        if (part.file.truncated) throw new VisidError('E_TOO_LARGE', `file '${part.filename || part.fieldname}' is larger than the upload limit`);
        files.push({ field: part.fieldname, name: part.filename || part.fieldname, data: Buffer.concat(chunks) });
      } else {
        const value = String(part.value);
        total += value.length;
        if (total > spec.maxBytes) throw tooLarge();
        (fields[part.fieldname] ??= []).push(value);
      }
    }
  } catch (err) {
    if (err instanceof VisidError) throw err;
    const e = err as Error & { code?: string };
    if (e.code && MULTIPART_LIMIT_CODES[e.code]) throw new VisidError('E_TOO_LARGE', MULTIPART_LIMIT_CODES[e.code]!);
    if (e.code === 'FST_REQ_FILE_TOO_LARGE') throw new VisidError('E_TOO_LARGE', 'a file is larger than the upload limit');
    throw new VisidError('E_INPUT', `malformed multipart body: ${e.message || e.code || 'unreadable'}`);
  }
  return { files, fields };
}

export function fieldError(field: string, message: string): VisidError {
  const e = new VisidError('E_INPUT', message) as VisidError & { field?: string };
  e.field = field;
  return e;
}

/** `k` from a text field ("5") or a JSON number (5); `true`, "5" in JSON, 5.5 are refused. */
export function parseK(value: unknown, field = 'k', json = false): number {
  if (value === undefined) return 10;
  if (json ? typeof value !== 'number' : typeof value !== 'string' || !/^\d+$/.test(value)) throw fieldError(field, `'${field}' must be an integer from 1 to 1000`);
  const k = Number(value);
  if (!Number.isInteger(k) || k < 1 || k > 1000) throw fieldError(field, `'${field}' must be an integer from 1 to 1000`);
  return k;
}

export function parseBool(value: unknown, field: string, json = false): boolean {
  if (value === undefined) return false;
  if (json && typeof value !== 'boolean') throw fieldError(field, `'${field}' must be true or false`);
  if (value === true || value === 'true' || value === '1') return true;
  if (value === false || value === 'false' || value === '0') return false;
  throw fieldError(field, `'${field}' must be true or false`);
}

