// Registers the training kernels TensorFlow.js's WebAssembly backend lacks, composed from kernels it has.
//
// tfjs-backend-wasm 4.22 has Conv2D and Conv2DBackpropInput but not Conv2DBackpropFilter, nor the two depthwise
// backprop kernels, nor UnsortedSegmentSum (the gradient of gather). Most are written here as sums over filter taps
// of strided slices and matrix products — the filter gradient of a convolution *is* a correlation of the input with
// the output gradient — calling the wasm backend's own kernel functions, so no data leaves WebAssembly memory; the
// depthwise filter gradient is a direct loop over the wasm heap (faster than any composition of its kernels).
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';

type Backend = { disposeData(id: object): void };
type Attrs = Record<string, unknown>;

/** Calls another wasm kernel directly; every result is remembered so intermediates can be freed. */
class KernelRunner {
  private readonly made: TensorInfo[] = [];
  constructor(private readonly backend: Backend) {}

  run(name: string, inputs: Record<string, TensorInfo>, attrs: Attrs = {}): TensorInfo {
    const kernel = tf.getKernel(name, 'wasm');
    if (!kernel) throw new Error(`wasm backend has no ${name} kernel`);
    const out = kernel.kernelFunc({ inputs: inputs as NamedTensorInfoMap, backend: this.backend as never, attrs: attrs as NamedAttrMap });
    const info = (Array.isArray(out) ? out[0] : out) as TensorInfo;
    this.made.push(info);
    return info;
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  /** Frees every intermediate except `keep`. */
  finish(keep: TensorInfo): TensorInfo {
    for (const info of this.made) if (info !== keep) this.backend.disposeData(info.dataId);
    return keep;
  }
}

interface ConvGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  fh: number;
  fw: number;
  strides: [number, number];
  dilations: [number, number];
  padTop: number;
  padLeft: number;
}

function pair(v: unknown): [number, number] {
  if (typeof v === 'number') return [v, v];
  const a = v as number[];
  return [a[0]!, a[1]!];
}

function geometry(xShape: number[], filterShape: [number, number, number, number], attrs: Attrs, depthwise: boolean): ConvGeometry {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC' && attrs.dataFormat !== 'channelsLast') {
    throw new Error(`wasm conv backprop supports NHWC only, got ${String(attrs.dataFormat)}`);
  }
  const strides = pair(attrs.strides);
  const dilations = pair(attrs.dilations ?? 1);
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape,
    strides,
    dilations,
    attrs.pad as 'same',
    attrs.dimRoundingMode as 'floor' | undefined,
    depthwise,
  );
  return {
    batch: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    fh: info.filterHeight,
    fw: info.filterWidth,
    strides,
    dilations,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}



/**
 * dW[a,b,ci,co] = Σ_{n,i,j} x[n, i·s + a·d − pad, j·s + b·d − pad, ci] · dy[n,i,j,co].
 * Read with the batch as the channel axis, that is itself a convolution: the input x' = x as [Ci, H, W, N], the
 * filter dy' = dy as [OH, OW, N, Co], the stride becoming the dilation and the dilation the stride; its output
 * [Ci, fh, fw, Co] is dW up to a transpose. wasm runs it through XNNPACK's convolution, several times faster than
 * slicing taps.
 */
