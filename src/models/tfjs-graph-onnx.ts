// Converts a TensorFlow.js graph model (model.json + .bin shards, as tfjs-converter writes them) into ONNX, for the
// ops convolutional feature extractors use, so that networks shipped in npm packages as tfjs graph models run on
// onnxruntime with its threads. TF is NHWC and ONNX convolutions are NCHW: the image enters NCHW and 4-D tensors stay
// NCHW (axes, per-channel constants and paddings are remapped); a tensor is transposed back to NHWC only where TF's
// memory order matters (Reshape, a squeeze or reduction that is not over H and W). Unknown ops are an error naming
// the op and the node, never a silently different network.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { VisidError } from '../util/errors.js';
import { OnnxGraph, type AttributeValue, type Dim } from '../formats/onnx-graph.js';
import { onnxConvKernel, onnxDepthwiseKernel, readTfjsWeightGroups, type TfjsWeightGroup, type TfWeight } from './tfjs-weights.js';

interface TfAttr {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  list?: { s?: string[]; i?: Array<string | number>; f?: number[] };
  shape?: unknown;
  tensor?: unknown;
}

export interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttr>;
}

export interface TfjsGraphModelJson {
  format?: string;
  modelTopology: { node: TfNode[] };
  weightsManifest: TfjsWeightGroup[];
  signature?: unknown;
  userDefinedMetadata?: unknown;
}

export interface GraphConversion {
  /** ONNX graph (and model) name. */
  name: string;
  /** TF node names whose values become the ONNX outputs, in order, with the names they get. */
  outputs: Array<{ node: string; as: string }>;
  /** The ONNX input's name and spatial size (numbers for fixed, strings for dynamic). */
  input: { name: string; height: Dim; width: Dim };
  /** Nodes added between the ONNX input (raw NCHW pixels) and the TF placeholder: e.g. x/255 or (x − 127.5)/128. */
  preprocess?: (g: OnnxGraph, x: string) => string;
  /** Nodes added after each output (e.g. L2 normalisation). */
  postprocess?: (g: OnnxGraph, y: string, output: string) => string;
  docString?: string;
}

/** A value during conversion: an ONNX tensor (4-D in NCHW or in TF's own order) or a constant known here. */
type Value =
  | { kind: 'tensor'; name: string; rank: number; layout: 'nchw' | 'tf' }
  | { kind: 'const'; weight: TfWeight };

const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];
/** TF axis of an NHWC tensor → the same axis in NCHW. */
const TF_AXIS_IN_NCHW = [0, 2, 3, 1];

function decode(s: string | undefined): string {
  return s === undefined ? '' : Buffer.from(s, 'base64').toString('utf8');
}

function ints(attr: TfAttr | undefined): number[] {
  return (attr?.list?.i ?? []).map((v) => Number(v));
}

export async function readTfjsGraphModel(modelJson: string): Promise<{ model: TfjsGraphModelJson; weights: Map<string, TfWeight> }> {
  const text = await fs.readFile(modelJson, 'utf8').catch(() => {
    throw new VisidError('E_MODEL', 'graph model file is missing', { item: modelJson });
  });
  let model: TfjsGraphModelJson;
  try {
    model = JSON.parse(text) as TfjsGraphModelJson;
  } catch {
    throw new VisidError('E_MODEL', 'graph model is not JSON', { item: modelJson });
  }
  if (!model.modelTopology?.node || !Array.isArray(model.weightsManifest)) throw new VisidError('E_MODEL', 'not a tfjs graph model (no modelTopology.node / weightsManifest)', { item: modelJson });
  const weights = await readTfjsWeightGroups(model.weightsManifest, path.dirname(modelJson), modelJson);
  return { model, weights };
}

