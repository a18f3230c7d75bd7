// Reads IDX files (the MNIST / Fashion-MNIST format, gzipped or not): images as uint8 arrays, labels as class ids.
import { promises as fs } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import { VisidError } from '../util/errors.js';
import type { ImageArraySet } from './image-array.js';

const IMAGES_MAGIC = 0x00000803;
const LABELS_MAGIC = 0x00000801;

async function readMaybeGzip(file: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch {
    throw new VisidError('E_NOT_FOUND', 'IDX file does not exist', { item: file });
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return gunzipSync(bytes);
    } catch (err) {
      throw new VisidError('E_DATASET', `corrupt gzip: ${(err as Error).message}`, { item: file });
    }
  }
  return bytes;
}

export async function readIdxImages(file: string): Promise<{ data: Uint8Array; count: number; rows: number; cols: number }> {
  const b = await readMaybeGzip(file);
  if (b.length < 16 || b.readUInt32BE(0) !== IMAGES_MAGIC) throw new VisidError('E_DATASET', 'not an IDX image file (magic 0x803)', { item: file });
  const [count, rows, cols] = [b.readUInt32BE(4), b.readUInt32BE(8), b.readUInt32BE(12)];
  if (b.length !== 16 + count * rows * cols) throw new VisidError('E_DATASET', `IDX image file is truncated: ${b.length} bytes for ${count}×${rows}×${cols}`, { item: file });
  return { data: new Uint8Array(b.buffer, b.byteOffset + 16, count * rows * cols), count, rows, cols };
}

export async function readIdxLabels(file: string): Promise<Uint8Array> {
  const b = await readMaybeGzip(file);
  if (b.length < 8 || b.readUInt32BE(0) !== LABELS_MAGIC) throw new VisidError('E_DATASET', 'not an IDX label file (magic 0x801)', { item: file });
  const count = b.readUInt32BE(4);
  if (b.length !== 8 + count) throw new VisidError('E_DATASET', `IDX label file is truncated: ${b.length} bytes for ${count} labels`, { item: file });
  return new Uint8Array(b.buffer, b.byteOffset + 8, count);
}

export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

/** Where Debian's dataset-fashion-mnist package puts the files. */
export const DEBIAN_FASHION_MNIST = '/usr/share/datasets/fashion-mnist';

/** Finds `<prefix>-images-idx3-ubyte[.gz]` in a folder. */
async function findIdx(dir: string, prefix: string, kind: 'images-idx3' | 'labels-idx1'): Promise<string> {
  for (const name of [`${prefix}-${kind}-ubyte.gz`, `${prefix}-${kind}-ubyte`]) {
    const file = path.join(dir, name);
    if (await fs.access(file).then(() => true, () => false)) return file;
  }
  throw new VisidError('E_NOT_FOUND', `no ${prefix}-${kind}-ubyte[.gz] in the folder`, { item: dir });
}

/** Whether a folder holds an MNIST-style IDX data set. */
export async function isIdxFolder(dir: string): Promise<boolean> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  return names.some((n) => /-images-idx3-ubyte(\.gz)?$/.test(n));
}

/** One split ('train' or 't10k') of an IDX folder as an image array; Fashion-MNIST class names when it has 10 classes. */
export async function loadIdxSplit(dir: string, split: 'train' | 't10k', classNames?: string[]): Promise<ImageArraySet> {
  const images = await readIdxImages(await findIdx(dir, split, 'images-idx3'));
  const labels = await readIdxLabels(await findIdx(dir, split, 'labels-idx1'));
  if (labels.length !== images.count) throw new VisidError('E_DATASET', `${images.count} images but ${labels.length} labels`, { item: dir });
  const maxLabel = labels.reduce((m, v) => Math.max(m, v), 0);
  const names = classNames ?? (maxLabel === 9 ? FASHION_MNIST_CLASSES : Array.from({ length: maxLabel + 1 }, (_, i) => String(i)));
  return {
    images: images.data,
    height: images.rows,
    width: images.cols,
    channels: 1,
    labels: Int32Array.from(labels),
    classNames: names,
    ids: Array.from({ length: images.count }, (_, i) => `${split}/${String(i).padStart(5, '0')}`),
  };
}
