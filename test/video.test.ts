// Video indexing (seed 002): LRAP and thresholds by hand, the LADI label set and soft labels, clip aggregation and ranking, run formats, real ffmpeg decoding, the index on disk, the classifier ONNX.
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import sharp from 'sharp';
import { labelRankingAveragePrecision } from '../src/api.js';
import { f1Thresholds } from '../src/eval/multilabel.js';
import { ladiLabelSet, readLabelSet, classIndex, noneClassWeights } from '../src/jobs/video/label-set.js';
import { readSoftLabels, splitLabelCell } from '../src/jobs/video/annotations.js';
import { aggregateClip, rankClips, rankingTsv, trecRun, evaluateClipRankings, parseAggregation } from '../src/jobs/video/clips.js';
import { decodeFrames, probeVideo, writeSlideshow } from '../src/jobs/video/ffmpeg.js';
import { VideoIndex, fuseVideoIndexes } from '../src/jobs/video/video-index.js';
import { frameTruth, readShotTruth, clipTruth } from '../src/jobs/video/truth.js';
import { buildHead } from '../src/models/networks.js';
import { multiLabelClassifierToOnnx } from '../src/models/export-onnx.js';
import { FrameClassifier } from '../src/jobs/video/classifier.js';
import { initTf, tf } from '../src/tf/runtime.js';
import { trainMultiLabelHead } from '../src/train/multilabel.js';
import { mulberry32 } from '../src/util/random.js';
import { tempDir, writeChannelMeanModel } from './helpers.js';

const close = (a: number, b: number, tol = 1e-6, msg = '') => assert.ok(Math.abs(a - b) <= tol, `${msg} ${a} vs ${b}`);

test('LRAP against hand values: scikit-learn’s documented example, ties ranked above, all/none relevant rows score 1', () => {
  // sklearn docs: y_true [[1,0,0],[0,0,1]], y_score [[0.75,0.5,1],[1,0.2,0.1]] → 0.416…
  // Row 1: the relevant label (0.75) has 2 scores ≥ it, 1 relevant → 1/2. Row 2: 0.1 has 3 ≥ it → 1/3.
  close(labelRankingAveragePrecision([[1, 0, 0], [0, 0, 1]], [[0.75, 0.5, 1], [1, 0.2, 0.1]]), (1 / 2 + 1 / 3) / 2);
  // Ties: label 0 (0.5) ties label 1 (0.5, irrelevant) and trails 0.9 → 1/3; label 2 (0.2) → 2 relevant of 4 → 1/2.
  close(labelRankingAveragePrecision([[1, 0, 1, 0]], [[0.5, 0.5, 0.2, 0.9]]), (1 / 3 + 1 / 2) / 2);
  // All-tied scores: every label has all 4 at or above it → 2/4 for each relevant one.
  close(labelRankingAveragePrecision([[1, 0, 1, 0]], [[0.3, 0.3, 0.3, 0.3]]), 0.5);
  // Perfect ranking → 1; no relevant label and all relevant → 1 each.
  close(labelRankingAveragePrecision([[0, 1, 1]], [[0.1, 0.8, 0.9]]), 1);
  close(labelRankingAveragePrecision([[0, 0, 0], [1, 1, 1], [1, 0, 0]], [[0.2, 0.1, 0], [0, 1, 2], [0, 1, 2]]), (1 + 1 + 1 / 3) / 3);
  assert.throws(() => labelRankingAveragePrecision([[1, 0]], [[0.5]]), /row 0/);
  assert.throws(() => labelRankingAveragePrecision([[1, 0]], [[NaN, 0]]), /not finite/);
  assert.throws(() => labelRankingAveragePrecision([], []), /no samples/);
});

test('per-class F1 thresholds: the cut that maximises F1, between distinct scores', () => {
  // Class 0 scores 0.9 (pos), 0.8 (neg), 0.7 (pos), 0.1 (neg): F1 after 1 = 2/3, after 2 = 1/2, after 3 = 4/5, after 4 = 2/3 → cut between 0.7 and 0.1 = 0.4.
  // Class 1 has no positive → the fallback.
  const t = f1Thresholds([[1, 0], [0, 0], [1, 0], [0, 0]], [[0.9, 0.3], [0.8, 0.2], [0.7, 0.1], [0.1, 0]], { fallback: 0.5 });
  close(t[0]!, 0.4);
  assert.equal(t[1], 0.5);
});

