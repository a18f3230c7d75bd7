// CosPlace training (Berton et al. 2022, seed 001 §2): the map cut into M-metre cells × α-degree heading sectors as classes, in N×N×L groups where neighbouring classes never meet; a margin-softmax classifier per group, trained one group at a time; optional gradient reversal against a target domain (§3).
import { tf } from '../../tf/runtime.js';
import { buildHead, type EmbeddingNet } from '../../models/networks.js';
import { arcFace, cosFace, sphereFace, type MarginSoftmaxLoss } from '../../losses/margin-softmax.js';
import { DomainAdversarialLoss } from '../../losses/domain-adversarial.js';
import type { Loss } from '../../losses/loss.js';
import { createOptimizer } from '../../train/optimizers.js';
import { mulberry32 } from '../../util/random.js';
import { VisidError } from '../../util/errors.js';

export interface CosPlaceGrouping {
  /** Cell side M in metres (CosPlace: 10). */
  cellMeters?: number;
  /** Heading sector α in degrees (CosPlace: 30); ignored for images without a heading. */
  headingDegrees?: number;
  /** N: cells are grouped by (east cell mod N, north cell mod N) (CosPlace: 5). */
  groupsPerAxis?: number;
  /** L: heading sectors are grouped mod L (CosPlace: 2). */
  headingGroups?: number;
  /** Classes with fewer images are left out (CosPlace: 10; small sets need 1), and so are groups of a single class. */
  minImagesPerClass?: number;
}

export interface CosPlaceClasses {
  /** Class index of every item, −1 when its class was too small. */
  classOf: Int32Array;
  /** The items' class keys "eastCell_northCell_headingSector". */
  keys: string[];
  /** For each non-empty group: its classes (global class indices) in order. */
  groups: number[][];
  /** Group index and index within the group of every class. */
  groupOf: Int32Array;
  indexInGroup: Int32Array;
}

/**
 * Classes and groups of CosPlace: class = (⌊e/M⌋, ⌊n/M⌋, ⌊heading/α⌋); group = (⌊e/M⌋ mod N, ⌊n/M⌋ mod N,
 * ⌊heading/α⌋ mod L). Two classes of one group are at least N cells (or L sectors) apart, so no group holds
 * neighbouring places whose images overlap.
 */
export function cosplaceClasses(items: ReadonlyArray<{ utmEast?: number; utmNorth?: number; heading?: number }>, g: CosPlaceGrouping = {}): CosPlaceClasses {
  const M = g.cellMeters ?? 10;
  const alpha = g.headingDegrees ?? 30;
  const N = g.groupsPerAxis ?? 5;
  const L = g.headingGroups ?? 2;
  const minImages = g.minImagesPerClass ?? 10;
  if (!(M > 0 && alpha > 0 && Number.isInteger(N) && N >= 1 && Number.isInteger(L) && L >= 1)) throw new VisidError('E_INPUT', `bad CosPlace grouping (M ${M}, α ${alpha}, N ${N}, L ${L})`);
  const cells = items.map((it, i) => {
    if (it.utmEast === undefined || it.utmNorth === undefined) throw new VisidError('E_INPUT', 'CosPlace needs UTM coordinates for every training image', { item: `item ${i}` });
    const e = Math.floor(it.utmEast / M);
    const n = Math.floor(it.utmNorth / M);
    const h = it.heading === undefined ? 0 : Math.floor((((it.heading % 360) + 360) % 360) / alpha);
    const mod = (a: number, b: number) => ((a % b) + b) % b;
    return { key: `${e}_${n}_${h}`, group: `${mod(e, N)}_${mod(n, N)}_${mod(h, L)}` };
  });
  const count = new Map<string, number>();
  for (const c of cells) count.set(c.key, (count.get(c.key) ?? 0) + 1);
  const classIndex = new Map<string, number>();
  const classGroup: string[] = [];
  for (const c of cells) {
    if ((count.get(c.key) ?? 0) < minImages || classIndex.has(c.key)) continue;
    classIndex.set(c.key, classIndex.size);
    classGroup.push(c.group);
  }
  // A group needs two classes for a classifier to learn anything; a lone class is left out (like a small one).
  const perGroup = new Map<string, number>();
  for (const gname of classGroup) perGroup.set(gname, (perGroup.get(gname) ?? 0) + 1);
  const keptKeys = [...classIndex.keys()].filter((_, c) => (perGroup.get(classGroup[c]!) ?? 0) >= 2);
  const kept = new Map(keptKeys.map((k, i) => [k, i]));
  const keptGroup = keptKeys.map((k) => classGroup[classIndex.get(k)!]!);
  const groupNames = [...new Set(keptGroup)].sort();
  const groups: number[][] = groupNames.map(() => []);
  const groupOf = new Int32Array(keptGroup.length);
  const indexInGroup = new Int32Array(keptGroup.length);
  keptGroup.forEach((name, c) => {
    const gi = groupNames.indexOf(name);
    groupOf[c] = gi;
    indexInGroup[c] = groups[gi]!.length;
    groups[gi]!.push(c);
  });
  return { classOf: Int32Array.from(cells, (c) => kept.get(c.key) ?? -1), keys: cells.map((c) => c.key), groups, groupOf, indexInGroup };
}