function conv2DBackpropFilter({ inputs, backend, attrs }: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a0 = (attrs ?? {}) as Attrs;
  const filterShape = a0.filterShape as [number, number, number, number];
  const g = geometry(x.shape, filterShape, a0, false);
  const r = new KernelRunner(backend as Backend);
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  if (g.fh === 1 && g.fw === 1 && sh === 1 && sw === 1 && g.padTop === 0 && g.padLeft === 0) {
    // A pointwise convolution (most of MobileNet's): dW = Xᵀ·dY over all positions, one matrix product
    // (434 → 328 ms of a MobileNetV2 step against the general correlation below).
    const rows = g.batch * g.inH * g.inW;
    const xt = r.run('Transpose', { x: r.reshape(x, [rows, g.inC]) }, { perm: [1, 0] });
    const prod = r.run('BatchMatMul', { a: r.reshape(xt, [1, g.inC, rows]), b: r.reshape(dy, [1, rows, filterShape[3]]) }, { transposeA: false, transposeB: false });
    return r.finish(r.reshape(prod, filterShape));
  }
  // Padding that makes the output exactly fh × fw; a negative amount crops the input instead.
  const bottom = (g.fh - 1) * dh + (g.outH - 1) * sh + 1 - g.inH - g.padTop;
  const right = (g.fw - 1) * dw + (g.outW - 1) * sw + 1 - g.inW - g.padLeft;
  let xt = r.run('Transpose', { x }, { perm: [3, 1, 2, 0] });
  const crop = (v: number) => Math.max(0, -v);
  if (g.padTop < 0 || g.padLeft < 0 || bottom < 0 || right < 0) {
    xt = r.run('Slice', { x: xt }, { begin: [0, crop(g.padTop), crop(g.padLeft), 0], size: [g.inC, g.inH - crop(g.padTop) - crop(bottom), g.inW - crop(g.padLeft) - crop(right), g.batch] });
  }
  const dyt = r.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
  const out = r.run('Conv2D', { x: xt, filter: dyt }, {
    strides: [dh, dw],
    dilations: [sh, sw],
    pad: [[0, 0], [Math.max(0, g.padTop), Math.max(0, bottom)], [Math.max(0, g.padLeft), Math.max(0, right)], [0, 0]],
    dataFormat: 'NHWC',
    dimRoundingMode: undefined,
  });
  // [Ci, fh, fw, Co] → [fh, fw, Ci, Co]
  return r.finish(r.run('Transpose', { x: out }, { perm: [1, 2, 0, 3] }));
}

/** [N, H, W, C] → [N, H·sh, W·sw, C] with each value followed by sh − 1 zero rows and sw − 1 zero columns. */
function spreadByStride(r: KernelRunner, t: TensorInfo, [n, h, w, c]: number[], sh: number, sw: number): TensorInfo {
  if (sh === 1 && sw === 1) return t;
  const six = r.reshape(t, [n!, h!, 1, w!, 1, c!]);
  const padded = r.run('PadV2', { x: six }, { paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]], constantValue: 0 });
  return r.reshape(padded, [n!, h! * sh, w! * sw, c!]);
}

/**
 * dx = the correlation of the stride-dilated dy (zeros between rows/columns) with the spatially flipped,
 * in/out-transposed filter, at stride 1, dilation d and padding (fh − 1)·d − padTop: a forward Conv2D, which the
 * wasm backend runs through XNNPACK (its own Conv2DBackpropInput is a plain loop, several times slower).
 */
function conv2DBackpropInput({ inputs, backend, attrs }: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a0 = (attrs ?? {}) as Attrs;
  const inShape = a0.inputShape as [number, number, number, number];
  const filterShape = filter.shape as [number, number, number, number];
  const g = geometry(inShape, filterShape, a0, false);
  const r = new KernelRunner(backend as Backend);
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  const outC = filterShape[3];
  // Zero-interleave dy by the stride: [N, OH, OW, Co] → [N, (OH−1)·sh + 1, (OW−1)·sw + 1, Co].
  let u = dy;
  if (sh > 1 || sw > 1) {
    u = spreadByStride(r, dy, [g.batch, g.outH, g.outW, outC], sh, sw);
    u = r.run('Slice', { x: u }, { begin: [0, 0, 0, 0], size: [g.batch, (g.outH - 1) * sh + 1, (g.outW - 1) * sw + 1, outC] });
  }
  const uH = (g.outH - 1) * sh + 1;
  const uW = (g.outW - 1) * sw + 1;
  const top = (g.fh - 1) * dh - g.padTop;
  const left = (g.fw - 1) * dw - g.padLeft;
  const bottom = g.inH + (g.fh - 1) * dh - uH - top;
  const right = g.inW + (g.fw - 1) * dw - uW - left;
  // Rows the forward pass never read leave negative padding: crop dy's frame instead, or pad it explicitly.
  const crop = (v: number) => Math.max(0, -v);
  if (top < 0 || left < 0 || bottom < 0 || right < 0) {
    u = r.run('Slice', { x: u }, { begin: [0, crop(top), crop(left), 0], size: [g.batch, uH - crop(top) - crop(bottom), uW - crop(left) - crop(right), outC] });
  }
  const flipped = r.run('Transpose', { x: r.run('Reverse', { x: filter }, { dims: [0, 1] }) }, { perm: [0, 1, 3, 2] });
  const dx = r.run('Conv2D', { x: u, filter: flipped }, {
    strides: [1, 1],
    pad: [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]],
    dataFormat: 'NHWC',
    dilations: [dh, dw],
    dimRoundingMode: undefined,
  });
  return r.finish(dx);
}


