// The face networks rebuilt as ONNX equal their TensorFlow.js originals (face-api's forward passes, and the
// human-models graph models run by tfjs-converter), and the LFW protocol pieces: the centre-face rule, the
// centred-crop fallback, View 1 pair files, and one DevTest fold's accuracy with the DevTrain threshold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { decodeRgb } from '../src/images/decode.js';
import { faceApiModelDir } from '../src/models/mobilenet-v1.js';
import { readTfjsWeights } from '../src/models/tfjs-weights.js';
import { readTfjsGraphModel, tfjsGraphToOnnx } from '../src/models/tfjs-graph-onnx.js';
import { OnnxGraph } from '../src/formats/onnx-graph.js';
import { buildFaceDetectorModel, buildFaceLandmarkModel, buildFaceResNetModel, decodeSsdBoxes, nonMaxSuppression, ssdAnchors } from '../src/jobs/faces/face-api-onnx.js';
import { loadFaceApi } from '../src/jobs/faces/runtime.js';
import { FALLBACK_FACE_FRACTION, nearestCentreFace } from '../src/jobs/faces/engine.js';
import { RECOGNIZERS, humanModelsDir } from '../src/jobs/faces/recognizers.js';
import { cosine, faceEngine, protocolFaces } from '../src/jobs/faces/service.js';
import { readLfwPairFile } from '../src/jobs/faces/pairs.js';
import { cosineToSquaredDistance } from '../src/eval/verification.js';
import { tempDir, writeSolid } from './helpers.js';

const SHARED = path.resolve(process.env['VISID_SHARED'] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../shared'));
const DEEPFACE = path.join(SHARED, 'data', 'faces-deepface');
const LFW = path.join(SHARED, 'data', 'lfw');
const SKIP_FACES = existsSync(path.join(DEEPFACE, 'img1.jpg')) ? false : `shared face photos not found at ${DEEPFACE} (set VISID_SHARED)`;
const SKIP_LFW = existsSync(path.join(LFW, 'pairsDevTest.txt')) ? false : `LFW not found at ${LFW} (set VISID_SHARED)`;

type Tf = Awaited<ReturnType<typeof loadFaceApi>>['tf'];

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A real photo's pixels at size×size: float NHWC for tfjs and NCHW for onnxruntime. */
async function photoTensor(file: string, size: number): Promise<{ nhwc: Float32Array; nchw: Float32Array }> {
  const img = await decodeRgb(file, { width: size, height: size, resize: 'exact' });
  const nhwc = Float32Array.from(img.data);
  const nchw = new Float32Array(nhwc.length);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) for (let c = 0; c < 3; c++) nchw[(c * size + y) * size + x] = nhwc[(y * size + x) * 3 + c]!;
  return { nhwc, nchw };
}

async function onnxRun(bytes: Uint8Array, input: Float32Array, dims: number[]): Promise<Record<string, Float32Array>> {
  const s = await ort.InferenceSession.create(bytes);
  const r = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', input, dims) });
  await s.release();
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.data as Float32Array]));
}

test('SSD anchors for a 512 input are face-api\'s Output/extra_dim; other sizes match the detector\'s outputs', async () => {
  const weights = await readTfjsWeights(path.join(faceApiModelDir(), 'ssd_mobilenetv1_model-weights_manifest.json'));
  const extra = weights.get('Output/extra_dim')!.values;
  const anchors = ssdAnchors(512);
  assert.equal(anchors.length, extra.length);
  assert.ok(maxDiff(anchors, extra) < 1e-4, `anchors differ by ${maxDiff(anchors, extra)}`);
  // 256: grids 16, 8, 4, 2, 1, 1 → 16²·3 + (64 + 16 + 4 + 1 + 1)·6 anchors.
  assert.equal(ssdAnchors(256).length / 4, 16 * 16 * 3 + (64 + 16 + 4 + 1 + 1) * 6);
});

