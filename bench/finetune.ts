// Benchmark: fine-tuning the photo backbone (nsfwjs' MobileNetV2) in visid against PyTorch, and the proof on LFW.
//   node dist/bench/finetune.js            training images/s, all layers and last 2 blocks, 1 and 2 workers,
//                                           against torchvision's MobileNetV2 in PyTorch (same batch, size, threads)
//   node dist/bench/finetune.js --lfw      fine-tune on half of LFW's people with ≥ 4 photos (ArcFace), evaluate on
//                                           the other half (unseen people; one photo a query, the rest the gallery):
//                                           R@1 and MAP@5 off the shelf, head only, last 2 blocks, all layers
//   node dist/bench/finetune.js --lfw --evaluate runs/finetune-photo/model.onnx   the same split, one given model
// Options: --batch 32 --micro 8 --size 224 --batches 6 --workers 1,2 --epochs 3 --python /usr/bin/python3
// PyTorch comes from Debian's python3-torch (apt-get install python3-torch python3-torchvision libopenblas0-pthread).
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { train } from '../src/train/trainer.js';
import { validateConfig } from '../src/train/config.js';
import { Embedder } from '../src/models/embedder.js';
import { resolveModelName } from '../src/models/registry.js';
import { retrievalMetrics } from '../src/eval/in-memory.js';
import { mulberry32 } from '../src/util/random.js';
import { flags, median } from './common.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const args = flags(process.argv.slice(2));
if (args['help']) {
  process.stdout.write(
    'usage: node dist/bench/finetune.js [--lfw [--evaluate model.onnx]] [--batch 32] [--micro 8] [--size 224] [--batches 6] [--workers 1,2] [--epochs 3] [--python /usr/bin/python3]\n' +
      '  without --lfw: training images/s of visid (tfjs wasm) and PyTorch (Debian python3-torch) on MobileNetV2, all layers and the last 2 blocks\n' +
      '  --lfw: fine-tuning on LFW people (half of those with ≥ 4 photos), retrieval of the other half before and after (needs $VISID_SHARED/data/lfw)\n',
  );
  process.exit(0);
}
const shared = path.resolve(process.env['VISID_SHARED'] ?? path.join(root, '../shared'));
const lfwImages = path.join(shared, 'data', 'lfw', 'images');
const out = path.join(root, 'bench', 'out', 'finetune');
const batch = Number(args['batch'] ?? 32);
const micro = Number(args['micro'] ?? 8);
const size = Number(args['size'] ?? 224);
const batches = Number(args['batches'] ?? 6);
const workerCounts = (args['workers'] ?? '1,2').split(',').map(Number);
const threads = os.availableParallelism();

/** LFW people with ≥ 4 photos, split in two seeded halves: training people and unseen (evaluation) people. */
async function lfwSplit(): Promise<{ train: Array<[string, string[]]>; test: Array<[string, string[]]> }> {
  const people: Array<[string, string[]]> = [];
  for (const p of (await fs.readdir(lfwImages)).sort()) {
    const files = (await fs.readdir(path.join(lfwImages, p))).filter((f) => f.endsWith('.jpg')).sort();
    if (files.length >= 4) people.push([p, files.map((f) => path.join(p, f))]);
  }
  const rnd = mulberry32(7);
  const shuffled = [...people].sort(() => rnd() - 0.5);
  return { train: shuffled.slice(0, shuffled.length >> 1), test: shuffled.slice(shuffled.length >> 1) };
}

async function writeManifest(file: string, people: Array<[string, string[]]>, limit = Infinity): Promise<void> {
  const rows = people.flatMap(([p, files]) => files.slice(0, limit).map((f) => `${f},${p}`));
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, `path,label\n${rows.join('\n')}\n`);
}

function torch(argv: string[]): Record<string, unknown> | { error: string } {
  const py = args['python'] ?? '/usr/bin/python3';
  const r = spawnSync(py, [path.join(root, 'bench/py/finetune_torch.py'), ...argv], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: '1' } });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || 'python3-torch missing').trim().split('\n').at(-1)! };
  return JSON.parse(r.stdout.trim()) as Record<string, unknown>;
}

