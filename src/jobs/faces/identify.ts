// Enrolment and 1:N identification on face galleries: people's photos → a gallery of their face descriptors (one
// face per photo), photos → every face with its nearest enrolled identities, "unknown" below the threshold; and the
// photo drawn with its boxes and names. `visid face enroll/identify` and `visid demo` run these.
import sharp from 'sharp';
import { VisidError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { Gallery } from '../../index/gallery.js';
import { GallerySearcher } from '../../search/gallery-search.js';
import type { FaceEngine, Box } from './engine.js';
import { faceEngine, facesOfPhotos, type FaceOptions } from './service.js';

/** How a gallery's descriptors were made (test-time views): queries are embedded the same way. */
export type FaceViews = 'default' | 'flip' | 'single';

/** The embedding options of `views`. */
export function viewOptions(views: string | undefined): FaceOptions {
  return views === 'single' ? { single: true } : views === 'flip' ? { flip: true, zooms: [1] } : {};
}

export interface EnrolPhoto {
  /** The photo's id: its path relative to the gallery's data root, when there is one. */
  id: string;
  label: string;
  /** The image file. */
  path: string;
}

export interface EnrolResult {
  /** The gallery (absent when nothing was enrolled and none existed). */
  gallery?: Gallery;
  enrolled: EnrolPhoto[];
  /** Photos not enrolled, with why: unreadable, no face, several faces. */
  skipped: Array<{ id: string; reason: string }>;
}

/**
 * Enrols each photo's one face under its label into the face gallery at `dir` (created with the engine's recognizer,
 * `views` and threshold when absent). A photo with no face or several faces is skipped, with the reason.
 */
export async function enrolPhotos(
  engine: FaceEngine,
  dir: string,
  photos: readonly EnrolPhoto[],
  o: { options?: FaceOptions; views?: FaceViews; dataRoot?: string; onDone?: (n: number) => void } = {},
): Promise<EnrolResult> {
  let gallery = (await Gallery.exists(dir)) ? await Gallery.open(dir) : undefined;
  if (gallery && gallery.model.id !== engine.modelId) throw new VisidError('E_GALLERY', `gallery was built with another face model (${gallery.model.id}, not ${engine.modelId})`, { item: dir });
  const found = await facesOfPhotos(engine, photos.map((p) => p.path), o.options, o.onDone);
  const dim = engine.recognizer.dim;
  const vectors: Float32Array[] = [];
  const enrolled: EnrolPhoto[] = [];
  const skipped: EnrolResult['skipped'] = [];
  photos.forEach((photo, i) => {
    const r = found[i]!;
    if (r instanceof Error) skipped.push({ id: photo.id, reason: r.message });
    else if (r.faces.length !== 1) skipped.push({ id: photo.id, reason: `${photo.id}: ${r.faces.length === 0 ? 'no face' : `${r.faces.length} faces`} found` });
    else {
      vectors.push(r.faces[0]!.embedding);
      enrolled.push(photo);
    }
  });
  if (enrolled.length > 0) {
    gallery ??= await Gallery.create(dir, {
      dim,
      dataRoot: o.dataRoot,
      model: { id: engine.modelId, name: engine.recognizer.modelName, config: { kind: 'face', recognizer: engine.recognizer.name, views: o.views ?? 'default', threshold: engine.recognizer.threshold } },
    });
    const all = new Float32Array(enrolled.length * dim);
    vectors.forEach((v, i) => all.set(v, i * dim));
    await gallery.append(all, enrolled.map((p) => ({ id: p.id, label: p.label, path: o.dataRoot ? p.id : p.path })));
  }
  return { gallery, enrolled, skipped };
}

export interface IdentifiedFace {
  box: Box;
  detectionScore: number;
  /** The best enrolled identity, or 'unknown' when its score is below the threshold (or nobody is enrolled). */
  identity: string;
  /** The top-k identities, best first, with their best photo's score and id. */
  candidates: Array<{ identity: string; score: number; id: string }>;
}

export interface PhotoIdentities {
  file: string;
  width: number;
  height: number;
  faces: IdentifiedFace[];
}

export interface FaceGalleryConfig {
  recognizer?: string;
  views?: string;
  threshold?: number;
}

/** What a face gallery says about its recognizer, views and threshold; an error for any other gallery. */
export function faceGalleryConfig(gallery: Gallery, dir = gallery.dir): FaceGalleryConfig {
  const config = (gallery.model.config ?? {}) as FaceGalleryConfig & { kind?: string };
  if (config.kind !== 'face') throw new VisidError('E_GALLERY', 'not a face gallery (make one with visid face enroll)', { item: dir });
  return config;
}

/**
 * Every face of every photo with its top-k enrolled identities (open set: 'unknown' below the threshold, default the
 * gallery's). Queries are embedded with the gallery's recognizer and views, whatever `options` say about them.
 */
export async function identifyPhotos(
  gallery: Gallery,
  photos: readonly string[],
  /** `name`: how errors name the gallery (default its folder); `threads`: onnxruntime threads of the face engine. */
  o: { k?: number; threshold?: number; options?: FaceOptions; onDone?: (n: number) => void; name?: string; threads?: number } = {},
): Promise<{ threshold: number; recognizer: string; photos: Array<PhotoIdentities | Error> }> {
  const name = o.name ?? gallery.dir;
  const config = faceGalleryConfig(gallery, name);
  const engine = await faceEngine(config.recognizer, o.threads);
  if (gallery.model.id !== engine.modelId) throw new VisidError('E_GALLERY', `not a face gallery made with this face model (${gallery.model.id})`, { item: name });
  const threshold = o.threshold ?? config.threshold ?? engine.recognizer.threshold;
  const found = await facesOfPhotos(engine, photos, { ...o.options, ...viewOptions(config.views) }, o.onDone);
  const searcher = await GallerySearcher.create(gallery);
  try {
    const out: Array<PhotoIdentities | Error> = [];
    for (const r of found) {
      if (r instanceof Error) {
        out.push(r);
        continue;
      }
      const faces: IdentifiedFace[] = [];
      for (const face of r.faces) {
        const [labels] = await searcher.searchLabels(face.embedding, { k: o.k ?? 3 });
        const best = labels![0];
        faces.push({
          box: face.box,
          detectionScore: face.score,
          identity: best && best.score >= threshold ? best.label : 'unknown',
          candidates: labels!.map((l) => ({ identity: l.label, score: l.score, id: l.id })),
        });
      }
      out.push({ file: r.file, width: r.width, height: r.height, faces });
    }
    return { threshold, recognizer: engine.recognizer.name, photos: out };
  } finally {
    await searcher.close();
  }
}

/** Draws boxes and names onto the (EXIF-oriented) photo with an SVG overlay: JPEG for a .jpg/.jpeg `out`, else PNG. */
export async function annotateFaces(photo: string, faces: ReadonlyArray<{ box: Box; identity: string }>, out: string): Promise<void> {
  const base = sharp(photo).autoOrient();
  const { width, height } = await base.clone().toBuffer({ resolveWithObject: true }).then((r) => r.info);
  const esc = (s: string) => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const stroke = Math.max(2, Math.round(Math.min(width, height) / 250));
  const shapes = faces.map((f) => {
    const colour = f.identity === 'unknown' ? '#e67e22' : '#27ae60';
    const fs = Math.max(12, Math.round(f.box.height / 6));
    return `<rect x="${f.box.x}" y="${f.box.y}" width="${f.box.width}" height="${f.box.height}" fill="none" stroke="${colour}" stroke-width="${stroke}"/>` +
      `<text x="${f.box.x}" y="${Math.max(fs, f.box.y - stroke * 2)}" font-family="sans-serif" font-size="${fs}" fill="${colour}" stroke="black" stroke-width="0.5">${esc(f.identity)}</text>`;
  });
  const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${shapes.join('')}</svg>`);
  const drawn = base.composite([{ input: svg, top: 0, left: 0 }]);
  const bytes = /\.jpe?g$/i.test(out) ? await drawn.jpeg({ quality: 85 }).toBuffer() : await drawn.png().toBuffer();
  await writeFileAtomic(out, bytes);
}
