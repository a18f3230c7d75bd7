// Where the installed package's own files are (models/, configs/, data/, dist/web/), whatever folder a module was compiled into.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: this file is compiled to <root>/dist/src/util/package-root.js. */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** A path inside the package, e.g. packagePath('configs', 'augment') . */
export function packagePath(...parts: string[]): string {
  return path.join(PACKAGE_ROOT, ...parts);
}
