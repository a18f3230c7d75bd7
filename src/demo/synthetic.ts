// Generates a small synthetic identification data set (seeded): "places" drawn as SVG scenes, photographed with jitter.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { mulberry32 } from '../util/random.js';

export interface SyntheticOptions {
  classes?: number;
  galleryPerClass?: number;
  queriesPerClass?: number;
  width?: number;
  height?: number;
  seed?: number;
}

interface Shape {
  kind: 'rect' | 'circle' | 'stripe';
  x: number;
  y: number;
  s: number;
  colour: string;
}

function colour(rand: () => number): string {
  const c = () => Math.floor(40 + rand() * 200);
  return `rgb(${c()},${c()},${c()})`;
}

/** One class = one scene: a background colour and a few coloured shapes at fixed places. */
function scene(rand: () => number): { background: string; shapes: Shape[] } {
  const kinds: Shape['kind'][] = ['rect', 'circle', 'stripe'];
  const shapes = Array.from({ length: 6 }, () => ({
    kind: kinds[Math.floor(rand() * 3)]!,
    x: rand(),
    y: rand(),
    s: 0.08 + rand() * 0.22,
    colour: colour(rand),
  }));
  return { background: colour(rand), shapes };
}

/** Renders the scene as seen by one "photo": shifted, zoomed, with a brightness change. */
function render(sc: ReturnType<typeof scene>, rand: () => number, w: number, h: number): { clean: string; occluded: string } {
  const dx = (rand() - 0.5) * 0.12 * w;
  const dy = (rand() - 0.5) * 0.12 * h;
  const zoom = 0.9 + rand() * 0.25;
  const parts = sc.shapes.map((s) => {
    const x = s.x * w;
    const y = s.y * h;
    const size = s.s * Math.min(w, h);
    if (s.kind === 'circle') return `<circle cx="${x}" cy="${y}" r="${size / 2}" fill="${s.colour}"/>`;
    if (s.kind === 'stripe') return `<rect x="0" y="${y}" width="${w}" height="${size / 4}" fill="${s.colour}"/>`;
    return `<rect x="${x - size / 2}" y="${y - size / 2}" width="${size}" height="${size * 0.7}" fill="${s.colour}"/>`;
  });
  const light = 0.75 + rand() * 0.5;
  // Red rectangle: width and height uniform in [size/4, size/2], anywhere inside the picture.
  const mw = w * (0.25 + rand() * 0.25);
  const mh = h * (0.25 + rand() * 0.25);
  const mask = `<rect x="${rand() * (w - mw)}" y="${rand() * (h - mh)}" width="${mw}" height="${mh}" fill="rgb(255,0,0)"/>`;
  const body =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">` +
    `<rect width="${w}" height="${h}" fill="${sc.background}"/>` +
    `<g transform="translate(${w / 2 + dx} ${h / 2 + dy}) scale(${zoom}) translate(${-w / 2} ${-h / 2})">${parts.join('')}</g>` +
    `<rect width="${w}" height="${h}" fill="${light > 1 ? 'white' : 'black'}" fill-opacity="${Math.abs(1 - light).toFixed(3)}"/>`;
  return { clean: `${body}</svg>`, occluded: `${body}${mask}</svg>` };
}

export interface SyntheticDataset {
  gallery: string;
  /** Other photos of the same places. */
  queries: string;
  /** The same query photos with a red rectangle painted over part of each, as Hotel-ID's test images (seed 000 §2.2.1). */
  occludedQueries: string;
}

/**
 * Writes `<out>/gallery/<class>/*.jpg`, `<out>/queries/<class>/*.jpg` and `<out>/queries-occluded/<class>/*.jpg`.
 * Same options, same files: the data set is fully determined by its seed.
 */
export async function writeSyntheticDataset(out: string, options: SyntheticOptions = {}): Promise<SyntheticDataset> {
  const classes = options.classes ?? 12;
  const perGallery = options.galleryPerClass ?? 6;
  const perQuery = options.queriesPerClass ?? 2;
  const w = options.width ?? 256;
  const h = options.height ?? 192;
  const rand = mulberry32(options.seed ?? 7);
  const gallery = path.join(out, 'gallery');
  const queries = path.join(out, 'queries');
  const occludedQueries = path.join(out, 'queries-occluded');
  const jpeg = (svg: string, file: string) => sharp(Buffer.from(svg)).jpeg({ quality: 90 }).toFile(file);
  for (let c = 0; c < classes; c++) {
    const label = `place-${String(c).padStart(2, '0')}`;
    const sc = scene(rand);
    for (const dir of [gallery, queries, occludedQueries]) await fs.mkdir(path.join(dir, label), { recursive: true });
    for (let i = 0; i < perGallery; i++) await jpeg(render(sc, rand, w, h).clean, path.join(gallery, label, `${label}-${i}.jpg`));
    for (let i = 0; i < perQuery; i++) {
      const photo = render(sc, rand, w, h);
      const name = `${label}-q${i}.jpg`;
      await jpeg(photo.clean, path.join(queries, label, name));
      await jpeg(photo.occluded, path.join(occludedQueries, label, name));
    }
  }
  return { gallery, queries, occludedQueries };
}