test('LADI label set: Table 1’s 32 features in 5 categories + 5 none classes, with their counts; names resolve', async (t) => {
  const set = ladiLabelSet();
  assert.equal(set.names.length, 37);
  assert.equal(set.classes.filter((c) => c.none).length, 5);
  assert.deepEqual(set.classes.filter((c) => c.none).map((c) => c.name), ['damage: none', 'environment: none', 'infrastructure: none', 'vehicle: none', 'water: none']);
  assert.equal(set.classes.find((c) => c.name === 'damage: flooding / water damage')!.count, 33120);
  assert.equal(set.classes.find((c) => c.name === 'environment: lava')!.count, 67);
  assert.equal(set.classes.find((c) => c.name === 'damage: none')!.count, 98412);
  assert.equal(set.names[classIndex(set, 'flooding')], 'water: flooding');
  assert.equal(set.names[classIndex(set, 'Water:Flooding')], 'water: flooding');
  assert.equal(set.names[classIndex(set, 'smoke / fire')], 'damage: smoke / fire');
  assert.throws(() => classIndex(set, 'none'), /names 5 classes/);
  assert.throws(() => classIndex(set, 'tsunami'), /unknown feature 'tsunami'/);
  assert.deepEqual(noneClassWeights(set, 0.1).filter((w) => w !== 1), [0.1, 0.1, 0.1, 0.1, 0.1]);

  const dir = tempDir(t);
  await fs.writeFile(path.join(dir, 'set.txt'), '# two categories\nsky: cloud\t12\nsky: none, 3\nground: rock\n');
  const custom = await readLabelSet(path.join(dir, 'set.txt'));
  assert.deepEqual(custom.classes, [
    { name: 'sky: cloud', category: 'sky', none: false, count: 12 },
    { name: 'sky: none', category: 'sky', none: true, count: 3 },
    { name: 'ground: rock', category: 'ground', none: false, count: undefined },
  ]);
  await fs.writeFile(path.join(dir, 'dup.txt'), 'a\na\n');
  await assert.rejects(readLabelSet(path.join(dir, 'dup.txt')), /'a' appears twice/);
});

test('soft labels from a LADI-style annotation file: seed 002 Fig. 1 (flood/water 1.0, smoke/fire 0.25, damage: none 0.25)', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'responses.tsv');
  // Six annotators of one image, LADI's img_url/WorkerId/Answer columns with a category column; a second image by list.
  await fs.writeFile(file, [
    'img_url\tWorkerId\tcategory\tAnswer',
    'https://ladi.example/images/A.jpg\tw1\tdamage\tflooding / water damage',
    'https://ladi.example/images/A.jpg\tw2\tdamage\tflooding / water damage',
    'https://ladi.example/images/A.jpg\tw3\tdamage\t[\'flooding / water damage\', \'smoke / fire\']',
    'https://ladi.example/images/A.jpg\tw4\tdamage\tflooding / water damage',
    'https://ladi.example/images/A.jpg\tw5\tdamage\tnone',
    'https://ladi.example/images/B.jpg\tw1\t\troad|water: flooding',
  ].join('\n') + '\n');
  const set = ladiLabelSet();
  const [a, b] = await readSoftLabels(file, set);
  assert.equal(a!.image, 'https://ladi.example/images/A.jpg');
  const value = (x: Float32Array, name: string) => x[set.names.indexOf(name)];
  assert.equal(value(a!.target, 'damage: flooding / water damage'), 1);
  assert.equal(value(a!.target, 'damage: smoke / fire'), 0.25);
  assert.equal(value(a!.target, 'damage: none'), 0.25);
  assert.equal(a!.target.reduce((s, v) => s + v, 0), 1.5);
  assert.equal(value(b!.target, 'infrastructure: road'), 1);
  assert.equal(value(b!.target, 'water: flooding'), 1);
  assert.deepEqual(splitLabelCell("['a b', \"c\"]"), ['a b', 'c']);
  await fs.writeFile(file, 'image,label\nx.jpg,tsunami\n');
  await assert.rejects(readSoftLabels(file, set), /responses\.tsv:2: unknown label 'tsunami'/);
  await fs.writeFile(file, 'picture,label\nx.jpg,road\n');
  await assert.rejects(readSoftLabels(file, set), /needs an image column/);
});

