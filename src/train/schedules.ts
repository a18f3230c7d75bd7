// Learning-rate schedules: constant, cosine annealing to a minimum with linear warm-up, cosine restarts, and seed 004's eq. (3).

export type ScheduleSpec =
  | { kind: 'constant' }
  | { kind: 'cosine'; warmupEpochs?: number; minLr?: number }
  /** Cosine annealing restarted `cycles` times (snapshot ensembles, seed 002 §2.4): a snapshot at each cycle's end. */
  | { kind: 'cosine-restarts'; cycles: number; minLr?: number }
  /** Seed 004 eq. (3): linear warm-up over 5 epochs from 0.01, hold to epoch 10, cosine to the last epoch (25). */
  | { kind: 'seed004'; warmupEpochs?: number; holdUntil?: number };

/**
 * The learning rate at fractional epoch `t` (0 ≤ t < epochs) of a run of `epochs` epochs with base rate `lr`.
 * Per-step schedules take fractional t; seed004 is defined per whole epoch, as the paper writes it.
 */
export function learningRate(spec: ScheduleSpec, lr: number, t: number, epochs: number): number {
  switch (spec.kind) {
    case 'constant':
      return lr;
    case 'cosine': {
      const warm = spec.warmupEpochs ?? 0;
      const min = spec.minLr ?? 0;
      if (t < warm) return (lr * (t + 1 / Math.max(1, epochs * 100))) / warm;
      const progress = (t - warm) / Math.max(1e-9, epochs - warm);
      return min + 0.5 * (lr - min) * (1 + Math.cos(Math.PI * Math.min(1, progress)));
    }
    case 'cosine-restarts': {
      const len = epochs / spec.cycles;
      const progress = (t % len) / len;
      const min = spec.minLr ?? 0;
      return min + 0.5 * (lr - min) * (1 + Math.cos(Math.PI * progress));
    }
    case 'seed004':
      return lr * seed004Ratio(Math.floor(t), epochs, spec.warmupEpochs ?? 5, spec.holdUntil ?? 10);
  }
}

/**
 * Seed 004 eq. (3), with its constants as parameters (the paper: warm-up 5, hold until 10, 25 epochs):
 *   0.99·epoch/5 + 0.01 for epoch < 5; 1 for 5 ≤ epoch < 10; 0.5·(cos((epoch − 10)/(25 − 10)·π) + 1) after.
 */
export function seed004Ratio(epoch: number, epochs = 25, warmup = 5, holdUntil = 10): number {
  if (epoch < warmup) return (0.99 * epoch) / warmup + 0.01;
  if (epoch < holdUntil) return 1;
  return 0.5 * (Math.cos(((epoch - holdUntil) / (epochs - holdUntil)) * Math.PI) + 1);
}

/** Epoch indices (0-based, inclusive) at which a cosine-restarts run ends a cycle. */
export function snapshotEpochs(spec: ScheduleSpec, epochs: number): number[] {
  if (spec.kind !== 'cosine-restarts') return [];
  const len = epochs / spec.cycles;
  return Array.from({ length: spec.cycles }, (_, c) => Math.round((c + 1) * len) - 1);
}
