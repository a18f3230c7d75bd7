// The wasm backend's added training kernels give the CPU backend's gradients on random convolution geometries.
import test from 'node:test';
import assert from 'node:assert/strict';
import { tf, initTf } from '../src/tf/runtime.js';
import { mulberry32 } from '../src/util/random.js';

type Case = { n: number; h: number; w: number; c: number; k: number; fh: number; fw: number; s: [number, number]; d: [number, number]; pad: 'same' | 'valid' | number };

function randomCases(count: number, seed: number, depthwise: boolean): Case[] {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const cases: Case[] = [];
  while (cases.length < count) {
    const s: [number, number] = [pick([1, 2, 3]), pick([1, 2])];
    // tfjs' conv ops refuse stride > 1 together with dilation > 1.
    // tfjs' conv gradients refuse dilation > 1 on every backend: dilated kernels are checked against a loop below.
    const d: [number, number] = [1, 1];
    const c: Case = { n: pick([1, 2, 3]), h: pick([5, 7, 9, 12]), w: pick([4, 6, 11]), c: pick([1, 2, 3, 5]), k: depthwise ? pick([1, 2]) : pick([1, 3, 4]), fh: pick([1, 2, 3]), fw: pick([1, 3, 5]), s, d, pad: pick(['same', 'valid', 0, 1, 2] as const) };
    // A numeric pad is computed by tfjs from the filter height and row stride for both axes, and wasm's forward
    // Conv2D then reads out of bounds on non-square geometry: only square geometry gets a numeric pad.
    if (typeof c.pad === 'number' && (c.fh !== c.fw || s[0] !== s[1] || d[0] !== d[1])) continue;
    const effH = (c.fh - 1) * d[0] + 1;
    const effW = (c.fw - 1) * d[1] + 1;
    const padN = typeof c.pad === 'number' ? c.pad : 0;
    if (c.pad !== 'same' && (c.h + 2 * padN < effH || c.w + 2 * padN < effW)) continue;
    cases.push(c);
  }
  return cases;
}

function values(shape: number[], rnd: () => number): Float32Array {
  const n = shape.reduce((p, v) => p * v, 1);
  return Float32Array.from({ length: n }, () => rnd() * 2 - 1);
}

async function gradsOn(backend: 'cpu' | 'wasm', c: Case, depthwise: boolean, seed: number): Promise<{ dx: Float32Array; dw: Float32Array }> {
  await tf.setBackend(backend);
  const rnd = mulberry32(seed);
  const x = tf.tensor4d(values([c.n, c.h, c.w, c.c], rnd), [c.n, c.h, c.w, c.c]);
  const wShape: [number, number, number, number] = [c.fh, c.fw, c.c, c.k];
  const w = tf.tensor4d(values(wShape, rnd), wShape);
  const f = (xx: tf.Tensor4D, ww: tf.Tensor4D) => {
    const y = depthwise ? tf.depthwiseConv2d(xx, ww, c.s, c.pad, 'NHWC', c.d) : tf.conv2d(xx, ww, c.s, c.pad, 'NHWC', c.d);
    // A non-uniform upstream gradient, so every position's weight matters.
    const weights = tf.tensor(values(y.shape, mulberry32(seed + 1)), y.shape);
    return tf.sum(tf.mul(y, weights));
  };
  const [gx, gw] = tf.grads(f as never)([x, w]);
  const out = { dx: (await gx!.data()) as Float32Array, dw: (await gw!.data()) as Float32Array };
  tf.dispose([x, w, gx!, gw!]);
  return out;
}

function assertNear(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const tol = 1e-4 * Math.max(1, Math.abs(expected[i]!));
    if (Math.abs(actual[i]! - expected[i]!) > tol) assert.fail(`${what}[${i}] = ${actual[i]} but CPU backend gives ${expected[i]}`);
  }
}

