// Benchmark: video indexing (seed 002). Quality — the loss variants of Table 2 and a 2:1 fusion (Table 3) on the demo
// clips (clip mAP, frame LRAP); speed — frames/s of decode + embed + classify on a 1-minute 720p video at 10 fps, and
// peak memory for 1 and 3 minutes of video (it must not grow with length). Each measurement runs in a fresh process.
// Usage: node dist/bench/video.js [--runs 3] [--clips 24] [--epochs 30] [--quality-only | --speed-only]   (people photos: $VISID_SHARED/data/faces-deepface)
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writeVideoDemo } from '../src/jobs/video/demo.js';
import { trainVideoClassifier } from '../src/jobs/video/train.js';
import { indexVideos, fuseVideoIndexes, VideoIndex } from '../src/jobs/video/video-index.js';
import { evaluateVideoIndex } from '../src/jobs/video/evaluate.js';
import { decodeFrames, ffmpegPath, probeVideo, writeSlideshow } from '../src/jobs/video/ffmpeg.js';
import { FrameClassifier } from '../src/jobs/video/classifier.js';
import { defaultModelPath, untrainedModelPath } from '../src/models/default-files.js';
import type { MultiLabelLossSpec } from '../src/train/multilabel.js';
import { helpAndExit, flags, median, peakRssKb } from './common.js';

helpAndExit(import.meta.url);

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const opts = flags(process.argv.slice(2));

// Child mode: one measurement in a fresh process, printed as JSON.
if (opts['measure']) {
  const video = opts['measure'];
  const t0 = performance.now();
  let frames = 0;
  if (opts['decode-only']) {
    const clf = await FrameClassifier.load(opts['model']!);
    const { width, height, resize } = clf.input;
    await clf.close();
    for await (const _ of decodeFrames(video, { width, height, resize, fps: 10 })) frames++;
  } else {
    const out = path.join(path.dirname(video), `index-${process.pid}`);
    await fs.rm(out, { recursive: true, force: true });
    frames = (await indexVideos([video], opts['model']!, out, { quiet: true, threads: opts['threads'] ? Number(opts['threads']) : undefined })).frames;
    await fs.rm(out, { recursive: true, force: true });
  }
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(JSON.stringify({ frames, seconds, peakRssMiB: peakRssKb() / 1024 }) + '\n');
  process.exit(0);
}

const runs = Number(opts['runs'] ?? 3);
const clips = Number(opts['clips'] ?? 24);
const epochs = Number(opts['epochs'] ?? 30);
const shared = process.env.VISID_SHARED ?? path.resolve(root, '../shared');
const people = path.join(shared, 'data', 'faces-deepface');
const out = path.resolve(root, 'bench/out/video');
await fs.mkdir(out, { recursive: true });

const layout = await writeVideoDemo(path.join(out, 'demo'), { people: (await fs.access(people).then(() => true, () => false)) ? people : undefined, clips });
console.log(`demo: ${layout.classes.length} classes, ${layout.videos.length} clips of 3 shots × 2 s (224×224), truth ${layout.truth}`);

if (!('speed-only' in opts)) {
  // Quality: seed 002 Table 2's loss variants, one classifier each on the embedded Fashion-MNIST backbone.
  const variants: Array<[string, MultiLabelLossSpec]> = [
    ['BCE', { name: 'bce' }],
    ['focal γ=2', { name: 'focal', gamma: 2 }],
    ['class-balanced focal β=0.999', { name: 'class-balanced-focal', gamma: 2, beta: 0.999 }],
    ['reduced focal th=0.5', { name: 'reduced-focal', gamma: 2, threshold: 0.5 }],
    ['focal, none classes ×0.1', { name: 'focal', gamma: 2, noneWeight: 0.1 }],
    ['focal, outlier removal', { name: 'focal', gamma: 2, outlierRemoval: true }],
  ];
  const backbone = await defaultModelPath();
  const indexes: Record<string, string> = {};
  console.log(`${'classifier'.padEnd(40)} val LRAP   clip mAP   frame LRAP`);
  // With a linear head each class has its own weight column and Adam rescales every parameter's gradient, so per-class
  // loss weights (class-balanced, none ×0.1) cancel out; the MLP head shares a hidden layer, where they do not.
  for (const [label, loss, head] of [...variants.map(([l, s]) => [l, s, 'linear'] as const), ...variants.map(([l, s]) => [`${l} (MLP head)`, s, 'mlp'] as const)]) {
    const slug = label.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
    const model = path.join(out, 'models', `${slug}.onnx`);
    const trained = await trainVideoClassifier({ images: layout.images, annotations: layout.annotations, labelSet: layout.labelSet, backbone, out: model, loss, head, epochs, quiet: true });
    const dir = path.join(out, 'indexes', slug);
    await fs.rm(dir, { recursive: true, force: true });
    await indexVideos(layout.videos, model, dir, { quiet: true });
    indexes[label] = dir;
    const ev = await evaluateVideoIndex(await VideoIndex.open(dir), layout.truth);
    console.log(`${label.padEnd(40)} ${trained.valLrap!.toFixed(4)}     ${ev.mAP.toFixed(4)}     ${ev.lrap!.toFixed(4)}`);
  }
  for (const [w, label] of [[[2, 1], 'fusion focal MLP : class-balanced MLP 2:1'], [[5, 1], 'fusion focal MLP : class-balanced MLP 5:1'], [[1, 1, 1, 1, 1, 1], 'fusion of the six MLP heads, equal']] as const) {
    const members = w.length === 2 ? [indexes['focal γ=2 (MLP head)']!, indexes['class-balanced focal β=0.999 (MLP head)']!] : Object.values(indexes).slice(6);
    const dir = path.join(out, 'indexes', label.replace(/[^a-z0-9]+/gi, '-'));
    await fs.rm(dir, { recursive: true, force: true });
    const fused = await fuseVideoIndexes(members, [...w], dir);
    const ev = await evaluateVideoIndex(fused, layout.truth);
    console.log(`${label.padEnd(40)} –          ${ev.mAP.toFixed(4)}     ${ev.lrap!.toFixed(4)}`);
  }
  for (const agg of ['mean', 'top3'] as const) {
    const ev = await evaluateVideoIndex(await VideoIndex.open(indexes['focal γ=2 (MLP head)']!), layout.truth, { aggregation: agg === 'mean' ? { kind: 'mean' } : { kind: 'topk', k: 3 } });
    console.log(`${`focal γ=2 MLP, clip score = ${agg} of frames`.padEnd(40)} –          ${ev.mAP.toFixed(4)}     (max: the rows above)`);
  }
}