/**
 * Depthwise input gradient: for each tap, g = Σ_m dy[…, c, m] · W[a, b, c, m] lands on the input positions that tap
 * read. Zero-interleaving g by the stride (reshape + pad) and shifting it by the tap offset (pad) places it there.
 */
function depthwiseBackpropInput({ inputs, backend, attrs }: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a0 = (attrs ?? {}) as Attrs;
  const inShape = a0.inputShape as [number, number, number, number];
  const filterShape = filter.shape as [number, number, number, number];
  const g = geometry(inShape, filterShape, a0, true);
  const mult = filterShape[3];
  const r = new KernelRunner(backend as Backend);
  const [sh, sw] = g.strides;
  // Multiplier 1, no dilation (every depthwise layer of MobileNetV2): as for Conv2D, the input gradient is the
  // stride-interleaved dy, padded by (k − 1 − pad), convolved with the filter turned by 180° — a forward depthwise
  // convolution, which XNNPACK runs several times faster than the per-tap composition below.
  if (mult === 1 && g.dilations[0] === 1 && g.dilations[1] === 1) {
    let u = dy;
    if (sh > 1 || sw > 1) {
      u = spreadByStride(r, dy, [g.batch, g.outH, g.outW, g.inC], sh, sw);
      u = r.run('Slice', { x: u }, { begin: [0, 0, 0, 0], size: [g.batch, (g.outH - 1) * sh + 1, (g.outW - 1) * sw + 1, g.inC] });
    }
    const uH = (g.outH - 1) * sh + 1;
    const uW = (g.outW - 1) * sw + 1;
    const top = g.fh - 1 - g.padTop;
    const left = g.fw - 1 - g.padLeft;
    const bottom = g.inH + g.fh - 1 - uH - top;
    const right = g.inW + g.fw - 1 - uW - left;
    const crop = (v: number) => Math.max(0, -v);
    if (top < 0 || left < 0 || bottom < 0 || right < 0) {
      u = r.run('Slice', { x: u }, { begin: [0, crop(top), crop(left), 0], size: [g.batch, uH - crop(top) - crop(bottom), uW - crop(left) - crop(right), g.inC] });
    }
    if (top > 0 || left > 0 || bottom > 0 || right > 0) {
      u = r.run('PadV2', { x: u }, { paddings: [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]], constantValue: 0 });
    }
    const rotated = r.run('Reverse', { x: filter }, { dims: [0, 1] });
    return r.finish(r.run('DepthwiseConv2dNative', { x: u, filter: rotated }, { strides: [1, 1], pad: 'valid', dilations: [1, 1], dataFormat: 'NHWC' }));
  }
  const dy5 = r.reshape(dy, [g.batch, g.outH, g.outW, g.inC, mult]);
  // The padded-input frame: big enough for every tap's reach and for the input itself.
  const spanH = Math.max((g.fh - 1) * g.dilations[0] + g.outH * sh, g.padTop + g.inH);
  const spanW = Math.max((g.fw - 1) * g.dilations[1] + g.outW * sw, g.padLeft + g.inW);
  let total: TensorInfo | undefined;
  for (let a = 0; a < g.fh; a++) {
    for (let b = 0; b < g.fw; b++) {
      const w = r.run('Slice', { x: filter }, { begin: [a, b, 0, 0], size: [1, 1, g.inC, mult] });
      const w5 = r.reshape(w, [1, 1, 1, g.inC, mult]);
      const contrib = r.run('Sum', { x: r.run('Multiply', { a: dy5, b: w5 }) }, { axis: [4], keepDims: false });
      const spread = spreadByStride(r, contrib, [g.batch, g.outH, g.outW, g.inC], sh, sw);
      const top = a * g.dilations[0];
      const left = b * g.dilations[1];
      const placed = r.run('PadV2', { x: spread }, {
        paddings: [[0, 0], [top, spanH - top - g.outH * sh], [left, spanW - left - g.outW * sw], [0, 0]],
        constantValue: 0,
      });
      total = total ? r.run('Add', { a: total, b: placed }) : placed;
    }
  }
  const dx = r.run('Slice', { x: total! }, { begin: [0, g.padTop, g.padLeft, 0], size: inShape });
  return r.finish(dx);
}