test('wasm kernels are registered and match the CPU backend', async (t) => {
  await initTf('wasm');
  for (const name of ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'UnsortedSegmentSum']) {
    assert.ok(tf.getKernel(name, 'wasm'), `${name} registered`);
  }

  await t.test('conv2d gradients on 24 random geometries', async () => {
    for (const [i, c] of randomCases(24, 11, false).entries()) {
      const cpu = await gradsOn('cpu', c, false, 100 + i);
      const wasm = await gradsOn('wasm', c, false, 100 + i);
      assertNear(wasm.dw, cpu.dw, `conv dW ${JSON.stringify(c)}`);
      assertNear(wasm.dx, cpu.dx, `conv dX ${JSON.stringify(c)}`);
    }
  });

  await t.test('pointwise (1×1, stride 1) conv gradients: the matrix-product path', async () => {
    const cases: Case[] = [
      { n: 2, h: 7, w: 5, c: 3, k: 4, fh: 1, fw: 1, s: [1, 1], d: [1, 1], pad: 'valid' },
      { n: 1, h: 9, w: 9, c: 5, k: 2, fh: 1, fw: 1, s: [1, 1], d: [1, 1], pad: 'same' },
      { n: 3, h: 4, w: 6, c: 1, k: 3, fh: 1, fw: 1, s: [1, 1], d: [1, 1], pad: 0 },
    ];
    for (const [i, c] of cases.entries()) {
      const cpu = await gradsOn('cpu', c, false, 300 + i);
      const wasm = await gradsOn('wasm', c, false, 300 + i);
      assertNear(wasm.dw, cpu.dw, `pointwise dW ${JSON.stringify(c)}`);
      assertNear(wasm.dx, cpu.dx, `pointwise dX ${JSON.stringify(c)}`);
    }
  });

  await t.test('depthwise conv gradients on 24 random geometries', async () => {
    for (const [i, c] of randomCases(24, 23, true).entries()) {
      const cpu = await gradsOn('cpu', c, true, 200 + i);
      const wasm = await gradsOn('wasm', c, true, 200 + i);
      assertNear(wasm.dw, cpu.dw, `depthwise dW ${JSON.stringify(c)}`);
      assertNear(wasm.dx, cpu.dx, `depthwise dX ${JSON.stringify(c)}`);
    }
  });

  await t.test('depthwise input gradient, multiplier 1: the turned-filter forward path (MobileNetV2 geometries)', async () => {
    const cases: Case[] = [
      { n: 2, h: 12, w: 12, c: 8, k: 1, fh: 3, fw: 3, s: [1, 1], d: [1, 1], pad: 'same' },
      { n: 1, h: 7, w: 10, c: 3, k: 1, fh: 5, fw: 3, s: [1, 1], d: [1, 1], pad: 'same' },
      { n: 3, h: 6, w: 6, c: 4, k: 1, fh: 3, fw: 3, s: [1, 1], d: [1, 1], pad: 1 },
      // Keras' stride-2 blocks: ZeroPadding2D then a 'valid' 3×3 at stride 2 (odd and even padded sides).
      { n: 2, h: 113, w: 113, c: 3, k: 1, fh: 3, fw: 3, s: [2, 2], d: [1, 1], pad: 'valid' },
      { n: 1, h: 10, w: 9, c: 2, k: 1, fh: 3, fw: 3, s: [2, 2], d: [1, 1], pad: 'valid' },
      { n: 1, h: 9, w: 11, c: 2, k: 1, fh: 3, fw: 2, s: [2, 3], d: [1, 1], pad: 'same' },
      { n: 1, h: 6, w: 6, c: 2, k: 1, fh: 2, fw: 2, s: [1, 1], d: [1, 1], pad: 'same' },
      // Not taken (multiplier 2): the composed path.
      { n: 1, h: 6, w: 6, c: 2, k: 2, fh: 3, fw: 3, s: [1, 1], d: [1, 1], pad: 'same' },
    ];
    for (const [i, c] of cases.entries()) {
      const cpu = await gradsOn('cpu', c, true, 400 + i);
      const wasm = await gradsOn('wasm', c, true, 400 + i);
      assertNear(wasm.dx, cpu.dx, `depthwise dX ${JSON.stringify(c)}`);
      assertNear(wasm.dw, cpu.dw, `depthwise dW ${JSON.stringify(c)}`);
    }
  });

  await t.test('dilated Conv2DBackpropFilter against the formula, looped by hand', async () => {
    await tf.setBackend('wasm');
    const rnd = mulberry32(7);
    for (const [n, h, w, c, k, fh, fw, d, pad] of [
      [2, 9, 8, 3, 2, 3, 2, [2, 3], 'same'],
      [1, 10, 10, 2, 3, 3, 3, [2, 2], 'valid'],
      [2, 7, 9, 1, 4, 2, 3, [3, 1], 'same'],
    ] as [number, number, number, number, number, number, number, [number, number], 'same' | 'valid'][]) {
      const x = tf.tensor4d(values([n, h, w, c], rnd), [n, h, w, c]);
      const filter = tf.zeros([fh, fw, c, k]) as tf.Tensor4D;
      const info = tf.backend_util.computeConv2DInfo(x.shape, filter.shape, 1, d, pad);
      const dy = tf.tensor4d(values([n, info.outHeight, info.outWidth, k], rnd), [n, info.outHeight, info.outWidth, k]);
      const got = (await (tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad, dataFormat: 'NHWC', dilations: d, filterShape: [fh, fw, c, k] }) as tf.Tensor).data()) as Float32Array;
      const xv = await x.data();
      const dyv = await dy.data();
      const want = new Float32Array(fh * fw * c * k);
      for (let a = 0; a < fh; a++) for (let b = 0; b < fw; b++) for (let ci = 0; ci < c; ci++) for (let co = 0; co < k; co++) {
        let sum = 0;
        for (let b0 = 0; b0 < n; b0++) for (let i = 0; i < info.outHeight; i++) for (let j = 0; j < info.outWidth; j++) {
          const yy = i + a * d[0] - info.padInfo.top;
          const xx = j + b * d[1] - info.padInfo.left;
          if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
          sum += xv[((b0 * h + yy) * w + xx) * c + ci]! * dyv[((b0 * info.outHeight + i) * info.outWidth + j) * k + co]!;
        }
        want[((a * fw + b) * c + ci) * k + co] = sum;
      }
      assertNear(got, want, `dilated dW ${d} ${pad}`);
    }
  });

  await t.test('gather gradient (UnsortedSegmentSum) with repeated indices', async () => {
    const grad = async (backend: 'cpu' | 'wasm') => {
      await tf.setBackend(backend);
      const x = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
      const idx = tf.tensor1d([2, 0, 2, 2], 'int32');
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.gather(v, idx), tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8]]))))(x);
      return (await g.data()) as Float32Array;
    };
    const wasm = await grad('wasm');
    // Row 0 receives upstream row 1; row 2 receives rows 0 + 2 + 3; row 1 nothing.
    assert.deepEqual(Array.from(wasm), [3, 4, 0, 0, 13, 16]);
    assertNear(wasm, await grad('cpu'), 'gather grad');
  });

  await t.test('no tensors leak from a backward pass', async () => {
    await tf.setBackend('wasm');
    const c = randomCases(1, 5, false)[0]!;
    await gradsOn('wasm', c, false, 1);
    const before = tf.memory().numTensors;
    await gradsOn('wasm', c, false, 1);
    await gradsOn('wasm', c, true, 1);
    assert.equal(tf.memory().numTensors, before);
  });
  await tf.setBackend('wasm');
});

test('float one-hot on wasm holds 1.0, not int bits', async () => {
  await initTf('wasm');
  const v = Array.from(tf.oneHot(tf.tensor1d([2, 0], 'int32'), 3, 1, 0, 'float32').dataSync());
  assert.deepEqual(v, [0, 0, 1, 1, 0, 0]);
});
