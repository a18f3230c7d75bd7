// Batch samplers: random, PK (P labels × K items, what triplet mining needs), and class-balanced; all seeded per epoch.
import { mulberry32 } from '../util/random.js';

export type SamplerSpec = { kind: 'random' } | { kind: 'pk'; p: number; k: number } | { kind: 'class-balanced' };

export interface Sampler {
  /** The batches of one epoch: arrays of sample indices. Same seed and epoch → same batches. */
  epoch(epoch: number): number[][];
}

function shuffle<T>(xs: T[], rnd: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

function byClass(labels: Int32Array): Map<number, number[]> {
  const m = new Map<number, number[]>();
  labels.forEach((c, i) => (m.get(c) ?? m.set(c, []).get(c)!).push(i));
  return m;
}

/** Every sample once per epoch in a shuffled order; the last short batch is dropped (BN needs full batches). */
export class RandomSampler implements Sampler {
  constructor(private readonly n: number, private readonly batchSize: number, private readonly seed: number) {}
  epoch(epoch: number): number[][] {
    const order = shuffle(Array.from({ length: this.n }, (_, i) => i), mulberry32(this.seed * 7919 + epoch));
    const out: number[][] = [];
    for (let s = 0; s + this.batchSize <= order.length; s += this.batchSize) out.push(order.slice(s, s + this.batchSize));
    if (out.length === 0 && order.length > 1) out.push(order);
    return out;
  }
}

/**
 * PK batches (Hermans et al. 2017): P classes × K images each, so every anchor has positives and negatives. An epoch
 * is about N / (P·K) batches; classes with fewer than K images repeat images.
 */
export class PKSampler implements Sampler {
  private readonly classes: Map<number, number[]>;
  /**
   * `viewsOfOne`: classes of one image each (instance training), whose k samples are k augmented views of it: an
   * epoch then shows every image once (N / P batches), not N / (P·K).
   */
  constructor(private readonly labels: Int32Array, private readonly p: number, private readonly k: number, private readonly seed: number, private readonly viewsOfOne = false) {
    this.classes = byClass(labels);
    if (this.classes.size < 2) throw new Error('PK sampling needs at least two classes');
  }
  epoch(epoch: number): number[][] {
    const rnd = mulberry32(this.seed * 7919 + epoch);
    const p = Math.min(this.p, this.classes.size);
    const batches = Math.max(1, Math.floor(this.labels.length / (p * (this.viewsOfOne ? 1 : this.k))));
    const ids = [...this.classes.keys()];
    const out: number[][] = [];
    let classOrder: number[] = [];
    for (let b = 0; b < batches; b++) {
      const batch: number[] = [];
      for (let j = 0; j < p; j++) {
        if (classOrder.length === 0) classOrder = shuffle(ids.slice(), rnd);
        const members = this.classes.get(classOrder.pop()!)!;
        const picks = members.length >= this.k ? shuffle(members.slice(), rnd).slice(0, this.k) : Array.from({ length: this.k }, () => members[Math.floor(rnd() * members.length)]!);
        batch.push(...picks);
      }
      out.push(batch);
    }
    return out;
  }
}

/** Each batch draws a class uniformly, then an image of it: rare classes are seen as often as common ones. */
export class ClassBalancedSampler implements Sampler {
  private readonly classes: number[][];
  constructor(private readonly labels: Int32Array, private readonly batchSize: number, private readonly seed: number) {
    this.classes = [...byClass(labels).values()];
  }
  epoch(epoch: number): number[][] {
    const rnd = mulberry32(this.seed * 7919 + epoch);
    const batches = Math.max(1, Math.floor(this.labels.length / this.batchSize));
    return Array.from({ length: batches }, () =>
      Array.from({ length: this.batchSize }, () => {
        const members = this.classes[Math.floor(rnd() * this.classes.length)]!;
        return members[Math.floor(rnd() * members.length)]!;
      }),
    );
  }
}

export function createSampler(spec: SamplerSpec, labels: Int32Array, batchSize: number, seed: number, viewsOfOne = false): Sampler {
  if (spec.kind === 'pk') return new PKSampler(labels, spec.p, spec.k, seed, viewsOfOne);
  if (spec.kind === 'class-balanced') return new ClassBalancedSampler(labels, batchSize, seed);
  return new RandomSampler(labels.length, batchSize, seed);
}
