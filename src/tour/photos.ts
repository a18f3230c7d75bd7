// `visid demo`: a first run on real photos. The photos that ship in data/demo-photos (deepface's test images, MIT)
// go through three of visid's jobs on the shipped defaults, offline: faces (enrol people from one photo each, then
// identify the others, open set), copy detection (seeded edited copies found again among the photos by the copy
// descriptor and local verification, the inliers drawn) and photo search (the photo model) — and one HTML report.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { VisidError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { packagePath } from '../util/package-root.js';
import { decodeRgb } from '../images/decode.js';
import type { Dataset } from '../data/item.js';
import { AugmentPipeline, type StepSpec } from '../augment/pipeline.js';
import { Embedder } from '../models/embedder.js';
import { resolveModelName } from '../models/registry.js';
import { Gallery } from '../index/gallery.js';
import { GallerySearcher } from '../search/gallery-search.js';
import { indexDataset } from '../pipeline/index-dataset.js';
import { faceEngine } from '../jobs/faces/service.js';
import { annotateFaces, enrolPhotos, identifyPhotos } from '../jobs/faces/identify.js';
import { copyDetect } from '../jobs/copy-detection/pipeline.js';
import { drawInliers } from '../jobs/copy-detection/draw-inliers.js';
import { renderPhotoDemoReport } from './report.js';
import type { DemoPhoto, FoundCopy, IdentifiedPhoto, PhotoDemoResult } from './result.js';

export type { DemoPhoto, FoundCopy, IdentifiedPhoto, PhotoDemoResult } from './result.js';

/** The photos that ship with visid for this demo. */
export const DEMO_PHOTOS_DIR = packagePath('data', 'demo-photos');

/** The copies the demo makes: which photo, and the edits (each applied, with seeded parameters). */
export const DEMO_COPIES: ReadonlyArray<{ source: string; edits: string; steps: StepSpec[] }> = [
  { source: 'img7.jpg', edits: 'crop to 40 % + text overlay', steps: [{ op: 'RandomResizedCrop', height: 320, width: 256, scale: [0.35, 0.45], ratio: [0.75, 0.85] }, { op: 'TextOverlay', height: [0.1, 0.14] }] },
  { source: 'img13.jpg', edits: 'rotation by ~20° + colour jitter', steps: [{ op: 'Rotate', limit: [18, 22], border: 'constant' }, { op: 'ColorJitter', brightness: 0.3, contrast: 0.3, saturation: 0.6, hue: 0.15 }] },
  { source: 'img20.jpg', edits: 'mirrored + emoji overlay + JPEG quality 20', steps: [{ op: 'HorizontalFlip' }, { op: 'EmojiOverlay', size: [0.3, 0.35] }, { op: 'JpegQuality', quality: [20, 20] }] },
  { source: 'img16.jpg', edits: 'grey + a "screenshot" frame', steps: [{ op: 'Grayscale' }, { op: 'Pad', pad: [0.2, 0.25], fill: 'random' }] },
  { source: 'img3.jpg', edits: 'perspective warp + blur', steps: [{ op: 'Perspective', scale: [0.1, 0.12] }, { op: 'GaussianBlur', sigma: [1.2, 1.5] }] },
];

/** The seed of the copies' edits. */
export const DEMO_SEED = 4;

export interface PhotoDemoOptions {
  /** Working folder: photos/, faces/ (annotated), copies/, inliers/ (drawings), galleries/, report.html, results.json. */
  out: string;
  /** The photos and their photos.csv (default: the shipped data/demo-photos). */
  photos?: string;
  /** One call per progress line (none: silent). */
  log?: (line: string) => void;
  threads?: number;
}

const nameOf = (person: string) => `person ${person}`;

/** Reads photos.csv (file,person,role). */
export async function readDemoPhotos(dir = DEMO_PHOTOS_DIR): Promise<DemoPhoto[]> {
  const csv = path.join(dir, 'photos.csv');
  const text = await fs.readFile(csv, 'utf8').catch(() => {
    throw new VisidError('E_NOT_FOUND', 'the demo photos are missing (photos.csv)', { item: csv });
  });
  const [header, ...lines] = text.trim().split(/\r?\n/);
  if (header !== 'file,person,role') throw new VisidError('E_INPUT', `header must be file,person,role`, { item: `${csv}:1` });
  return lines.map((line, i) => {
    const [file, person, role] = line.split(',');
    if (!file || !person || !(role === 'enrol' || role === 'identify' || role === 'query')) throw new VisidError('E_INPUT', `expected file,person,enrol|identify|query`, { item: `${csv}:${i + 2}` });
    return { file, person, role };
  });
}

async function writeJpeg(img: { data: Uint8Array; width: number; height: number }, file: string, quality = 90): Promise<void> {
  await writeFileAtomic(file, await sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: 3 } }).jpeg({ quality }).toBuffer());
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;