test('clip scores: max (seed), mean and top-k mean of frame scores by hand; ranking, ties by id, TSV and TREC lines', () => {
  // 3 frames × 2 classes.
  const frames = Float32Array.from([0.1, 0.9, 0.7, 0.2, 0.4, 0.3]);
  assert.deepEqual([...aggregateClip(frames, 3, 2)].map((v) => +v.toFixed(6)), [0.7, 0.9]);
  assert.deepEqual([...aggregateClip(frames, 3, 2, { kind: 'mean' })].map((v) => +v.toFixed(6)), [0.4, 0.466667]);
  assert.deepEqual([...aggregateClip(frames, 3, 2, parseAggregation('top2'))].map((v) => +v.toFixed(6)), [0.55, 0.6]);
  assert.throws(() => aggregateClip(frames, 2, 2), /6 frame scores for 2 frames/);
  assert.throws(() => parseAggregation('median'), /unknown clip aggregation/);

  const ids = ['c', 'a', 'b'];
  const scores = [Float32Array.from([0.5]), Float32Array.from([0.5]), Float32Array.from([0.9])];
  const ranked = rankClips(ids, scores, 0);
  assert.deepEqual(ranked.map((r) => r.clip), ['b', 'a', 'c']);
  assert.deepEqual(rankClips(ids, scores, 0, 2).map((r) => r.clip), ['b', 'a']);
  assert.equal(rankingTsv('water: flooding', ranked.slice(0, 1)), 'water: flooding\t1\tb\t0.900000\t\n');
  assert.equal(rankingTsv('f', [{ clip: 'b', score: 0.9, detected: true }, { clip: 'a', score: 0.5, detected: false }]), 'f\t1\tb\t0.900000\tyes\nf\t2\ta\t0.500000\tno\n');
  assert.equal(trecRun(33, ranked.slice(0, 2), 'run1'), '33 Q0 b 1 0.900000 run1\n33 Q0 a 2 0.500000 run1\n');
  assert.throws(() => trecRun(1, ranked, 'my run'), /must not contain spaces/);

  // AP by hand: feature f ranked b (pos), a (neg), c (pos) → (1/1 + 2/3)/2; feature g has no positive clip and is skipped.
  const ev = evaluateClipRankings(ids, scores.map((s) => Float32Array.from([s[0]!, 0])), ['f', 'g'], new Map([['b', new Set(['f'])], ['c', new Set(['f'])], ['a', new Set()]]));
  assert.deepEqual(ev.perFeature.map((f) => f.feature), ['f']);
  close(ev.mAP, (1 + 2 / 3) / 2);
  assert.throws(() => evaluateClipRankings(ids, scores, ['f'], new Map([['zz', new Set(['f'])]])), /zz: clip of the ground truth is not in the index/);
});

