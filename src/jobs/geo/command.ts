// `visid recipe geo` (seed 001, CosPlace): train a GeM head by grouped map cells, index the database, search the queries, Recall@N within 25 m, locations, report.
import { Command, Option } from 'commander';
import path from 'node:path';
import { runGeoRecipe } from './recipe.js';
import { writeGeoDemo } from './demo.js';
import type { CosPlaceLossName } from './cosplace.js';
import type { RerankKind } from './pipeline.js';
import { fusionMode, numberList, positiveInt, positiveNumber } from '../../cli/options.js';
import type { FusionMode } from '../../util/vectors.js';
import { VisidError } from '../../util/errors.js';

export function geoCommand(): Command {
  return new Command('geo')
    .description('visual geo-localization (seed 001, CosPlace): train a GeM head by grouped map cells, index the database, search the queries -> Recall@1/5/10/20 within 25 m, locations, GeoJSON, report')
    .argument('<root>', 'database/ and queries/ (CosPlace file names @east@north@zone@letter@lat@lon@…, or database.csv / queries.csv with lat,lon or utm_east,utm_north,utm_zone); train/ and night/ optional')
    .option('-o, --out <dir>', 'output folder (models, report.html, predictions.geojson/.csv, results.json)', 'geo-run')
    .option('--backbone <model>', 'feature-map backbone: photo (nsfwjs\' MobileNetV2, from npm; the default), photo-inceptionv3, mobilenet (face-api\'s MobileNetV1), random-conv (untrained), or an ONNX file with an [N, C, H, W] output', 'photo')
    .option('--baseline <model>', 'a pooled model (name or file) to report as the baseline (default: the named backbone + GeM)')
    .option('--epochs <n>', 'epochs (each trains one group; default 4 per group)', positiveInt)
    .option('--views <n>', 'feature views per training image (image + augmented views)', positiveInt, 4)
    .addOption(new Option('--loss <name>', 'margin softmax (seed 001 Table 1)').choices(['cosface', 'arcface', 'sphereface']).default('cosface'))
    .option('--scale <s>', 'margin-softmax scale s', positiveNumber, 30)
    .option('--margin <m>', 'margin (CosFace 0.4, ArcFace 0.5 rad, SphereFace 4)', positiveNumber)
    .option('--dim <n>', 'descriptor length', positiveInt, 128)
    .option('--lr <rate>', 'head learning rate', positiveNumber, 1e-3)
    .option('--cell <metres>', 'CosPlace cell side M', positiveNumber, 10)
    .option('--heading <degrees>', 'heading sector α (360: ignore headings)', positiveNumber, 30)
    .option('--groups <N>', 'groups per axis N', positiveInt, 5)
    .option('--heading-groups <L>', 'heading groups L', positiveInt, 2)
    .option('--min-images <n>', 'images a class needs', positiveInt, 10)
    .option('--grl', 'also train with a gradient reversal layer against root/night/ and fuse both models (NIF, SIF)')
    .option('--darken <factor>', 'test-time darkening of database and queries (seed 001 §4.1: 0.15)', positiveNumber)
    .option('--scales <list>', 'multi-scale test, e.g. 0.526,0.588,1,1.7,1.9 (seed 001 §8)', numberList)
    .option('--fusion <mode>', 'multi-scale fusion: avg, sum, max, min', fusionMode, 'avg')
    .addOption(new Option('--rerank <kind>', 're-rank the top 20: qe (α-query expansion), dba (DBA + α-QE), local (mutual nearest neighbours of local features)').choices(['qe', 'dba', 'local']))
    .option('--radius <metres>', 'positives within this distance', positiveNumber, 25)
    .option('--location <mode>', 'predicted location: top1, or weighted:<k> (score-weighted mean of the top k)', 'top1')
    .option('--seed <n>', 'random seed', (v) => Number.parseInt(v, 10), 1)
    .option('--make-demo', 'first write a demo layout at <root> from the shared deepface photos ($VISID_SHARED/data/faces-deepface), each person a place')
    .option('-q, --quiet', 'no progress display')
    .action(async (root: string, o: GeoFlags) => {
      if (o.makeDemo) {
        const shared = process.env.VISID_SHARED ?? path.resolve('..', 'shared');
        const d = await writeGeoDemo(path.join(shared, 'data', 'faces-deepface'), path.resolve(root));
        process.stdout.write(`demo data: ${d.places} places, ${d.counts.database} database images, ${d.counts.queries} queries (${d.counts.withoutPositive} without a place in the database) -> ${path.resolve(root)}\n`);
      }
      const m = /^weighted:(\d+)$/.exec(o.location);
      if (o.location !== 'top1' && !m) throw new VisidError('E_INPUT', `--location is top1 or weighted:<k>, not '${o.location}'`);
      const r = await runGeoRecipe({
        root, out: o.out, backbone: o.backbone, baseline: o.baseline, epochs: o.epochs, views: o.views, loss: o.loss, scale: o.scale, margin: o.margin, dim: o.dim, lr: o.lr,
        grouping: { cellMeters: o.cell, headingDegrees: o.heading, groupsPerAxis: o.groups, headingGroups: o.headingGroups, minImagesPerClass: o.minImages },
        grl: o.grl, darken: o.darken, scales: o.scales, fusion: o.fusion, rerank: o.rerank, radius: o.radius,
        location: m ? { kind: 'weighted', k: Number(m[1]) } : { kind: 'top1' }, seed: o.seed, quiet: o.quiet,
      });
      const ns = Object.keys(r.steps[0]!.recalls);
      process.stdout.write(`${r.queries} queries, ${r.database} database images, ${r.withoutPositive} queries without a positive within ${o.radius} m\n`);
      for (const s of r.steps) process.stdout.write(`${ns.map((n) => `R@${n} ${(100 * s.recalls[Number(n)]!).toFixed(1)}`).join('  ')}  median error ${s.medianErrorMeters.toFixed(1)} m  ${s.step}\n`);
      process.stdout.write(`model: ${r.model}\nreport: ${r.report}\ngeojson: ${r.geojson}\n`);
    });
}

interface GeoFlags {
  out: string; backbone?: string; baseline?: string; epochs?: number; views: number; loss: CosPlaceLossName; scale: number; margin?: number; dim: number; lr: number;
  cell: number; heading: number; groups: number; headingGroups: number; minImages: number; grl?: boolean; darken?: number; scales?: number[]; fusion: FusionMode;
  rerank?: RerankKind; radius: number; location: string; seed: number; makeDemo?: boolean; quiet?: boolean;
}
