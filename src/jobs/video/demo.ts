// A disaster-indexing stand-in built from real labelled photos: annotated training images, short videos made of shots (ffmpeg), a label set in categories with none classes, and the clips' ground truth.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { loadIdxSplit } from '../../data/idx.js';
import { FASHION_MNIST_MINI } from '../../demo/fashion-mnist.js';
import { isImageFile } from '../../data/item.js';
import { mulberry32 } from '../../util/random.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { writeSlideshow } from './ffmpeg.js';

/** Fashion-MNIST's classes in LADI-like categories; every category also has a "<category>: none" class. */
export const FASHION_CATEGORIES: Record<string, string[]> = {
  'upper body': ['T-shirt/top', 'Pullover', 'Coat', 'Shirt'],
  'lower or full body': ['Trouser', 'Dress'],
  footwear: ['Sandal', 'Sneaker', 'Ankle boot'],
  accessory: ['Bag'],
};
const PEOPLE = 'people';

export interface VideoDemoOptions {
  /** Folder of photos of people (e.g. $VISID_SHARED/data/faces-deepface); adds the category "people: person". */
  people?: string;
  clips?: number;
  shotsPerClip?: number;
  shotSeconds?: number;
  /** Training images per Fashion-MNIST class. */
  trainPerClass?: number;
  /** Video frame size (square: the items are square). */
  size?: number;
  seed?: number;
}

export interface VideoDemoLayout {
  labelSet: string;
  images: string;
  annotations: string;
  videos: string[];
  truth: string;
  classes: string[];
}

/** "category: feature" of a Fashion-MNIST class. */
function qualified(cls: string): string {
  const cat = Object.entries(FASHION_CATEGORIES).find(([, list]) => list.includes(cls))![0];
  return `${cat}: ${cls}`;
}

/** The label of an image showing `feature` of `category`: that feature plus every other category's none class (LADI's form). */
function votesFor(categories: string[], category: string, feature: string): string[] {
  return categories.map((c) => (c === category ? `${c}: ${feature}` : `${c}: none`));
}

async function writeGreyPng(pixels: Uint8Array, side: number, file: string): Promise<void> {
  await sharp(Buffer.from(pixels), { raw: { width: side, height: side, channels: 1 } }).png().toFile(file);
}