test('face-api\'s three networks as ONNX equal face-api\'s tfjs forward passes to 1e-4 on a real photo', { skip: SKIP_FACES }, async () => {
  const api = await loadFaceApi();
  const tf = api.tf as unknown as Tf;
  const photo = path.join(DEEPFACE, 'img1.jpg');

  const det = await photoTensor(photo, 512);
  const onnxDet = await onnxRun((await buildFaceDetectorModel()).onnx, det.nchw, [1, 3, 512, 512]);
  const input = tf.tensor4d(det.nhwc, [1, 512, 512, 3]);
  const ref = api.nets.ssdMobilenetv1.forwardInput(await api.toNetInput(input as never));
  const refScores = await ref.scores[0]!.data();
  const refBoxes = await ref.boxes[0]!.data();
  assert.ok(maxDiff(onnxDet['scores']!, refScores) < 1e-4, `scores differ by ${maxDiff(onnxDet['scores']!, refScores)}`);
  const boxes = decodeSsdBoxes(onnxDet['box_encodings']!, ssdAnchors(512));
  assert.ok(maxDiff(boxes, refBoxes) < 1e-4, `boxes differ by ${maxDiff(boxes, refBoxes)}`);
  // The photo's face is found, once, by both.
  const keep = nonMaxSuppression(boxes, onnxDet['scores']!, 100, 0.5, 0.5);
  assert.equal(keep.length, 1);

  const lm = await photoTensor(photo, 112);
  const onnxLm = await onnxRun((await buildFaceLandmarkModel()).onnx, lm.nchw, [1, 3, 112, 112]);
  const refLm = await (api.nets.faceLandmark68Net.runNet(await api.toNetInput(tf.tensor4d(lm.nhwc, [1, 112, 112, 3]) as never)) as unknown as { data(): Promise<Float32Array> }).data();
  assert.ok(maxDiff(onnxLm['landmarks']!, refLm) < 1e-4, `landmarks differ by ${maxDiff(onnxLm['landmarks']!, refLm)}`);

  const rec = await photoTensor(photo, 150);
  const onnxRec = await onnxRun((await buildFaceResNetModel()).onnx, rec.nchw, [1, 3, 150, 150]);
  const refRec = await (api.nets.faceRecognitionNet.forwardInput(await api.toNetInput(tf.tensor4d(rec.nhwc, [1, 150, 150, 3]) as never)) as unknown as { data(): Promise<Float32Array> }).data();
  assert.ok(maxDiff(onnxRec['embedding']!, refRec) < 1e-4, `descriptors differ by ${maxDiff(onnxRec['embedding']!, refRec)}`);
});

/** A human-models graph model run by tfjs-converter, from its files. */
async function tfjsGraphModel(tf: Tf, file: string) {
  const json = JSON.parse(await fs.readFile(file, 'utf8'));
  const shards = await Promise.all((json.weightsManifest as Array<{ paths: string[] }>).flatMap((g) => g.paths).map((p) => fs.readFile(path.join(path.dirname(file), p))));
  const buf = Buffer.concat(shards);
  const io = (tf as unknown as { io: { fromMemory(a: unknown): unknown } }).io;
  const load = (tf as unknown as { loadGraphModel(h: unknown): Promise<{ execute(x: unknown, out: string): { data(): Promise<Float32Array> } }> }).loadGraphModel;
  return load(io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights), weightData: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength), format: json.format }));
}

