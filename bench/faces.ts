// Benchmark: faces on real photos with the onnxruntime pipeline (detect → 68 landmarks → aligned chip → descriptor).
//   node dist/bench/faces.js            the shared deepface photos: 300 labelled pairs per recognizer, speed
//   node dist/bench/faces.js --lfw      LFW View 1: thresholds on DevTrain, accuracy on DevTest per recognizer,
//                                        fallbacks, photos/s (and face-api's tfjs pipeline for the ratio), and 1:N
//                                        identification over all 13,233 photos
// Options: --recognizers a,b   --runs n (speed runs, default 3)   --skip-1n   --write-centres (recompute the
// DevTrain descriptor centres of centred recognizers into data/face-centres/)
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { decodeRgb } from '../src/images/decode.js';
import { ExactIndex } from '../src/search/exact.js';
import { balancedFoldOrder, cosineToSquaredDistance, evaluateVerification, type VerificationReport } from '../src/eval/verification.js';
import { readCsvPairs, readLfwPairFile, type FacePair } from '../src/jobs/faces/pairs.js';
import { cosine, faceEngine, protocolFaces, type ProtocolFace } from '../src/jobs/faces/service.js';
import { RECOGNIZER_NAMES, RECOGNIZERS, type RecognizerName } from '../src/jobs/faces/recognizers.js';
import { FaceSystem } from '../src/jobs/faces/faces.js';
import { FaceEngine } from '../src/jobs/faces/engine.js';
import { writeFileAtomic } from '../src/util/atomic.js';
import { mulberry32 } from '../src/util/random.js';
import { packagePath } from '../src/util/package-root.js';
import { flags, median } from './common.js';

const args = flags(process.argv.slice(2));
if (args['help']) {
  process.stdout.write(
    'usage: node dist/bench/faces.js [--lfw] [--recognizers face-api,faceres,...] [--runs 3] [--skip-1n] [--write-centres]\n' +
      '  without --lfw: verification on the 300 labelled pairs of $VISID_SHARED/data/faces-deepface, per recognizer, and speed\n' +
      '  --lfw: LFW View 1 (thresholds on pairsDevTrain.txt, figures on pairsDevTest.txt), photos/s, 1:N on all of $VISID_SHARED/data/lfw\n',
  );
  process.exit(0);
}
const shared = path.resolve(process.env['VISID_SHARED'] ?? '../shared');
const recognizers = (args['recognizers']?.split(',') ?? [...RECOGNIZER_NAMES]) as RecognizerName[];
const runs = Number(args['runs'] ?? 3);
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

async function embedAll(engine: FaceEngine, files: string[]): Promise<{ emb: Map<string, Float32Array>; faces: Map<string, ProtocolFace>; seconds: number }> {
  const t = performance.now();
  const found = await protocolFaces(engine, files);
  const seconds = (performance.now() - t) / 1000;
  const emb = new Map<string, Float32Array>();
  const faces = new Map<string, ProtocolFace>();
  files.forEach((f, i) => {
    const r = found[i]!;
    if (r instanceof Error) throw r;
    emb.set(f, r.embedding);
    faces.set(f, r);
  });
  return { emb, faces, seconds };
}

function verification(pairs: FacePair[], emb: Map<string, Float32Array>): VerificationReport {
  return evaluateVerification(pairs.map((p) => cosineToSquaredDistance(cosine(emb.get(p.a)!, emb.get(p.b)!))), pairs.map((p) => p.same), { folds: 10 });
}

const row = (name: string, r: VerificationReport, extra = '') =>
  `| ${name} | ${pct(r.accuracy)} ± ${(100 * r.accuracyStd).toFixed(2)} | ${r.auc.toFixed(4)} | ${(100 * r.tarAtFar['0.001']!.tar).toFixed(1)}% | ${(100 * r.tarAtFar['0.01']!.tar).toFixed(1)}% | ${(1 - r.threshold / 2).toFixed(4)} |${extra}`;

async function deepface(): Promise<void> {
  const dir = path.join(shared, 'data', 'faces-deepface');
  const raw = await readCsvPairs(path.join(dir, 'master.csv'));
  const pairs = balancedFoldOrder(raw.map((p) => p.same), 10).map((i) => raw[i]!);
  const files = [...new Set(pairs.flatMap((p) => [p.a, p.b]))].sort();
  console.log(`faces benchmark: ${pairs.length} pairs (${pairs.filter((p) => p.same).length} same) over ${files.length} photos of shared/data/faces-deepface`);
  console.log('| recognizer | accuracy | AUC | TAR@FAR=1e-3 | TAR@FAR=1e-2 | threshold (cosine) | photos/s |\n|---|---|---|---|---|---|---|');
  for (const name of recognizers) {
    const engine = await faceEngine(name);
    const { emb, seconds } = await embedAll(engine, files);
    console.log(row(name, verification(pairs, emb), ` ${(files.length / seconds).toFixed(1)} |`));
  }
}