/**
 * out[s] = Σ_{i: ids[i] = s} x[i] (the gradient of gather): wasm's ScatterNd, which adds duplicate indices, into a
 * [numSegments, …] output — O(n·width), where a one-hot product would cost O(n·numSegments·width).
 */
function unsortedSegmentSum({ inputs, backend, attrs }: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const numSegments = (attrs as Attrs).numSegments as number;
  const r = new KernelRunner(backend as Backend);
  const n = segmentIds.shape.reduce((p, v) => p * v, 1);
  const rest = x.shape.slice(segmentIds.shape.length);
  const width = rest.reduce((p, v) => p * v, 1);
  const ids = r.run('Cast', { x: r.reshape(segmentIds, [n, 1]) }, { dtype: 'int32' });
  const summed = r.run('ScatterNd', { indices: ids, updates: r.reshape(x, [n, width]) }, { shape: [numSegments, width] });
  return r.finish(r.reshape(summed, [numSegments, ...rest]));
}


/**
 * wasm's BatchMatMul is 5–7× slower with transposeA/transposeB than on row-major operands (measured: a [16, 50176] ·
 * [50176, 144] product takes 20 ms plain, 105–130 ms transposed). Every matmul gradient is a transposed product, so
 * the operands are transposed explicitly first (O(n²) copies) and the plain kernel does the O(n³) work.
 */
