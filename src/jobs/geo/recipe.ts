// The geo-localization recipe (seed 001, CosPlace family): train → index the database → search the queries → Recall@N, locations, GeoJSON and a report; each optional step (multi-scale, darkening, re-ranking, GRL, NIF/SIF fusion) reported beside the one before.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { loadDataset } from '../../data/load.js';
import type { Dataset } from '../../data/item.js';
import { embedItems, rerank, retrieve, scoreGeo, trainGeoModel, type GeoScores, type RankedHit, type RerankKind } from './pipeline.js';
import type { CosPlaceGrouping, CosPlaceLossName } from './cosplace.js';
import { nearestIndicesFirst, sharedIndicesFirst } from '../../search/prediction-fusion.js';
import { localizationGeoJson, type LocationMode } from '../../eval/geo-localization.js';
import { localizationPlot } from './map.js';
import type { FusionMode } from '../../util/vectors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { VisidError } from '../../util/errors.js';
import { resolveModelName } from '../../models/registry.js';

/** Backbone names the recipe knows: the feature map it trains on and the pooled model it reports as the baseline. */
export const GEO_BACKBONES: Record<string, { map: string; pooled: string }> = {
  photo: { map: 'photo-map', pooled: 'photo' },
  'photo-small': { map: 'photo-small-map', pooled: 'photo-small' },
  'photo-inceptionv3': { map: 'photo-inceptionv3-map', pooled: 'photo-inceptionv3' },
  mobilenet: { map: 'mobilenet-wider-map', pooled: 'mobilenet-wider' },
  'random-conv': { map: 'random-conv-map', pooled: 'random-conv' },
};

export interface GeoRecipeOptions {
  /** database/ and queries/ (folders of CosPlace-named images, or database.csv / queries.csv manifests); train/ and night/ optional. */
  root: string;
  out: string;
  /** Feature-map backbone: a name of GEO_BACKBONES (default 'photo'), a feature-map model name, or an ONNX file; `baseline` its pooled counterpart. */
  backbone?: string;
  baseline?: string;
  epochs?: number;
  views?: number;
  loss?: CosPlaceLossName;
  scale?: number;
  margin?: number;
  dim?: number;
  lr?: number;
  grouping?: CosPlaceGrouping;
  /** Also train with gradient reversal against root/night (seed 001 §3), and fuse the two models (NIF, SIF). */
  grl?: boolean;
  /** Test-time darkening factor for database and queries (seed 001 §4.1: 0.15). */
  darken?: number;
  /** Multi-scale test (seed 001 §8: 0.526,0.588,1,1.7,1.9) and its fusion. */
  scales?: number[];
  fusion?: FusionMode;
  rerank?: RerankKind;
  radius?: number;
  location?: LocationMode;
  seed?: number;
  quiet?: boolean;
}

export interface GeoStep {
  step: string;
  recalls: Record<number, number>;
  medianErrorMeters: number;
  /** Queries per second of this step's search (+ re-ranking), descriptors already computed. */
  queriesPerSecond?: number;
}

export interface GeoRecipeResult {
  steps: GeoStep[];
  final: GeoScores;
  model?: string;
  report: string;
  geojson: string;
  database: number;
  queries: number;
  withoutPositive: number;
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(() => true, () => false);
}

/** root/<name>.csv (a manifest) when there is one, else the folder root/<name>. */
async function part(root: string, name: string, required: boolean): Promise<Dataset | undefined> {
  const manifest = path.join(root, `${name}.csv`);
  if (await exists(manifest)) return loadDataset(manifest, { root });
  const dir = path.join(root, name);
  if (await exists(dir)) return loadDataset(dir);
  if (required) throw new VisidError('E_DATASET', `no ${name}/ folder or ${name}.csv manifest`, { item: root });
  return undefined;
}

function checkLocated(ds: Dataset, what: string): void {
  for (const it of ds.items) {
    if ((it.lat === undefined || it.lon === undefined) && (it.utmEast === undefined || it.utmNorth === undefined)) {
      throw new VisidError('E_DATASET', `${what} image has no coordinates (name it @east@north@zone@letter@lat@lon@…@ or give lat/lon in a manifest)`, { item: it.id });
    }
  }
}