export type CosPlaceLossName = 'cosface' | 'arcface' | 'sphereface';

export interface CosPlaceTrainOptions {
  grouping?: CosPlaceGrouping;
  /** Descriptor dimension of the FC after GeM (CosPlace: 512). */
  dim?: number;
  loss?: CosPlaceLossName;
  /** Scale s and margin m (CosPlace: CosFace s = 30, m = 0.4). */
  scale?: number;
  margin?: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  /** Learning rate of the classifiers (CosPlace: 0.01, the model 1e-5 for a whole backbone; a head learns at lr). */
  classifierLr?: number;
  seed?: number;
  /** Unlabelled target-domain features (e.g. night photos) for the gradient reversal layer (seed 001 §3). */
  target?: { vectors: Float32Array; count: number };
  /** Weight of the domain term and GRL λ. */
  domainWeight?: number;
  grlLambda?: number;
  onEpoch?: (e: { epoch: number; group: number; loss: number; seconds: number }) => void;
}

/** The group's classifier as the current task of a shared domain-adversarial loss. */
class GroupTask implements Loss {
  readonly name = 'cosplace-group';
  current!: MarginSoftmaxLoss;
  variables(): tf.Variable[] {
    return this.current.variables();
  }
  compute(e: tf.Tensor2D, labels: tf.Tensor): tf.Scalar {
    return this.current.compute(e, labels);
  }
}

function classifierFor(name: CosPlaceLossName, numClasses: number, embeddingDim: number, scale: number, margin: number | undefined, seed: number): MarginSoftmaxLoss {
  if (name === 'cosface') return cosFace({ numClasses, embeddingDim, scale, m3: margin ?? 0.4, seed });
  if (name === 'arcface') return arcFace({ numClasses, embeddingDim, scale, m2: margin ?? 0.5, seed });
  if (name === 'sphereface') return sphereFace({ numClasses, embeddingDim, scale, m1: margin ?? 4, seed });
  throw new VisidError('E_INPUT', `unknown CosPlace loss '${String(name)}' (cosface, arcface, sphereface)`);
}

/**
 * Trains a GeM + FC head (or FC on pooled features) on frozen backbone features: `features` has `views` rows per
 * item (shape per row `shape`: [D] or [H, W, C]); epoch e trains group e mod G only, as CosPlace does.
 */
