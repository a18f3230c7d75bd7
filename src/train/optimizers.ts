// Optimisers from TensorFlow.js (SGD with momentum, Adam) plus weight decay: L2 in the gradient, or decoupled (AdamW).
import { tf } from '../tf/runtime.js';

export interface OptimizerSpec {
  kind: 'sgd' | 'adam' | 'adamw';
  /** SGD momentum (seed 000 Table 4: 0.9). */
  momentum?: number;
  nesterov?: boolean;
  /** Weight decay: added as wd·w to the gradient for sgd/adam, applied as w ← w − lr·wd·w after the step for adamw. */
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
}

export interface Optimizer {
  readonly spec: OptimizerSpec;
  /** One update of `vars` from the loss `f`, at learning rate `lr`; returns the loss value. */
  step(f: () => tf.Scalar, vars: tf.Variable[], lr: number): number;
  /** One update from gradients computed elsewhere (data-parallel workers); the caller disposes `grads`. */
  applyGrads(grads: tf.NamedTensorMap, vars: tf.Variable[], lr: number): void;
  /** The optimiser's own state (moments), for checkpoints. */
  getWeights(): Promise<Array<{ name: string; tensor: tf.Tensor }>>;
  setWeights(weights: Array<{ name: string; tensor: tf.Tensor }>): Promise<void>;
  dispose(): void;
}

/** Weight decay applies to kernels and class weights (rank ≥ 2), not to biases, BN scales or scalars like GeM's p. */
function decays(v: tf.Variable): boolean {
  return v.rank >= 2;
}

/** One step: the loss and its gradients, refused when the loss is not finite, then `apply`; returns the loss. */
function gradientStep(f: () => tf.Scalar, vars: tf.Variable[], apply: (grads: tf.NamedTensorMap) => void): number {
  const { value, grads } = tf.variableGrads(f, vars);
  try {
    const loss = value.dataSync()[0]!;
    if (!Number.isFinite(loss)) throw new Error(`the loss became ${loss}; lower the learning rate`);
    apply(grads);
    return loss;
  } finally {
    tf.dispose([value, ...Object.values(grads)]);
  }
}

/** Variables that learn at `lrScale` × the base rate, with optimiser state of their own. */
export interface ParamGroup {
  /** tfjs variable names. */
  vars: Set<string>;
  lrScale: number;
}

/**
 * An optimiser, or one per parameter group when `groups` are given (a fine-tuned backbone at 0.1× the head's rate):
 * gradients are taken once for all variables; each group's inner optimiser applies its own at its own rate. Adam is
 * invariant to a gradient's scale, so a rate ratio needs separate optimisers rather than scaled gradients.
 */
export function createOptimizer(spec: OptimizerSpec, lr: number, groups: ParamGroup[] = []): Optimizer {
  if (groups.length === 0) return createSingleOptimizer(spec, lr);
  const inners = [createSingleOptimizer(spec, lr), ...groups.map((g) => createSingleOptimizer(spec, lr * g.lrScale))];
  const groupOf = (name: string) => {
    const i = groups.findIndex((g) => g.vars.has(name));
    return i < 0 ? 0 : i + 1;
  };
  return {
    spec,
    step(f, vars, stepLr) {
      return gradientStep(f, vars, (grads) => this.applyGrads(grads, vars, stepLr));
    },
    applyGrads(grads, vars, stepLr) {
      const parts = inners.map(() => [] as tf.Variable[]);
      for (const v of vars) parts[groupOf(v.name)]!.push(v);
      const rates = [1, ...groups.map((g) => g.lrScale)].map((k) => k * stepLr);
      parts.forEach((p, i) => p.length > 0 && inners[i]!.applyGrads(grads, p, rates[i]!));
    },
    // Slots are keyed by variable name, unique across groups; every group counts the same steps: one 'iter'.
    async getWeights() {
      const all = (await Promise.all(inners.map((o) => o.getWeights()))).flat();
      const iter = all.find((w) => w.name === 'iter');
      return [...(iter ? [iter] : []), ...all.filter((w) => w.name !== 'iter')];
    },
    async setWeights(weights) {
      const iter = weights.filter((w) => w.name === 'iter');
      for (let i = 0; i < inners.length; i++) {
        const own = weights.filter((w) => w.name !== 'iter' && groupOf(w.name.split('/')[0]!) === i);
        await inners[i]!.setWeights([...iter.map((w) => ({ name: 'iter', tensor: w.tensor.clone() })), ...own]);
      }
    },
    dispose: () => inners.forEach((o) => o.dispose()),
  };
}


function createSingleOptimizer(spec: OptimizerSpec, lr: number): Optimizer {
  const inner: tf.Optimizer =
    spec.kind === 'sgd'
      ? tf.train.momentum(lr, spec.momentum ?? 0.9, spec.nesterov ?? false)
      : tf.train.adam(lr, spec.beta1 ?? 0.9, spec.beta2 ?? 0.999, 1e-8);
  const wd = spec.weightDecay ?? 0;
  let currentLr = lr;
  const setLr = (value: number) => {
    if (value === currentLr) return;
    currentLr = value;
    // SGD and momentum cache −lr in a scalar tensor that only setLearningRate refreshes; Adam reads the field.
    const withSetter = inner as unknown as { setLearningRate?: (v: number) => void; learningRate: number };
    if (withSetter.setLearningRate) withSetter.setLearningRate(value);
    else withSetter.learningRate = value;
  };
  /** Applies `grads` of `vars` (weight decay included) at rate `stepLr`; the caller owns and disposes `grads`. */
  const applyGrads = (grads: tf.NamedTensorMap, vars: tf.Variable[], stepLr: number) => {
    setLr(stepLr);
    const named: tf.NamedTensorMap = {};
    for (const v of vars) {
      const g = grads[v.name];
      if (!g) continue;
      named[v.name] = wd > 0 && spec.kind !== 'adamw' && decays(v) ? tf.add(g, tf.mul(v, wd)) : g;
    }
    inner.applyGradients(named);
    if (wd > 0 && spec.kind === 'adamw') {
      tf.tidy(() => {
        for (const v of vars) if (decays(v)) v.assign(tf.sub(v, tf.mul(v, stepLr * wd)));
      });
    }
    // Only the decayed copies are ours to free; the gradients belong to the caller.
    tf.dispose(Object.entries(named).filter(([k, t]) => t !== grads[k]).map(([, t]) => t));
  };
  return {
    spec,
    step: (f, vars, stepLr) => gradientStep(f, vars, (grads) => applyGrads(grads, vars, stepLr)),
    applyGrads,
    getWeights: () => inner.getWeights(),
    setWeights: (w) => inner.setWeights(w),
    dispose: () => inner.dispose(),
  };
}