export async function runPhotoDemo(o: PhotoDemoOptions): Promise<PhotoDemoResult> {
  const t0 = performance.now();
  const log = o.log ?? (() => {});
  const out = path.resolve(o.out);
  const source = path.resolve(o.photos ?? DEMO_PHOTOS_DIR);
  const photos = await readDemoPhotos(source);
  const dirs = Object.fromEntries(['photos', 'faces', 'copies', 'inliers', 'galleries'].map((d) => [d, path.join(out, d)])) as Record<'photos' | 'faces' | 'copies' | 'inliers' | 'galleries', string>;
  // Only the demo's own folders are replaced: --out may name a folder that holds other things.
  for (const d of Object.values(dirs)) {
    await fs.rm(d, { recursive: true, force: true });
    await fs.mkdir(d, { recursive: true });
  }
  for (const p of photos) await fs.copyFile(path.join(source, p.file), path.join(dirs.photos, p.file));
  const at = (file: string) => path.join(dirs.photos, file);
  const people = new Set(photos.map((p) => p.person));
  log(`1. photos: ${photos.length} real photos of ${people.size} people (deepface's test images, MIT; ≤ 400 px) -> ${dirs.photos}\n`);

  // Faces: enrol from one photo each, identify the rest (open set).
  const tFaces = performance.now();
  const engine = await faceEngine(undefined, o.threads);
  const enrol = photos.filter((p) => p.role === 'enrol');
  log(`2. faces: enrolling ${enrol.length} people from one photo each (${enrol.map((p) => `${nameOf(p.person)}: ${p.file}`).join(', ')}) with ${engine.recognizer.modelName}; identifying ${photos.filter((p) => p.role === 'identify').length} other photos, "unknown" below cosine ${engine.recognizer.threshold}\n`);
  const enrolled = await enrolPhotos(engine, path.join(dirs.galleries, 'faces'), enrol.map((p) => ({ id: p.file, label: nameOf(p.person), path: at(p.file) })), { dataRoot: dirs.photos });
  if (enrolled.skipped.length > 0 || !enrolled.gallery) throw new VisidError('E_INPUT', `demo photos not enrolled: ${enrolled.skipped.map((s) => s.reason).join('; ')}`);
  const enrolledPeople = new Set(enrol.map((p) => p.person));
  const toIdentify = photos.filter((p) => p.role === 'identify');
  const identified = await identifyPhotos(enrolled.gallery, toIdentify.map((p) => at(p.file)), { k: 3, threads: o.threads });
  const faces: IdentifiedPhoto[] = [];
  for (const [i, p] of toIdentify.entries()) {
    const r = identified.photos[i]!;
    if (r instanceof Error) throw r;
    const face = r.faces[0];
    const best = face?.candidates[0];
    const isEnrolled = enrolledPeople.has(p.person);
    const expected = isEnrolled ? nameOf(p.person) : 'unknown';
    const identity = face?.identity ?? 'no face';
    const annotated = path.join('faces', p.file);
    await annotateFaces(at(p.file), r.faces, path.join(out, annotated));
    faces.push({ file: p.file, person: p.person, enrolled: isEnrolled, identity, expected, correct: identity === expected, bestScore: best?.score, bestIdentity: best?.identity, annotated });
    const why = identity === 'unknown' && best ? ` (best: ${best.identity} ${best.score.toFixed(3)})` : best ? ` (${best.score.toFixed(3)})` : '';
    log(`     ${p.file.padEnd(10)} -> ${identity}${why}${identity === expected ? `  <- correct${isEnrolled ? '' : `: ${nameOf(p.person)} is not enrolled`}` : `  <- wrong: ${expected}`}\n`);
  }
  const right = faces.filter((f) => f.correct).length;
  log(`   ${right} of ${faces.length} right: ${faces.filter((f) => f.correct && f.enrolled).length} of ${faces.filter((f) => f.enrolled).length} photos of enrolled people identified, ${faces.filter((f) => f.correct && !f.enrolled).length} of ${faces.filter((f) => !f.enrolled).length} strangers unknown\n`);
  const facesSeconds = seconds(tFaces);

  // Copy detection: seeded edited copies, found among all the photos by the copy descriptor + local verification.
  const tCopies = performance.now();
  // Verification as visid copy-detect runs it (AKAZE, 1000 keypoints, the mirrored copy too, 6+ inliers), on each
  // copy's 3 nearest photos by the descriptor: the defaults (10, plus 20 keypoint-voted references) are sized for
  // galleries of thousands and would check every one of these 17 photos, at 3 × the time.
  const minInliers = 6;
  const verifyTop = 3;
  const copyModelPath = await resolveModelName('copy');
  const copyModel = await Embedder.load(copyModelPath, { threads: o.threads });
  const inPackage = DEMO_COPIES.filter((c) => photos.some((p) => p.file === c.source));
  log(`3. copies: ${inPackage.length} edited copies of ${inPackage.length} photos (seed ${DEMO_SEED}), each searched among all ${photos.length} photos: copy descriptor (${path.basename(copyModelPath, '.onnx')}, ${copyModel.dim}-d), its ${verifyTop} nearest verified by AKAZE keypoints + RANSAC (a match needs ${minInliers}+ inliers)\n`);
  const copies: Array<(typeof DEMO_COPIES)[number] & { id: string; ops: string[] }> = [];
  for (const [i, c] of DEMO_COPIES.entries()) {
    if (!inPackage.includes(c)) continue;
    const pipeline = await AugmentPipeline.create(c.steps);
    const ops: string[] = [];
    const id = `copy-${i + 1}.jpg`;
    await writeJpeg(pipeline.applySeeded(await decodeRgb(at(c.source)), DEMO_SEED, i, 0, ops), path.join(dirs.copies, id));
    copies.push({ ...c, id, ops });
  }
  const refsDir = path.join(dirs.galleries, 'copy');
  const refs: Dataset = { root: dirs.photos, source: dirs.photos, items: photos.map((p) => ({ id: p.file, path: at(p.file) })) };
  try {
    await indexDataset(refs, copyModel, refsDir);
  } finally {
    await copyModel.close();
  }
  const detected = await copyDetect({ refs: refsDir, queries: dirs.copies, k: 10, verify: { topK: verifyTop, minInliers }, threads: o.threads, quiet: true });
  const found: FoundCopy[] = [];
  for (const c of copies) {
    const ranked = detected.matches.filter((m) => m.query === c.id).sort((a, b) => b.score - a.score);
    const [top, next] = ranked;
    if (!top) throw new VisidError('E_INPUT', 'no match for a copy', { item: c.id });
    const drawing = path.join('inliers', c.id);
    const d = await drawInliers(path.join(dirs.copies, c.id), at(top.reference), path.join(out, drawing));
    const summary = (m: typeof top) => ({ reference: m.reference, score: m.score, inliers: m.inliers ?? 0 });
    found.push({ copy: path.join('copies', c.id), source: c.source, edits: c.edits, ops: c.ops, top: summary(top), ...(next ? { next: summary(next) } : {}), found: top.reference === c.source && (top.inliers ?? 0) >= minInliers, drawing, drawn: d.drawn });
    log(`     ${c.id} (${c.edits} of ${c.source}) -> ${top.reference}, ${top.inliers ?? 0} inliers${next ? ` (next: ${next.reference}, ${next.inliers ?? 0})` : ''}${top.reference === c.source ? '  <- correct' : `  <- wrong: ${c.source}`}; drawn: ${drawing}\n`);
  }
  log(`   ${found.filter((f) => f.found).length} of ${found.length} copies found their source\n`);
  const copiesSeconds = seconds(tCopies);

  // Photo search: the photo model over the photos, one query.
  const tSearch = performance.now();
  const query = photos.find((p) => p.role === 'query');
  if (!query) throw new VisidError('E_INPUT', 'photos.csv names no query photo', { item: source });
  const photoModel = await Embedder.load(await resolveModelName('photo'), { threads: o.threads });
  const searchDir = path.join(dirs.galleries, 'photos');
  const indexed = photos.filter((p) => p !== query);
  log(`4. photo search: ${query.file} (${nameOf(query.person)}) among the ${indexed.length} other photos with the photo model (${photoModel.card.name}, ${photoModel.dim}-d), top 5:\n`);
  let results: PhotoDemoResult['search']['results'];
  try {
    await indexDataset({ root: dirs.photos, source: dirs.photos, items: indexed.map((p) => ({ id: p.file, label: nameOf(p.person), path: at(p.file) })) }, photoModel, searchDir);
    const { vectors } = await photoModel.embedFiles([at(query.file)]);
    const searcher = await GallerySearcher.create(await Gallery.open(searchDir));
    try {
      const [hits] = await searcher.search(vectors, { k: 5 });
      const personOf = new Map(photos.map((p) => [p.file, p.person]));
      results = hits!.map((h) => ({ file: h.id, person: personOf.get(h.id) ?? '?', score: h.score }));
    } finally {
      await searcher.close();
    }
  } finally {
    await photoModel.close();
  }
  results.forEach((r, i) => log(`     ${i + 1}. ${r.file.padEnd(10)} ${r.score.toFixed(4)}  (${nameOf(r.person)})\n`));
  const searchSeconds = seconds(tSearch);

  const result: PhotoDemoResult = {
    out,
    report: path.join(out, 'report.html'),
    photos,
    faces: { recognizer: identified.recognizer, model: engine.recognizer.modelName, threshold: identified.threshold, enrolled: enrol.map((p) => ({ file: p.file, person: nameOf(p.person) })), identified: faces },
    copies: { model: path.basename(copyModelPath, '.onnx'), references: photos.length, verified: verifyTop, minInliers, found },
    search: { model: photoModel.card.name, query: query.file, person: query.person, indexed: indexed.length, results },
    seconds: { faces: facesSeconds, copies: copiesSeconds, search: searchSeconds, total: 0 },
  };
  result.seconds.total = seconds(t0);
  await writeFileAtomic(result.report, renderPhotoDemoReport(result));
  await writeFileAtomic(path.join(out, 'results.json'), JSON.stringify(result, null, 2) + '\n');
  log(`5. report: ${result.report} (${result.seconds.total.toFixed(1)} s: faces ${facesSeconds.toFixed(1)} s, copies ${copiesSeconds.toFixed(1)} s, photo search ${searchSeconds.toFixed(1)} s)\n`);
  return result;
}
