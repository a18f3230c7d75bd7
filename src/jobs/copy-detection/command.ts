// `visid copy-detect` (queries → scored reference matches, CSV) and `visid eval copy` (µAP and recall at precision 0.9 of a match file).
import { Command, Option } from 'commander';
import { formatEditTable, perEditScores, readQueryEdits } from './per-edit.js';
import { copyDetect, ISC_SCALES } from './pipeline.js';
import { matchesCsv, microAveragePrecision, readMatchesCsv, readTruthCsv, recallAtPrecision, thresholdAtPrecision } from '../../eval/copy-detection.js';
import type { CopyScoring } from './match.js';
import type { HashKind } from '../../models/perceptual-hash.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { fusionMode, numberList, positiveInt, positiveNumber } from '../../cli/options.js';
import type { FusionMode } from '../../util/vectors.js';

interface CopyDetectFlags {
  refs: string;
  queries: string;
  background?: string;
  stretch?: boolean;
  normalize?: boolean;
  center?: boolean;
  alpha: number;
  n: number;
  k: number;
  scales?: number[];
  fusion?: FusionMode;
  hash?: HashKind;
  verify: number | false;
  keypointCandidates: number | false;
  verifyMinInliers: number;
  verifyDetector: 'akaze' | 'orb';
  verifySide: number;
  verifyFeatures: number;
  verifyThreshold: number;
  out: string;
  truth?: string;
  model?: string;
  root?: string;
  threads?: number;
  quiet?: boolean;
}

function scaleList(value: string): number[] {
  return value === 'isc' ? ISC_SCALES : numberList(value);
}

function printScores(matches: Awaited<ReturnType<typeof readMatchesCsv>>, truth: Awaited<ReturnType<typeof readTruthCsv>>): void {
  const uap = microAveragePrecision(matches, truth);
  const r90 = recallAtPrecision(matches, truth, 0.9);
  const threshold = thresholdAtPrecision(matches, truth, 0.9);
  process.stdout.write(`µAP             ${uap.toFixed(4)}\nrecall@P90      ${r90.toFixed(4)}${threshold === undefined ? '' : `  (score ≥ ${threshold.toFixed(4)})`}\n`);
}

