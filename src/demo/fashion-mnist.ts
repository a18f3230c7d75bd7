// The demo data set: real Fashion-MNIST test images (shipped in data/fashion-mnist-mini) written as PNG files, a gallery split and a query split.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { loadIdxSplit } from '../data/idx.js';
import { firstPerClass } from '../data/image-array.js';
import { packagePath } from '../util/package-root.js';

/** The Fashion-MNIST slice that ships with visid (300 train + 200 test images per class). */
export const FASHION_MNIST_MINI = packagePath('data', 'fashion-mnist-mini');

/** A class name as a folder name ('T-shirt/top' → 'T-shirt-top'). */
export function folderName(label: string): string {
  return label.replace(/[\\/]/g, '-');
}

export interface FashionDemoDirs {
  gallery: string;
  queries: string;
}

/**
 * Writes `galleryPerClass` test images per class to out/gallery/<class>/ and the next `queriesPerClass` to
 * out/queries/<class>/, as 28×28 grey PNGs named by their index in the test split. Existing files are reused.
 */
export async function writeFashionMnistDemo(out: string, options: { galleryPerClass?: number; queriesPerClass?: number; source?: string } = {}): Promise<FashionDemoDirs> {
  const g = options.galleryPerClass ?? 100;
  const q = options.queriesPerClass ?? 100;
  const set = await loadIdxSplit(options.source ?? FASHION_MNIST_MINI, 't10k');
  const dirs = { gallery: path.join(out, 'gallery'), queries: path.join(out, 'queries') };
  const per = set.height * set.width;
  for (const [dir, skip, count] of [[dirs.gallery, 0, g], [dirs.queries, g, q]] as const) {
    for (const i of firstPerClass(set, count, skip)) {
      const classDir = path.join(dir, folderName(set.classNames[set.labels[i]!]!));
      const file = path.join(classDir, `${String(i).padStart(5, '0')}.png`);
      if (await fs.access(file).then(() => true, () => false)) continue;
      await fs.mkdir(classDir, { recursive: true });
      const pixels = Buffer.from(set.images.subarray(i * per, (i + 1) * per));
      await sharp(pixels, { raw: { width: set.width, height: set.height, channels: 1 } }).png().toFile(file);
    }
  }
  return dirs;
}