/** Writes the demo under `out` (files already there are reused); the same seed writes the same layout. */
export async function writeVideoDemo(out: string, o: VideoDemoOptions = {}): Promise<VideoDemoLayout> {
  const random = mulberry32(o.seed ?? 1);
  const clips = o.clips ?? 16;
  const shotsPerClip = o.shotsPerClip ?? 3;
  const shotSeconds = o.shotSeconds ?? 2;
  const size = o.size ?? 224;
  const trainPerClass = o.trainPerClass ?? 60;
  const peoplePhotos = o.people ? (await fs.readdir(o.people)).filter(isImageFile).sort() : [];
  const categories = [...Object.keys(FASHION_CATEGORIES), ...(peoplePhotos.length ? [PEOPLE] : [])];
  const features = [...Object.values(FASHION_CATEGORIES).flat().map(qualified), ...(peoplePhotos.length ? [`${PEOPLE}: person`] : [])];
  const classes = [...features, ...categories.map((c) => `${c}: none`)];
  await fs.mkdir(out, { recursive: true });
  const labelSet = path.join(out, 'labels.txt');
  await writeFileAtomic(labelSet, `# Fashion-MNIST classes in categories (+ people from ${o.people ?? 'no photo folder'}), each category with a none class\n${classes.join('\n')}\n`);

  // Training images: annotated with LADI's form, one row per image with the list of answers.
  const images = path.join(out, 'train');
  await fs.mkdir(images, { recursive: true });
  const train = await loadIdxSplit(FASHION_MNIST_MINI, 'train');
  const side = train.width;
  const rows = ['image,answer'];
  const perClass = new Map<number, number>();
  for (let i = 0; i < train.labels.length; i++) {
    const label = train.labels[i]!;
    if ((perClass.get(label) ?? 0) >= trainPerClass) continue;
    perClass.set(label, (perClass.get(label) ?? 0) + 1);
    const name = `fm${String(i).padStart(5, '0')}.png`;
    const file = path.join(images, name);
    if (!(await fs.access(file).then(() => true, () => false))) await writeGreyPng(train.images.subarray(i * side * side, (i + 1) * side * side), side, file);
    const cls = train.classNames[label]!;
    const cat = qualified(cls).split(':')[0]!;
    rows.push(`${name},"[${votesFor(categories, cat, cls).map((v) => `'${v}'`).join(', ')}]"`);
  }
  // Half of the people photos train, the other half appear in the videos.
  const peopleTrain = peoplePhotos.filter((_, i) => i % 2 === 0);
  const peopleShots = peoplePhotos.filter((_, i) => i % 2 === 1);
  for (const p of peopleTrain) {
    const name = `person-${p.replace(/\.[^.]+$/, '')}.png`;
    const file = path.join(images, name);
    if (!(await fs.access(file).then(() => true, () => false))) await sharp(path.join(o.people!, p)).rotate().resize(size, size, { fit: 'cover' }).png().toFile(file);
    rows.push(`${name},"[${votesFor(categories, PEOPLE, 'person').map((v) => `'${v}'`).join(', ')}]"`);
  }
  const annotations = path.join(out, 'annotations.csv');
  await writeFileAtomic(annotations, rows.join('\n') + '\n');

  // Videos: each clip is a few shots, each shot one unseen test image (or people photo) held for shotSeconds with a slow zoom.
  const test = await loadIdxSplit(FASHION_MNIST_MINI, 't10k');
  const shotsDir = path.join(out, 'shots');
  const videosDir = path.join(out, 'videos');
  await fs.mkdir(shotsDir, { recursive: true });
  await fs.mkdir(videosDir, { recursive: true });
  const truth = ['clip,start,end,labels'];
  const videos: string[] = [];
  let nextPerson = 0;
  for (let c = 0; c < clips; c++) {
    const clipId = `clip${String(c).padStart(3, '0')}`;
    const shotFiles: string[] = [];
    for (let s = 0; s < shotsPerClip; s++) {
      let file: string;
      let labels: string[];
      if (peopleShots.length && random() < 0.15) {
        const p = peopleShots[nextPerson++ % peopleShots.length]!;
        file = path.join(shotsDir, `${clipId}-${s}.png`);
        if (!(await fs.access(file).then(() => true, () => false))) await sharp(path.join(o.people!, p)).rotate().resize(size, size, { fit: 'cover' }).png().toFile(file);
        labels = votesFor(categories, PEOPLE, 'person');
      } else {
        const i = Math.floor(random() * test.labels.length);
        const cls = test.classNames[test.labels[i]!]!;
        file = path.join(shotsDir, `${clipId}-${s}.png`);
        if (!(await fs.access(file).then(() => true, () => false))) await writeGreyPng(test.images.subarray(i * side * side, (i + 1) * side * side), side, file);
        labels = votesFor(categories, qualified(cls).split(':')[0]!, cls);
      }
      shotFiles.push(file);
      truth.push(`${clipId},${(s * shotSeconds).toFixed(3)},${((s + 1) * shotSeconds).toFixed(3)},${labels.join('|')}`);
    }
    const video = path.join(videosDir, `${clipId}.mp4`);
    if (!(await fs.access(video).then(() => true, () => false))) await writeSlideshow(shotFiles, shotFiles.map(() => shotSeconds), video, { width: size, height: size, fps: 25 });
    videos.push(video);
  }
  const truthFile = path.join(out, 'truth.csv');
  await writeFileAtomic(truthFile, truth.join('\n') + '\n');
  return { labelSet, images, annotations, videos, truth: truthFile, classes };
}