function fastBatchMatMul(plain: KernelConfig['kernelFunc']) {
  return ({ inputs, backend, attrs }: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo => {
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = (attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
    if (!transposeA && !transposeB) return plain({ inputs, backend: backend as never, attrs: attrs ?? {} }) as TensorInfo;
    const r = new KernelRunner(backend as Backend);
    const swap = (t: TensorInfo) => {
      const perm = t.shape.map((_, i) => i);
      [perm[perm.length - 2], perm[perm.length - 1]] = [perm[perm.length - 1]!, perm[perm.length - 2]!];
      return r.run('Transpose', { x: t }, { perm });
    };
    const out = plain({ inputs: { a: transposeA ? swap(a) : a, b: transposeB ? swap(b) : b } as NamedTensorInfoMap, backend: backend as never, attrs: { ...(attrs ?? {}), transposeA: false, transposeB: false } }) as TensorInfo;
    return r.finish(out);
  };
}

/** wasm's OneHot writes int32 values whatever dtype it is asked for (float32 1 reads back as 1.4e-45): cast after. */
function castingOneHot(plain: KernelConfig['kernelFunc']) {
  return ({ inputs, backend, attrs }: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo => {
    const a = (attrs ?? {}) as Attrs;
    if (a.dtype === undefined || a.dtype === 'int32') return plain({ inputs, backend: backend as never, attrs: attrs ?? {} }) as TensorInfo;
    const r = new KernelRunner(backend as Backend);
    const ints = plain({ inputs, backend: backend as never, attrs: { ...(attrs ?? {}), dtype: 'int32' } as NamedAttrMap }) as TensorInfo;
    const out = r.run('Cast', { x: ints }, { dtype: a.dtype });
    (backend as Backend).disposeData(ints.dataId);
    return r.finish(out);
  };
}

type HeapBackend = Backend & {
  typedArrayFromHeap(t: TensorInfo): Float32Array;
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
};

/**
 * Depthwise filter gradient as one direct loop over the wasm heap: dW[a, b, c, m] = Σ x[n, oy·s + a·d − pad, …, c]
 * · dy[n, oy, ox, c·M + m]. The composed version (per-tap slices, products and an axis-0 Sum) spent most of its time
 * transposing for that Sum — 66 % of a MobileNetV2 training step; this loop reads each input once per tap, in
 * channel order, and accumulates in float64.
 */
function depthwiseBackpropFilterDirect({ inputs, backend, attrs }: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a0 = (attrs ?? {}) as Attrs;
  const filterShape = a0.filterShape as [number, number, number, number];
  const g = geometry(x.shape, filterShape, a0, true);
  const b = backend as HeapBackend;
  const xs = b.typedArrayFromHeap(x);
  const dys = b.typedArrayFromHeap(dy);
  const C = g.inC;
  const M = filterShape[3];
  const CM = C * M;
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  const acc = new Float64Array(g.fh * g.fw * CM);
  for (let n = 0; n < g.batch; n++) {
    for (let oy = 0; oy < g.outH; oy++) {
      for (let ox = 0; ox < g.outW; ox++) {
        const dyOff = ((n * g.outH + oy) * g.outW + ox) * CM;
        for (let a = 0; a < g.fh; a++) {
          const iy = oy * sh + a * dh - g.padTop;
          if (iy < 0 || iy >= g.inH) continue;
          for (let bb = 0; bb < g.fw; bb++) {
            const ix = ox * sw + bb * dw - g.padLeft;
            if (ix < 0 || ix >= g.inW) continue;
            const xOff = ((n * g.inH + iy) * g.inW + ix) * C;
            const wOff = (a * g.fw + bb) * CM;
            if (M === 1) for (let c = 0; c < C; c++) acc[wOff + c]! += xs[xOff + c]! * dys[dyOff + c]!;
            else for (let c = 0; c < C; c++) for (let m = 0; m < M; m++) acc[wOff + c * M + m]! += xs[xOff + c]! * dys[dyOff + c * M + m]!;
          }
        }
      }
    }
  }
  const out = b.makeOutput(filterShape, 'float32');
  b.typedArrayFromHeap(out).set(acc);
  return out;
}


const KERNELS: KernelConfig[] = [
  { kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: conv2DBackpropFilter as never },
  { kernelName: 'Conv2DBackpropInput', backendName: 'wasm', kernelFunc: conv2DBackpropInput as never },
  { kernelName: 'DepthwiseConv2dNativeBackpropFilter', backendName: 'wasm', kernelFunc: depthwiseBackpropFilterDirect as never },
  // Multiplier-1 layers take the turned-filter forward convolution; others the composition (it measured faster
  // than a direct loop: 408 vs 482 ms of a MobileNetV2 step).
  { kernelName: 'DepthwiseConv2dNativeBackpropInput', backendName: 'wasm', kernelFunc: depthwiseBackpropInput as never },
  { kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSum as never },
];

let registered = false;

/**
 * Registers the missing wasm training kernels, and replaces wasm's loop-based Conv2DBackpropInput with the
 * XNNPACK-backed one above. Idempotent.
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  const plainMatMul = tf.getKernel('BatchMatMul', 'wasm');
  if (plainMatMul) {
    tf.unregisterKernel('BatchMatMul', 'wasm');
    tf.registerKernel({ ...plainMatMul, kernelFunc: fastBatchMatMul(plainMatMul.kernelFunc) as never });
  }
  const plainOneHot = tf.getKernel('OneHot', 'wasm');
  if (plainOneHot) {
    tf.unregisterKernel('OneHot', 'wasm');
    tf.registerKernel({ ...plainOneHot, kernelFunc: castingOneHot(plainOneHot.kernelFunc) as never });
  }
  for (const k of KERNELS) {
    if (tf.getKernel(k.kernelName, 'wasm')) tf.unregisterKernel(k.kernelName, 'wasm');
    tf.registerKernel(k);
  }
}
