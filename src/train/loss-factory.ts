// Builds a loss (and its miner) from its config entry: one place that knows every loss and miner by name.
import type { Loss } from '../losses/loss.js';
import { reducerByName } from '../losses/loss.js';
import { arcFace, cosFace, MarginSoftmaxLoss, normFace, sphereFace, subCenterArcFace } from '../losses/margin-softmax.js';
import { TripletLoss } from '../losses/triplet.js';
import { ContrastiveLoss } from '../losses/contrastive.js';
import { MarginBasedLoss } from '../losses/margin-based.js';
import { CenterLoss } from '../losses/center.js';
import { MultiSimilarityLoss } from '../losses/multi-similarity.js';
import { SoftBceLoss } from '../losses/bce.js';
import { FocalLoss } from '../losses/focal.js';
import { ClassBalancedFocalLoss } from '../losses/class-balanced-focal.js';
import { ReducedFocalLoss } from '../losses/reduced-focal.js';
import { CopyDetectionLoss } from '../losses/copy-detection.js';
import type { Miner } from '../miners/miner.js';
import { BatchAllMiner } from '../miners/batch-all.js';
import { BatchHardMiner } from '../miners/batch-hard.js';
import { SemiHardMiner } from '../miners/semi-hard.js';
import { DistanceWeightedMiner } from '../miners/distance-weighted.js';

export const CLASSIFICATION_LOSSES = ['normface', 'sphereface', 'arcface', 'cosface', 'subcenter-arcface', 'combined-margin', 'center'] as const;
export const PAIR_LOSSES = ['triplet', 'contrastive', 'margin-based', 'multi-similarity'] as const;
/** Losses that mix pair and classification terms on a network's intermediate outputs (PK-sampled like pair losses). */
export const COMBINED_LOSSES = ['copy-detection'] as const;
export const MULTI_LABEL_LOSSES = ['bce', 'focal', 'class-balanced-focal', 'reduced-focal'] as const;
export const LOSS_NAMES = [...CLASSIFICATION_LOSSES, ...PAIR_LOSSES, ...COMBINED_LOSSES, ...MULTI_LABEL_LOSSES] as const;
export type LossName = (typeof LOSS_NAMES)[number];
export const MINER_NAMES = ['batch-hard', 'batch-all', 'semi-hard', 'distance-weighted'] as const;
export type MinerName = (typeof MINER_NAMES)[number];

export interface LossConfig {
  name: LossName;
  /** Margin-softmax scale s. */
  scale?: number;
  learnableScale?: boolean;
  m1?: number;
  m2?: number;
  m3?: number;
  subCenters?: number;
  /** Triplet/semi-hard margin (or 'soft'); margin-based α. */
  margin?: number | 'soft';
  squared?: boolean;
  posMargin?: number;
  negMargin?: number;
  beta?: number;
  nu?: number;
  /** center: λ and the softmax-family loss it is added to (default arcface). */
  centerWeight?: number;
  centerBase?: 'normface' | 'arcface' | 'cosface';
  miner?: MinerName;
  gamma?: number;
  threshold?: number;
  classCounts?: number[];
  classWeights?: number[];
  reducer?: 'mean' | 'outlier-removal';
  /** copy-detection: weights of its four terms. */
  weights?: { triplet?: number; projection?: number; embedding?: number; soft?: number };
}

/** Sizes of a network's intermediate outputs, for losses that read them. */
export interface NetDims {
  projectionDim?: number;
}

export function createMiner(name: MinerName | undefined, config: LossConfig, embeddingDim: number, seed: number): Miner | undefined {
  switch (name) {
    case undefined:
      return undefined;
    case 'batch-hard':
      return new BatchHardMiner();
    case 'batch-all':
      return new BatchAllMiner(typeof config.margin === 'number' ? config.margin : undefined);
    case 'semi-hard':
      return new SemiHardMiner(typeof config.margin === 'number' ? config.margin : 0.2);
    case 'distance-weighted':
      return new DistanceWeightedMiner({ dim: embeddingDim, seed });
  }
}

export function isPairLoss(name: LossName): boolean {
  return (PAIR_LOSSES as readonly string[]).includes(name) || (COMBINED_LOSSES as readonly string[]).includes(name);
}

export function createLoss(config: LossConfig, numClasses: number, embeddingDim: number, seed: number, dims: NetDims = {}): Loss {
  const margin = { numClasses, embeddingDim, scale: config.scale ?? 30, learnableScale: config.learnableScale, seed, reducer: reducerByName(config.reducer) };
  const miner = createMiner(config.miner, config, embeddingDim, seed);
  switch (config.name) {
    case 'normface':
      return normFace(margin);
    case 'sphereface':
      return sphereFace({ ...margin, m1: config.m1 ?? 4 });
    case 'arcface':
      return arcFace({ ...margin, m2: config.m2 ?? 0.5 });
    case 'cosface':
      return cosFace({ ...margin, m3: config.m3 ?? 0.35 });
    case 'subcenter-arcface':
      return subCenterArcFace({ ...margin, m2: config.m2 ?? 0.5, subCenters: config.subCenters ?? 3 });
    case 'combined-margin':
      return new MarginSoftmaxLoss({ ...margin, name: 'combined-margin', m1: config.m1 ?? 1, m2: config.m2 ?? 0.3, m3: config.m3 ?? 0.2 });
    case 'center': {
      const base = createLoss({ ...config, name: config.centerBase ?? 'arcface' }, numClasses, embeddingDim, seed);
      return new CenterLoss({ numClasses, embeddingDim, weight: config.centerWeight ?? 0.01, base });
    }
    case 'triplet':
      return new TripletLoss({ margin: config.margin ?? 0.2, squared: config.squared, miner });
    case 'contrastive':
      return new ContrastiveLoss({ posMargin: config.posMargin, negMargin: config.negMargin, miner });
    case 'margin-based':
      return new MarginBasedLoss({ alpha: typeof config.margin === 'number' ? config.margin : 0.2, betaInit: config.beta, nu: config.nu, miner: miner ?? new DistanceWeightedMiner({ dim: embeddingDim, seed }) });
    case 'copy-detection':
      return new CopyDetectionLoss({ numClasses, embeddingDim, projectionDim: dims.projectionDim, margin: config.margin ?? 0.3, weights: config.weights, seed });
    case 'multi-similarity':
      return new MultiSimilarityLoss({});
    case 'bce':
      return new SoftBceLoss({ classWeights: config.classWeights, reducer: reducerByName(config.reducer) });
    case 'focal':
      return new FocalLoss({ gamma: config.gamma, classWeights: config.classWeights, reducer: reducerByName(config.reducer) });
    case 'class-balanced-focal':
      if (!config.classCounts) throw new Error('class-balanced-focal needs classCounts');
      return new ClassBalancedFocalLoss({ classCounts: config.classCounts, beta: config.beta, gamma: config.gamma, classWeights: config.classWeights, reducer: reducerByName(config.reducer) });
    case 'reduced-focal':
      return new ReducedFocalLoss({ threshold: config.threshold, gamma: config.gamma, classWeights: config.classWeights, reducer: reducerByName(config.reducer) });
  }
}