export async function runGeoRecipe(o: GeoRecipeOptions): Promise<GeoRecipeResult> {
  const database = (await part(o.root, 'database', true))!;
  const queries = (await part(o.root, 'queries', true))!;
  checkLocated(database, 'database');
  checkLocated(queries, 'query');
  const train = (await part(o.root, 'train', false)) ?? database;
  checkLocated(train, 'training');
  const night = o.grl ? await part(o.root, 'night', false) : undefined;
  const nightQueries = await part(o.root, 'queries_night', false);
  if (nightQueries) checkLocated(nightQueries, 'night query');
  if (o.grl && !night) throw new VisidError('E_DATASET', '--grl needs target-domain images in night/', { item: o.root });
  await fs.mkdir(o.out, { recursive: true });
  // A backbone name means its feature map (CosPlace trains GeM + FC on it) and its pooled model as the baseline.
  const named = o.backbone ?? 'photo';
  const pair = GEO_BACKBONES[named];
  const backbone = pair ? await resolveModelName(pair.map) : await resolveModelName(named);
  const baseline = o.baseline ? await resolveModelName(o.baseline) : pair ? await resolveModelName(pair.pooled) : undefined;
  const ids = database.items.map((it) => it.id);
  const K = 20;
  const steps: GeoStep[] = [];
  const score = (r: RankedHit[][]) => scoreGeo(r, queries.items, database.items, { radius: o.radius, location: o.location });
  const scoreNight = (r: RankedHit[][]) => scoreGeo(r, nightQueries!.items, database.items, { radius: o.radius, location: o.location });
  const record = (step: string, s: GeoScores, seconds?: number) => {
    steps.push({ step, recalls: s.recalls, medianErrorMeters: s.medianErrorMeters, queriesPerSecond: seconds ? s.queries.length / seconds : undefined });
    if (!o.quiet) process.stderr.write(`${step}: ${Object.entries(s.recalls).map(([n, v]) => `R@${n} ${(100 * v).toFixed(1)}`).join('  ')}  median error ${s.medianErrorMeters.toFixed(1)} m\n`);
    return s;
  };
  // Database descriptors by model and embedding options: day and night queries of one model share them.
  const databaseVectors = new Map<string, Promise<Float32Array>>();
  const search = async (model: string, opts: { scales?: number[]; fusion?: FusionMode; brightness?: number }, qs: Dataset = queries) => {
    const key = JSON.stringify([model, opts.scales, opts.fusion, opts.brightness]);
    if (!databaseVectors.has(key)) databaseVectors.set(key, embedItems(model, database.items, { ...opts, quiet: o.quiet, label: 'embed database' }));
    const dv = await databaseVectors.get(key)!;
    const qv = await embedItems(model, qs.items, { ...opts, quiet: o.quiet, label: 'embed queries' });
    const dim = dv.length / database.items.length;
    const t0 = performance.now();
    const ranked = await retrieve(qv, dv, dim, ids, K);
    return { dv, qv, dim, ranked, seconds: (performance.now() - t0) / 1000 };
  };
  const base = { brightness: o.darken };

  if (baseline) {
    const b = await search(baseline, base);
    record(`baseline: backbone + GeM, no head${o.darken ? `, darkened ×${o.darken}` : ''}`, score(b.ranked), b.seconds);
  }
  const trained = await trainGeoModel({ train, backbone, out: path.join(o.out, 'models'), grouping: o.grouping, loss: o.loss, scale: o.scale, margin: o.margin, dim: o.dim, epochs: o.epochs, views: o.views, lr: o.lr, seed: o.seed, quiet: o.quiet });
  const cos = await search(trained.model, base);
  let final = record(`CosPlace head (${o.loss ?? 'cosface'}, ${trained.classes} classes in ${trained.groups} group${trained.groups === 1 ? '' : 's'})`, score(cos.ranked), cos.seconds);
  let best = cos;
  if (o.scales) {
    const ms = await search(trained.model, { ...base, scales: o.scales, fusion: o.fusion });
    final = record(`+ multi-scale ${o.scales.join('/')} (${o.fusion ?? 'avg'})`, score(ms.ranked), ms.seconds);
    best = ms;
  }
  if (o.rerank) {
    const t0 = performance.now();
    const rr = await rerank({ kind: o.rerank, backbone, brightness: o.darken }, { items: queries.items, vectors: best.qv }, { items: database.items, vectors: best.dv }, best.dim, K, best.ranked);
    final = record(`+ re-rank: ${o.rerank === 'qe' ? 'α-query expansion' : o.rerank === 'dba' ? 'DBA + α-QE' : 'local features (mutual nearest neighbours)'}`, score(rr), best.seconds + (performance.now() - t0) / 1000);
    best = { ...best, ranked: rr };
  }
  if (nightQueries) {
    // Seed 001's night domain: the same model on night queries, then with test-time darkening of everything (§4.1).
    const n = await search(trained.model, { scales: o.scales, fusion: o.fusion }, nightQueries);
    record('night queries: CosPlace head', scoreNight(n.ranked), n.seconds);
    const nd = await search(trained.model, { scales: o.scales, fusion: o.fusion, brightness: o.darken ?? 0.15 }, nightQueries);
    record(`night queries: + test-time darkening ×${o.darken ?? 0.15}`, scoreNight(nd.ranked), nd.seconds);
  }
  if (night) {
    const grl = await trainGeoModel({ train, backbone, out: path.join(o.out, 'models'), grouping: o.grouping, loss: o.loss, scale: o.scale, margin: o.margin, dim: o.dim, epochs: o.epochs, views: o.views, lr: o.lr, seed: o.seed, target: night, quiet: o.quiet });
    const g = await search(grl.model, { ...base, scales: o.scales, fusion: o.fusion });
    record(`GRL model (gradient reversal against ${night.items.length} night images)`, score(g.ranked), g.seconds);
    if (nightQueries) {
      const gn = await search(grl.model, { ...base, scales: o.scales, fusion: o.fusion }, nightQueries);
      record('night queries: GRL model', scoreNight(gn.ranked), gn.seconds);
    }
    // Seed 001 §7.2: NIF merges both lists by distance (1 − cosine); SIF puts the ids both share first, in the stronger model's order.
    const nif = best.ranked.map((hits, q) => nearestIndicesFirst(hits.map((h) => ({ id: h.id, distance: 1 - h.score })), g.ranked[q]!.map((h) => ({ id: h.id, distance: 1 - h.score })), K).map((p) => ({ id: p.id, score: 1 - p.distance })));
    record('fusion with the GRL model: Nearest Indices First', score(nif));
    const byId = best.ranked.map((hits) => new Map(hits.map((h) => [h.id, h.score])));
    const sif = best.ranked.map((hits, q) => sharedIndicesFirst(hits.map((h) => h.id), g.ranked[q]!.map((h) => h.id), K).map((id) => ({ id, score: byId[q]!.get(id) ?? 0 })));
    record('fusion with the GRL model: Shared Indices First', score(sif));
  }
  const geojsonFile = path.join(o.out, 'predictions.geojson');
  await writeFileAtomic(geojsonFile, JSON.stringify(localizationGeoJson(final.queries), null, 1) + '\n');
  const csv = ['query,lat,lon,predicted_lat,predicted_lon,error_m,correct_at_1', ...final.queries.map((r) => [r.id, r.truth.lat ?? '', r.truth.lon ?? '', r.predicted.lat ?? '', r.predicted.lon ?? '', r.errorMeters.toFixed(2), r.correctAt1 ? 1 : 0].join(','))];
  await writeFileAtomic(path.join(o.out, 'predictions.csv'), csv.join('\n') + '\n');
  const report = path.join(o.out, 'report.html');
  await writeFileAtomic(report, renderGeoReport(steps, final, database.items.length, queries.items.length, o.radius ?? 25, localizationPlot(final.queries, database.items, `${steps[steps.length - 1]!.step}: queries and predicted locations`)));
  await writeFileAtomic(path.join(o.out, 'results.json'), JSON.stringify({ steps, medianErrorMeters: final.medianErrorMeters, withoutPositive: final.withoutPositive, model: trained.model }, null, 2) + '\n');
  return { steps, final, model: trained.model, report, geojson: geojsonFile, database: database.items.length, queries: queries.items.length, withoutPositive: final.withoutPositive };
}

