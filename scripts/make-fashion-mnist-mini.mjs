// Writes data/fashion-mnist-mini: a stratified slice of Debian's Fashion-MNIST (300 train + 200 test images per class)
// that ships with visid, so the demo and the CI training test run on real images without the 30 MB package.
// Usage: node scripts/make-fashion-mnist-mini.mjs [/usr/share/datasets/fashion-mnist]
import { promises as fs } from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { loadIdxSplit } from '../dist/src/data/idx.js';
import { firstPerClass, subsetImages } from '../dist/src/data/image-array.js';

const src = process.argv[2] ?? '/usr/share/datasets/fashion-mnist';
const out = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../data/fashion-mnist-mini');
await fs.mkdir(out, { recursive: true });
for (const [split, perClass] of [['train', 300], ['t10k', 200]]) {
  const all = await loadIdxSplit(src, split);
  const idx = firstPerClass(all, perClass).sort((a, b) => a - b);
  const set = subsetImages(all, idx);
  const n = set.labels.length;
  const img = Buffer.alloc(16 + set.images.length);
  img.writeUInt32BE(0x803, 0); img.writeUInt32BE(n, 4); img.writeUInt32BE(28, 8); img.writeUInt32BE(28, 12);
  img.set(set.images, 16);
  const lab = Buffer.alloc(8 + n);
  lab.writeUInt32BE(0x801, 0); lab.writeUInt32BE(n, 4);
  lab.set(set.labels, 8);
  await fs.writeFile(path.join(out, `${split}-images-idx3-ubyte.gz`), gzipSync(img, { level: 9 }));
  await fs.writeFile(path.join(out, `${split}-labels-idx1-ubyte.gz`), gzipSync(lab, { level: 9 }));
  console.log(split, n, 'images; source indices', idx[0], '…', idx.at(-1));
}
