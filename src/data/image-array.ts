// A labelled image set held as one uint8 array (N×H×W×C): what the CNN trainer feeds on, from IDX files or image folders.
import { decodeRgb } from '../images/decode.js';
import { VisidError } from '../util/errors.js';
import type { Dataset } from './item.js';

export interface ImageArraySet {
  /** N×H×W×C bytes, row-major. */
  images: Uint8Array;
  height: number;
  width: number;
  channels: 1 | 3;
  /** Class index of each image into classNames. */
  labels: Int32Array;
  classNames: string[];
  ids: string[];
}

export function imageCount(set: ImageArraySet): number {
  return set.labels.length;
}

/** The images at `indices`, in that order. */
export function subsetImages(set: ImageArraySet, indices: ArrayLike<number>): ImageArraySet {
  const per = set.height * set.width * set.channels;
  const images = new Uint8Array(indices.length * per);
  const labels = new Int32Array(indices.length);
  const ids: string[] = [];
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j]!;
    images.set(set.images.subarray(i * per, (i + 1) * per), j * per);
    labels[j] = set.labels[i]!;
    ids.push(set.ids[i]!);
  }
  return { ...set, images, labels, ids };
}

/** The first `perClass` images of each class (a stratified, deterministic subset). */
export function firstPerClass(set: ImageArraySet, perClass: number, skipPerClass = 0): number[] {
  const seen = new Map<number, number>();
  const out: number[] = [];
  for (let i = 0; i < set.labels.length; i++) {
    const c = set.labels[i]!;
    const n = seen.get(c) ?? 0;
    seen.set(c, n + 1);
    if (n >= skipPerClass && n < skipPerClass + perClass) out.push(i);
  }
  return out;
}

/**
 * Decodes a labelled data set (folder per label or manifest) to a fixed size through sharp. Unlabelled items are an
 * error naming the item; so is an unreadable image (unless onError skips it).
 */
export async function imageArrayFromDataset(
  dataset: Dataset,
  size: [number, number],
  channels: 1 | 3,
  options: { onError?: (id: string, err: Error) => void; onProgress?: (n: number) => void } = {},
): Promise<ImageArraySet> {
  const [height, width] = size;
  const classNames = [...new Set(dataset.items.map((it) => it.label ?? ''))].sort();
  const missing = dataset.items.find((it) => it.label === undefined);
  if (missing) throw new VisidError('E_DATASET', 'item has no label; training needs one per image', { item: missing.id });
  const classIndex = new Map(classNames.map((c, i) => [c, i]));
  const per = height * width * channels;
  const chunks: Uint8Array[] = [];
  const labels: number[] = [];
  const ids: string[] = [];
  for (const item of dataset.items) {
    try {
      const rgb = await decodeRgb(item.path, { width, height, resize: 'shorter-crop', name: item.id });
      const px = new Uint8Array(per);
      if (channels === 3) px.set(rgb.data);
      else for (let i = 0; i < height * width; i++) px[i] = Math.round((rgb.data[3 * i]! + rgb.data[3 * i + 1]! + rgb.data[3 * i + 2]!) / 3);
      chunks.push(px);
      labels.push(classIndex.get(item.label!)!);
      ids.push(item.id);
    } catch (err) {
      if (!options.onError) throw err;
      options.onError(item.id, err as Error);
    }
    options.onProgress?.(1);
  }
  if (chunks.length === 0) throw new VisidError('E_DATASET', 'no readable images', { item: dataset.source });
  const images = new Uint8Array(chunks.length * per);
  chunks.forEach((c, i) => images.set(c, i * per));
  return { images, height, width, channels, labels: Int32Array.from(labels), classNames, ids };
}
