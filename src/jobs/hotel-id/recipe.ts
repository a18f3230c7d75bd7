// The Hotel-ID recipe (seed 000): split, train heads with occlusion-augmented views, base embeddings, occluded-validation MAP@5, top-5 unique hotels per test image, submission.csv, report.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readFolderDataset } from '../../data/folder.js';
import type { Dataset, Item } from '../../data/item.js';
import { isImageFile } from '../../data/item.js';
import { Embedder } from '../../models/embedder.js';
import type { GalleryItem } from '../../index/gallery.js';
import { ensembleLabels, type EnsembleMember, type GalleryLike } from '../../search/ensemble.js';
import { augmentedPng } from '../../augment/files.js';
import type { LabelHit } from '../../search/labels.js';
import { mapAtK } from '../../eval/metrics.js';
import { lineChart } from '../../eval/chart.js';
import { thumb } from '../../eval/report.js';
import { AugmentPipeline, type StepSpec } from '../../augment/pipeline.js';
import { validateConfig } from '../../train/config.js';
import { train } from '../../train/trainer.js';
import { stratifiedSplit } from '../../train/data.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { initTf } from '../../tf/runtime.js';
import { buildNet, type NetSpec } from '../../models/networks.js';
import { headOnBackboneToOnnx, writeTrainedModel } from '../../models/export-onnx.js';
import type { ModelCard } from '../../models/model-card.js';
import { VisidError } from '../../util/errors.js';
import { resolveModelName } from '../../models/registry.js';

export interface HotelIdOptions {
  root: string;
  out: string;
  /** Frozen backbone for the heads: a model name or an ONNX file (default: photo). */
  backbone?: string;
  /** Models in the ensemble (different seeds, ArcFace and CosFace alternately; seed 000 §2.5.2). */
  models?: number;
  epochs?: number;
  /** Feature views per training image: the image, then views through the training pipeline (Table 1). */
  views?: number;
  embeddingDim?: number;
  lr?: number;
  seed?: number;
  quiet?: boolean;
}

export interface HotelIdResult {
  /** MAP@5 of the (ensemble) model on the occluded validation queries. */
  mapAt5: number;
  /** The same evaluation with the frozen backbone alone (no head). */
  baselineMapAt5: number;
  /** The same evaluation with the first model's head at its initial (seeded) weights: the untrained network. */
  untrainedMapAt5: number;
  members: Array<{ modelPath: string; mapAt5: number }>;
  /** Recall@k of the true hotel among the top-k unique hotels, k = 1…20. */
  recallCurve: number[];
  /** Seed 000 Table 3: MAP@5 by (gallery pipeline, query pipeline), first model. */
  table3: Array<{ gallery: 'validation' | 'test'; queries: 'validation' | 'test'; mapAt5: number }>;
  submission: string;
  report: string;
}

/** Seed 000 Table 1, with the mask simulation drawn from train_masks/ half of the time when it exists. */
export function hotelIdTrainPipeline(size: number, masksDir?: string): StepSpec[] {
  const occlusion: StepSpec = masksDir ? { op: 'OneOf', p: 1, ops: [{ op: 'RedOcclusion' }, { op: 'MaskOcclusion', dir: masksDir }] } : { op: 'RedOcclusion', p: 1 };
  return [
    { op: 'RandomResizedCrop', p: 1, height: size, width: size, scale: [0.5, 1] },
    { op: 'HorizontalFlip', p: 0.5 },
    { op: 'OneOf', p: 0.5, ops: [{ op: 'RandomBrightness', limit: 0.2 }, { op: 'RandomContrast', limit: 0.2 }, { op: 'RandomGamma', gammaLimit: [80, 120] }] },
    { op: 'ShiftScaleRotate', p: 0.3, shiftLimit: 0.0625, scaleLimit: 0.1, rotateLimit: 45 },
    { op: 'CoarseDropout', p: 0.5, minHoles: 1, maxHoles: 8, minSize: 0.03, maxSize: 0.08, fill: [255, 0, 0] },
    occlusion,
  ];
}

/** A gallery-shaped view of vectors held in memory (for ensembleLabels). */
function memoryGallery(vectors: Float32Array, items: GalleryItem[], dim: number, name: string): GalleryLike {
  const index = new Map(items.map((it, i) => [it.id, i]));
  return { dir: name, dim, count: items.length, vectors, items, indexOf: (id: string) => index.get(id) ?? -1 };
}