function renderGeoReport(steps: GeoStep[], final: GeoScores, db: number, nq: number, radius: number, plot: string): string {
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const ns = Object.keys(steps[0]!.recalls);
  const rows = steps.map((s) => `<tr><td>${esc(s.step)}</td>${ns.map((n) => `<td>${(100 * s.recalls[Number(n)]!).toFixed(1)}</td>`).join('')}<td>${s.medianErrorMeters.toFixed(1)}</td><td>${s.queriesPerSecond ? s.queriesPerSecond.toFixed(0) : '–'}</td></tr>`).join('');
  const worst = [...final.queries].sort((a, b) => b.errorMeters - a.errorMeters).slice(0, 10);
  return `<!doctype html><html><head><meta charset="utf-8"><title>visid geo-localization</title><style>body{font-family:sans-serif;margin:2em;max-width:1000px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}</style></head><body>` +
    `<h1>Geo-localization (seed 001, CosPlace)</h1><p>${nq} queries against ${db} database images; a query is right at N when a database image within ${radius} m is among its first N (${final.withoutPositive} queries have no such image at all and always count as misses).</p>` +
    `<table><tr><th>step</th>${ns.map((n) => `<th>R@${n} %</th>`).join('')}<th>median error m</th><th>queries/s</th></tr>${rows}</table>` +
    `<h2>Map</h2>${plot}<h2>Largest errors</h2><table><tr><th>query</th><th>error m</th><th>right at R@1</th></tr>${worst.map((r) => `<tr><td>${esc(r.id)}</td><td>${r.errorMeters.toFixed(1)}</td><td>${r.correctAt1 ? 'yes' : 'no'}</td></tr>`).join('')}</table>` +
    `<p>predictions.geojson holds every query's true point, predicted point and the line between them.</p></body></html>\n`;
}
