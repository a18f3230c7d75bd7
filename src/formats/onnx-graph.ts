// Builds ONNX models in code (protobuf through onnx-proto): used for the default model, the search kernel and test models.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export type Dim = number | string;
export type AttributeValue = number | number[] | string | { float: number } | { floats: number[] };

/** ONNX IR version 8 / opset 15: what onnx-proto's schema (ONNX 1.10) describes and every onnxruntime reads. */
const IR_VERSION = 8;
const OPSET = 15;

function attribute(name: string, value: AttributeValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: use { float } for non-integers`);
    return { name, type: T.INT, i: value };
  }
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if ('float' in value) return { name, type: T.FLOAT, f: value.float };
  return { name, type: T.FLOATS, floats: value.floats };
}

function valueInfo(name: string, elemType: number, dims: Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** Accumulates nodes, inputs, outputs and weights, then serialises one ModelProto. */
export class OnnxGraph {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private counter = 0;

  /** `prefix` keeps generated names apart from another graph's when this one is appended to it. */
  constructor(readonly name: string, private readonly prefix = '') {}

  input(name: string, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, onnx.TensorProto.DataType.FLOAT, dims));
    return name;
  }

  output(name: string, dims: Dim[], elemType: 'float' | 'int64' = 'float'): string {
    const t = elemType === 'float' ? onnx.TensorProto.DataType.FLOAT : onnx.TensorProto.DataType.INT64;
    this.outputs.push(valueInfo(name, t, dims));
    return name;
  }

  /** A float32 weight tensor. */
  weight(values: Float32Array | number[], dims: number[], name = this.fresh('w')): string {
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new Error(`weight ${name}: ${data.length} values for shape [${dims}]`);
    this.initializers.push({
      name,
      dims,
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  /** An int64 constant tensor (shapes, axes, k). */
  int64(values: number[], dims: number[] = [values.length], name = this.fresh('i')): string {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(data.buffer) });
    return name;
  }

  /** Adds a node and returns its (first) output name. */
  node(op: string, inputs: string[], attrs: Record<string, AttributeValue> = {}, outputs: string[] = [this.fresh(op.toLowerCase())]): string {
    this.nodes.push({
      opType: op,
      input: inputs,
      output: outputs,
      name: this.fresh(`${op}_node`),
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outputs[0]!;
  }

  fresh(prefix: string): string {
    return `${this.prefix}${prefix}_${this.counter++}`;
  }

  /**
   * Appends this graph's nodes and weights to an existing model (e.g. a trained head after a frozen backbone),
   * making `outputs` the model's only outputs. The opset and IR version are the larger of the two.
   */
  appendTo(baseBytes: Uint8Array, docString = ''): Uint8Array {
    const base = onnx.ModelProto.decode(baseBytes);
    const graph = base.graph!;
    graph.node = [...(graph.node ?? []), ...this.nodes];
    graph.initializer = [...(graph.initializer ?? []), ...this.initializers];
    graph.output = this.outputs;
    const opsets = base.opsetImport ?? [];
    const main = opsets.find((o) => !o.domain);
    if (main) main.version = Math.max(Number(main.version ?? 0), OPSET);
    else opsets.push({ domain: '', version: OPSET });
    base.opsetImport = opsets;
    base.irVersion = Math.max(Number(base.irVersion ?? 0), IR_VERSION);
    if (docString) base.docString = docString;
    return onnx.ModelProto.encode(base).finish();
  }

  /** The first output name of an ONNX model's graph. */
  static outputNameOf(bytes: Uint8Array): string {
    const name = onnx.ModelProto.decode(bytes).graph?.output?.[0]?.name;
    if (!name) throw new Error('model has no graph output');
    return name;
  }

  toBytes(docString = ''): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'visid',
      producerVersion: '0.1.0',
      docString,
      opsetImport: [{ domain: '', version: OPSET }],
      graph: {
        name: this.name,
        node: this.nodes,
        input: this.inputs,
        output: this.outputs,
        initializer: this.initializers,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
