// Model soups (seed 001 §7.1; Wortsman et al. 2022) — uniform and greedy weight averages of one run's checkpoints — and snapshot ensembles (seed 002 §2.4).
import { readCheckpoint } from './checkpoint.js';

export type Weights = Map<string, Float32Array>;

/** Network parameters of a checkpoint (optimiser state and loss-only variables left out). */
export async function networkWeights(file: string): Promise<{ weights: Weights; metrics: Record<string, number>; epoch: number }> {
  const ckpt = await readCheckpoint(file);
  const weights: Weights = new Map();
  for (const [k, t] of ckpt.tensors) if (!k.startsWith('optimizer/') && !k.startsWith('loss.')) weights.set(k, t.values);
  return { weights, metrics: ckpt.metrics, epoch: ckpt.epoch };
}

/** The element-wise mean of several weight sets of one architecture (names and sizes must match). */
export function averageWeights(sets: Weights[]): Weights {
  if (sets.length === 0) throw new Error('a soup needs at least one checkpoint');
  const out: Weights = new Map();
  for (const [name, first] of sets[0]!) {
    const acc = new Float32Array(first.length);
    for (const [i, s] of sets.entries()) {
      const v = s.get(name);
      if (!v || v.length !== first.length) throw new Error(`checkpoint ${i} does not match the first one at '${name}': soups need one architecture`);
      for (let j = 0; j < acc.length; j++) acc[j]! += v[j]!;
    }
    for (let j = 0; j < acc.length; j++) acc[j]! /= sets.length;
    out.set(name, acc);
  }
  return out;
}

export interface SoupResult {
  weights: Weights;
  /** Epochs of the checkpoints in the soup. */
  members: number[];
  score: number;
}

/**
 * Greedy soup: checkpoints sorted by their own validation score, best first; each is kept only if adding it to
 * the soup does not lower the soup's validation score (`evaluate` scores a weight set).
 */
export async function greedySoup(candidates: Array<{ weights: Weights; score: number; epoch: number }>, evaluate: (w: Weights) => Promise<number>): Promise<SoupResult> {
  const sorted = [...candidates].sort((a, b) => b.score - a.score);
  const members = [sorted[0]!];
  let best = await evaluate(sorted[0]!.weights);
  for (const c of sorted.slice(1)) {
    const trial = averageWeights([...members, c].map((m) => m.weights));
    const score = await evaluate(trial);
    if (score >= best) {
      members.push(c);
      best = score;
    }
  }
  return { weights: averageWeights(members.map((m) => m.weights)), members: members.map((m) => m.epoch), score: best };
}