async function speed(): Promise<void> {
  const { train: people } = await lfwSplit();
  // Enough real photos for two epochs of `batches` batches (the second, warm, epoch is measured).
  const chosen = people.slice(0, Math.ceil((batch * batches * 1.15) / 4));
  const manifest = path.join(out, 'speed.csv');
  await writeManifest(manifest, chosen, 4);
  console.log(`fine-tuning speed: MobileNetV2 (photo) at ${size} px, batch ${batch} (micro-batches of ${micro} per gradient pass), ArcFace, ${threads} cores; ${chosen.length * 4} LFW photos`);
  console.log('| trainable | visid workers | visid images/s (median of the warm epoch) | PyTorch images/s | visid / PyTorch |\n|---|---|---|---|---|');
  for (const trainable of ['all', 'last-2-blocks'] as const) {
    const t = torch(['cnn', 'mobilenet_v2', trainable, String(batch), String(size), String(batches), String(threads)]);
    const torchRate = 'error' in t ? NaN : (t['imagesPerSecond'] as number);
    for (const workers of workerCounts) {
      const dir = path.join(out, `speed-${trainable}-${workers}`);
      await fs.rm(dir, { recursive: true, force: true });
      const config = validateConfig(
        {
          data: manifest,
          dataRoot: lfwImages,
          out: dir,
          model: { type: 'pretrained', backbone: 'photo', trainable, inputSize: [size, size] },
          embeddingDim: 128,
          loss: { name: 'arcface', scale: 30, m2: 0.3 },
          batchSize: batch,
          microBatch: micro,
          epochs: 2,
          valFraction: 0.1,
          workers,
          seed: 1,
        },
        'bench',
      );
      const r = await train(config, { quiet: true });
      const rate = r.history[1]!.samplesPerSecond;
      console.log(`| ${trainable} | ${workers} | ${rate.toFixed(2)} | ${'error' in t ? `(${t.error})` : torchRate.toFixed(2)} | ${(rate / torchRate).toFixed(2)} |`);
    }
  }
  const allTorch = torch(['cnn', 'mobilenet_v2', 'all', String(batch), String(size), String(batches), String(threads)]);
  if (!('error' in allTorch)) console.log(`(targets: all layers ≥ 0.5 × PyTorch all layers; last 2 blocks ≥ 1 × PyTorch all layers = ${(allTorch['imagesPerSecond'] as number).toFixed(2)} images/s)`);
}

async function lfw(): Promise<void> {
  const { train: trainPeople, test } = await lfwSplit();
  const trainManifest = path.join(out, 'lfw-train.csv');
  await writeManifest(trainManifest, trainPeople);
  const queries = test.map(([, files]) => path.join(lfwImages, files[0]!));
  const gallery = test.flatMap(([, files], i) => files.slice(1).map((f) => ({ file: path.join(lfwImages, f), label: i })));
  console.log(`LFW: ${trainPeople.length} training people (${trainPeople.reduce((a, [, f]) => a + f.length, 0)} photos), ${test.length} unseen people: ${queries.length} queries, ${gallery.length} gallery photos`);
  const evaluate = async (model: string) => {
    const e = await Embedder.load(await resolveModelName(model));
    try {
      const q = await e.embedFiles(queries);
      const g = await e.embedFiles(gallery.map((x) => x.file));
      return retrievalMetrics(e.dim ?? q.vectors.length / queries.length, { vectors: q.vectors, labels: Int32Array.from(test.map((_, i) => i)) }, { vectors: g.vectors, labels: Int32Array.from(gallery.map((x) => x.label)) });
    } finally {
      await e.close();
    }
  };
  console.log('| model | R@1 | R@5 | MAP@5 | training |\n|---|---|---|---|---|');
  const row = (name: string, m: { 'recall@1': number; 'recall@5': number; 'map@5': number }, note: string) => console.log(`| ${name} | ${m['recall@1'].toFixed(4)} | ${m['recall@5'].toFixed(4)} | ${m['map@5'].toFixed(4)} | ${note} |`);
  row('photo off the shelf (GeM)', await evaluate('photo'), '—');
  // --evaluate <model.onnx>: a model trained elsewhere (visid train --config configs/finetune-photo.yaml) on this split.
  if (args['evaluate']) {
    row(`${args['evaluate']}`, await evaluate(path.resolve(args['evaluate'])), 'given with --evaluate');
    return;
  }
  const epochs = Number(args['epochs'] ?? 3);
  for (const [trainable, workers] of [['none', 1], ['last-2-blocks', 2], ['all', 2]] as const) {
    const dir = path.join(out, `lfw-${trainable}`);
    const t0 = performance.now();
    const r = await train(
      validateConfig(
        {
          data: trainManifest,
          dataRoot: lfwImages,
          out: dir,
          model: { type: 'pretrained', backbone: 'photo', trainable },
          embeddingDim: 256,
          loss: { name: 'arcface', scale: 30, m2: 0.3 },
          batchSize: batch,
          microBatch: micro,
          lr: 0.002,
          epochs,
          augment: { flip: true, shift: 8 },
          valFraction: 0.1,
          workers,
          seed: 1,
        },
        'bench',
      ),
      { quiet: true, resume: true },
    );
    const minutes = (performance.now() - t0) / 60_000;
    row(`fine-tuned: ${trainable === 'none' ? 'head only (frozen body)' : trainable}`, await evaluate(r.modelPath), `${epochs} epochs, ${workers} workers, ${minutes.toFixed(1)} min, ${median(r.history.map((h) => h.samplesPerSecond)).toFixed(1)} img/s`);
  }
}

if (args['lfw']) await lfw();
else await speed();
process.exit(0);