async function photo(dir: string, name: string, rgb: [number, number, number], pattern: boolean): Promise<string> {
  // A real picture: a colour field with a bright square (its place differs per photo), so shots are told apart.
  const file = path.join(dir, name);
  const square = await sharp({ create: { width: 40, height: 40, channels: 3, background: { r: 255 - rgb[0], g: 255 - rgb[1], b: 255 - rgb[2] } } }).png().toBuffer();
  await sharp({ create: { width: 160, height: 120, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
    .composite([{ input: square, left: pattern ? 10 : 110, top: 40 }])
    .png()
    .toFile(file);
  return file;
}

test('ffmpeg from npm: a slideshow of real pictures decodes at 10 fps with the right times and pixels, or one frame per shot', async (t) => {
  const dir = tempDir(t);
  const imgs = [await photo(dir, 'r.png', [200, 30, 30], true), await photo(dir, 'g.png', [30, 200, 30], false), await photo(dir, 'b.png', [30, 30, 200], true)];
  const video = path.join(dir, 'clip.mp4');
  await writeSlideshow(imgs, [2, 1, 1.5], video, { width: 160, height: 120, fps: 25, zoom: false });
  const info = await probeVideo(video);
  assert.deepEqual([info.width, info.height, info.fps], [160, 120, 25]);
  close(info.duration!, 4.5, 0.05, 'duration');

  const frames: Array<{ time: number; mean: number[] }> = [];
  for await (const f of decodeFrames(video, { width: 32, height: 24, fps: 10 })) {
    assert.equal(f.rgb.length, 32 * 24 * 3);
    const mean = [0, 1, 2].map((c) => f.rgb.filter((_, i) => i % 3 === c).reduce((a, b) => a + b, 0) / (32 * 24));
    frames.push({ time: f.time, mean });
  }
  assert.equal(frames.length, 45);
  frames.forEach((f, i) => close(f.time, i / 10, 1e-6, `time of frame ${i}`));
  // Each frame's dominant channel is its shot's colour: red for t < 2, green for 2 ≤ t < 3, blue after.
  const dominant = (m: number[]) => m.indexOf(Math.max(...m));
  frames.forEach((f) => assert.equal(dominant(f.mean), f.time < 2 ? 0 : f.time < 3 ? 1 : 2, `frame at ${f.time}`));

  const shots: number[] = [];
  for await (const f of decodeFrames(video, { width: 32, height: 24, shots: 0.3 })) shots.push(f.time);
  assert.equal(shots.length, 3);
  [0, 2, 3].forEach((s, i) => close(shots[i]!, s, 0.05, `shot ${i}`));

  // Stopping early ends ffmpeg instead of hanging.
  let n = 0;
  for await (const _ of decodeFrames(video, { width: 32, height: 24, fps: 10 })) if (++n === 3) break;
  assert.equal(n, 3);

  // A truncated file is an error naming it; so is a missing one.
  const bytes = await fs.readFile(video);
  const broken = path.join(dir, 'broken.mp4');
  await fs.writeFile(broken, bytes.subarray(0, 200));
  await assert.rejects(async () => {
    for await (const _ of decodeFrames(broken, { width: 8, height: 8 })) void _;
  }, /broken\.mp4: /);
  await assert.rejects(probeVideo(path.join(dir, 'none.mp4')), /video file not found/);
});

test('the classifier ONNX (backbone + head + sigmoid) equals sigmoid of the tfjs head on the backbone’s features', async (t) => {
  await initTf('wasm');
  const dir = tempDir(t);
  const backbone = await writeChannelMeanModel(dir);
  const net = buildHead({ type: 'head', input: 3, kind: 'linear', embeddingDim: 4, seed: 3 });
  const bytes = multiLabelClassifierToOnnx(net, new Uint8Array(await fs.readFile(backbone)), 'clf');
  const file = path.join(dir, 'clf.onnx');
  await fs.writeFile(file, bytes);
  await fs.writeFile(path.join(dir, 'clf.json'), JSON.stringify({ name: 'clf', inputSize: [8, 8], mean: [0, 0, 0], std: [1, 1, 1], resize: 'exact', outputName: 'visid_scores', outputDim: 4, task: 'multi-label', classes: ['a: x', 'a: y', 'b: z', 'a: none'] }));
  const clf = await FrameClassifier.load(file);
  try {
    const frame = new Uint8Array(8 * 8 * 3);
    for (let i = 0; i < 64; i++) frame.set([255, 51, 102], i * 3);
    const scores = await clf.classify([frame]);
    const expected = tf.tidy(() => tf.sigmoid(net.apply(tf.tensor2d([[1, 0.2, 0.4]]), false)).dataSync());
    for (let c = 0; c < 4; c++) close(scores[c]!, expected[c]!, 1e-5, `class ${c}`);
    await assert.rejects(clf.classify([new Uint8Array(10)]), /frame has 10 bytes/);
  } finally {
    await clf.close();
  }
  await assert.rejects(FrameClassifier.load(backbone), /not a multi-label classifier/);
});

test('a multi-label head learns soft targets: validation LRAP rises well above the untrained head', async (t) => {
  await initTf('wasm');
  // Features: class c present ⇔ feature c is high (plus noise); targets are soft votes (1 or 0.5).
  const random = mulberry32(5);
  const make = (n: number) => {
    const features = new Float32Array(n * 6);
    const targets = new Float32Array(n * 4);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 4; c++) {
        const on = random() < 0.35;
        targets[i * 4 + c] = on ? (random() < 0.3 ? 0.5 : 1) : 0;
        features[i * 6 + c] = (on ? 1 : -1) + 0.6 * (random() - 0.5);
      }
      features[i * 6 + 4] = random();
      features[i * 6 + 5] = random();
    }
    return { features, targets, dim: 6, classes: 4 };
  };
  const train = make(300);
  const val = make(100);
  const res = await trainMultiLabelHead(train, { loss: { name: 'focal', gamma: 2, outlierRemoval: true }, epochs: 15, lr: 0.05, val, noneClasses: [false, false, false, true], seed: 2 });
  const untrained = await trainMultiLabelHead(train, { loss: { name: 'bce' }, epochs: 1, lr: 1e-9, val, seed: 2 });
  t.diagnostic(`LRAP trained ${res.valLrap}, untrained ${untrained.valLrap}; loss ${res.history[0]!.loss} → ${res.history[14]!.loss}`);
  assert.ok(res.valLrap! > 0.95, `trained LRAP ${res.valLrap}`);
  assert.ok(res.valLrap! > untrained.valLrap! + 0.1, `trained ${res.valLrap} vs untrained ${untrained.valLrap}`);
  assert.equal(res.thresholds.length, 4);
  assert.ok(res.history.length === 15 && res.history[14]!.loss < res.history[0]!.loss);
  await assert.rejects(trainMultiLabelHead({ ...train, targets: train.targets.map((v, i) => (i === 7 ? 1.5 : v)) }, { loss: { name: 'bce' } }), /sample 1, class 3 is 1.5/);
});

test('the video index on disk: append, reopen, fuse 2:1, frame truth; damage is detected and extra rows are dropped', async (t) => {
  const dir = tempDir(t);
  const a = path.join(dir, 'a');
  const ix = await VideoIndex.create(a, { classes: ['f', 'g'], model: { file: 'm.onnx', sha256: 'x' }, sampling: { fps: 10 } });
  ix.append([{ id: 'v1', video: '/v1.mp4', frames: 2, times: [0, 0.1] }, { id: 'v2', video: '/v2.mp4', frames: 1, times: [0] }], Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.9, 0.0]));
  await ix.save();
  const again = await VideoIndex.open(a);
  assert.deepEqual(again.clips.map((c) => [c.id, c.start, c.frames]), [['v1', 0, 2], ['v2', 2, 1]]);
  assert.deepEqual(again.search(0, 5).map((r) => r.clip), ['v2', 'v1']);
  assert.throws(() => again.append([{ id: 'v1', video: '/v1.mp4', frames: 1, times: [0] }], Float32Array.from([0, 0])), /already in the index/);

  const b = path.join(dir, 'b');
  const ib = await VideoIndex.create(b, { classes: ['f', 'g'], model: { file: 'n.onnx', sha256: 'y' }, sampling: { fps: 10 } });
  ib.append(again.clips.map(({ start: _s, ...c }) => c), Float32Array.from([0.4, 0.8, 0.6, 0.1, 0.0, 0.3]));
  await ib.save();
  const fused = await fuseVideoIndexes([a, b], [2, 1], path.join(dir, 'fused'));
  // (2·0.1 + 1·0.4)/3 = 0.2, (2·0.9 + 0)/3 = 0.6.
  close(fused.scores[0]!, 0.2, 1e-6);
  close(fused.scores[4]!, 0.6, 1e-6);

  await fs.writeFile(path.join(dir, 'truth.csv'), 'clip,start,end,labels\nv1,0,0.05,f\nv1,0.05,1,f|g\nv2,,,g\n');
  const shots = await readShotTruth(path.join(dir, 'truth.csv'), ['f', 'g']);
  assert.deepEqual([...clipTruth(shots).get('v1')!], ['f', 'g']);
  const ft = frameTruth(again.clips, shots, ['f', 'g']);
  assert.deepEqual(ft.rows, [0, 1]);
  assert.deepEqual(ft.labels.map((l) => [...l]), [[1, 0], [1, 1]]);
  await fs.writeFile(path.join(dir, 'bad.csv'), 'clip,labels\nv1,h\n');
  await assert.rejects(readShotTruth(path.join(dir, 'bad.csv'), ['f', 'g']), /bad\.csv:2: unknown feature 'h'/);

  // A crash between the scores write and the clip list write leaves extra rows: they are dropped on open.
  const meta = JSON.parse(await fs.readFile(path.join(a, 'index.json'), 'utf8'));
  meta.rows = 2;
  meta.clips = meta.clips.slice(0, 1);
  await fs.writeFile(path.join(a, 'index.json'), JSON.stringify(meta));
  assert.equal((await VideoIndex.open(a)).scores.length, 4);
  // Fewer rows than the clips name is damage.
  meta.rows = 5;
  meta.clips[0].frames = 5;
  meta.clips[0].times = [0, 1, 2, 3, 4];
  await fs.writeFile(path.join(a, 'index.json'), JSON.stringify(meta));
  await assert.rejects(VideoIndex.open(a), /holds 3 frames, the index names 5/);
  await assert.rejects(VideoIndex.open(path.join(dir, 'nothing')), /not a video index/);
});