/** Runs `fn` with the model loaded once. */
async function withEmbedder<T>(modelPath: string, fn: (embed: (inputs: Array<string | Uint8Array>, names: string[]) => Promise<Float32Array>, e: Embedder) => Promise<T>): Promise<T> {
  const e = await Embedder.load(modelPath);
  try {
    return await fn(async (inputs, names) => {
      const { vectors, indices } = await e.embedFiles(inputs, { names });
      if (indices.length !== inputs.length) throw new VisidError('E_IMAGE', 'an image could not be embedded');
      return vectors;
    }, e);
  } finally {
    await e.close();
  }
}

const labelsOf = (ranked: LabelHit[][]) => ranked.map((r) => r.map((h) => h.label));

function recallCurve(ranked: string[][], truths: string[], depth: number): number[] {
  return Array.from({ length: depth }, (_, k) => ranked.filter((r, q) => r.slice(0, k + 1).includes(truths[q]!)).length / Math.max(1, ranked.length));
}

export async function runHotelId(options: HotelIdOptions): Promise<HotelIdResult> {
  const root = path.resolve(options.root);
  const out = path.resolve(options.out);
  const say = (s: string) => (options.quiet ? undefined : process.stderr.write(s + '\n'));
  await fs.mkdir(out, { recursive: true });
  const ds: Dataset = await readFolderDataset(root);
  if (ds.items.length === 0) throw new VisidError('E_DATASET', 'no training images (expected train_images/<hotel_id>/*.jpg)', { item: root });
  const masksDir = path.join(root, 'train_masks');
  const hasMasks = (await fs.readdir(masksDir).catch(() => [] as string[])).some((n) => n.toLowerCase().endsWith('.png'));
  const testDir = path.join(root, 'test_images');
  const testFiles = (await fs.readdir(testDir).catch(() => [] as string[])).filter(isImageFile).sort();

  // 90/10 split stratified by hotel; hotels with one image stay in train (seed 000 §2.1).
  const hotels = [...new Set(ds.items.map((it) => it.label!))].sort();
  const hotelIndex = new Map(hotels.map((h, i) => [h, i]));
  const split = stratifiedSplit(Int32Array.from(ds.items, (it) => hotelIndex.get(it.label!)!), 0.1);
  const trainItems = split.train.map((i) => ds.items[i]!);
  const valItems = split.val.map((i) => ds.items[i]!);
  if (valItems.length === 0) throw new VisidError('E_DATASET', 'no hotel has two images: nothing to validate on', { item: root });
  const manifest = async (name: string, items: Item[]) => {
    const file = path.join(out, name);
    await writeFileAtomic(file, items.map((it) => JSON.stringify({ path: it.id, label: it.label })).join('\n') + '\n');
    return file;
  };
  const trainManifest = await manifest('train.jsonl', trainItems);
  const valManifest = await manifest('val.jsonl', valItems);
  say(`hotel-id: ${hotels.length} hotels, ${trainItems.length} train / ${valItems.length} validation images, ${testFiles.length} test images${hasMasks ? ', masks from train_masks/' : ''}`);

  // A model name (visid models) or an ONNX file; the general photo model by default.
  const backbone = path.resolve(await resolveModelName(options.backbone ?? 'photo'));
  const trainPipelineFile = path.join(out, 'train-augment.json');
  await writeFileAtomic(trainPipelineFile, JSON.stringify(hotelIdTrainPipeline(224, hasMasks ? masksDir : undefined), null, 2));
  const nModels = options.models ?? 1;
  const modelPaths: string[] = [];
  for (let m = 0; m < nModels; m++) {
    const config = validateConfig(
      {
        data: trainManifest,
        val: valManifest,
        dataRoot: ds.root,
        out: path.join(out, `model-${m + 1}`),
        model: { type: 'head', backbone, kind: 'fc-bn', views: options.views ?? 6 },
        augment: { pipeline: trainPipelineFile },
        embeddingDim: options.embeddingDim ?? 64,
        loss: m % 2 === 0 ? { name: 'arcface', scale: 30, m2: 0.3 } : { name: 'cosface', scale: 30, m3: 0.3 },
        epochs: options.epochs ?? 15,
        batchSize: 32,
        lr: options.lr ?? 0.002,
        seed: (options.seed ?? 1) + m,
      },
      'hotel-id recipe',
    );
    say(`training model ${m + 1}/${nModels} (${config.loss.name}) -> ${config.out}`);
    modelPaths.push((await train(config, { quiet: options.quiet })).modelPath);
  }

  // Base embeddings of train + validation images with the test pipeline (resize + normalise: the Embedder's own).
  const allItems = ds.items;
  const galleryItems: GalleryItem[] = allItems.map((it) => ({ id: it.id, path: it.path, label: it.label }));
  const valPipeline = await AugmentPipeline.create([{ op: 'RedOcclusion' }]);
  const valOccluded = await Promise.all(valItems.map((it, i) => augmentedPng(valPipeline, it.path, 17, i)));
  const valIds = valItems.map((it) => it.id);
  const truths = valItems.map((it) => it.label!);
  // Each model embeds the base images, the occluded validation queries and the test images once, however many
  // evaluations (alone, in the ensemble, Table 3) use them.
  interface ModelEmbeddings {
    gallery: GalleryLike;
    valOccluded: Float32Array;
    test: Float32Array;
  }
  const embedded = new Map<string, Promise<ModelEmbeddings>>();
  const embeddingsOf = (mp: string): Promise<ModelEmbeddings> => {
    let p = embedded.get(mp);
    if (!p) {
      p = withEmbedder(mp, async (embed, e) => {
        const base = await embed(allItems.map((it) => it.path), allItems.map((it) => it.id));
        const result = {
          gallery: memoryGallery(base, galleryItems, e.dim!, `${mp}#base`),
          valOccluded: await embed(valOccluded, valIds),
          test: testFiles.length ? await embed(testFiles.map((f) => path.join(testDir, f)), testFiles) : new Float32Array(0),
        };
        say(`  embedded base images and queries with ${path.basename(path.dirname(mp))}/${path.basename(mp)}`);
        return result;
      });
      embedded.set(mp, p);
    }
    return p;
  };
  const evaluate = async (models: string[]) => {
    const all = await Promise.all(models.map(embeddingsOf));
    const ranked = await ensembleLabels(all.map((m) => ({ gallery: m.gallery, queries: m.valOccluded })), 20, { excludeIds: valIds });
    const test: EnsembleMember[] = testFiles.length ? all.map((m) => ({ gallery: m.gallery, queries: m.test })) : [];
    return { ranked, map: mapAtK(labelsOf(ranked).map((r) => r.slice(0, 5)), truths, 5), test };
  };
  const baseline = await evaluate([backbone]);
  // The untrained network: model 1's architecture at its seeded initial weights, exported the same way.
  const card = JSON.parse(await fs.readFile(modelPaths[0]!.replace(/\.onnx$/, '.json'), 'utf8')) as ModelCard & { net: NetSpec };
  await initTf();
  const untrainedPath = path.join(out, 'untrained-head.onnx');
  await writeTrainedModel(untrainedPath, headOnBackboneToOnnx(buildNet(card.net), await fs.readFile(backbone), 'untrained-head'), { ...card, name: 'untrained head', description: 'model 1 at its initial weights' });
  const untrained = await evaluate([untrainedPath]);
  const memberScores: HotelIdResult['members'] = [];
  for (const mp of modelPaths) memberScores.push({ modelPath: mp, mapAt5: nModels > 1 ? (await evaluate([mp])).map : NaN });
  const ens = await evaluate(modelPaths);
  if (nModels === 1) memberScores[0]!.mapAt5 = ens.map;
  say(`validation MAP@5 with simulated occlusions: untrained network ${untrained.map.toFixed(4)}, backbone alone ${baseline.map.toFixed(4)}, trained ${ens.map.toFixed(4)}`);

  // Seed 000 Table 3 on the first model: the base images and the queries each through the validation (occluded) or test pipeline.
  const table3: HotelIdResult['table3'] = [];
  {
    const mp = modelPaths[0]!;
    const first = await embeddingsOf(mp);
    const basePlain = { vectors: first.gallery.vectors, dim: first.gallery.dim };
    const qOcc = { vectors: first.valOccluded };
    const [baseOcc, qPlain] = await withEmbedder(mp, async (embed) => [
      { vectors: await embed(await Promise.all(allItems.map((it, i) => augmentedPng(valPipeline, it.path, 23, i))), allItems.map((it) => it.id)) },
      { vectors: await embed(valItems.map((it) => it.path), valIds) },
    ]);
    for (const [gName, g] of [['validation', baseOcc], ['test', basePlain]] as const) {
      for (const [qName, q] of [['validation', qOcc], ['test', qPlain]] as const) {
        const r = await ensembleLabels([{ gallery: memoryGallery(g.vectors, galleryItems, basePlain.dim, gName), queries: q.vectors }], 5, { excludeIds: valIds });
        table3.push({ gallery: gName, queries: qName, mapAt5: mapAtK(labelsOf(r), truths, 5) });
      }
    }
  }

  // Test predictions: the top-5 unique hotels per test image, best first.
  const submission = path.join(out, 'submission.csv');
  const lines = ['image_id,hotel_id'];
  if (testFiles.length) {
    const predicted = await ensembleLabels(ens.test, 5);
    testFiles.forEach((f, i) => lines.push(`${f},${predicted[i]!.map((h) => h.label).join(' ')}`));
  }
  await writeFileAtomic(submission, lines.join('\n') + '\n');

  const curve = recallCurve(labelsOf(ens.ranked), truths, 20);
  const report = path.join(out, 'report.html');
  await writeFileAtomic(report, await renderHotelReport({ ens: ens.ranked, baseline: baseline.map, untrained: untrained.map, map: ens.map, curve, table3, valItems, valOccluded, allItems, members: memberScores }));
  return { mapAt5: ens.map, baselineMapAt5: baseline.map, untrainedMapAt5: untrained.map, members: memberScores, recallCurve: curve, table3, submission, report };
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);