/** The 10-fold protocol on a View 1 file, pairs interleaved so each fold has both kinds. */
async function view1(file: string): Promise<FacePair[]> {
  const { pairs } = await readLfwPairFile(path.join(shared, 'data', 'lfw', file), path.join(shared, 'data', 'lfw', 'images'));
  return balancedFoldOrder(pairs.map((p) => p.same), 10).map((i) => pairs[i]!);
}

async function lfw(): Promise<void> {
  const train = await view1('pairsDevTrain.txt');
  const test = await view1('pairsDevTest.txt');
  const trainFiles = [...new Set(train.flatMap((p) => [p.a, p.b]))];
  const testFiles = [...new Set(test.flatMap((p) => [p.a, p.b]))];
  console.log(`LFW View 1: DevTrain ${train.length} pairs / ${trainFiles.length} photos (thresholds, choices), DevTest ${test.length} pairs / ${testFiles.length} photos (figures)`);
  console.log('\nDevTest, 10-fold protocol (threshold per fold from the other nine); the DevTrain threshold beside it:');
  console.log('| recognizer | accuracy | AUC | TAR@FAR=1e-3 | TAR@FAR=1e-2 | threshold (cosine) | DevTrain accuracy | DevTrain threshold | DevTest accuracy at the DevTrain threshold | fallbacks (DevTest) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const name of recognizers) {
    const engine = await faceEngine(name);
    if (args['write-centres'] && RECOGNIZERS[name].centre) {
      // The centre is the mean unit descriptor of the DevTrain photos without centring.
      const uncentred = await FaceEngine.load({ recognizer: name });
      (uncentred as unknown as { centre: undefined }).centre = undefined;
      const { emb } = await embedAll(uncentred, trainFiles);
      const dim = RECOGNIZERS[name].dim;
      const mean = new Float64Array(dim);
      for (const v of emb.values()) for (let i = 0; i < dim; i++) mean[i]! += v[i]! / emb.size;
      const file = packagePath(RECOGNIZERS[name].centre!);
      await writeFileAtomic(file, JSON.stringify({ recognizer: name, modelName: RECOGNIZERS[name].modelName, dim, photos: emb.size, computedOn: `the mean unit descriptor (chip + mirror) of the ${emb.size} photos of LFW View 1 pairsDevTrain.txt (bench/faces --lfw --write-centres)`, centre: Array.from(mean, (x) => Number(x.toFixed(7))) }));
      console.log(`(wrote ${file}; restart the benchmark to use it)`);
      await uncentred.close();
    }
    const tr = await embedAll(engine, trainFiles);
    const te = await embedAll(engine, testFiles);
    const rTrain = verification(train, tr.emb);
    const rTest = verification(test, te.emb);
    const thr = 1 - rTrain.threshold / 2;
    const atTrain = test.filter((p) => (cosine(te.emb.get(p.a)!, te.emb.get(p.b)!) >= thr) === p.same).length / test.length;
    const fallbacks = [...te.faces.values()].filter((f) => f.fallback).length;
    console.log(row(name, rTest, ` ${pct(rTrain.accuracy)} | ${thr.toFixed(4)} | ${pct(atTrain)} | ${fallbacks} |`));
  }

  // Speed of the default pipeline (decode + detect + landmarks + align + embed) on the DevTest photos.
  const engine = await faceEngine();
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) rates.push(testFiles.length / (await embedAll(engine, testFiles)).seconds);
  const single = await (async () => {
    const t = performance.now();
    await protocolFaces(engine, testFiles, { single: true });
    return testFiles.length / ((performance.now() - t) / 1000);
  })();
  // face-api's own tfjs pipeline (one thread) on the first 60 photos, for the ratio.
  const system = await FaceSystem.load();
  const sample = testFiles.slice(0, 60);
  const tfRates: number[] = [];
  for (let r = 0; r < Math.min(runs, 2); r++) {
    const t = performance.now();
    for (const f of sample) {
      const image = await decodeRgb(f);
      const faces = await system.detect(image);
      if (faces[0]) await system.embedFace(image, faces[0]);
    }
    tfRates.push(sample.length / ((performance.now() - t) / 1000));
  }
  console.log(
    `\nspeed (DevTest's ${testFiles.length} photos, decode → detect → landmarks → align → embed, ${engine.recognizer.name} with its default views): median of ${runs} runs ${median(rates).toFixed(1)} photos/s ` +
      `[${rates.map((r) => r.toFixed(1)).join(', ')}]; one view per face (--fast) ${single.toFixed(1)} photos/s; face-api's tfjs pipeline ${median(tfRates).toFixed(2)} photos/s → ${(median(rates) / median(tfRates)).toFixed(1)}× (all of LFW in ${(13233 / median(rates) / 60).toFixed(1)} min)`,
  );

  if (!args['skip-1n']) await identification(engine);
}