/** Converts the part of `model` that `o.outputs` need into ONNX bytes. */
export function tfjsGraphToOnnx(model: TfjsGraphModelJson, weights: Map<string, TfWeight>, o: GraphConversion, where = o.name): Uint8Array {
  const nodes = new Map(model.modelTopology.node.map((n) => [n.name, n]));
  const g = new OnnxGraph(o.name);
  const values = new Map<string, Value>();
  const fail = (node: TfNode, message: string): never => {
    throw new VisidError('E_MODEL', `node '${node.name}' (${node.op}): ${message}`, { item: where });
  };
  const imageIn = g.input(o.input.name, ['N', 3, o.input.height, o.input.width]);
  const pre = o.preprocess ? o.preprocess(g, imageIn) : imageIn;

  // Tensor views of a value in the layout an op needs.
  const constTensor = (w: TfWeight): string => (w.dtype === 'int32' ? g.int64(Array.from(w.values), w.shape) : g.weight(w.values as Float32Array, w.shape));
  const asTf = (v: Value): string => {
    if (v.kind === 'const') return constTensor(v.weight);
    return v.layout === 'nchw' && v.rank === 4 ? g.node('Transpose', [v.name], { perm: NCHW_TO_NHWC }) : v.name;
  };
  const asNchw = (v: Value, node: TfNode): string => {
    if (v.kind === 'const') return fail(node, 'a constant where an image tensor was expected');
    if (v.rank !== 4) return fail(node, `expected a 4-D tensor, got rank ${v.rank}`);
    return v.layout === 'nchw' ? v.name : g.node('Transpose', [v.name], { perm: NHWC_TO_NCHW });
  };
  const constOf = (v: Value, node: TfNode): TfWeight => (v.kind === 'const' ? v.weight : fail(node, 'expected a constant input'));
  const floatConst = (v: Value, node: TfNode): { shape: number[]; values: Float32Array } => {
    const w = constOf(v, node);
    return { shape: w.shape, values: w.dtype === 'float32' ? (w.values as Float32Array) : Float32Array.from(w.values) };
  };
  /** A constant broadcast against an NCHW tensor: [C], [1, C], [1, 1, C], [1, 1, 1, C] → [1, C, 1, 1]; scalars stay. */
  const broadcastConst = (w: TfWeight, node: TfNode): string => {
    const size = w.values.length;
    if (size === 1) return g.weight([Number(w.values[0])], []);
    const lead = w.shape.slice(0, -1);
    if (lead.every((d) => d === 1) && w.shape.length <= 4) return g.weight(Float32Array.from(w.values), [1, size, 1, 1]);
    if (w.shape.length === 4) {
      // A full NHWC constant: transpose its values.
      const [n, h, wd, c] = w.shape as [number, number, number, number];
      const out = new Float32Array(size);
      for (let a = 0; a < n; a++) for (let y = 0; y < h; y++) for (let x = 0; x < wd; x++) for (let ch = 0; ch < c; ch++) out[((a * c + ch) * h + y) * wd + x] = Number(w.values[((a * h + y) * wd + x) * c + ch]);
      return g.weight(out, [n, c, h, wd]);
    }
    return fail(node, `cannot broadcast a constant of shape [${w.shape}] against an NCHW tensor`);
  };

  const evaluate = (ref: string): Value => {
    const name = ref.replace(/^\^/, '').replace(/:0$/, '');
    const known = values.get(name);
    if (known) return known;
    const node = nodes.get(name);
    if (!node) throw new VisidError('E_MODEL', `the graph has no node '${name}'`, { item: where });
    const v = convert(node);
    values.set(name, v);
    return v;
  };

  const inputsOf = (node: TfNode) => (node.input ?? []).filter((i) => !i.startsWith('^'));

  const activation = (node: TfNode, x: string, op: string, extra?: string): string => {
    switch (op) {
      case 'Relu':
        return g.node('Relu', [x]);
      case 'Relu6':
        return g.node('Clip', [x, g.weight([0], []), g.weight([6], [])]);
      case 'Elu':
        return g.node('Elu', [x]);
      case 'Sigmoid':
        return g.node('Sigmoid', [x]);
      case 'LeakyRelu':
        return g.node('LeakyRelu', [x], { alpha: { float: node.attr?.['leakyrelu_alpha']?.f ?? node.attr?.['alpha']?.f ?? 0.2 } });
      case 'Prelu':
        return g.node('PRelu', [x, extra ?? fail(node, 'Prelu without its alpha')]);
      default:
        return fail(node, `unsupported fused activation ${op}`);
    }
  };

  const convert = (node: TfNode): Value => {
    const ins = inputsOf(node);
    const attr = node.attr ?? {};
    const tensor = (t: string, rank: number, layout: 'nchw' | 'tf' = 'nchw'): Value => ({ kind: 'tensor', name: t, rank, layout });
    switch (node.op) {
      case 'Const': {
        const w = weights.get(node.name);
        if (!w) return fail(node, 'constant has no weights in the manifest');
        return { kind: 'const', weight: w };
      }
      case 'Placeholder':
        return tensor(pre, 4);
      case 'Identity':
      case 'StopGradient':
        return evaluate(ins[0]!);
      case 'Cast': {
        const v = evaluate(ins[0]!);
        const to = attr['DstT']?.type;
        if (to && to !== 'DT_FLOAT') return fail(node, `cast to ${to}`);
        return v;
      }
      case 'Conv2D':
      case '_FusedConv2D':
      case 'DepthwiseConv2dNative':
      case 'FusedDepthwiseConv2dNative': {
        const x = asNchw(evaluate(ins[0]!), node);
        const kernel = floatConst(evaluate(ins[1]!), node);
        const depthwise = node.op.includes('Depthwise');
        if (decode(attr['data_format']?.s) && decode(attr['data_format']?.s) !== 'NHWC') return fail(node, `data format ${decode(attr['data_format']?.s)}`);
        const [, sh, sw] = ints(attr['strides']).length ? ints(attr['strides']) : [1, 1, 1, 1];
        const dil = ints(attr['dilations']);
        const [kh, kw, cin, cm] = kernel.shape as [number, number, number, number];
        const padding = decode(attr['padding']?.s) || 'VALID';
        const pads: Record<string, AttributeValue> =
          padding === 'SAME'
            ? { auto_pad: 'SAME_UPPER' }
            : padding === 'EXPLICIT'
              ? (() => {
                  const e = ints(attr['explicit_paddings']);
                  return { pads: [e[2]!, e[4]!, e[3]!, e[5]!] };
                })()
              : { pads: [0, 0, 0, 0] };
        const fused = (attr['fused_ops']?.list?.s ?? []).map(decode);
        const args = ins.slice(2).map((i) => evaluate(i));
        const onnxKernel = depthwise ? onnxDepthwiseKernel(kernel) : onnxConvKernel(kernel);
        const cout = depthwise ? cin * cm : cm;
        const convInputs = [x, g.weight(onnxKernel, depthwise ? [cout, 1, kh, kw] : [cout, cin, kh, kw])];
        let rest = fused;
        if (fused[0] === 'BiasAdd') {
          convInputs.push(g.weight(floatConst(args[0]!, node).values, [cout]));
          rest = fused.slice(1);
        } else if (fused.length > 0) return fail(node, `fused ops ${fused.join(', ')}`);
        let y = g.node('Conv', convInputs, {
          kernel_shape: [kh, kw],
          strides: [sh ?? 1, sw ?? 1],
          ...(dil.length ? { dilations: [dil[1]!, dil[2]!] } : {}),
          ...(depthwise ? { group: cin } : {}),
          ...pads,
        });
        for (const op of rest) y = activation(node, y, op, op === 'Prelu' ? broadcastConst(constOf(args[1]!, node), node) : undefined);
        return tensor(y, 4);
      }
      case 'BiasAdd':
      case 'Add':
      case 'AddV2':
      case 'Sub':
      case 'Mul':
      case 'RealDiv':
      case 'Maximum':
      case 'Minimum': {
        const onnxOp = { BiasAdd: 'Add', Add: 'Add', AddV2: 'Add', Sub: 'Sub', Mul: 'Mul', RealDiv: 'Div', Maximum: 'Max', Minimum: 'Min' }[node.op]!;
        const a = evaluate(ins[0]!);
        const b = evaluate(ins[1]!);
        if (a.kind === 'const' && b.kind === 'const') return fail(node, 'an operation on two constants (fold it before converting)');
        const t = (a.kind === 'tensor' ? a : b) as Extract<Value, { kind: 'tensor' }>;
        const nchw = t.layout === 'nchw' && t.rank === 4;
        const operand = (v: Value): string => {
          if (v.kind === 'const') return nchw ? broadcastConst(v.weight, node) : constTensor(v.weight.dtype === 'int32' ? { ...v.weight, dtype: 'float32', values: Float32Array.from(v.weight.values) } : v.weight);
          if (nchw) return v.rank === 4 ? asNchw(v, node) : v.rank <= 1 ? v.name : fail(node, `mixing a 4-D image tensor with a rank-${v.rank} tensor`);
          return asTf(v);
        };
        const rank = Math.max(a.kind === 'tensor' ? a.rank : 0, b.kind === 'tensor' ? b.rank : 0, a.kind === 'const' ? a.weight.shape.length : 0, b.kind === 'const' ? b.weight.shape.length : 0);
        return tensor(g.node(onnxOp, [operand(a), operand(b)]), rank, nchw ? 'nchw' : 'tf');
      }
      case 'Relu':
      case 'Relu6':
      case 'Elu':
      case 'Sigmoid':
      case 'LeakyRelu': {
        const v = evaluate(ins[0]!);
        if (v.kind === 'const') return fail(node, 'activation of a constant');
        return { ...v, name: activation(node, v.name, node.op) };
      }
      case 'Prelu': {
        const v = evaluate(ins[0]!);
        if (v.kind === 'const') return fail(node, 'activation of a constant');
        const alpha = constOf(evaluate(ins[1]!), node);
        return { ...v, name: g.node('PRelu', [v.name, v.layout === 'nchw' && v.rank === 4 ? broadcastConst(alpha, node) : constTensor(alpha)]) };
      }
      case 'Abs':
      case 'Sqrt':
      case 'Exp':
      case 'Neg':
      case 'Tanh':
      case 'Square':
      case 'Rsqrt': {
        const v = evaluate(ins[0]!);
        if (v.kind === 'const') return fail(node, 'unary op on a constant');
        const y =
          node.op === 'Square' ? g.node('Mul', [v.name, v.name]) : node.op === 'Rsqrt' ? g.node('Reciprocal', [g.node('Sqrt', [v.name])]) : g.node(node.op, [v.name]);
        return { ...v, name: y };
      }
      case 'Softmax': {
        const v = evaluate(ins[0]!);
        if (v.kind === 'const') return fail(node, 'softmax of a constant');
        return { ...v, name: g.node('Softmax', [v.name], { axis: v.layout === 'nchw' && v.rank === 4 ? 1 : -1 }) };
      }
      case 'Mean':
      case 'Sum':
      case 'Max': {
        const v = evaluate(ins[0]!);
        if (v.kind === 'const') return fail(node, 'reduction of a constant');
        const rank = v.rank;
        const axes = Array.from(constOf(evaluate(ins[1]!), node).values, (a) => (a < 0 ? a + rank : a));
        const keep = attr['keep_dims']?.b ?? false;
        const op = { Mean: 'ReduceMean', Sum: 'ReduceSum', Max: 'ReduceMax' }[node.op]!;
        // ReduceSum takes its axes as an input from opset 13; ReduceMean/Max still as an attribute at opset 15.
        const reduce = (x: string, ax: number[], k: boolean) =>
          op === 'ReduceSum' ? g.node(op, [x, g.int64(ax)], { keepdims: k ? 1 : 0 }) : g.node(op, [x], { axes: ax, keepdims: k ? 1 : 0 });
        if (v.layout === 'nchw' && rank === 4) {
          const mapped = axes.map((a) => TF_AXIS_IN_NCHW[a]!);
          if (keep) return tensor(reduce(v.name, mapped, true), 4, 'nchw');
          const sorted = [...axes].sort();
          // Over H and W (TF axes 1, 2): [N, C] in both layouts.
          if (sorted.length === 2 && sorted[0] === 1 && sorted[1] === 2) return tensor(reduce(v.name, mapped, false), 2, 'tf');
        }
        return tensor(reduce(asTf(v), axes, keep), keep ? rank : rank - axes.length, 'tf');
      }
      case 'MatMul':
      case '_FusedMatMul': {
        const a = evaluate(ins[0]!);
        const b = evaluate(ins[1]!);
        if (a.kind === 'const') return fail(node, 'constant left operand');
        const ta = attr['transpose_a']?.b ?? false;
        const tb = attr['transpose_b']?.b ?? false;
        const left = ta ? g.node('Transpose', [asTf(a)], { perm: [1, 0] }) : asTf(a);
        const right = b.kind === 'const' ? (tb ? g.node('Transpose', [constTensor(b.weight)], { perm: [1, 0] }) : constTensor(b.weight)) : tb ? g.node('Transpose', [asTf(b)], { perm: [1, 0] }) : asTf(b);
        let y = g.node('MatMul', [left, right]);
        const fused = (attr['fused_ops']?.list?.s ?? []).map(decode);
        const args = ins.slice(2).map((i) => evaluate(i));
        let rest = fused;
        if (fused[0] === 'BiasAdd') {
          y = g.node('Add', [y, constTensor(constOf(args[0]!, node))]);
          rest = fused.slice(1);
        }
        for (const op of rest) y = activation(node, y, op, op === 'Prelu' ? constTensor(constOf(args[1]!, node)) : undefined);
        return tensor(y, 2, 'tf');
      }
      case 'Reshape': {
        const v = evaluate(ins[0]!);
        if (v.kind === 'const') return fail(node, 'reshape of a constant');
        const shape = Array.from(constOf(evaluate(ins[1]!), node).values);
        if (shape.includes(0)) return fail(node, 'a zero in the target shape');
        return tensor(g.node('Reshape', [asTf(v), g.int64(shape)]), shape.length, 'tf');
      }
      case 'Squeeze': {
        const v = evaluate(ins[0]!);
        if (v.kind === 'const') return fail(node, 'squeeze of a constant');
        const dims = ints(attr['squeeze_dims']);
        if (dims.length === 0) return fail(node, 'squeeze without explicit dims (the shape is not known here)');
        const rank = v.rank;
        const norm = dims.map((d) => (d < 0 ? d + rank : d)).sort();
        if (v.layout === 'nchw' && rank === 4 && norm.length === 2 && norm[0] === 1 && norm[1] === 2) {
          return tensor(g.node('Squeeze', [v.name, g.int64([2, 3])]), 2, 'tf');
        }
        return tensor(g.node('Squeeze', [asTf(v), g.int64(norm)]), rank - norm.length, 'tf');
      }
      case 'Pad':
      case 'PadV2':
      case 'MirrorPad': {
        const v = evaluate(ins[0]!);
        const p = Array.from(constOf(evaluate(ins[1]!), node).values);
        const mode = node.op === 'MirrorPad' ? (decode(attr['mode']?.s) === 'SYMMETRIC' ? fail(node, 'symmetric mirror padding') : 'reflect') : 'constant';
        const value = node.op === 'PadV2' ? Number(constOf(evaluate(ins[2]!), node).values[0]) : 0;
        if (v.kind === 'const') return fail(node, 'padding a constant');
        if (v.layout === 'nchw' && v.rank === 4) {
          // TF [[n0, n1], [h0, h1], [w0, w1], [c0, c1]] → ONNX NCHW begins then ends.
          const pads = [p[0]!, p[6]!, p[2]!, p[4]!, p[1]!, p[7]!, p[3]!, p[5]!];
          return tensor(g.node('Pad', [v.name, g.int64(pads), g.weight([value], [])], { mode }), 4);
        }
        const r = v.rank;
        const pads = [...Array.from({ length: r }, (_, i) => p[2 * i]!), ...Array.from({ length: r }, (_, i) => p[2 * i + 1]!)];
        return tensor(g.node('Pad', [asTf(v), g.int64(pads), g.weight([value], [])], { mode }), r, 'tf');
      }
      case 'MaxPool':
      case 'AvgPool': {
        const x = asNchw(evaluate(ins[0]!), node);
        const k = ints(attr['ksize']);
        const s = ints(attr['strides']);
        const padding = decode(attr['padding']?.s) || 'VALID';
        const op = node.op === 'MaxPool' ? 'MaxPool' : 'AveragePool';
        const pad: Record<string, AttributeValue> = padding === 'SAME' ? { auto_pad: 'SAME_UPPER' } : { pads: [0, 0, 0, 0] };
        // TF's average pool with SAME padding divides by the number of real pixels (ONNX: count_include_pad 0, the default).
        return tensor(g.node(op, [x], { kernel_shape: [k[1]!, k[2]!], strides: [s[1]!, s[2]!], ...pad }), 4);
      }
      case 'ConcatV2': {
        const parts = ins.slice(0, -1).map((i) => evaluate(i));
        const axisRaw = Number(constOf(evaluate(ins.at(-1)!), node).values[0]);
        const tensors = parts.filter((p): p is Extract<Value, { kind: 'tensor' }> => p.kind === 'tensor');
        if (tensors.length !== parts.length) return fail(node, 'concatenating constants');
        const rank = tensors[0]!.rank;
        const axis = axisRaw < 0 ? axisRaw + rank : axisRaw;
        if (rank === 4 && tensors.every((t) => t.layout === 'nchw')) return tensor(g.node('Concat', tensors.map((t) => t.name), { axis: TF_AXIS_IN_NCHW[axis]! }), 4);
        return tensor(g.node('Concat', tensors.map((t) => asTf(t)), { axis }), rank, 'tf');
      }
      default:
        return fail(node, 'op not supported by visid\'s tfjs→ONNX converter');
    }
  };

  for (const out of o.outputs) {
    const v = evaluate(out.node);
    if (v.kind === 'const') throw new VisidError('E_MODEL', `output '${out.node}' is a constant`, { item: where });
    let y = v.layout === 'nchw' && v.rank === 4 ? v.name : asTf(v);
    if (o.postprocess) y = o.postprocess(g, y, out.as);
    g.node('Identity', [y], {}, [out.as]);
    g.output(out.as, v.rank === 2 ? ['N', 'D'] : v.rank === 4 ? ['N', 'C', 'H', 'W'] : Array.from({ length: v.rank }, (_, i) => (i === 0 ? 'N' : `d${i}`)));
  }
  return g.toBytes(o.docString ?? '');
}