test('human-models recognizers as ONNX (faceres, faceres-deep, mobilefacenet) equal tfjs-converter\'s forward to 1e-4', { skip: SKIP_FACES }, async () => {
  const api = await loadFaceApi();
  const tf = api.tf as unknown as Tf;
  const cases: Array<{ name: 'faceres' | 'faceres-deep' | 'mobilefacenet'; file: string; node: string; size: number; pre: (x: Float32Array) => Float32Array }> = [
    // FaceRes gets BGR − 116 inside the ONNX model; MobileFaceNet (x − 127.5)/128.
    { name: 'faceres', file: 'faceres.json', node: 'global_pooling/Mean', size: 224, pre: (x) => x.map((_, i) => x[i - (i % 3) + 2 - (i % 3)]! - 116) },
    { name: 'faceres-deep', file: 'faceres-deep.json', node: 'global_pooling/Mean', size: 224, pre: (x) => x.map((_, i) => x[i - (i % 3) + 2 - (i % 3)]! - 116) },
    { name: 'mobilefacenet', file: 'mobilefacenet.json', node: 'embeddings', size: 112, pre: (x) => x.map((v) => (v - 127.5) / 128) },
  ];
  for (const c of cases) {
    const px = await photoTensor(path.join(DEEPFACE, 'img2.jpg'), c.size);
    const onnx = await onnxRun((await RECOGNIZERS[c.name].build()).onnx, px.nchw, [1, 3, c.size, c.size]);
    const model = await tfjsGraphModel(tf, path.join(humanModelsDir(), c.file));
    const ref = await model.execute(tf.tensor4d(c.pre(px.nhwc), [1, c.size, c.size, 3]), c.node).data();
    const scale = Math.max(...Array.from(ref, Math.abs));
    assert.equal(onnx['embedding']!.length, RECOGNIZERS[c.name].dim, c.name);
    assert.ok(maxDiff(onnx['embedding']!, ref) < 1e-4 * Math.max(1, scale), `${c.name}: differs by ${maxDiff(onnx['embedding']!, ref)}`);
  }
});

test('the tfjs→ONNX converter names an op it cannot convert', async () => {
  const { model, weights } = await readTfjsGraphModel(path.join(humanModelsDir(), 'mobilefacenet.json'));
  const broken = { ...model, modelTopology: { node: model.modelTopology.node.map((n) => (n.name === 'embeddings/Rsqrt' ? { ...n, op: 'Erfinv' } : n)) } };
  assert.throws(() => tfjsGraphToOnnx(broken, weights, { name: 'x', outputs: [{ node: 'embeddings', as: 'e' }], input: { name: 'image', height: 112, width: 112 } }), /node 'embeddings\/Rsqrt' \(Erfinv\): op not supported/);
  assert.throws(() => tfjsGraphToOnnx(model, weights, { name: 'x', outputs: [{ node: 'no/such/node', as: 'e' }], input: { name: 'image', height: 112, width: 112 } }), /the graph has no node 'no\/such\/node'/);
  // The graph builder is the one the rest of visid uses.
  assert.ok(new OnnxGraph('x'));
});

test('the centre-face rule picks the face whose box centre is nearest the image centre', () => {
  const face = (x: number, y: number, s: number) => ({ box: { x, y, width: s, height: s }, score: 0.9 });
  // 250×250 photo: a big face off-centre, a small one at the centre, a third in a corner.
  const faces = [face(0, 0, 120), face(110, 105, 40), face(200, 200, 50)];
  assert.equal(nearestCentreFace(faces, 250, 250), faces[1]);
  assert.equal(nearestCentreFace([], 250, 250), undefined);
});

