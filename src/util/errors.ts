// The one error type visid throws for bad input: a machine-readable code plus the item (file, line, id) it concerns.

export type VisidErrorCode =
  | 'E_INPUT'
  | 'E_IMAGE'
  | 'E_IMAGE_TOO_LARGE'
  | 'E_DATASET'
  | 'E_PATH_ESCAPE'
  | 'E_NOT_FOUND'
  | 'E_DUPLICATE'
  | 'E_DIM'
  | 'E_NAN'
  | 'E_MODEL'
  | 'E_GALLERY'
  | 'E_LOCKED'
  /** A request or upload over its size or count limit. */
  | 'E_TOO_LARGE';

export class VisidError extends Error {
  readonly code: VisidErrorCode;
  readonly item?: string;
  /** The message without the item in front, for a caller that names the item its own way. */
  readonly reason: string;

  constructor(code: VisidErrorCode, message: string, options: { item?: string; cause?: unknown } = {}) {
    super(options.item ? `${options.item}: ${message}` : message, { cause: options.cause });
    this.name = 'VisidError';
    this.code = code;
    this.item = options.item;
    this.reason = message;
  }
}

/** Throws an E_INPUT error unless `condition` holds; keeps validation lines short. */
export function check(condition: unknown, message: string, item?: string): asserts condition {
  if (!condition) throw new VisidError('E_INPUT', message, { item });
}

/** A VisidError as plain data, to cross a worker-thread boundary. */
export interface SerializedError {
  code: VisidErrorCode;
  message: string;
  item?: string;
}

export function serializeError(err: unknown, item?: string): SerializedError {
  const e = err instanceof VisidError ? err : new VisidError('E_IMAGE', (err as Error)?.message ?? String(err), { item });
  return { code: e.code, message: e.message, item: e.item };
}

/** Rebuilds the VisidError (its message already starts with the item, which the constructor adds back). */
export function deserializeError(s: SerializedError): VisidError {
  const bare = s.item && s.message.startsWith(`${s.item}: `) ? s.message.slice(s.item.length + 2) : s.message;
  return new VisidError(s.code, bare, { item: s.item });
}