/**
 * 1:N on all of LFW: every person's first photo enrolled (5,749 people; those with one photo are distractors), every
 * other photo a probe; rank-1 and rank-5. Open set: half of the people with several photos (seeded) left out of the
 * gallery, their photos the unknown probes; DIR at FAR = 1 % (threshold: 1 % of unknown probes score at or above it).
 */
async function identification(engine: FaceEngine): Promise<void> {
  const root = path.join(shared, 'data', 'lfw', 'images');
  const people = (await fs.readdir(root)).sort();
  const photos = new Map<string, string[]>();
  for (const p of people) photos.set(p, (await fs.readdir(path.join(root, p))).filter((f) => f.endsWith('.jpg')).sort().map((f) => path.join(root, p, f)));
  const all = [...photos.values()].flat();
  const t = performance.now();
  let done = 0;
  const found = await protocolFaces(engine, all, {}, (n) => {
    done += n;
    if (done % 1024 < n) process.stderr.write(`  1:N: ${done}/${all.length} photos, ${(done / ((performance.now() - t) / 1000)).toFixed(1)}/s\n`);
  });
  const seconds = (performance.now() - t) / 1000;
  const dim = engine.recognizer.dim;
  const emb = new Map<string, Float32Array>();
  let fallbacks = 0;
  all.forEach((f, i) => {
    const r = found[i]!;
    if (r instanceof Error) throw r;
    emb.set(f, r.embedding);
    if (r.fallback) fallbacks++;
  });
  const search = async (gallery: Array<{ person: string; file: string }>, probes: Array<{ person: string; file: string }>, k: number) => {
    const g = new Float32Array(gallery.length * dim);
    gallery.forEach((x, i) => g.set(emb.get(x.file)!, i * dim));
    const q = new Float32Array(probes.length * dim);
    probes.forEach((x, i) => q.set(emb.get(x.file)!, i * dim));
    const index = await ExactIndex.create(g, dim);
    const res = await index.search(q, k);
    await index.close();
    return probes.map((_, i) => ({ persons: Array.from(res.indices.subarray(i * k, (i + 1) * k), (j) => gallery[j]!.person), scores: res.scores.subarray(i * k, (i + 1) * k) }));
  };
  const multi = people.filter((p) => photos.get(p)!.length >= 2);
  // Closed set.
  const gallery = people.map((p) => ({ person: p, file: photos.get(p)![0]! }));
  const probes = multi.flatMap((p) => photos.get(p)!.slice(1).map((file) => ({ person: p, file })));
  const ranked = await search(gallery, probes, 5);
  const rank1 = ranked.filter((r, i) => r.persons[0] === probes[i]!.person).length / probes.length;
  const rank5 = ranked.filter((r, i) => r.persons.includes(probes[i]!.person)).length / probes.length;
  // Open set.
  const rnd = mulberry32(1);
  const shuffled = [...multi].sort(() => rnd() - 0.5);
  const unknown = new Set(shuffled.slice(0, multi.length >> 1));
  const openGallery = people.filter((p) => !unknown.has(p)).map((p) => ({ person: p, file: photos.get(p)![0]! }));
  const knownProbes = multi.filter((p) => !unknown.has(p)).flatMap((p) => photos.get(p)!.slice(1).map((file) => ({ person: p, file })));
  const unknownProbes = [...unknown].flatMap((p) => photos.get(p)!.map((file) => ({ person: p, file })));
  const kr = await search(openGallery, knownProbes, 1);
  const ur = await search(openGallery, unknownProbes, 1);
  const impostor = ur.map((r) => r.scores[0]!).sort((a, b) => b - a);
  const threshold = impostor[Math.floor(0.01 * impostor.length)]!;
  const far = impostor.filter((s) => s >= threshold).length / impostor.length;
  const dir = kr.filter((r, i) => r.persons[0] === knownProbes[i]!.person && r.scores[0]! >= threshold).length / knownProbes.length;
  console.log(`\n1:N on all of LFW (${all.length} photos embedded at ${(all.length / seconds).toFixed(1)} photos/s, ${fallbacks} fallbacks), ${engine.recognizer.name}:`);
  console.log(`closed set: ${gallery.length} people enrolled (one photo each; ${people.length - multi.length} with one photo are distractors), ${probes.length} probes: rank-1 ${pct(rank1)}, rank-5 ${pct(rank5)}`);
  console.log(`open set: ${openGallery.length} enrolled, ${knownProbes.length} probes of enrolled people, ${unknownProbes.length} probes of ${unknown.size} people not enrolled: DIR ${pct(dir)} at FAR ${pct(far)} (threshold cosine ${threshold.toFixed(4)})`);
}

if (args['lfw']) await lfw();
else await deepface();
process.exit(0);