export async function trainCosPlaceHead(
  features: { vectors: Float32Array; views: number; shape: number[] },
  classes: CosPlaceClasses,
  o: CosPlaceTrainOptions = {},
): Promise<{ net: EmbeddingNet; history: Array<{ epoch: number; group: number; loss: number; seconds: number }> }> {
  if (classes.groups.length === 0) throw new VisidError('E_DATASET', 'no CosPlace class has enough images (lower minImagesPerClass or use more images)');
  const per = features.shape.reduce((a, b) => a * b, 1);
  const items = classes.classOf.length;
  if (features.vectors.length !== items * features.views * per) throw new VisidError('E_DIM', `${features.vectors.length} feature values for ${items} items × ${features.views} views × ${per}`);
  const dim = o.dim ?? 512;
  const seed = o.seed ?? 1;
  const input = features.shape.length === 3 ? ([features.shape[2]!, features.shape[0]!, features.shape[1]!] as [number, number, number]) : features.shape[0]!;
  const net = buildHead({ type: 'head', input, kind: 'linear', embeddingDim: dim, seed });
  const classifiers = classes.groups.map((g, i) => classifierFor(o.loss ?? 'cosface', g.length, dim, o.scale ?? 30, o.margin, seed + 100 + i));
  const task = new GroupTask();
  const adversarial = o.target ? new DomainAdversarialLoss({ task, embeddingDim: dim, weight: o.domainWeight ?? 0.1, lambda: o.grlLambda ?? 1, seed: seed + 7 }) : undefined;
  const lr = o.lr ?? 1e-3;
  const netOpt = createOptimizer({ kind: 'adam' }, lr);
  // One optimiser per group's classifier, as CosPlace has (tfjs's Adam also keys its moments by position in the
  // variable list, so one optimiser over changing classifiers would mix their moments). The domain classifier
  // trains with the head.
  const clsOpts = classifiers.map(() => createOptimizer({ kind: 'adam' }, o.classifierLr ?? 1e-2));
  const random = mulberry32(seed);
  const batch = o.batchSize ?? 32;
  const epochs = o.epochs ?? 10 * classes.groups.length;
  const history: Array<{ epoch: number; group: number; loss: number; seconds: number }> = [];
  const sampleShape = features.shape;
  const rowsOf = (rows: number[], vectors = features.vectors) => {
    const x = new Float32Array(rows.length * per);
    rows.forEach((r, i) => x.set(vectors.subarray(r * per, (r + 1) * per), i * per));
    return tf.tensor(x, [rows.length, ...sampleShape]);
  };
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const gi = (epoch - 1) % classes.groups.length;
      const t0 = performance.now();
      task.current = classifiers[gi]!;
      // Every view of every item of this group's classes, shuffled.
      const rows: Array<{ row: number; label: number }> = [];
      for (let i = 0; i < items; i++) {
        const c = classes.classOf[i]!;
        if (c < 0 || classes.groupOf[c] !== gi) continue;
        for (let v = 0; v < features.views; v++) rows.push({ row: i * features.views + v, label: classes.indexInGroup[c]! });
      }
      for (let i = rows.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [rows[i], rows[j]] = [rows[j]!, rows[i]!];
      }
      let sum = 0;
      let steps = 0;
      for (let s = 0; s < rows.length; s += batch) {
        const part = rows.slice(s, s + batch);
        const targetRows = o.target ? Array.from({ length: Math.max(1, Math.floor(part.length / 4)) }, () => Math.floor(random() * o.target!.count)) : [];
        const x = rowsOf(part.map((p) => p.row));
        const xt = o.target && targetRows.length ? rowsOf(targetRows, o.target.vectors) : undefined;
        const labels = adversarial
          ? tf.tensor2d(Int32Array.from([...part.flatMap((p) => [p.label, 0]), ...targetRows.flatMap(() => [-1, 1])]), [part.length + targetRows.length, 2], 'int32')
          : tf.tensor1d(Int32Array.from(part.map((p) => p.label)), 'int32');
        const input = xt ? tf.concat([x, xt], 0) : x;
        const loss = adversarial ?? task.current;
        const vars = [...net.trainable(), ...loss.variables()];
        // One loss evaluation, two optimisers (the head and the classifiers learn at their own rates).
        try {
          const { value, grads } = tf.variableGrads(() => loss.compute(net.apply(input, true), labels), vars);
          const v = value.dataSync()[0]!;
          if (!Number.isFinite(v)) throw new Error(`the loss became ${v}; lower the learning rate`);
          sum += v;
          steps++;
          const groupVars = new Set(task.current.variables());
          const netGrads: Array<[tf.Variable, tf.Tensor]> = [];
          const clsGrads: Array<[tf.Variable, tf.Tensor]> = [];
          for (const variable of vars) {
            const g = grads[variable.name];
            if (g) (groupVars.has(variable) ? clsGrads : netGrads).push([variable, g]);
          }
          applyGrads(netOpt, netGrads, lr);
          applyGrads(clsOpts[gi]!, clsGrads, o.classifierLr ?? 1e-2);
          tf.dispose([value, ...Object.values(grads)]);
        } finally {
          tf.dispose([x, labels, ...(xt ? [xt, input] : [])]);
        }
      }
      const record = { epoch, group: gi, loss: steps ? sum / steps : 0, seconds: (performance.now() - t0) / 1000 };
      history.push(record);
      o.onEpoch?.(record);
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    netOpt.dispose();
    for (const opt of clsOpts) opt.dispose();
    for (const c of classifiers) tf.dispose(c.variables());
    if (adversarial) tf.dispose(adversarial.variables().filter((v) => !classifiers.some((c) => c.variables().includes(v))));
  }
  return { net, history };
}

/** Applies precomputed gradients through an Optimizer (its step() takes a loss function; here the gradients exist already). */
function applyGrads(opt: ReturnType<typeof createOptimizer>, grads: Array<[tf.Variable, tf.Tensor]>, lr: number): void {
  if (grads.length === 0) return;
  // A loss whose gradient w.r.t. each variable is exactly the given one (a constant): Σ sum(g ⊙ v).
  opt.step(() => grads.reduce((acc, [v, g]) => tf.add(acc, tf.sum(tf.mul(g, v))), tf.scalar(0)) as tf.Scalar, grads.map(([v]) => v), lr);
}
