// Benchmark: face verification and identification on the shared deepface photos (300 labelled pairs), aligned
// versus plain crops, plus speed. Usage: node dist/bench/faces.js   (needs $VISID_SHARED/data/faces-deepface)
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { decodeRgb } from '../src/images/decode.js';
import { FaceSystem, EmbedFaceOptions } from '../src/jobs/faces/faces.js';
import { readCsvPairs } from '../src/jobs/faces/pairs.js';
import { cosine, detectInFile, FACE_MODEL, verifyFiles } from '../src/jobs/faces/service.js';
import { facesOfPhotos } from '../src/jobs/faces/face-pool.js';
import { balancedFoldOrder, cosineToSquaredDistance, evaluateVerification } from '../src/eval/verification.js';
import { median } from './common.js';

const shared = path.resolve(process.env['VISID_SHARED'] ?? '../shared');
const dir = path.join(shared, 'data', 'faces-deepface');
const pairs = await readCsvPairs(path.join(dir, 'master.csv'));
const system = await FaceSystem.load();

const files = [...new Set(pairs.flatMap((p) => [p.a, p.b]))].sort();
const detected = new Map<string, Awaited<ReturnType<typeof detectInFile>>>();
for (const f of files) detected.set(f, await detectInFile(system, f));
const notOne = files.filter((f) => detected.get(f)!.faces.length !== 1);
console.log(`faces benchmark: ${pairs.length} pairs (${pairs.filter((p) => p.same).length} same) over ${files.length} photos; photos without exactly one face: ${notOne.length ? notOne.map((f) => `${path.basename(f)} (${detected.get(f)!.faces.length})`).join(', ') : 'none'} (the best-scoring face is used)`);

async function embedAll(options: EmbedFaceOptions): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const f of files) {
    const { image, faces } = detected.get(f)!;
    if (faces.length > 0) out.set(f, await system.embedFace(image, faces[0]!, options));
  }
  return out;
}

const variants: Array<[string, EmbedFaceOptions]> = [
  ['5-point alignment (visid template)', { mode: 'align' }],
  ['5-point alignment + flip', { mode: 'align', flip: true }],
  ['5-point alignment (ArcFace template)', { mode: 'align', template: 'arcface' }],
  ['plain crop of the detection box', { mode: 'crop' }],
];
// master.csv lists the 38 matched pairs first: reorder so each of the 10 contiguous folds gets its share of both.
const order = balancedFoldOrder(pairs.map((p) => p.same), 10);
const ordered = order.map((i) => pairs[i]!);
console.log('\nverification, 10-fold protocol (insightface; folds balanced), distances = squared L2 of unit descriptors:');
console.log('variant'.padEnd(40) + 'accuracy        AUC     TAR@FAR=1e-2  TAR@FAR=1e-3  threshold (cosine)');
let embeddings = new Map<string, Float32Array>();
for (const [name, options] of variants) {
  const emb = await embedAll(options);
  if (name.startsWith('5-point alignment (visid')) embeddings = emb;
  // A pair whose photo has no face counts as "different" at the largest distance.
  const distances = ordered.map((p) => (emb.has(p.a) && emb.has(p.b) ? cosineToSquaredDistance(cosine(emb.get(p.a)!, emb.get(p.b)!)) : 4));
  const r = evaluateVerification(distances, ordered.map((p) => p.same), { folds: 10 });
  console.log(
    name.padEnd(40) +
      `${(100 * r.accuracy).toFixed(2)} ± ${(100 * r.accuracyStd).toFixed(2)}%  ${r.auc.toFixed(4)}  ${(100 * r.tarAtFar['0.01']!.tar).toFixed(1)}%         ` +
      `${(100 * r.tarAtFar['0.001']!.tar).toFixed(1)}%         ${(1 - r.threshold / 2).toFixed(4)}`,
  );
}

// Identification: identities are the connected components of the "same" pairs; other photos are their own identity.
const parent = new Map(files.map((f) => [f, f]));
const find = (f: string): string => (parent.get(f) === f ? f : find(parent.get(f)!));
for (const p of pairs) if (p.same) parent.set(find(p.a), find(p.b));
const identities = new Map<string, string[]>();
for (const f of files) (identities.get(find(f)) ?? identities.set(find(f), []).get(find(f))!).push(f);
const enrolled = [...identities.entries()].map(([id, members]) => ({ id, file: members[0]! }));
let probes = 0;
let correct = 0;
for (const [id, members] of identities) {
  for (const probe of members.slice(1)) {
    if (!embeddings.has(probe)) continue;
    probes++;
    let best = '';
    let bestScore = -Infinity;
    for (const e of enrolled) {
      const s = embeddings.has(e.file) ? cosine(embeddings.get(probe)!, embeddings.get(e.file)!) : -Infinity;
      if (s > bestScore) {
        bestScore = s;
        best = e.id;
      }
    }
    if (best === id) correct++;
  }
}
console.log(`\nidentification: ${identities.size} identities (${[...identities.values()].filter((m) => m.length > 1).length} with several photos), one photo enrolled each; rank-1 ${correct}/${probes} = ${((100 * correct) / probes).toFixed(1)}%`);

// Speed on 640×480 photos.
const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'visid-faces-'));
const photos: string[] = [];
for (const f of files) {
  const out = path.join(tmp, path.basename(f));
  await sharp(f).autoOrient().resize(640, 480, { fit: 'cover' }).jpeg({ quality: 90 }).toFile(out);
  photos.push(out);
}
const runs: number[] = [];
const imageRates: number[] = [];
for (let r = 0; r < 3; r++) {
  let faces = 0;
  const t = performance.now();
  for (const f of photos) {
    const image = await decodeRgb(f);
    const found = await system.detect(image);
    for (const face of found) await system.embedFace(image, face);
    faces += found.length;
  }
  const s = (performance.now() - t) / 1000;
  runs.push(faces / s);
  imageRates.push(photos.length / s);
}
console.log(`\nspeed (640×480 photos, detect + align + embed, tfjs wasm, one thread): median ${median(runs).toFixed(2)} faces/s, ${median(imageRates).toFixed(2)} photos/s`);
const poolRates: number[] = [];
for (let r = 0; r < 3; r++) {
  const t = performance.now();
  const found = await facesOfPhotos(photos, {}, os.availableParallelism());
  const faces = found.reduce((a, x) => a + (x instanceof Error ? 0 : x.faces.length), 0);
  poolRates.push(faces / ((performance.now() - t) / 1000));
}
console.log(`speed with the face worker pool (${os.availableParallelism()} workers, model loading included): median ${median(poolRates).toFixed(2)} faces/s (${(median(poolRates) / median(runs)).toFixed(2)}× one thread)`);
const pairRates: number[] = [];
for (let r = 0; r < 3; r++) {
  const t = performance.now();
  let n = 0;
  for (const p of pairs.slice(0, 40)) {
    await verifyFiles(system, path.join(tmp, path.basename(p.a)), path.join(tmp, path.basename(p.b))).catch(() => undefined);
    n++;
  }
  pairRates.push(n / ((performance.now() - t) / 1000));
}
console.log(`verification (two 640×480 photos per pair, nothing cached): median ${median(pairRates).toFixed(2)} pairs/s`);
console.log(`default threshold in the face model card: cosine ${FACE_MODEL.threshold}`);
await fs.rm(tmp, { recursive: true, force: true });
