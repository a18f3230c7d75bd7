// `visid face`: verify two photos, enrol people into a gallery, identify faces, evaluate on LFW-style pairs.
import { Command } from 'commander';
import path from 'node:path';
import sharp from 'sharp';
import { VisidError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { createProgress } from '../../util/progress.js';
import { readFolderDataset } from '../../data/folder.js';
import { Gallery } from '../../index/gallery.js';
import { GallerySearcher } from '../../search/gallery-search.js';
import { balancedFoldOrder, cosineToSquaredDistance, evaluateVerification, rocSvg } from '../../eval/verification.js';
import { FaceSystem } from './faces.js';
import { readCsvPairs, readLfwPairs, FacePair } from './pairs.js';
import { cosine, detectInFile, FACE_MODEL, faceModelId, verifyFiles } from './service.js';
import { facesOfPhotos } from './face-pool.js';
import { positiveInt } from '../../cli/options.js';

function scoreOption(value: string): number {
  const n = Number(value);
  if (!(n >= -1 && n <= 1)) throw new VisidError('E_INPUT', `threshold must be a cosine similarity in [-1, 1], got '${value}'`);
  return n;
}

interface DetectFlags {
  minScore: number;
  minSize: number;
}

/** Detector thresholds shared by every face command. */
function withDetectFlags(cmd: Command): Command {
  return cmd
    .option('--min-score <p>', 'face detector score threshold', (v: string) => {
      const n = Number(v);
      if (!(n > 0 && n < 1)) throw new VisidError('E_INPUT', `--min-score must be in (0, 1), got '${v}'`);
      return n;
    }, 0.5)
    .option('--min-size <px>', 'ignore faces smaller than this (pixels)', positiveInt, 24);
}

const detectOf = (o: DetectFlags) => ({ minScore: o.minScore, minSize: o.minSize });

function verifyCommand(): Command {
  return withDetectFlags(new Command('verify'))
    .description('1:1 verification: are the faces in two photos the same person? (exactly one face per photo)')
    .argument('<a>', 'first photo')
    .argument('<b>', 'second photo')
    .option('-t, --threshold <cosine>', `same when the cosine similarity is at least this (default ${FACE_MODEL.threshold}, from the model card)`, scoreOption)
    .option('--flip', 'average the descriptor of the mirrored face in')
    .option('--json', 'print JSON')
    .action(async (a: string, b: string, o: DetectFlags & { threshold?: number; flip?: boolean; json?: boolean }) => {
      const system = await FaceSystem.load();
      const r = await verifyFiles(system, a, b, { ...detectOf(o), threshold: o.threshold, flip: o.flip });
      if (o.json) process.stdout.write(JSON.stringify({ a, b, ...r }, null, 2) + '\n');
      else process.stdout.write(`${r.same ? 'same person' : 'different people'}: score ${r.score.toFixed(4)} (threshold ${r.threshold}), distance ${r.distance.toFixed(4)}\n`);
    });
}

function enrollCommand(): Command {
  return withDetectFlags(new Command('enroll'))
    .description('enrol people from a folder per person (<root>/<name>/*.jpg) into a face gallery; photos with no face or several faces are skipped with a warning')
    .argument('<root>', 'folder with one sub-folder per person')
    .requiredOption('-o, --out <gallery>', 'gallery folder to create or extend')
    .option('--flip', 'average the descriptor of the mirrored face in')
    .option('-q, --quiet', 'no progress output')
    .option('--workers <n>', 'photos processed in parallel (one model copy each)', positiveInt)
    .action(async (root: string, o: DetectFlags & { out: string; flip?: boolean; quiet?: boolean; workers?: number }) => {
      const dataset = await readFolderDataset(root);
      const modelId = await faceModelId();
      let gallery = (await Gallery.exists(o.out)) ? await Gallery.open(o.out) : undefined;
      if (gallery && gallery.model.id !== modelId) throw new VisidError('E_GALLERY', 'gallery was not built with the face model', { item: o.out });
      const have = new Set(gallery?.items.map((i) => i.id) ?? []);
      const todo = dataset.items.filter((it) => !have.has(it.id));
      for (const item of todo.filter((it) => !it.label)) process.stderr.write(`warning: ${item.id}: not in a person's folder, skipped\n`);
      const labelled = todo.filter((it) => it.label);
      const progress = createProgress({ label: 'enrol', total: labelled.length, unit: 'photos', quiet: o.quiet });
      const found = await facesOfPhotos(labelled.map((it) => it.path), { ...detectOf(o), flip: o.flip }, o.workers, () => progress.tick());
      const vectors: Float32Array[] = [];
      const items: { id: string; label?: string; path: string }[] = [];
      labelled.forEach((item, i) => {
        const r = found[i]!;
        if (r instanceof Error) process.stderr.write(`warning: ${r.message}, skipped\n`);
        else if (r.faces.length !== 1) process.stderr.write(`warning: ${item.id}: ${r.faces.length === 0 ? 'no face' : `${r.faces.length} faces`} found, skipped\n`);
        else {
          vectors.push(r.faces[0]!.embedding);
          items.push({ id: item.id, label: item.label, path: item.id });
        }
      });
      progress.done();
      if (items.length > 0) {
        gallery ??= await Gallery.create(o.out, { dim: 128, dataRoot: dataset.root, model: { id: modelId, name: FACE_MODEL.name, config: { kind: 'face', flip: o.flip ?? false, threshold: FACE_MODEL.threshold } } });
        const all = new Float32Array(items.length * 128);
        vectors.forEach((v, i) => all.set(v, i * 128));
        await gallery.append(all, items);
      }
      const people = new Set(gallery?.items.map((i) => i.label));
      process.stdout.write(`enrolled ${items.length} photos; gallery ${o.out} holds ${gallery?.count ?? 0} photos of ${people.size} people\n`);
    });
}

function identifyCommand(): Command {
  return withDetectFlags(new Command('identify'))
    .description('1:N identification: every face in a photo with its top-k enrolled identities, or unknown below the threshold')
    .argument('<gallery>', 'face gallery made by visid face enroll')
    .argument('<photo>', 'photo to identify')
    .option('-k, --k <n>', 'identities per face', positiveInt, 3)
    .option('-t, --threshold <cosine>', 'below this best score a face is unknown (default: the gallery\'s)', scoreOption)
    .option('--annotate <out.png>', 'write the photo with boxes and names')
    .option('--json', 'print JSON')
    .action(async (dir: string, photo: string, o: DetectFlags & { k: number; threshold?: number; annotate?: string; json?: boolean }) => {
      const gallery = await Gallery.open(dir);
      if (gallery.model.id !== (await faceModelId())) throw new VisidError('E_GALLERY', 'not a face gallery made with this face model', { item: dir });
      const config = (gallery.model.config ?? {}) as { flip?: boolean; threshold?: number };
      const threshold = o.threshold ?? config.threshold ?? FACE_MODEL.threshold;
      const system = await FaceSystem.load();
      const { image, faces } = await detectInFile(system, photo, detectOf(o));
      const searcher = await GallerySearcher.create(gallery);
      const results = [];
      for (const face of faces) {
        const v = await system.embedFace(image, face, { flip: config.flip });
        const [labels] = await searcher.searchLabels(v, { k: o.k });
        const best = labels![0];
        results.push({
          box: face.box,
          detectionScore: face.score,
          identity: best && best.score >= threshold ? best.label : 'unknown',
          candidates: labels!.map((l) => ({ identity: l.label, score: l.score, id: l.id })),
        });
      }
      await searcher.close();
      if (o.annotate) await annotate(photo, results, o.annotate);
      if (o.json) process.stdout.write(JSON.stringify({ photo, threshold, faces: results }, null, 2) + '\n');
      else {
        if (results.length === 0) process.stdout.write(`${photo}: no face found\n`);
        results.forEach((r, i) => {
          const b = r.box;
          process.stdout.write(`face ${i + 1} at (${b.x.toFixed(0)}, ${b.y.toFixed(0)}, ${b.width.toFixed(0)}×${b.height.toFixed(0)}): ${r.identity}` +
            `  [${r.candidates.map((c) => `${c.identity} ${c.score.toFixed(3)}`).join(', ')}]\n`);
        });
      }
    });
}

/** Draws boxes and names onto the (EXIF-oriented) photo with an SVG overlay. */
async function annotate(photo: string, faces: Array<{ box: { x: number; y: number; width: number; height: number }; identity: string }>, out: string): Promise<void> {
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
  const png = await base.composite([{ input: svg, top: 0, left: 0 }]).png().toBuffer();
  await writeFileAtomic(out, png);
}

function evalPairsCommand(name: string, description: string, read: (o: { pairs: string; root: string }) => Promise<FacePair[]>, balance: boolean): Command {
  return withDetectFlags(new Command(name))
    .description(description)
    .argument('<root>', 'image root (LFW: <root>/<name>/<name>_0001.jpg; CSV: ignored, paths are relative to the CSV)')
    .requiredOption('--pairs <file>', 'pairs file')
    .option('--folds <n>', 'number of folds', positiveInt, 10)
    .option('--flip', 'average the descriptor of the mirrored face in')
    .option('--roc <file.svg>', 'write the ROC curve as SVG')
    .option('--far <list>', 'FAR targets for TAR@FAR', '0.001,0.01')
    .option('--workers <n>', 'photos processed in parallel (one model copy each)', positiveInt)
    .option('--json', 'print JSON')
    .option('-q, --quiet', 'no progress output')
    .action(async (root: string, o: DetectFlags & { workers?: number; pairs: string; folds: number; flip?: boolean; roc?: string; far: string; json?: boolean; quiet?: boolean }) => {
      let pairs = await read({ pairs: o.pairs, root });
      if (balance) pairs = balancedFoldOrder(pairs.map((p) => p.same), o.folds).map((i) => pairs[i]!);
      const files = [...new Set(pairs.flatMap((p) => [p.a, p.b]))];
      const progress = createProgress({ label: 'embed faces', total: files.length, unit: 'photos', quiet: o.quiet });
      const found = await facesOfPhotos(files, { ...detectOf(o), flip: o.flip }, o.workers, () => progress.tick());
      const emb = new Map<string, Float32Array>();
      const failed: string[] = [];
      files.forEach((f, i) => {
        const r = found[i]!;
        // insightface's LFW chips hold one centred face; here the best-scoring face stands for the photo.
        if (r instanceof Error) failed.push(r.message);
        else if (r.faces.length === 0) failed.push(`${f}: no face`);
        else emb.set(f, r.faces[0]!.embedding);
      });
      progress.done();
      const distances = pairs.map((p) => (emb.has(p.a) && emb.has(p.b) ? cosineToSquaredDistance(cosine(emb.get(p.a)!, emb.get(p.b)!)) : 4));
      const farTargets = o.far.split(',').map(Number);
      const r = evaluateVerification(distances, pairs.map((p) => p.same), { folds: o.folds, farTargets });
      if (o.roc) await writeFileAtomic(o.roc, rocSvg(r.roc, `ROC: ${path.basename(o.pairs)} (AUC ${r.auc.toFixed(4)})`));
      if (o.json) {
        const { roc: _roc, ...rest } = r;
        process.stdout.write(JSON.stringify({ pairs: pairs.length, photosWithoutFace: failed, ...rest, thresholdCosine: 1 - r.threshold / 2 }, null, 2) + '\n');
        return;
      }
      for (const f of failed) process.stderr.write(`warning: ${f} (its pairs count as different)\n`);
      process.stdout.write(`${pairs.length} pairs, ${o.folds} folds\naccuracy ${(100 * r.accuracy).toFixed(2)}% ± ${(100 * r.accuracyStd).toFixed(2)}\n`);
      process.stdout.write(`threshold: squared distance ${r.threshold.toFixed(3)} (cosine ${(1 - r.threshold / 2).toFixed(4)})\nROC AUC ${r.auc.toFixed(4)}\n`);
      for (const [far, v] of Object.entries(r.tarAtFar)) process.stdout.write(`TAR@FAR=${far}: ${(100 * v.tar).toFixed(2)}% ± ${(100 * v.tarStd).toFixed(2)} (FAR ${v.far.toFixed(4)})\n`);
    });
}

export function faceCommand(): Command {
  const cmd = new Command('face').description('faces: detect, align, embed (face-api weights from npm); verify, enrol, identify, evaluate');
  for (const sub of [
    verifyCommand(),
    enrollCommand(),
    identifyCommand(),
    evalPairsCommand('eval-lfw', 'the LFW protocol (insightface): 10-fold accuracy ± std, TAR@FAR, ROC, on pairs.txt', (o) => readLfwPairs(o.pairs, o.root), false),
    evalPairsCommand('eval-pairs', 'the same protocol on a CSV of pairs (file_x,file_y,Yes/No), folds balanced', (o) => readCsvPairs(o.pairs), true),
  ]) {
    cmd.addCommand(sub.exitOverride().showHelpAfterError());
  }
  return cmd;
}