export function copyDetectCommand(): Command {
  return new Command('copy-detect')
    .description('image copy detection (ISC2021): match query images against reference descriptors, write query_id,reference_id,score')
    .requiredOption('--refs <gallery>', 'reference gallery made by visid index (an image folder with --hash)')
    .requiredOption('--queries <folder|gallery>', 'query images (embedded with the references’ model) or a query gallery')
    .option('--background <gallery|folder>', 'background (training) descriptors for --stretch / --normalize')
    .option('--stretch', 'descriptor stretching (seed 004 §3.4): score = −‖α·s_n(q)·q − r‖')
    .option('--normalize', 'score normalisation: cosine minus the similarity to the n-th nearest background descriptor')
    .option('--center', 'centre all descriptors on the background mean (then re-normalise) before matching')
    .option('--alpha <α>', 'stretching α', positiveNumber, 2.5)
    .option('-n, --n <n>', 'background neighbours (s_n, or the n-th for --normalize)', positiveInt, 5)
    .option('-k, --k <k>', 'references kept per query', positiveInt, 10)
    .option('--scales <list>', 'query scales (factors of the model input, or "isc" = 200/256/320/400 of 256); default: the references’', scaleList)
    .option('--fusion <mode>', 'fusion of the scales (default: the references’; seed 004 uses avg)', fusionMode)
    .addOption(new Option('--hash <kind>', 'classical baseline: perceptual hashes instead of descriptors').choices(['phash', 'dhash', 'blockhash']))
    .option('--verify <k>', 'local verification (keypoints + RANSAC) of each query’s top k matches; a verified pair scores its inlier count + ½ its descriptor score', positiveInt, 10)
    .option('--no-verify', 'descriptor (or hash) scores only: no local verification')
    .option('--keypoint-candidates <n>', 'also verify the n references most of the query’s keypoints vote for (a keypoint index over the references)', positiveInt, 20)
    .option('--no-keypoint-candidates', 'verify the descriptor’s top k only')
    .addOption(new Option('--verify-detector <kind>', 'keypoints for --verify: AKAZE (blur- and scale-robust) or ORB (faster)').choices(['akaze', 'orb']).default('akaze'))
    .option('--verify-side <px>', 'images are scaled (small ones enlarged) to fit this side before keypoints are found', positiveInt, 400)
    .option('--verify-features <n>', 'keypoints kept per image, the strongest', positiveInt, 1000)
    .option('--verify-threshold <t>', 'AKAZE’s detector threshold (lower: more keypoints, slower; use with more --verify-features)', positiveNumber, 0.0001)
    .option('--verify-min-inliers <n>', 'inliers a pair needs to count as verified (else it keeps its descriptor score)', positiveInt, 6)
    .requiredOption('-o, --out <matches.csv>', 'where to write the matches')
    .option('--truth <truth.csv>', 'also print µAP and recall@P90 against query_id,reference_id ground truth')
    .option('-m, --model <model.onnx>', 'model file, if it moved since the gallery was built')
    .option('--root <dir>', 'root that manifest paths are relative to')
    .option('--threads <n>', 'onnxruntime threads', positiveInt)
    .option('-q, --quiet', 'no progress output')
    .action(async (o: CopyDetectFlags) => {
      if (o.stretch && o.normalize) throw new Error('choose --stretch or --normalize, not both');
      const scoring: CopyScoring = o.stretch ? 'stretch' : o.normalize ? 'normalize' : 'raw';
      const result = await copyDetect({ ...o, scoring, verify: o.verify ? { topK: o.verify, minInliers: o.verifyMinInliers, ...(o.keypointCandidates ? { keypointCandidates: o.keypointCandidates } : {}), detector: o.verifyDetector, maxSide: o.verifySide, features: o.verifyFeatures, threshold: o.verifyThreshold } : undefined });
      await writeFileAtomic(o.out, matchesCsv(result.matches));
      const qps = result.queries / Math.max(1e-9, result.matchSeconds);
      process.stderr.write(`${result.queries} queries × ${result.references} references → ${result.matches.length} pairs (${scoring}${o.hash ? `, ${o.hash}` : ''}); matching ${result.matchSeconds.toFixed(3)} s (${qps.toFixed(0)} queries/s), embedding ${result.embedSeconds.toFixed(1)} s${result.verifiedPairs === undefined ? '' : `; ${result.verifiedPairs} pairs verified in ${result.verifySeconds!.toFixed(1)} s`}; written to ${o.out}\n`);
      if (o.truth) printScores(result.matches, await readTruthCsv(o.truth));
    });
}

export function evalCopyCommand(): Command {
  return new Command('copy')
    .description('copy-detection metrics of a match file: micro-average precision and recall at precision 0.9 (ISC2021)')
    .requiredOption('--matches <matches.csv>', 'query_id,reference_id,score rows (visid copy-detect --out)')
    .requiredOption('--truth <truth.csv>', 'query_id,reference_id ground truth (an empty reference_id: a query without a copy)')
    .option('--edits <queries.csv>', 'also break the scores down by edit (the queries.csv a copy benchmark writes)')
    .option('--json', 'print JSON')
    .action(async (o: { matches: string; truth: string; edits?: string; json?: boolean }) => {
      const matches = await readMatchesCsv(o.matches);
      const truth = await readTruthCsv(o.truth);
      const perEdit = o.edits ? perEditScores(matches, truth, await readQueryEdits(o.edits)) : undefined;
      if (o.json) {
        process.stdout.write(JSON.stringify({ microAP: microAveragePrecision(matches, truth), recallAtP90: recallAtPrecision(matches, truth, 0.9), thresholdAtP90: thresholdAtPrecision(matches, truth, 0.9) ?? null, predictions: matches.length, truthPairs: truth.filter((t) => t.reference).length, perEdit }, null, 2) + '\n');
        return;
      }
      process.stdout.write(`${matches.length} predictions, ${truth.filter((t) => t.reference).length} true pairs\n`);
      printScores(matches, truth);
      if (perEdit) process.stdout.write(formatEditTable(perEdit));
    });
}
