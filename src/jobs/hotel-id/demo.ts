// A Hotel-ID-layout folder (train_images/<hotel>/, train_masks/, test_images/) assembled from real photographs: the shared deepface photos, one "hotel" per person.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { parse } from 'csv-parse/sync';
import { AugmentPipeline } from '../../augment/pipeline.js';
import { decodeRgb } from '../../images/decode.js';
import { VisidError } from '../../util/errors.js';

/**
 * The people of deepface's master.csv (connected components of its `Yes` pairs) become hotels; every other photo is
 * a one-image hotel (those stay in training). One photo of each hotel with ≥ 3 photos is held out as a test image
 * with a red rectangle painted on it (the Kaggle test images carry one). `train_masks/` gets `masks` Kaggle-style
 * mask PNGs (a red rectangle on white, sides size/4–size/2). Photos are stored at most 512 px on the long side.
 */
export async function writeHotelIdDemo(facesDir: string, out: string, masks = 20): Promise<{ hotels: number; train: number; test: number }> {
  const csv = await fs.readFile(path.join(facesDir, 'master.csv'), 'utf8').catch(() => {
    throw new VisidError('E_NOT_FOUND', 'no master.csv: expected the shared deepface photos', { item: facesDir });
  });
  const rows = parse(csv, { columns: true, skip_empty_lines: true }) as Array<{ file_x: string; file_y: string; Decision: string }>;
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    while (parent.get(x) !== x) x = parent.get(x)!;
    return x;
  };
  const files = (await fs.readdir(facesDir)).filter((n) => /^img\d+\.jpg$/.test(n)).sort();
  for (const f of files) parent.set(f, f);
  for (const r of rows) {
    const a = path.basename(r.file_x);
    const b = path.basename(r.file_y);
    if (r.Decision === 'Yes' && parent.has(a) && parent.has(b)) parent.set(find(a), find(b));
  }
  const groups = new Map<string, string[]>();
  for (const f of files) (groups.get(find(f)) ?? groups.set(find(f), []).get(find(f))!).push(f);
  const red = await AugmentPipeline.create([{ op: 'RedOcclusion' }]);
  let hotelNo = 0;
  let train = 0;
  let test = 0;
  await fs.rm(out, { recursive: true, force: true });
  for (const members of [...groups.values()].sort((a, b) => a[0]!.localeCompare(b[0]!))) {
    const hotel = String(1000 + hotelNo++);
    const dir = path.join(out, 'train_images', hotel);
    await fs.mkdir(dir, { recursive: true });
    const held = members.length >= 3 ? members[members.length - 1] : undefined;
    for (const f of members) {
      const src = path.join(facesDir, f);
      if (f === held) {
        await fs.mkdir(path.join(out, 'test_images'), { recursive: true });
        const img = red.applySeeded(await decodeRgb(src, { width: 384, height: 384, resize: 'shorter-crop' }), 7, test);
        await sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: 3 } }).jpeg({ quality: 90 }).toFile(path.join(out, 'test_images', `${hotel}-${f}`));
        test++;
        continue;
      }
      await sharp(src, { autoOrient: true }).resize(512, 512, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 90 }).toFile(path.join(dir, f));
      train++;
    }
  }
  await fs.mkdir(path.join(out, 'train_masks'), { recursive: true });
  for (let i = 0; i < masks; i++) {
    const size = 200 + ((i * 37) % 200);
    const white = { data: new Uint8Array(size * size * 3).fill(255), width: size, height: size };
    const m = red.applySeeded(white, 11, i);
    await sharp(Buffer.from(m.data), { raw: { width: size, height: size, channels: 3 } }).png().toFile(path.join(out, 'train_masks', `${String(i).padStart(5, '0')}.png`));
  }
  return { hotels: hotelNo, train, test };
}

/**
 * A Hotel-ID-layout folder from the Fashion-MNIST photos that ship with visid: each clothing class is a "hotel"
 * (`perHotel` training images each, upscaled to 112×112 RGB JPEG); `testPerHotel` test-split images per class get a
 * red rectangle (as the Kaggle test images do) and go to test_images/, their true hotels to test_truth.csv.
 */
export async function writeHotelIdFashionDemo(out: string, options: { perHotel?: number; testPerHotel?: number; masks?: number } = {}): Promise<{ hotels: number; train: number; test: number }> {
  const { loadIdxSplit } = await import('../../data/idx.js');
  const { firstPerClass } = await import('../../data/image-array.js');
  const { FASHION_MNIST_MINI } = await import('../../demo/fashion-mnist.js');
  const red = await AugmentPipeline.create([{ op: 'RedOcclusion' }]);
  await fs.rm(out, { recursive: true, force: true });
  const toRgb = (set: { images: Uint8Array }, i: number) => {
    const rgb = new Uint8Array(28 * 28 * 3);
    for (let p = 0; p < 784; p++) rgb.fill(set.images[i * 784 + p]!, p * 3, p * 3 + 3);
    return { data: rgb, width: 28, height: 28 };
  };
  const write = async (img: { data: Uint8Array; width: number; height: number }, file: string) => {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: 3 } }).resize(112, 112, { kernel: 'cubic' }).jpeg({ quality: 92 }).toFile(file);
  };
  const trainSet = await loadIdxSplit(FASHION_MNIST_MINI, 'train');
  const trainIdx = firstPerClass(trainSet, options.perHotel ?? 30);
  for (const i of trainIdx) await write(toRgb(trainSet, i), path.join(out, 'train_images', String(1000 + trainSet.labels[i]!), `tr${String(i).padStart(5, '0')}.jpg`));
  const testSet = await loadIdxSplit(FASHION_MNIST_MINI, 't10k');
  const testIdx = firstPerClass(testSet, options.testPerHotel ?? 5);
  const truth = ['image_id,hotel_id'];
  for (const [n, i] of testIdx.entries()) {
    const name = `te${String(i).padStart(5, '0')}.jpg`;
    // Occlude at the final size, so the rectangle's proportions are those of the Kaggle masks.
    const big = await sharp(Buffer.from(toRgb(testSet, i).data), { raw: { width: 28, height: 28, channels: 3 } }).resize(112, 112, { kernel: 'cubic' }).raw().toBuffer();
    const occluded = red.applySeeded({ data: new Uint8Array(big), width: 112, height: 112 }, 5, n);
    await fs.mkdir(path.join(out, 'test_images'), { recursive: true });
    await sharp(Buffer.from(occluded.data), { raw: { width: 112, height: 112, channels: 3 } }).jpeg({ quality: 92 }).toFile(path.join(out, 'test_images', name));
    truth.push(`${name},${1000 + testSet.labels[i]!}`);
  }
  await fs.writeFile(path.join(out, 'test_truth.csv'), truth.join('\n') + '\n');
  await fs.mkdir(path.join(out, 'train_masks'), { recursive: true });
  for (let i = 0; i < (options.masks ?? 20); i++) {
    const size = 200 + ((i * 37) % 200);
    const m = red.applySeeded({ data: new Uint8Array(size * size * 3).fill(255), width: size, height: size }, 11, i);
    await sharp(Buffer.from(m.data), { raw: { width: size, height: size, channels: 3 } }).png().toFile(path.join(out, 'train_masks', `${String(i).padStart(5, '0')}.png`));
  }
  return { hotels: 10, train: trainIdx.length, test: testIdx.length };
}
