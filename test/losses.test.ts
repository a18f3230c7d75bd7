// Every loss against values worked by hand from its formula, and its gradient against finite differences.
import test from 'node:test';
import assert from 'node:assert/strict';
import { tf, initTf } from '../src/tf/runtime.js';
import { arcFace, cosFace, MarginSoftmaxLoss, normFace, sphereFace, subCenterArcFace } from '../src/losses/margin-softmax.js';
import { TripletLoss } from '../src/losses/triplet.js';
import { ContrastiveLoss } from '../src/losses/contrastive.js';
import { MarginBasedLoss } from '../src/losses/margin-based.js';
import { CenterLoss } from '../src/losses/center.js';
import { MultiSimilarityLoss } from '../src/losses/multi-similarity.js';
import { SoftBceLoss } from '../src/losses/bce.js';
import { FocalLoss } from '../src/losses/focal.js';
import { ClassBalancedFocalLoss, classBalancedWeights } from '../src/losses/class-balanced-focal.js';
import { ReducedFocalLoss } from '../src/losses/reduced-focal.js';
import { outlierRemovalReducer, type Loss } from '../src/losses/loss.js';
import { gradientReversal } from '../src/models/gradient-reversal.js';
import { softLabelVector } from '../src/data/soft-labels.js';
import { mulberry32 } from '../src/util/random.js';