test('LFW protocol on real photos: the centred face among several, the centred-crop fallback where none is found', { skip: SKIP_LFW || SKIP_FACES }, async (t) => {
  const engine = await faceEngine();
  const dir = tempDir(t);
  // A face photo pasted small into the corner of a real LFW photo: two faces, the protocol keeps the centred one.
  const lfwPhoto = path.join(LFW, 'images', 'Aaron_Eckhart', 'Aaron_Eckhart_0001.jpg');
  const corner = await sharp(path.join(DEEPFACE, 'img1.jpg')).autoOrient().resize(90, 90, { fit: 'cover' }).toBuffer();
  const two = path.join(dir, 'two.jpg');
  await sharp(lfwPhoto).composite([{ input: corner, left: 0, top: 0 }]).jpeg({ quality: 95 }).toFile(two);
  const blank = await writeSolid(path.join(dir, 'blank.jpg'), [128, 128, 128], 250, 250);
  const [alone, both, none] = (await protocolFaces(engine, [lfwPhoto, two, blank])) as Array<Exclude<Awaited<ReturnType<typeof protocolFaces>>[number], Error>>;
  t.diagnostic(`composite: ${both!.detected} faces, centre x ${both!.face.box.x + both!.face.box.width / 2}, cos alone/both ${cosine(alone!.embedding, both!.embedding)}`);
  assert.ok(both!.detected >= 2, `faces found in the composite: ${both!.detected}`);
  assert.equal(both!.fallback, false);
  const centre = both!.face.box.x + both!.face.box.width / 2;
  assert.ok(Math.abs(centre - 125) < 40, `the chosen face is centred (x ${centre})`);
  assert.ok(cosine(alone!.embedding, both!.embedding) > 0.95, 'the same face as in the photo alone');
  // No face in a grey frame: the centred crop of the expected size stands in, and it is reported.
  assert.equal(none!.fallback, true);
  assert.equal(none!.detected, 0);
  const side = FALLBACK_FACE_FRACTION * 250;
  assert.ok(Math.abs(none!.face.box.width - side) < 1e-9 && Math.abs(none!.face.box.x - (250 - side) / 2) < 1e-9);
  assert.equal(none!.face.landmarks.length, 68);
  assert.ok(Math.abs(Math.hypot(...none!.embedding) - 1) < 1e-5);
  // On a real face the fallback crop gives nearly the descriptor the detected face gives.
  const [forced] = (await protocolFaces(engine, [lfwPhoto], { minScore: 0.9999 })) as Array<Exclude<Awaited<ReturnType<typeof protocolFaces>>[number], Error>>;
  assert.equal(forced!.fallback, true);
  t.diagnostic(`fallback vs detected cos ${cosine(forced!.embedding, alone!.embedding)}`);
  assert.ok(cosine(forced!.embedding, alone!.embedding) > 0.9, `fallback vs detected: ${cosine(forced!.embedding, alone!.embedding)}`);
});

test('LFW View 1 pair files: a count header, matched pairs first; View 2 headers give the folds', { skip: SKIP_LFW }, async (t) => {
  const dev = await readLfwPairFile(path.join(LFW, 'pairsDevTest.txt'), path.join(LFW, 'images'));
  assert.equal(dev.pairs.length, 1000);
  assert.equal(dev.folds, undefined);
  assert.equal(dev.pairs.filter((p) => p.same).length, 500);
  assert.ok(dev.pairs.slice(0, 500).every((p) => p.same));
  const dir = tempDir(t);
  await fs.writeFile(path.join(dir, 'pairs.txt'), '10\t300\nA\t1\t2\n');
  assert.equal((await readLfwPairFile(path.join(dir, 'pairs.txt'), '/x')).folds, 10);
});

test('one DevTest fold (20 matched + 20 mismatched pairs) with the threshold chosen on DevTrain: at least 95 % right', { skip: SKIP_LFW }, async (t) => {
  const { pairs } = await readLfwPairFile(path.join(LFW, 'pairsDevTest.txt'), path.join(LFW, 'images'));
  const fold = [...pairs.slice(0, 20), ...pairs.slice(500, 520)];
  const engine = await faceEngine();
  const files = [...new Set(fold.flatMap((p) => [p.a, p.b]))];
  const found = await protocolFaces(engine, files);
  const emb = new Map(files.map((f, i) => [f, (found[i] as Exclude<(typeof found)[number], Error>).embedding]));
  const right = fold.filter((p) => (cosine(emb.get(p.a)!, emb.get(p.b)!) >= engine.recognizer.threshold) === p.same).length;
  t.diagnostic(`DevTest fold ${right}/${fold.length} right`);
  assert.ok(right / fold.length >= 0.95, `${right}/${fold.length} right`);
  assert.ok(fold.every((p) => cosineToSquaredDistance(cosine(emb.get(p.a)!, emb.get(p.b)!)) >= -1e-6));
});
