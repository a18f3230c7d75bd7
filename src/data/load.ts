// Opens any data-set source by its kind: a folder per label, a CSV/JSONL manifest, or a single image.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { VisidError } from '../util/errors.js';
import { readFolderDataset } from './folder.js';
import { Dataset, isImageFile } from './item.js';
import { readManifestDataset } from './manifest.js';

export interface LoadDatasetOptions {
  /** Root that manifest paths are relative to (default: the manifest's folder). */
  root?: string;
  /**
   * Leave out what cannot or must not be read — a FIFO, socket or device, a link outside the root, a folder that cannot
   * be listed, a manifest row whose file is missing — and report it here, instead of stopping at the first.
   */
  onRefused?: (item: string, error: VisidError) => void;
}

export async function loadDataset(source: string, options: LoadDatasetOptions = {}): Promise<Dataset> {
  const abs = path.resolve(source);
  const stat = await fs.stat(abs).catch(() => undefined);
  if (!stat) throw new VisidError('E_NOT_FOUND', 'no such file or folder', { item: abs });
  if (stat.isDirectory()) return readFolderDataset(abs, { onRefused: options.onRefused });
  if (isImageFile(abs)) {
    const root = path.dirname(abs);
    return { root, source: abs, items: [{ id: path.basename(abs), path: abs }] };
  }
  return readManifestDataset(abs, options.root, { onRefused: options.onRefused });
}
