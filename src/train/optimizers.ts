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
  /** The optimiser's own state (moments), for checkpoints. */
  getWeights(): Promise<Array<{ name: string; tensor: tf.Tensor }>>;
  setWeights(weights: Array<{ name: string; tensor: tf.Tensor }>): Promise<void>;
  dispose(): void;
}

/** Weight decay applies to kernels and class weights (rank ≥ 2), not to biases, BN scales or scalars like GeM's p. */
function decays(v: tf.Variable): boolean {
  return v.rank >= 2;
}

export function createOptimizer(spec: OptimizerSpec, lr: number): Optimizer {
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
  return {
    spec,
    step(f, vars, stepLr) {
      setLr(stepLr);
      const { value, grads } = tf.variableGrads(f, vars);
      const loss = value.dataSync()[0]!;
      if (!Number.isFinite(loss)) {
        tf.dispose([value, ...Object.values(grads)]);
        throw new Error(`the loss became ${loss}; lower the learning rate`);
      }
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
      tf.dispose([value, ...Object.values(grads), ...Object.values(named)]);
      return loss;
    },
    getWeights: () => inner.getWeights(),
    setWeights: (w) => inner.setWeights(w),
    dispose: () => inner.dispose(),
  };
}