const close = (actual: number, expected: number, tol = 1e-5, what = '') =>
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what} ${actual} ≠ ${expected}`);

const value = (t: tf.Scalar): number => t.dataSync()[0]!;
const unit = (deg: number): [number, number] => [Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180)];

/** Class weight columns at the given angles: W is [2, C]. */
function setWeights(loss: MarginSoftmaxLoss, degrees: number[]): void {
  const cols = degrees.map(unit);
  loss.weights.assign(tf.tensor2d([cols.map((c) => c[0]), cols.map((c) => c[1])]));
}

/** softmax cross-entropy of a target logit t against other logits, by hand. */
const ce = (t: number, others: number[]) => -t + Math.log(Math.exp(t) + others.reduce((s, o) => s + Math.exp(o), 0));

test.before(async () => {
  await initTf('wasm');
});

test('margin softmax family: hand-worked logits for NormFace, CosFace, ArcFace (both branches), SphereFace, sub-centres', () => {
  const x = tf.tensor2d([[2, 0]]); // at 0°, norm 2 (normalised away)
  const y = tf.tensor1d([0], 'int32');
  const base = { numClasses: 2, embeddingDim: 2, scale: 1 };

  const nf = normFace(base);
  setWeights(nf, [60, 90]); // cos θ_target = 0.5, other = 0
  close(value(nf.compute(x, y)), ce(0.5, [0]), 1e-5, 'normface');

  const cf = cosFace({ ...base, m3: 0.35 });
  setWeights(cf, [60, 90]);
  close(value(cf.compute(x, y)), ce(0.15, [0]), 1e-5, 'cosface');

  const af = arcFace({ ...base, m2: 0.5 });
  setWeights(af, [60, 90]);
  close(value(af.compute(x, y)), ce(Math.cos(Math.PI / 3 + 0.5), [0]), 1e-5, 'arcface');
  // θ = 170°, θ + m > π: the fallback cos θ − m·sin m = −0.98481 − 0.23971 = −1.22452.
  setWeights(af, [170, 90]);
  close(value(af.compute(x, y)), ce(-1.2245202, [0]), 1e-5, 'arcface fallback');

  // SphereFace m1 = 4, θ = 60°: 4θ = 240° lies in [π, 2π), k = 1, ψ = (−1)·cos 240° − 2 = 0.5 − 2 = −1.5.
  const sf = sphereFace({ ...base, m1: 4 });
  setWeights(sf, [60, 90]);
  close(value(sf.compute(x, y)), ce(-1.5, [0]), 1e-5, 'sphereface');
  // θ = 30°: 4θ = 120°, k = 0, ψ = cos 120° = −0.5.
  setWeights(sf, [30, 90]);
  close(value(sf.compute(x, y)), ce(-0.5, [0]), 1e-5, 'sphereface k=0');

  // Combined (m1, m2, m3) = (1, 0.3, 0.2) at θ = 60°: cos(π/3 + 0.3) − 0.2.
  const comb = new MarginSoftmaxLoss({ ...base, m2: 0.3, m3: 0.2 });
  setWeights(comb, [60, 90]);
  close(value(comb.compute(x, y)), ce(Math.cos(Math.PI / 3 + 0.3) - 0.2, [0]), 1e-5, 'combined');

  // Scale multiplies every logit: s = 10 with CosFace.
  const cf10 = cosFace({ ...base, scale: 10, m3: 0.35 });
  setWeights(cf10, [60, 90]);
  close(value(cf10.compute(x, y)), ce(1.5, [0]), 1e-5, 'cosface s=10');

  // Sub-centre ArcFace, K = 2: class 0 has sub-centres at 120° and 60° (best cos 0.5), class 1 at 90° and 180°.
  const sc = subCenterArcFace({ ...base, m2: 0.5, subCenters: 2 });
  setWeights(sc, [120, 60, 90, 180]);
  close(value(sc.compute(x, y)), ce(Math.cos(Math.PI / 3 + 0.5), [0]), 1e-5, 'sub-centre');
});

test('learnable scale is a trained variable and moves under a gradient step', () => {
  const loss = cosFace({ numClasses: 3, embeddingDim: 4, scale: 16, learnableScale: true, seed: 3 });
  assert.equal(loss.variables().length, 2);
  const x = tf.tensor2d([[1, 0, 0, 0], [0, 1, 0, 0]]);
  const { grads } = tf.variableGrads(() => loss.compute(x, tf.tensor1d([0, 1], 'int32')), loss.variables());
  assert.ok(Math.abs(grads[loss.scale.name]!.dataSync()[0]!) > 0);
  assert.throws(() => loss.compute(x, tf.tensor1d([0, 5], 'int32')), /label 5 outside 0..2/);
});

// Four points, labels [0, 0, 1, 1]: d01 = 1, d02 = 2, d03 = 3, d12 = √5, d13 = 2, d23 = √13.
const points = () => tf.tensor2d([[0, 0], [1, 0], [0, 2], [3, 0]]);
const pairLabels = () => tf.tensor1d([0, 0, 1, 1], 'int32');
const S13 = Math.sqrt(13);
const S5 = Math.sqrt(5);

test('triplet loss with batch-hard mining: fixed and soft margin, squared distances', () => {
  // Anchors 0,1 are satisfied (1 − 2 + 0.2 < 0); anchors 2,3: √13 − 2 + 0.2 each.
  close(value(new TripletLoss({ margin: 0.2 }).compute(points(), pairLabels())), (2 * (S13 - 2 + 0.2)) / 4, 1e-5, 'hinge');
  const sp = (v: number) => Math.log1p(Math.exp(v));
  close(value(new TripletLoss({ margin: 'soft' }).compute(points(), pairLabels())), (2 * sp(-1) + 2 * sp(S13 - 2)) / 4, 1e-5, 'soft');
  // Squared: anchor 2 has pos 13, nearest neg 4; anchor 3 pos 13, neg 4; anchors 0,1: 1 − 4 + 1 < 0.
  close(value(new TripletLoss({ margin: 1, squared: true }).compute(points(), pairLabels())), (2 * (13 - 4 + 1)) / 4, 1e-5, 'squared');
});

test('contrastive loss over all pairs', () => {
  // pos: Σ d² over ordered pairs = 2·1 + 2·13; neg: [2.5 − d]₊² for d = 2, 3, √5, 2 twice each; 12 pairs.
  const neg = 2 * (0.25 + 0 + (2.5 - S5) ** 2 + 0.25);
  close(value(new ContrastiveLoss({ posMargin: 0, negMargin: 2.5 }).compute(points(), pairLabels())), (28 + neg) / 12, 1e-5);
  // A positive margin of 1 zeroes the (0,1) pairs: [1 − 1]₊ = 0, [√13 − 1]₊².
  close(value(new ContrastiveLoss({ posMargin: 1, negMargin: 0 }).compute(points(), pairLabels())), (2 * (S13 - 1) ** 2) / 12, 1e-5);
});

test('margin-based loss: value and the gradient of learnable β', () => {
  const loss = new MarginBasedLoss({ alpha: 0.2, betaInit: 1.2 });
  // Only the (2,3) positive pairs are active: [0.2 + √13 − 1.2]₊ twice, divided by 2 active pairs.
  close(value(loss.compute(points(), pairLabels())), S13 - 1, 1e-5);
  const { grads } = tf.variableGrads(() => loss.compute(points(), pairLabels()), [loss.beta]);
  close(grads[loss.beta.name]!.dataSync()[0]!, -1, 1e-5, 'dL/dβ');
});

test('center loss: ½·mean‖x − c‖² weighted and added to a softmax loss', () => {
  const center = new CenterLoss({ numClasses: 2, embeddingDim: 2, weight: 1 });
  close(value(center.compute(points(), pairLabels())), 0.5 * ((0 + 1 + 4 + 9) / 4), 1e-6);
  const base = normFace({ numClasses: 2, embeddingDim: 2, scale: 1 });
  setWeights(base, [0, 90]);
  const both = new CenterLoss({ numClasses: 2, embeddingDim: 2, weight: 0.5, base });
  close(value(both.compute(points(), pairLabels())), value(base.compute(points(), pairLabels())) + 0.5 * 1.75, 1e-5);
  assert.equal(both.variables().length, 2);
});

test('multi-similarity loss against its formula on three points', () => {
  const x = tf.tensor2d([[1, 0], [0.6, 0.8], [0, 1]]);
  const y = tf.tensor1d([0, 0, 1], 'int32');
  const [a, b, l] = [2, 50, 0.5];
  // cosines: s01 = 0.6, s02 = 0, s12 = 0.8
  const anchor = (pos: number[], neg: number[]) =>
    Math.log1p(pos.reduce((s, v) => s + Math.exp(-a * (v - l)), 0)) / a + Math.log1p(neg.reduce((s, v) => s + Math.exp(b * (v - l)), 0)) / b;
  const want = (anchor([0.6], [0]) + anchor([0.6], [0.8]) + anchor([], [0, 0.8])) / 3;
  close(value(new MultiSimilarityLoss().compute(x, y)), want, 1e-4);
});

test('multi-label losses on soft targets: BCE, focal, class-balanced, reduced (both forms), class weights', () => {
  const ln3 = Math.log(3); // sigmoid(ln 3) = 0.75
  const logits = tf.tensor2d([[0, 0], [ln3, ln3]]);
  const targets = tf.tensor2d([[1, 0.25], [1, 0.25]]);
  // p = 0.5: p̂ = 0.5 for any y. p = 0.75: y = 1 → p̂ = 0.75; y = 0.25 → p̂ = 0.1875 + 0.1875 = 0.375.
  const bce = (y: number, p: number) => -(y * Math.log(p) + (1 - y) * Math.log(1 - p));
  close(value(new SoftBceLoss().compute(logits, targets)), (2 * Math.LN2 + bce(1, 0.75) + bce(0.25, 0.75)) / 2, 1e-5, 'bce');
  const fl = (ph: number, g = 2) => -((1 - ph) ** g) * Math.log(ph);
  const focalRow0 = 2 * fl(0.5); // 0.3465736
  close(focalRow0, 0.3465736, 1e-6, 'focal by hand');
  close(value(new FocalLoss({ gamma: 2 }).compute(logits, targets)), (focalRow0 + fl(0.75) + fl(0.375)) / 2, 1e-5, 'focal');
  close(value(new FocalLoss({ gamma: 0 }).compute(logits, targets)), (2 * Math.LN2 - Math.log(0.75) - Math.log(0.375)) / 2, 1e-5, 'focal γ=0');
  // Class weights ×0.1 on the second ("none") class.
  close(value(new FocalLoss({ gamma: 2, classWeights: [1, 0.1] }).compute(logits, targets)), (fl(0.5) + 0.1 * fl(0.5) + fl(0.75) + 0.1 * fl(0.375)) / 2, 1e-5, 'weighted');
  // Class-balanced: β = 0.9, n = [1, 10] → w = [1, 0.1/(1 − 0.9^10)] = [1, 0.153534].
  const w = classBalancedWeights([1, 10], 0.9);
  close(w[0]!, 1, 1e-9);
  close(w[1]!, 0.153534, 1e-5);
  close(value(new ClassBalancedFocalLoss({ classCounts: [1, 10], beta: 0.9 }).compute(logits, targets)), (fl(0.5) + w[1]! * fl(0.5) + fl(0.75) + w[1]! * fl(0.375)) / 2, 1e-5, 'cbfl');
  // Reduced, th = 0.5, γ = 2. Seed form: p̂ > th → −log p̂; p̂ ≤ th → ((1 − p̂)/0.5)² (−log p̂).
  const red = (ph: number) => ((1 - ph) / 0.5) ** 2 * -Math.log(ph);
  close(value(new ReducedFocalLoss({ threshold: 0.5 }).compute(logits, targets)), (2 * red(0.5) + -Math.log(0.75) + red(0.375)) / 2, 1e-5, 'rfl seed');
  close(value(new ReducedFocalLoss({ threshold: 0.5, form: 'original' }).compute(logits, targets)), (-2 * Math.log(0.5) + red(0.75) + -Math.log(0.375)) / 2, 1e-5, 'rfl original');
  assert.throws(() => new FocalLoss().compute(logits, tf.tensor2d([[1, 0, 0]])), /soft targets matching/);
});

test('outlier-removal reducer drops the largest per-sample loss', () => {
  close(value(outlierRemovalReducer(tf.tensor1d([1, 5, 2]))), 1.5, 1e-6);
  const focal = new FocalLoss({ gamma: 0, reducer: outlierRemovalReducer });
  // Three samples, one class: losses −log 0.5, −log 0.75, −log 0.25 (the outlier) → mean of the first two.
  const logits = tf.tensor2d([[0], [Math.log(3)], [Math.log(3)]]);
  close(value(focal.compute(logits, tf.tensor2d([[1], [1], [0]]))), (Math.LN2 - Math.log(0.75)) / 2, 1e-5);
});

test('gradient reversal: identity forward, −λ·gradient backward', () => {
  const x = tf.tensor1d([1, -2, 3]);
  assert.deepEqual(Array.from(gradientReversal(x, 0.5).dataSync()), [1, -2, 3]);
  const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(gradientReversal(v, 0.5), tf.tensor1d([2, 4, 6]))))(x);
  assert.deepEqual(Array.from(g.dataSync()), [-1, -2, -3]);
});

test('soft labels from annotators: seed 002 Fig. 1', () => {
  const classes = ['flood/water', 'smoke/fire', 'damage:none', 'rubble'];
  const v = softLabelVector(['flood/water', 'flood/water', 'smoke/fire', 'flood/water', 'flood/water', 'damage:none'], classes, 'img1');
  assert.deepEqual(Array.from(v), [1, 0.25, 0.25, 0]);
  assert.throws(() => softLabelVector(['flood'], classes, 'img2'), /unknown label 'flood'/);
});

/** Central finite differences of a loss w.r.t. its embeddings, in float64 arithmetic on float32 evaluations. */
function checkGradient(name: string, make: () => Loss, x0: number[][], labels: tf.Tensor, eps = 1e-2, tol = 2e-2): void {
  const loss = make();
  const analytic = tf.grad((x: tf.Tensor) => loss.compute(x as tf.Tensor2D, labels))(tf.tensor2d(x0)).arraySync() as number[][];
  for (let i = 0; i < x0.length; i++) {
    for (let j = 0; j < x0[0]!.length; j++) {
      const plus = x0.map((r) => r.slice());
      const minus = x0.map((r) => r.slice());
      plus[i]![j]! += eps;
      minus[i]![j]! -= eps;
      const numeric = (value(loss.compute(tf.tensor2d(plus), labels)) - value(loss.compute(tf.tensor2d(minus), labels))) / (2 * eps);
      const a = analytic[i]![j]!;
      assert.ok(Math.abs(a - numeric) <= tol * Math.max(1, Math.abs(numeric)), `${name}: ∂L/∂x[${i}][${j}] analytic ${a} vs numeric ${numeric}`);
    }
  }
}

test('every loss: gradient matches finite differences', () => {
  const rnd = mulberry32(42);
  const x0 = Array.from({ length: 6 }, () => Array.from({ length: 4 }, () => rnd() * 2 - 1));
  const ids = tf.tensor1d([0, 0, 1, 1, 2, 2], 'int32');
  const margin = { numClasses: 3, embeddingDim: 4, scale: 4, seed: 9 };
  checkGradient('normface', () => normFace(margin), x0, ids);
  checkGradient('arcface', () => arcFace({ ...margin, m2: 0.3 }), x0, ids);
  checkGradient('cosface', () => cosFace({ ...margin, m3: 0.2 }), x0, ids);
  checkGradient('sphereface', () => sphereFace({ ...margin, m1: 2 }), x0, ids, 1e-3);
  checkGradient('subcenter', () => subCenterArcFace({ ...margin, m2: 0.3, subCenters: 2 }), x0, ids);
  checkGradient('triplet', () => new TripletLoss({ margin: 0.5 }), x0, ids);
  checkGradient('triplet soft squared', () => new TripletLoss({ margin: 'soft', squared: true }), x0, ids);
  checkGradient('contrastive', () => new ContrastiveLoss({ negMargin: 2 }), x0, ids);
  checkGradient('margin-based', () => new MarginBasedLoss({ alpha: 0.2, betaInit: 1.0 }), x0, ids);
  checkGradient('center', () => new CenterLoss({ numClasses: 3, embeddingDim: 4, weight: 1 }), x0, ids);
  checkGradient('multi-similarity', () => new MultiSimilarityLoss({ beta: 10 }), x0, ids);
  const soft = tf.tensor2d(Array.from({ length: 6 }, () => Array.from({ length: 4 }, () => Math.round(rnd() * 4) / 4)));
  checkGradient('bce', () => new SoftBceLoss(), x0, soft);
  checkGradient('focal', () => new FocalLoss({ gamma: 2 }), x0, soft);
  checkGradient('cb focal', () => new ClassBalancedFocalLoss({ classCounts: [5, 50, 500, 5000], beta: 0.99 }), x0, soft);
  checkGradient('reduced focal', () => new ReducedFocalLoss({ threshold: 0.3 }), x0, soft);
});

test('domain-adversarial loss: task on labelled rows + w·BCE; the domain gradient reaches the embedding reversed', async () => {
  const { DomainAdversarialLoss } = await import('../src/losses/domain-adversarial.js');
  const task = new CenterLoss({ numClasses: 2, embeddingDim: 3, weight: 1 });
  const loss = new DomainAdversarialLoss({ task, embeddingDim: 3, hidden: 4, lambda: 0.5, weight: 1, seed: 4 });
  const e = tf.tensor2d([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]]);
  const labels = tf.tensor2d([[0, 0], [1, 0], [-1, 1], [-1, 1]], undefined, 'int32');
  const domains = Float32Array.from([0, 0, 1, 1]);
  // Value: centre term over the two labelled rows (centres at 0: ½·mean(1, 1) = 0.5) + BCE.
  close(value(loss.compute(e, labels)), 0.5 + value(loss.domainLoss(e, domains, false)), 1e-5);
  const withGrl = tf.grad((x: tf.Tensor) => loss.domainLoss(x as tf.Tensor2D, domains, true))(e).arraySync() as number[][];
  const plain = tf.grad((x: tf.Tensor) => loss.domainLoss(x as tf.Tensor2D, domains, false))(e).arraySync() as number[][];
  for (let i = 0; i < 4; i++) for (let j = 0; j < 3; j++) close(withGrl[i]![j]!, -0.5 * plain[i]![j]!, 1e-5, `∂[${i}][${j}]`);
  assert.ok(plain.flat().some((v) => Math.abs(v) > 1e-4));
});
