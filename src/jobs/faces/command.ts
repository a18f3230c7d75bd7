// `visid face`: verify two photos, enrol people into a gallery, identify faces, evaluate on LFW-style pairs.
import { Command } from 'commander';
import path from 'node:path';
import { VisidError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { createProgress } from '../../util/progress.js';
import { readFolderDataset } from '../../data/folder.js';
import { Gallery } from '../../index/gallery.js';
import { balancedFoldOrder, cosineToSquaredDistance, evaluateVerification, rocSvg } from '../../eval/verification.js';
import { readLfwPairFile, readCsvPairs, FacePair } from './pairs.js';
import { cosine, faceEngine, protocolFaces, verifyFiles, type FaceOptions } from './service.js';
import { annotateFaces, enrolPhotos, identifyPhotos } from './identify.js';
import { RECOGNIZER_NAMES, recognizerSpec } from './recognizers.js';
import { positiveInt } from '../../cli/options.js';

function scoreOption(value: string): number {
  const n = Number(value);
  if (!(n >= -1 && n <= 1)) throw new VisidError('E_INPUT', `threshold must be a cosine similarity in [-1, 1], got '${value}'`);
  return n;
}

interface DetectFlags {
  minScore: number;
  minSize: number;
  detectorSize: number;
  recognizer?: string;
  fast?: boolean;
  flip?: boolean;
}

/** Detector, recognizer and test-time flags shared by every face command. */
function withDetectFlags(cmd: Command, choose = true): Command {
  cmd
    .option('--min-score <p>', 'face detector score threshold', (v: string) => {
      const n = Number(v);
      if (!(n > 0 && n < 1)) throw new VisidError('E_INPUT', `--min-score must be in (0, 1), got '${v}'`);
      return n;
    }, 0.5)
    .option('--min-size <px>', 'ignore faces smaller than this (pixels)', positiveInt, 24)
    .option('--detector-size <px>', 'side of the detector input (the photo is placed on a square canvas of this size)', positiveInt, 512);
  // identify embeds queries as its gallery's items were embedded: no choice of recognizer or views there.
  if (choose) cmd
    .option('--fast', 'one view per face (no mirrored and zoomed views): faster, a little less accurate')
    .option('--flip', 'with --fast, still average in the mirrored face')
    .option('--recognizer <name>', `face recognition network: ${RECOGNIZER_NAMES.join(', ')} (default ${recognizerSpec(undefined).name})`, (v: string) => recognizerSpec(v).name);
  return cmd;
}

const optionsOf = (o: DetectFlags): FaceOptions => ({
  minScore: o.minScore,
  minSize: o.minSize,
  detectorSize: o.detectorSize,
  ...(o.fast ? (o.flip ? { flip: true, zooms: [1] } : { single: true }) : {}),
});

/** What a gallery records of how its descriptors were made, so that identify embeds queries the same way. */
const viewsOf = (o: DetectFlags) => (o.fast ? (o.flip ? 'flip' : 'single') : 'default');

function verifyCommand(): Command {
  return withDetectFlags(new Command('verify'))
    .description('1:1 verification: are the faces in two photos the same person? (exactly one face per photo: a photo with none or several is an error)')
    .argument('<a>', 'first photo')
    .argument('<b>', 'second photo')
    .option('-t, --threshold <cosine>', "same when the cosine similarity is at least this (default: the recognizer's, from LFW View 1 DevTrain)", scoreOption)
    .option('--json', 'print JSON')
    .action(async (a: string, b: string, o: DetectFlags & { threshold?: number; json?: boolean }) => {
      const engine = await faceEngine(o.recognizer);
      const r = await verifyFiles(engine, a, b, { ...optionsOf(o), threshold: o.threshold });
      if (o.json) process.stdout.write(JSON.stringify({ a, b, ...r }, null, 2) + '\n');
      else process.stdout.write(`${r.same ? 'same person' : 'different people'}: score ${r.score.toFixed(4)} (threshold ${r.threshold}, ${r.recognizer}), distance ${r.distance.toFixed(4)}\n`);
    });
}

function enrollCommand(): Command {
  return withDetectFlags(new Command('enroll'))
    .description('enrol people from a folder per person (<root>/<name>/*.jpg) into a face gallery; photos with no face or several faces are skipped with a warning')
    .argument('<root>', 'folder with one sub-folder per person')
    .requiredOption('-o, --out <gallery>', 'gallery folder to create or extend')
    .option('-q, --quiet', 'no progress output')
    .action(async (root: string, o: DetectFlags & { out: string; quiet?: boolean }) => {
      const dataset = await readFolderDataset(root);
      let gallery = (await Gallery.exists(o.out)) ? await Gallery.open(o.out) : undefined;
      const recognizer = o.recognizer ?? ((gallery?.model.config as { recognizer?: string } | undefined)?.recognizer);
      const engine = await faceEngine(recognizer);
      if (gallery && gallery.model.id !== engine.modelId) throw new VisidError('E_GALLERY', `gallery was built with another face model (${gallery.model.id}, not ${engine.modelId})`, { item: o.out });
      const have = new Set(gallery?.items.map((i) => i.id) ?? []);
      const todo = dataset.items.filter((it) => !have.has(it.id));
      for (const item of todo.filter((it) => !it.label)) process.stderr.write(`warning: ${item.id}: not in a person's folder, skipped\n`);
      const labelled = todo.filter((it) => it.label);
      const progress = createProgress({ label: 'enrol', total: labelled.length, unit: 'photos', quiet: o.quiet });
      const r = await enrolPhotos(engine, o.out, labelled.map((it) => ({ id: it.id, label: it.label!, path: it.path })), { options: optionsOf(o), views: viewsOf(o), dataRoot: dataset.root, onDone: (n) => progress.tick(n) });
      for (const s of r.skipped) process.stderr.write(`warning: ${s.reason}, skipped\n`);
      progress.done();
      gallery = r.gallery;
      const items = r.enrolled;
      const people = new Set(gallery?.items.map((i) => i.label));
      process.stdout.write(`enrolled ${items.length} photos; gallery ${o.out} holds ${gallery?.count ?? 0} photos of ${people.size} people\n`);
    });
}

function identifyCommand(): Command {
  return withDetectFlags(new Command('identify'), false)
    .description('1:N identification: every face in a photo with its top-k enrolled identities, or unknown below the threshold (the gallery says which recognizer)')
    .argument('<gallery>', 'face gallery made by visid face enroll')
    .argument('<photo>', 'photo to identify')
    .option('-k, --k <n>', 'identities per face', positiveInt, 3)
    .option('-t, --threshold <cosine>', "below this best score a face is unknown (default: the gallery's)", scoreOption)
    .option('--annotate <out.png>', 'write the photo with boxes and names')
    .option('--json', 'print JSON')
    .action(async (dir: string, photo: string, o: DetectFlags & { k: number; threshold?: number; annotate?: string; json?: boolean }) => {
      const gallery = await Gallery.open(dir);
      const identified = await identifyPhotos(gallery, [photo], { k: o.k, threshold: o.threshold, options: optionsOf(o), name: dir });
      const [r] = identified.photos;
      if (r instanceof Error) throw r;
      const { threshold } = identified;
      const results = r!.faces;
      if (o.annotate) await annotateFaces(photo, results, o.annotate);
      if (o.json) process.stdout.write(JSON.stringify({ photo, threshold, recognizer: identified.recognizer, faces: results }, null, 2) + '\n');
      else {
        if (results.length === 0) process.stdout.write(`${photo}: no face found\n`);
        results.forEach((res, i) => {
          const b = res.box;
          process.stdout.write(`face ${i + 1} at (${b.x.toFixed(0)}, ${b.y.toFixed(0)}, ${b.width.toFixed(0)}×${b.height.toFixed(0)}): ${res.identity}` +
            `  [${res.candidates.map((c) => `${c.identity} ${c.score.toFixed(3)}`).join(', ')}]\n`);
        });
      }
    });
}

function evalPairsCommand(name: string, description: string, read: (o: { pairs: string; root: string; folds: number }) => Promise<{ pairs: FacePair[]; balance: boolean }>): Command {
  return withDetectFlags(new Command(name))
    .description(description)
    .argument('<root>', 'image root (LFW: <root>/<name>/<name>_0001.jpg; CSV: ignored, paths are relative to the CSV)')
    .requiredOption('--pairs <file>', 'pairs file')
    .option('--folds <n>', 'number of folds', positiveInt, 10)
    .option('--roc <file.svg>', 'write the ROC curve as SVG')
    .option('--far <list>', 'FAR targets for TAR@FAR', '0.001,0.01')
    .option('--json', 'print JSON')
    .option('-q, --quiet', 'no progress output')
    .action(async (root: string, o: DetectFlags & { pairs: string; folds: number; roc?: string; far: string; json?: boolean; quiet?: boolean }) => {
      const read_ = await read({ pairs: o.pairs, root, folds: o.folds });
      let pairs = read_.pairs;
      // Pair lists that give all matched pairs first (LFW View 1, CSV files) are interleaved so each fold has both.
      if (read_.balance) pairs = balancedFoldOrder(pairs.map((p) => p.same), o.folds).map((i) => pairs[i]!);
      const files = [...new Set(pairs.flatMap((p) => [p.a, p.b]))];
      const engine = await faceEngine(o.recognizer);
      const progress = createProgress({ label: 'embed faces', total: files.length, unit: 'photos', quiet: o.quiet });
      const t0 = performance.now();
      // The LFW protocol: one face per photo, the one nearest the centre, or a centred crop when none is found.
      const found = await protocolFaces(engine, files, optionsOf(o), (n) => progress.tick(n));
      const seconds = (performance.now() - t0) / 1000;
      progress.done();
      const emb = new Map<string, Float32Array>();
      const unreadable: string[] = [];
      const fallbacks: string[] = [];
      let several = 0;
      files.forEach((f, i) => {
        const r = found[i]!;
        if (r instanceof Error) unreadable.push(r.message);
        else {
          emb.set(f, r.embedding);
          if (r.fallback) fallbacks.push(path.relative(root, f));
          if (r.detected > 1) several++;
        }
      });
      const distances = pairs.map((p) => (emb.has(p.a) && emb.has(p.b) ? cosineToSquaredDistance(cosine(emb.get(p.a)!, emb.get(p.b)!)) : 4));
      const farTargets = o.far.split(',').map(Number);
      const r = evaluateVerification(distances, pairs.map((p) => p.same), { folds: o.folds, farTargets });
      if (o.roc) await writeFileAtomic(o.roc, rocSvg(r.roc, `ROC: ${path.basename(o.pairs)} (AUC ${r.auc.toFixed(4)}, ${engine.recognizer.name})`));
      if (o.json) {
        const { roc: _roc, ...rest } = r;
        process.stdout.write(
          JSON.stringify(
            { pairs: pairs.length, photos: files.length, recognizer: engine.recognizer.name, photosWithoutFace: unreadable, fallbacks, photosWithSeveralFaces: several, photosPerSecond: files.length / seconds, ...rest, thresholdCosine: 1 - r.threshold / 2 },
            null,
            2,
          ) + '\n',
        );
        return;
      }
      for (const f of unreadable) process.stderr.write(`warning: ${f} (its pairs count as different)\n`);
      process.stdout.write(`${pairs.length} pairs over ${files.length} photos, ${o.folds} folds, recognizer ${engine.recognizer.name}\n`);
      process.stdout.write(`faces: nearest the centre where several were found (${several} photos); centred-crop fallback where none was (${fallbacks.length}${fallbacks.length ? `: ${fallbacks.slice(0, 5).join(', ')}${fallbacks.length > 5 ? ', …' : ''}` : ''})\n`);
      process.stdout.write(`accuracy ${(100 * r.accuracy).toFixed(2)}% ± ${(100 * r.accuracyStd).toFixed(2)}\n`);
      process.stdout.write(`threshold: squared distance ${r.threshold.toFixed(3)} (cosine ${(1 - r.threshold / 2).toFixed(4)})\nROC AUC ${r.auc.toFixed(4)}\n`);
      for (const [far, v] of Object.entries(r.tarAtFar)) process.stdout.write(`TAR@FAR=${far}: ${(100 * v.tar).toFixed(2)}% ± ${(100 * v.tarStd).toFixed(2)} (FAR ${v.far.toFixed(4)})\n`);
      process.stdout.write(`${(files.length / seconds).toFixed(1)} photos/s\n`);
    });
}

export function faceCommand(): Command {
  const cmd = new Command('face').description('faces: detect, align, embed (networks from npm packages, on onnxruntime); verify, enrol, identify, evaluate');
  for (const sub of [
    verifyCommand(),
    enrollCommand(),
    identifyCommand(),
    evalPairsCommand('eval-lfw', 'the LFW protocol (insightface): 10-fold accuracy ± std, TAR@FAR, ROC, on pairs.txt (View 2) or pairsDevTrain/DevTest.txt (View 1); one face per photo, the one nearest the centre, a centred crop where none is found', async (o) => {
      const f = await readLfwPairFile(o.pairs, o.root);
      // View 2's pairs.txt is already in folds; View 1's files list their matched pairs first.
      return { pairs: f.pairs, balance: f.folds === undefined };
    }),
    evalPairsCommand('eval-pairs', 'the same protocol on a CSV of pairs (file_x,file_y,Yes/No), folds balanced', async (o) => ({ pairs: await readCsvPairs(o.pairs), balance: true })),
  ]) {
    cmd.addCommand(sub.exitOverride().showHelpAfterError());
  }
  return cmd;
}