async function renderHotelReport(r: {
  ens: LabelHit[][];
  baseline: number;
  untrained: number;
  map: number;
  curve: number[];
  table3: HotelIdResult['table3'];
  valItems: Item[];
  valOccluded: Uint8Array[];
  allItems: Item[];
  members: HotelIdResult['members'];
}): Promise<string> {
  const pathOf = new Map(r.allItems.map((it) => [it.id, it.path]));
  const rows: string[] = [];
  for (let q = 0; q < Math.min(12, r.valItems.length); q++) {
    const truth = r.valItems[q]!.label!;
    const cells = await Promise.all(
      r.ens[q]!.slice(0, 5).map(async (h, i) => `<figure class="${h.label === truth ? 'hit' : 'miss'}"><img alt="hotel ${esc(h.label)}" src="${await thumb(pathOf.get(h.id)!)}"/><figcaption>${i + 1}. hotel ${esc(h.label)} (${h.score.toFixed(3)})</figcaption></figure>`),
    );
    rows.push(`<div class="example"><figure class="query"><img alt="query" src="${await thumb(r.valOccluded[q]!)}"/><figcaption>${esc(r.valItems[q]!.id)} (hotel ${esc(truth)})</figcaption></figure>${cells.join('')}</div>`);
  }
  const ticks = [1, 5, 10, 15, 20].filter((k) => k <= r.curve.length).map((k): [number, string] => [k, String(k)]);
  const chart = lineChart(r.curve.map((v, i) => [i + 1, v]), 'Recall@k of the true hotel (occluded validation queries)', 'k', 'recall', r.curve.length, { xMin: 1, xTicks: ticks });
  const t3 = r.table3.map((t) => `<tr><td>${t.gallery}</td><td>${t.queries}</td><td>${t.mapAt5.toFixed(4)}</td></tr>`).join('');
  const members = r.members.length > 1 ? `<p>Ensemble members (alone): ${r.members.map((m) => m.mapAt5.toFixed(4)).join(', ')}.</p>` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>visid hotel-id report</title><style>
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1d2330}table{border-collapse:collapse}td,th{padding:.2rem .8rem;border-bottom:1px solid #ddd;text-align:left}
.example{display:flex;gap:.5rem;margin:.5rem 0}figure{margin:0;width:100px;font-size:.7rem;word-break:break-all}img{width:96px;height:96px;border-radius:4px}
.hit img{outline:3px solid #27ae60}.miss img{outline:3px solid #c0392b}.query img{outline:3px solid #3d6df2}</style></head><body>
<h1>Hotel-ID recipe</h1><table><tr><th>validation MAP@5 (simulated red occlusions)</th><td>${r.map.toFixed(4)}</td></tr><tr><th>the same network, untrained</th><td>${r.untrained.toFixed(4)}</td></tr><tr><th>frozen backbone alone (no head)</th><td>${r.baseline.toFixed(4)}</td></tr></table>${members}
${chart}<h2>Seed 000 Table 3: pipelines at prediction time</h2><table><tr><th>base images</th><th>queries</th><th>MAP@5</th></tr>${t3}</table>
<h2>Validation queries</h2><p>The occluded query (blue), then its top-5 hotels, each shown by its best-matching image: green = the right hotel.</p>${rows.join('')}</body></html>
`;
}