// --quality-only stops here.
if ('quality-only' in opts) process.exit(0);

// Speed and memory: a 1-minute 720p video of 30 demo shots, and the same looped to 3 minutes (stream copy).
const shots = (await fs.readdir(path.join(out, 'demo', 'shots'))).filter((f) => f.endsWith('.png')).sort().slice(0, 30).map((f) => path.join(out, 'demo', 'shots', f));
const minute = path.join(out, 'minute-720p.mp4');
if (!(await fs.access(minute).then(() => true, () => false))) await writeSlideshow(shots, shots.map(() => 2), minute, { width: 1280, height: 720, fps: 25 });
const three = path.join(out, 'three-minutes-720p.mp4');
const ten = path.join(out, 'ten-minutes-720p.mp4');
for (const [file, loops] of [[three, 2], [ten, 9]] as const) {
  if (!(await fs.access(file).then(() => true, () => false))) await promisify(execFile)(await ffmpegPath(), ['-hide_banner', '-nostdin', '-y', '-stream_loop', String(loops), '-i', minute, '-c', 'copy', file]);
}
const info = await probeVideo(minute);
console.log(`\nspeed: ${path.basename(minute)} ${info.width}×${info.height}, ${info.duration?.toFixed(1)} s at ${info.fps} fps; sampled at 10 fps; median of ${runs} runs, each in a fresh process`);
const focalModel = path.join(out, 'models', 'focal-2-mlp-head-.onnx');
if (!(await fs.access(focalModel).then(() => true, () => false))) {
  await trainVideoClassifier({ images: layout.images, annotations: layout.annotations, labelSet: layout.labelSet, backbone: await defaultModelPath(), out: focalModel, loss: { name: 'focal', gamma: 2 }, head: 'mlp', epochs, quiet: true });
}
// A 160×160 classifier on the random-conv backbone, so the figure also covers a model of photo-like input size.
const convModel = path.join(out, 'models', 'random-conv-focal.onnx');
await trainVideoClassifier({ images: layout.images, annotations: layout.annotations, labelSet: layout.labelSet, backbone: await untrainedModelPath(), out: convModel, loss: { name: 'focal', gamma: 2 }, head: 'mlp', epochs, quiet: true });

async function measure(video: string, model: string, decodeOnly: boolean): Promise<{ frames: number; seconds: number; peakRssMiB: number }> {
  const results = [];
  for (let i = 0; i < runs; i++) {
    const args = [fileURLToPath(import.meta.url), '--measure', video, '--model', model, ...(decodeOnly ? ['--decode-only'] : [])];
    const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 1 << 20 });
    results.push(JSON.parse(stdout.trim().split('\n').pop()!) as { frames: number; seconds: number; peakRssMiB: number });
  }
  return { frames: results[0]!.frames, seconds: median(results.map((r) => r.seconds)), peakRssMiB: median(results.map((r) => r.peakRssMiB)) };
}
for (const [label, model] of [['Fashion-MNIST CNN 28×28 + head', focalModel], ['random-conv GeM 160×160 + head', convModel]] as const) {
  const decode = await measure(minute, model, true);
  const one = await measure(minute, model, false);
  const longer = await measure(three, model, false);
  const longest = await measure(ten, model, false);
  console.log(`${label}: decode only ${(decode.frames / decode.seconds).toFixed(1)} frames/s; decode + embed + classify ${(one.frames / one.seconds).toFixed(1)} frames/s ` +
    `(${one.frames} frames in ${one.seconds.toFixed(1)} s, ${(info.duration! / one.seconds).toFixed(1)}× real time); peak RSS 1 min ${one.peakRssMiB.toFixed(0)} MiB, ` +
    `3 min ${longer.peakRssMiB.toFixed(0)} MiB (${longer.frames} frames), 10 min ${longest.peakRssMiB.toFixed(0)} MiB (${longest.frames} frames, ${(longest.frames / longest.seconds).toFixed(1)} frames/s); 10 min / 1 min ${(longest.peakRssMiB / one.peakRssMiB).toFixed(2)}`);
}
