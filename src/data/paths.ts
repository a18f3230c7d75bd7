// Confines file paths to a data root: no '..', absolute or symlinked path may lead outside it.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { VisidError } from '../util/errors.js';

/** True when `child` (absolute, normalised) is `root` or lies below it. */
export function isInside(root: string, child: string): boolean {
  const rel = path.relative(root, child);
  // ('..x' is a name inside the root; only '..' itself or '../…' leaves it.)
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * Resolves `relative` against `root` and checks that it stays inside, also after following symlinks.
 * `item` names the source (file:line) in the error.
 */
export async function resolveInsideRoot(root: string, relative: string, item: string): Promise<string> {
  if (relative.includes('\0')) throw new VisidError('E_PATH_ESCAPE', `path contains a NUL byte`, { item });
  const absRoot = path.resolve(root);
  const candidate = path.resolve(absRoot, relative);
  if (!isInside(absRoot, candidate)) {
    throw new VisidError('E_PATH_ESCAPE', `path '${relative}' escapes the data root ${absRoot}`, { item });
  }
  let real: string;
  try {
    real = await fs.realpath(candidate);
  } catch {
    throw new VisidError('E_NOT_FOUND', `file '${relative}' does not exist (under ${absRoot})`, { item });
  }
  const realRoot = await fs.realpath(absRoot);
  if (!isInside(realRoot, real)) {
    throw new VisidError('E_PATH_ESCAPE', `path '${relative}' leads outside the data root ${absRoot} through a link`, { item });
  }
  return candidate;
}

/** The stable id of a file: its path relative to the root with '/' separators. */
export function itemId(root: string, file: string): string {
  return path.relative(root, file).split(path.sep).join('/');
}
