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

/** Reads a multipart request: files (bytes) and text fields, refusing non-image files early. */
export async function readMultipart(req: FastifyRequest): Promise<{ files: Array<{ field: string; name: string; data: Buffer }>; fields: Record<string, string[]> }> {
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

export function fieldError(field: string, message: string): VisidError {
  const e = new VisidError('E_INPUT', message) as VisidError & { field?: string };
  e.field = field;
  return e;
}

export function parseK(value: unknown, field = 'k'): number {
  if (value === undefined) return 10;
  const k = Number(value);
  if (!Number.isInteger(k) || k < 1 || k > 1000) throw fieldError(field, `'${field}' must be an integer from 1 to 1000`);
  return k;
}

export function parseBool(value: unknown, field: string): boolean {
  if (value === undefined) return false;
  if (value === true || value === 'true' || value === '1') return true;
  if (value === false || value === 'false' || value === '0') return false;
  throw fieldError(field, `'${field}' must be true or false`);
}

