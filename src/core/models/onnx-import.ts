/**
 * ONNX ModelProto → a trainable TF.js functional model (decoded with onnx-proto). Each supported node becomes a
 * stock layer (Conv2D, DepthwiseConv2D, BatchNormalization, Dense, …) holding the initialisers as its weights, so
 * the result trains, serialises and goes through the studio's graph surgery like any other backbone.
 *
 * Layouts: ONNX image tensors are NCHW, TF.js's NHWC. Every rank-4 value of the graph is kept as its NHWC
 * transpose (`nchw`), so no Transpose is ever materialised; weights are transposed instead (conv OIHW → HWIO,
 * depthwise [C·m, 1, kh, kw] → [kh, kw, C, m], Gemm's B → [in, out]), axes of Concat are remapped, and a Flatten
 * of a feature map with spatial size > 1 permutes to channels-first first, so the next Gemm's rows match.
 * A graph whose input is NHWC followed by Transpose(0,3,1,2) (the studio's own export) maps onto the same layout.
 *
 * Per-channel Sub/Div of the graph input by constants (a normalisation baked into the file, as the studio's export
 * does) is taken out of the graph and returned as the normalisation the model expects, in ChannelStats units.
 * Only the nodes the requested output depends on are built: cut at the global pool, a classifier's Gemm, Softmax
 * or anything unsupported after it are never read.
 */
import * as tf from '@tensorflow/tfjs';
// A CommonJS package: its default export is the whole module in Vite, vitest and Node alike; named exports are not.
import onnxProto from 'onnx-proto';
import type { onnx } from 'onnx-proto';
import type { ChannelStats } from '../dataset/stats';
import { GroupedConv2D } from './architectures/layers';

const { ModelProto, TensorProto } = onnxProto.onnx;
const { DataType } = TensorProto;

/** The operators the importer turns into layers (plus Identity/Dropout, Constant and input normalisation). */
export const SUPPORTED_ONNX_OPS = ['Conv', 'BatchNormalization', 'Relu', 'Clip', 'Sigmoid', 'Mul', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'Add', 'Gemm', 'MatMul', 'Flatten', 'Reshape', 'Concat', 'Pad', 'Softmax', 'Transpose', 'Identity', 'Dropout', 'Constant', 'Sub', 'Div'] as const;

/** The file cannot be imported; `op` and `node` name the node at fault when there is one. */
export class OnnxImportError extends Error {
  constructor(
    message: string,
    readonly op?: string,
    readonly node?: string,
  ) {
    super(message);
    this.name = 'OnnxImportError';
  }
}

export interface OnnxImportOptions {
  /** `pool`: the graph up to the input of its last GlobalAveragePool (a backbone, NHWC features); `none`: the whole graph. */
  cut?: 'pool' | 'none';
  /** Name of the TF.js model. */
  name?: string;
}

export interface OnnxImport {
  /** NHWC image in (normalised as `normalization` says, when the file carried it) → the chosen output. */
  model: tf.LayersModel;
  /** The per-channel normalisation baked into the file's graph (taken out of the model), or null when it has none. */
  normalization: ChannelStats | null;
  /** What the model returns: backbone features, or the whole graph's logits / probabilities (it ends in Softmax). */
  output: 'features' | 'logits' | 'probabilities';
  inputSize: number;
  channels: number;
  /** How many nodes of each operator the file holds (all of them, not only the imported part). */
  ops: Record<string, number>;
  /** The file's input layout: NCHW (PyTorch) or NHWC followed by a Transpose (the studio's export). */
  inputLayout: 'NCHW' | 'NHWC';
  /** The file's input, its batch size when fixed, and the ONNX value the model ends at (see onnxWithOutput). */
  inputName: string;
  batch: number | null;
  outputName: string;
  producer: string;
  opset: number;
}

/** A value of the graph: its TF.js tensor and how it relates to the ONNX value of the same name. */
interface Value {
  t: tf.SymbolicTensor;
  /**
   * `nchw`: an ONNX NCHW value held as its NHWC transpose; `plain`: the same axes as ONNX; `pooled`: ONNX's
   * [N, C, 1, 1] held as [N, C] (a global pool's output, flattened for free when a Flatten follows).
   */
  layout: 'nchw' | 'plain' | 'pooled';
  /** Never negative (after Relu, Clip at 0, Sigmoid): zero padding then equals ONNX's −∞ padding of MaxPool. */
  nonNegative: boolean;
}

interface Constant {
  dims: number[];
  values: Float64Array;
}

const num = (v: number | { toNumber(): number } | null | undefined): number => (v == null ? 0 : typeof v === 'number' ? v : v.toNumber());

function decodeTensor(t: onnx.ITensorProto): Constant {
  const dims = (t.dims ?? []).map(num);
  const count = dims.reduce((a, b) => a * b, 1);
  if (t.dataLocation === TensorProto.DataLocation.EXTERNAL) throw new OnnxImportError(`tensor "${t.name}" is stored in an external file; export the model with its weights inside the .onnx file`);
  // raw_data is little-endian (the ONNX spec); copied, since a protobuf view need not be aligned.
  const raw = t.rawData && t.rawData.length ? new Uint8Array(t.rawData).buffer : null;
  let values: ArrayLike<number>;
  switch (t.dataType) {
    case DataType.FLOAT:
      values = raw ? new Float32Array(raw) : (t.floatData ?? []);
      break;
    case DataType.DOUBLE:
      values = raw ? new Float64Array(raw) : (t.doubleData ?? []);
      break;
    case DataType.INT64:
      values = raw ? Array.from(new BigInt64Array(raw), Number) : (t.int64Data ?? []).map(num);
      break;
    case DataType.INT32:
      values = raw ? new Int32Array(raw) : (t.int32Data ?? []);
      break;
    default:
      throw new OnnxImportError(`tensor "${t.name}" has data type ${DataType[t.dataType ?? 0] ?? t.dataType}; float32, float64, int64 and int32 tensors are supported`);
  }
  if (values.length !== count) throw new OnnxImportError(`tensor "${t.name}" holds ${values.length} values for shape [${dims.join(', ')}]`);
  return { dims, values: Float64Array.from(values) };
}

/** The layer name for a node: TF.js names allow letters, digits, `_`, `-`, `.`; made unique. */
function namer(): (base: string) => string {
  const used = new Set<string>();
  return (base) => {
    const clean = base.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[^A-Za-z]+/, '') || 'node';
    let name = clean;
    for (let k = 1; used.has(name); k++) name = `${clean}_${k}`;
    used.add(name);
    return name;
  };
}

type Padding = { mode: 'same' | 'valid'; explicit?: [[number, number], [number, number]] };

/** TF's `same` padding for a side: output ceil(in / stride), the odd pixel at the end. */
function samePads(size: number, kernel: number, stride: number, dilation: number): [number, number] {
  const total = Math.max((Math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

class Importer {
  private readonly values = new Map<string, Value>();
  private readonly constants = new Map<string, Constant>();
  private readonly producers = new Map<string, onnx.INodeProto>();
  private readonly consumers = new Map<string, number>();
  private readonly layerName = namer();
  private readonly pending: [tf.layers.Layer, tf.Tensor[]][] = [];
  /** Every layer applied, to free their variables when the import fails half-way. */
  private readonly layers: tf.layers.Layer[] = [];
  /** The graph input's name, and the per-channel affine taken off it (x − sub) / div. */
  readonly inputName: string = '';
  private sub: number[] | null = null;
  private div: number[] | null = null;
  readonly input: tf.SymbolicTensor;
  readonly batch: number | null;
  readonly inputLayout: 'NCHW' | 'NHWC';
  readonly inputSize: number;
  readonly channels: number;

  constructor(private readonly graph: onnx.IGraphProto) {
    for (const init of graph.initializer ?? []) this.constants.set(init.name ?? '', decodeTensor(init));
    for (const node of graph.node ?? []) {
      for (const out of node.output ?? []) this.producers.set(out, node);
      for (const i of node.input ?? []) this.consumers.set(i, (this.consumers.get(i) ?? 0) + 1);
    }
    const inputs = (graph.input ?? []).filter((i) => !this.constants.has(i.name ?? ''));
    if (inputs.length !== 1) throw new OnnxImportError(`the graph has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); an image model has one`);
    const info = inputs[0];
    const dims = (info.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimValue != null && num(d.dimValue) > 0 ? num(d.dimValue) : null));
    if (dims.length !== 4) throw new OnnxImportError(`the input "${info.name}" has rank ${dims.length}; an image model takes [batch, channels, height, width]`);
    // NHWC when the last axis looks like channels and the second does not (the studio's export: [batch, h, w, 3]).
    const nhwc = (dims[3] === 1 || dims[3] === 3) && dims[1] !== 1 && dims[1] !== 3;
    const [c, h, w] = nhwc ? [dims[3], dims[1], dims[2]] : [dims[1], dims[2], dims[3]];
    if (c == null || h == null || w == null) throw new OnnxImportError(`the input "${info.name}" has no fixed size (${JSON.stringify(dims)}); export it with fixed channels, height and width`);
    if (h !== w) throw new OnnxImportError(`the input "${info.name}" is ${h}×${w}; the studio trains on square images`);
    this.inputName = info.name ?? '';
    this.batch = dims[0];
    this.inputLayout = nhwc ? 'NHWC' : 'NCHW';
    this.inputSize = h;
    this.channels = c;
    this.input = tf.input({ shape: [h, w, c], name: 'image' });
    this.values.set(this.inputName, { t: this.input, layout: nhwc ? 'plain' : 'nchw', nonNegative: false });
  }

  normalization(): ChannelStats | null {
    if (!this.sub && !this.div) return null;
    const c = this.channels;
    return { mean: Array.from({ length: c }, (_, i) => (this.sub?.[i] ?? 0) / 255), std: Array.from({ length: c }, (_, i) => (this.div?.[i] ?? 1) / 255) };
  }

  /** The input of the graph's last GlobalAveragePool: where a backbone ends and a classifier begins. */
  poolInput(): string {
    const pools = (this.graph.node ?? []).filter((n) => n.opType === 'GlobalAveragePool');
    if (!pools.length) throw new OnnxImportError('the graph has no GlobalAveragePool to cut the classifier at; import the whole graph instead');
    return pools[pools.length - 1].input![0];
  }

  /** Sets every created layer's weights (after the graph is built, so shapes are final) and frees the values. */
  setWeights(): void {
    for (const [layer, weights] of this.pending) {
      try {
        layer.setWeights(weights);
      } finally {
        tf.dispose(weights);
      }
    }
    this.pending.length = 0;
  }

  /** After a failure: the weights not yet set and the variables of every layer built so far. */
  disposeAll(): void {
    for (const [, weights] of this.pending) tf.dispose(weights);
    this.pending.length = 0;
    for (const layer of this.layers) if (layer.built) layer.dispose();
  }

  /** A value as a rank-4 NCHW one (a pooled [N, C] becomes [N, 1, 1, C]). */
  image(name: string, node: onnx.INodeProto): Value {
    const v = this.value(name);
    if (v.layout === 'nchw') return v;
    if (v.layout === 'pooled' || (v.layout === 'plain' && v.t.shape.length === 2)) {
      const cached = this.values.get(`${name}#nchw`);
      if (cached) return cached;
      const c = v.t.shape[1] as number;
      const t = this.apply(tf.layers.reshape({ targetShape: [1, 1, c], name: this.layerName(`${name}_image`) }), v.t);
      const image: Value = { t, layout: 'nchw', nonNegative: v.nonNegative };
      this.values.set(`${name}#nchw`, image);
      return image;
    }
    return this.fail(node, `expects an NCHW image tensor, got a rank-${v.t.shape.length} ${v.layout} value`);
  }

  /** A value as a rank-2 [N, features] one. */
  matrix(name: string, node: onnx.INodeProto): Value {
    const v = this.value(name);
    if (v.layout === 'pooled' || (v.layout === 'plain' && v.t.shape.length === 2)) return { ...v, layout: 'plain' };
    return this.fail(node, `expects a [batch, features] matrix; flatten or pool first (got rank ${v.layout === 'nchw' ? 4 : v.t.shape.length})`);
  }

  constant(name: string): Constant | undefined {
    const known = this.constants.get(name);
    if (known) return known;
    const node = this.producers.get(name);
    if (node?.opType === 'Identity' && this.constant(node.input![0])) return this.constant(node.input![0]);
    if (node?.opType !== 'Constant') return undefined;
    const a = node.attribute?.[0];
    let c: Constant;
    if (a?.t) c = decodeTensor(a.t);
    else if (a?.name === 'value_float') c = { dims: [], values: Float64Array.of(a.f ?? 0) };
    else if (a?.name === 'value_floats') c = { dims: [a.floats!.length], values: Float64Array.from(a.floats!) };
    else if (a?.name === 'value_int') c = { dims: [], values: Float64Array.of(num(a.i)) };
    else if (a?.name === 'value_ints') c = { dims: [a.ints!.length], values: Float64Array.from(a.ints!, num) };
    else throw new OnnxImportError(`Constant node "${node.name}" holds a ${a?.name} value, which is not supported`, 'Constant', node.name ?? undefined);
    this.constants.set(name, c);
    return c;
  }

  value(name: string): Value {
    const known = this.values.get(name);
    if (known) return known;
    if (this.constant(name)) throw new OnnxImportError(`"${name}" is a constant where the importer expects a computed tensor`);
    const node = this.producers.get(name);
    if (!node) throw new OnnxImportError(`the graph reads "${name}", which no node computes and which is not the input`);
    // Built on first use, its inputs first (depth-first from the requested output): nothing else is ever read.
    const v = this.build(node);
    this.values.set(name, v);
    return v;
  }

  private fail(node: onnx.INodeProto, detail: string): never {
    throw new OnnxImportError(`cannot import ${node.opType} node "${node.name || node.output?.[0]}": ${detail}`, node.opType ?? undefined, node.name || node.output?.[0] || undefined);
  }

  private apply(layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[], weights?: tf.Tensor[]): tf.SymbolicTensor {
    this.layers.push(layer);
    const out = layer.apply(x) as tf.SymbolicTensor;
    if (weights) this.pending.push([layer, weights]);
    return out;
  }

  private attrs(node: onnx.INodeProto) {
    const map = new Map((node.attribute ?? []).map((a) => [a.name ?? '', a]));
    return {
      int: (name: string, fallback: number) => (map.has(name) ? num(map.get(name)!.i) : fallback),
      float: (name: string, fallback: number) => (map.has(name) ? (map.get(name)!.f ?? fallback) : fallback),
      ints: (name: string) => (map.has(name) ? map.get(name)!.ints!.map(num) : undefined),
      string: (name: string) => {
        const s = map.get(name)?.s;
        return s ? new TextDecoder().decode(s) : undefined;
      },
      has: (name: string) => map.has(name),
      type: (name: string) => map.get(name)?.type,
    };
  }

  private weight(node: onnx.INodeProto, index: number, what: string): Constant {
    const name = node.input?.[index];
    const c = name ? this.constant(name) : undefined;
    if (!c) this.fail(node, `its ${what} must be an initializer (a constant), not a computed tensor`);
    return c!;
  }

  /** Padding of a Conv/pool node on an [h, w] input: TF's `same` when it equals it, else explicit pads. */
  private padding(node: onnx.INodeProto, size: [number, number], kernel: number[], strides: number[], dilations: number[]): Padding {
    const a = this.attrs(node);
    const auto = a.string('auto_pad') ?? 'NOTSET';
    if (auto === 'VALID') return { mode: 'valid' };
    const same = [0, 1].map((d) => samePads(size[d], kernel[d], strides[d], dilations[d]));
    if (auto === 'SAME_UPPER') return { mode: 'same' };
    if (auto === 'SAME_LOWER') return { mode: 'valid', explicit: [[same[0][1], same[0][0]], [same[1][1], same[1][0]]] };
    const [top, left, bottom, right] = a.ints('pads') ?? [0, 0, 0, 0];
    if (top === 0 && left === 0 && bottom === 0 && right === 0) return { mode: 'valid' };
    if (top === same[0][0] && bottom === same[0][1] && left === same[1][0] && right === same[1][1]) return { mode: 'same' };
    return { mode: 'valid', explicit: [[top, bottom], [left, right]] };
  }

  private zeroPad(node: onnx.INodeProto, x: tf.SymbolicTensor, pads: [[number, number], [number, number]]): tf.SymbolicTensor {
    const name = node.name || node.output![0];
    return this.apply(tf.layers.zeroPadding2d({ padding: pads, name: this.layerName(node.opType === 'Pad' ? name : `${name}_pad`) }), x);
  }

  private build(node: onnx.INodeProto): Value {
    const op = node.opType ?? '';
    const name = () => this.layerName(node.name || node.output![0]);
    const ins = node.input ?? [];
    const a = this.attrs(node);
    switch (op) {
      case 'Identity':
      case 'Dropout':
        return this.value(ins[0]);
      case 'Transpose': {
        const v = this.value(ins[0]);
        const perm = (a.ints('perm') ?? []).join(',');
        // The NHWC ↔ NCHW transposes are free: the layout flag changes, the TF.js tensor stays NHWC.
        if (v.layout === 'plain' && v.t.shape.length === 4 && perm === '0,3,1,2') return { ...v, layout: 'nchw' };
        if (v.layout === 'nchw' && perm === '0,2,3,1') return { ...v, layout: 'plain' };
        return this.fail(node, `only NHWC ↔ NCHW transposes of images are supported (perm [${perm}])`);
      }
      case 'Sub':
      case 'Div':
        return this.normalise(node);
      case 'Conv':
        return this.conv(node);
      case 'Pad': {
        const v = this.image(ins[0], node);
        // Opset ≥ 11: pads (and the fill value) are inputs; before: attributes.
        const pads = ins[1] ? Array.from(this.weight(node, 1, 'pads').values) : (a.ints('pads') ?? []);
        const fill = ins[2] ? this.weight(node, 2, 'constant_value').values[0] : a.float('value', 0);
        const mode = a.string('mode') ?? 'constant';
        const [n0, c0, top, left, n1, c1, bottom, right] = pads;
        if (mode !== 'constant' || fill !== 0) return this.fail(node, `${mode} padding with ${fill} (only zero padding)`);
        if (pads.length !== 8 || n0 || c0 || n1 || c1 || pads.some((p) => p < 0)) return this.fail(node, `pads [${pads.join(', ')}] (only non-negative padding of height and width)`);
        return { t: this.zeroPad(node, v.t, [[top, bottom], [left, right]]), layout: 'nchw', nonNegative: v.nonNegative };
      }
      case 'BatchNormalization': {
        const v = this.value(ins[0]);
        if (v.layout === 'pooled') return this.fail(node, 'normalising a pooled [N, C, 1, 1] value is not supported');
        const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((i) => this.weight(node, i, ['', 'scale', 'bias', 'mean', 'variance'][i]));
        // ONNX's momentum weights the running value, as Keras's does (PyTorch's 0.1 is exported as 0.9).
        const layer = tf.layers.batchNormalization({ axis: -1, epsilon: a.float('epsilon', 1e-5), momentum: a.float('momentum', 0.9), name: name() });
        const weights = [gamma, beta, mean, variance].map((c) => tf.tensor1d(Float32Array.from(c.values)));
        return { t: this.apply(layer, v.t, weights), layout: v.layout, nonNegative: false };
      }
      case 'Relu': {
        const v = this.value(ins[0]);
        return { t: this.apply(tf.layers.reLU({ name: name() }), v.t), layout: v.layout, nonNegative: true };
      }
      case 'Clip': {
        const v = this.value(ins[0]);
        // Opset ≥ 11: bounds are inputs (empty name = none); before: attributes.
        const bound = (i: number, attr: string, fallback: number) => (ins[i] ? this.weight(node, i, attr).values[0] : a.float(attr, fallback));
        const min = bound(1, 'min', -Infinity);
        const max = bound(2, 'max', Infinity);
        if (min !== 0) return this.fail(node, `Clip to [${min}, ${max}] is not supported (a lower bound of 0: ReLU, ReLU6, is)`);
        const layer = tf.layers.reLU({ name: name(), ...(Number.isFinite(max) ? { maxValue: max } : {}) });
        return { t: this.apply(layer, v.t), layout: v.layout, nonNegative: true };
      }
      case 'Sigmoid': {
        const v = this.value(ins[0]);
        return { t: this.apply(tf.layers.activation({ activation: 'sigmoid', name: name() }), v.t), layout: v.layout, nonNegative: true };
      }
      case 'Softmax': {
        const v = this.matrix(ins[0], node);
        const axis = a.int('axis', -1);
        if (axis !== -1 && axis !== 1) return this.fail(node, `softmax over axis ${axis} (only the class axis of [batch, classes])`);
        return { t: this.apply(tf.layers.softmax({ name: name() }), v.t), layout: 'plain', nonNegative: true };
      }
      case 'Add':
      case 'Mul':
        return this.elementwise(node);
      case 'Concat': {
        const vs = ins.map((i) => (this.constant(i) ? this.fail(node, `input "${i}" is a constant; only computed tensors can be concatenated`) : this.value(i)));
        const image = vs.some((v) => v.layout !== 'plain');
        const parts = image ? ins.map((i) => this.image(i, node)) : vs;
        const rank = image ? 4 : parts[0].t.shape.length;
        let axis = a.int('axis', 1);
        if (axis < 0) axis += rank;
        if (axis === 0) return this.fail(node, 'concatenation along the batch axis is not supported');
        const tfAxis = image ? [0, 3, 1, 2][axis] : axis;
        const t = this.apply(tf.layers.concatenate({ axis: tfAxis, name: name() }), parts.map((p) => p.t));
        return { t, layout: image ? 'nchw' : 'plain', nonNegative: parts.every((p) => p.nonNegative) };
      }
      case 'MaxPool':
      case 'AveragePool':
        return this.pool(node);
      case 'GlobalAveragePool': {
        const v = this.image(ins[0], node);
        return { t: this.apply(tf.layers.globalAveragePooling2d({ name: name() }), v.t), layout: 'pooled', nonNegative: v.nonNegative };
      }
      case 'Flatten': {
        if (a.int('axis', 1) !== 1) return this.fail(node, `flattening from axis ${a.int('axis', 1)} (only axis 1, [batch, features])`);
        return this.flatten(node, ins[0]);
      }
      case 'Reshape':
        return this.reshape(node);
      case 'Gemm':
      case 'MatMul':
        return this.dense(node);
      default:
        return this.fail(node, `the ${op} operator is not supported (supported: ${SUPPORTED_ONNX_OPS.join(', ')})`);
    }
  }

  /** Sub/Div of the graph input by per-channel constants: a baked-in normalisation, returned rather than built. */
  private normalise(node: onnx.INodeProto): Value {
    const [x, c] = node.input ?? [];
    const input = this.values.get(this.inputName)!;
    const v = this.value(x);
    const k = this.constant(c);
    // Only when nothing else reads the raw input: the affine is taken out of the graph for every reader.
    if (v.t !== input.t || !k || this.consumers.get(x) !== 1) return this.fail(node, `only a per-channel normalisation of the input by constants is supported (x − mean, then ÷ std)`);
    const n = k.values.length;
    if (n !== 1 && n !== this.channels) return this.fail(node, `a constant of ${n} values does not normalise ${this.channels} channels`);
    const perChannel = Array.from({ length: this.channels }, (_, i) => k.values[n === 1 ? 0 : i]);
    if (node.opType === 'Sub') {
      if (this.sub || this.div) return this.fail(node, 'a subtraction after the division is not supported');
      this.sub = perChannel;
    } else {
      if (this.div) return this.fail(node, 'two divisions of the input are not supported');
      if (perChannel.some((d) => d === 0)) return this.fail(node, 'division by zero');
      this.div = perChannel;
    }
    return v;
  }

  private conv(node: onnx.INodeProto): Value {
    const ins = node.input ?? [];
    const a = this.attrs(node);
    const v = this.image(ins[0], node);
    const w = this.weight(node, 1, 'weight');
    const bias = ins[2] ? this.weight(node, 2, 'bias') : null;
    if (w.dims.length !== 4) return this.fail(node, `a ${w.dims.length - 2}-D convolution (only 2-D)`);
    const [out, perGroup, kh, kw] = w.dims;
    const [, h, wd, channels] = v.t.shape as number[];
    const group = a.int('group', 1);
    if (perGroup * group !== channels) return this.fail(node, `weight [${w.dims.join(', ')}] with group ${group} does not fit ${channels} input channels`);
    const [sh, sw] = a.ints('strides') ?? [1, 1];
    const [dh, dw] = a.ints('dilations') ?? [1, 1];
    const strides: [number, number] = [sh, sw];
    const dilations: [number, number] = [dh, dw];
    const pad = this.padding(node, [h, wd], [kh, kw], strides, dilations);
    const x = pad.explicit ? this.zeroPad(node, v.t, pad.explicit) : v.t;
    const kernelSize: [number, number] = [kh, kw];
    const common = { kernelSize, strides, dilationRate: dilations, padding: pad.mode, useBias: bias !== null, name: this.layerName(node.name || node.output![0]) };
    const kernel = tf.tensor4d(Float32Array.from(w.values), w.dims as [number, number, number, number]);
    const weights: tf.Tensor[] = [];
    let layer: tf.layers.Layer;
    try {
      if (group === 1) {
        weights.push(kernel.transpose([2, 3, 1, 0]));
        layer = tf.layers.conv2d({ ...common, filters: out, kernelInitializer: 'zeros' });
      } else if (group === channels) {
        // Output channel c·m + k reads input channel c: [C·m, 1, kh, kw] → [C, m, kh, kw] → [kh, kw, C, m].
        const m = out / channels;
        weights.push(tf.tidy(() => kernel.reshape([channels, m, kh, kw]).transpose([2, 3, 0, 1])));
        layer = tf.layers.depthwiseConv2d({ ...common, depthMultiplier: m, depthwiseInitializer: 'zeros' });
      } else {
        weights.push(kernel.transpose([2, 3, 1, 0]));
        layer = new GroupedConv2D({ ...common, filters: out, groups: group });
      }
    } finally {
      kernel.dispose();
    }
    if (bias) weights.push(tf.tensor1d(Float32Array.from(bias.values)));
    try {
      return { t: this.apply(layer, x, weights), layout: 'nchw', nonNegative: false };
    } catch (err) {
      tf.dispose(weights);
      return this.fail(node, (err as Error).message);
    }
  }

  private pool(node: onnx.INodeProto): Value {
    const a = this.attrs(node);
    const v = this.image(node.input![0], node);
    const kernel = a.ints('kernel_shape') ?? [];
    const strides = a.ints('strides') ?? [1, 1];
    if (kernel.length !== 2) return this.fail(node, `a ${kernel.length}-D pool (only 2-D)`);
    if ((a.ints('dilations') ?? [1, 1]).some((d) => d !== 1)) return this.fail(node, 'dilated pooling is not supported');
    const [, h, w] = v.t.shape as number[];
    const pad = this.padding(node, [h, w], kernel, strides, [1, 1]);
    const max = node.opType === 'MaxPool';
    // TF's `same` average excludes the padding; with count_include_pad the same pads must be zeros that count.
    if (!max && pad.mode === 'same' && a.int('count_include_pad', 0) === 1) pad.explicit = [samePads(h, kernel[0], strides[0], 1), samePads(w, kernel[1], strides[1], 1)];
    if (pad.explicit) pad.mode = 'valid';
    if (a.int('ceil_mode', 0) === 1) {
      // ceil_mode adds windows that start inside the (padded) input: more padding at the end, ignored by the pool.
      const padded = pad.explicit ?? [[0, 0], [0, 0]];
      const sizes = [h, w];
      const extra = [0, 1].map((d) => {
        const span = sizes[d] + padded[d][0] + padded[d][1] - kernel[d];
        return Math.ceil(span / strides[d]) * strides[d] - span;
      });
      if (pad.mode === 'same' || extra.some((e) => e > 0)) {
        if (!max || !v.nonNegative || pad.mode === 'same') return this.fail(node, 'ceil_mode that adds a window is supported for MaxPool of non-negative values only');
        pad.explicit = [[padded[0][0], padded[0][1] + extra[0]], [padded[1][0], padded[1][1] + extra[1]]];
      }
    }
    if (pad.explicit) {
      // Zero padding is exact for MaxPool of non-negative values (ONNX pads with −∞) and for AveragePool with
      // count_include_pad; otherwise only TF's `same` (padding ignored) matches, which padding() already chose.
      const exact = max ? v.nonNegative : a.int('count_include_pad', 0) === 1;
      if (!exact) return this.fail(node, max ? `explicit pads [${a.ints('pads')}] on values that may be negative (only after Relu/Clip/Sigmoid, or TF's "same" pads)` : `explicit pads [${a.ints('pads')}] without count_include_pad (only TF's "same" pads)`);
    }
    const x = pad.explicit ? this.zeroPad(node, v.t, pad.explicit) : v.t;
    const args = { poolSize: kernel as [number, number], strides: strides as [number, number], padding: pad.mode, name: this.layerName(node.name || node.output![0]) };
    const t = this.apply(max ? tf.layers.maxPooling2d(args) : tf.layers.averagePooling2d(args), x);
    return { t, layout: 'nchw', nonNegative: v.nonNegative };
  }

  private elementwise(node: onnx.INodeProto): Value {
    const [p, q] = node.input ?? [];
    const [cp, cq] = [this.constant(p), this.constant(q)];
    if (cp || cq) {
      // MatMul + Add(bias) is how some exporters write a Linear layer: one Dense with its bias.
      const other = cp ? q : p;
      const producer = this.producers.get(other);
      if (node.opType === 'Add' && producer?.opType === 'MatMul' && this.consumers.get(other) === 1 && !this.values.has(other)) return this.dense(producer, (cp ?? cq)!, node);
      return this.fail(node, `${node.opType} with a constant operand is not supported (only between computed tensors, or a MatMul's bias)`);
    }
    let [x, y] = [this.value(p), this.value(q)];
    if (x.layout !== y.layout) [x, y] = [this.image(p, node), this.image(q, node)];
    const layer = node.opType === 'Add' ? tf.layers.add({ name: this.layerName(node.name || node.output![0]) }) : tf.layers.multiply({ name: this.layerName(node.name || node.output![0]) });
    try {
      return { t: this.apply(layer, [x.t, y.t]), layout: x.layout, nonNegative: x.nonNegative && y.nonNegative };
    } catch (err) {
      return this.fail(node, (err as Error).message);
    }
  }

  /** [batch, …] → [batch, features] in ONNX's (channels-first) order. */
  private flatten(node: onnx.INodeProto, input: string): Value {
    const v = this.value(input);
    if (v.layout === 'pooled' || (v.layout === 'plain' && v.t.shape.length === 2)) return { ...v, layout: 'plain' };
    let x = v.t;
    const [, h, w] = x.shape as number[];
    // NCHW order: channel-major. A 1×1 map flattens the same either way; a larger one is permuted to [C, H, W] first.
    if (v.layout === 'nchw' && (h !== 1 || w !== 1)) x = this.apply(tf.layers.permute({ dims: [3, 1, 2], name: this.layerName(`${node.name || node.output![0]}_nchw`) }), x);
    return { t: this.apply(tf.layers.flatten({ name: this.layerName(node.name || node.output![0]) }), x), layout: 'plain', nonNegative: v.nonNegative };
  }

  private reshape(node: onnx.INodeProto): Value {
    const [x, s] = node.input ?? [];
    const shape = this.constant(s);
    if (!shape) return this.fail(node, 'its target shape is computed (Shape → Gather → Concat); export with constant shapes (e.g. torch.flatten, or opset ≥ 13 with dynamic axes off)');
    const v = this.value(x);
    const inDims = v.layout === 'nchw' ? [v.t.shape[3], v.t.shape[1], v.t.shape[2]] : v.layout === 'pooled' ? [v.t.shape[1], 1, 1] : v.t.shape.slice(1);
    const perSample = (inDims as number[]).reduce((p, d) => p * d, 1);
    const target = Array.from(shape.values);
    const rest = target.slice(1).map((d, i) => (d === 0 ? (inDims[i] as number) : d));
    const known = rest.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
    const dims = rest.map((d) => (d === -1 ? perSample / known : d));
    if (dims.reduce((p, d) => p * d, 1) !== perSample) return this.fail(node, `cannot reshape ${perSample} values per image to [${target.join(', ')}]`);
    if (dims.length === 1) return this.flatten(node, x);
    // [N, C] → [N, C, 1, 1], e.g. a squeeze-and-excitation gate: an NCHW image of 1×1.
    if (dims.length === 3 && dims[1] === 1 && dims[2] === 1 && (v.layout === 'pooled' || v.t.shape.length === 2)) return this.image(x, node);
    if (v.layout !== 'plain') return this.fail(node, `reshaping an image to [${target.join(', ')}] is not supported (only flattening to [batch, features])`);
    return { t: this.apply(tf.layers.reshape({ targetShape: dims, name: this.layerName(node.name || node.output![0]) }), v.t), layout: 'plain', nonNegative: v.nonNegative };
  }

  /** Gemm (A · B' · α + C · β), or MatMul with a constant right-hand side (plus a fused Add's bias). */
  private dense(node: onnx.INodeProto, addBias?: Constant, addNode?: onnx.INodeProto): Value {
    const a = this.attrs(node);
    const ins = node.input ?? [];
    const v = this.matrix(ins[0], node);
    if (a.int('transA', 0) !== 0) return this.fail(node, 'transA = 1 is not supported');
    const b = this.weight(node, 1, 'B (the weight matrix)');
    if (b.dims.length !== 2) return this.fail(node, `a weight of rank ${b.dims.length} (only a matrix)`);
    const transB = a.int('transB', 0) === 1;
    const [inputs, units] = transB ? [b.dims[1], b.dims[0]] : b.dims;
    if (inputs !== v.t.shape[1]) return this.fail(node, `weight [${b.dims.join(', ')}] does not fit ${v.t.shape[1]} input features`);
    const alpha = a.float('alpha', 1);
    const beta = a.float('beta', 1);
    const c = node.opType === 'Gemm' ? (ins[2] ? this.weight(node, 2, 'C (the bias)') : null) : (addBias ?? null);
    if (c && c.values.length !== units && c.values.length !== 1) return this.fail(node, `a bias of ${c.values.length} values for ${units} units`);
    const weights: tf.Tensor[] = [
      tf.tidy(() => {
        const m = tf.tensor2d(Float32Array.from(b.values, (x) => x * alpha), b.dims as [number, number]);
        return transB ? m.transpose() : m;
      }),
    ];
    if (c) weights.push(tf.tensor1d(Float32Array.from({ length: units }, (_, i) => c.values[c.values.length === 1 ? 0 : i] * beta)));
    const layer = tf.layers.dense({ units, useBias: c !== null, kernelInitializer: 'zeros', name: this.layerName((addNode ?? node).name || (addNode ?? node).output![0]) });
    return { t: this.apply(layer, v.t, weights), layout: 'plain', nonNegative: false };
  }

}

/** How many nodes of each operator a graph holds. */
function countOps(graph: onnx.IGraphProto): Record<string, number> {
  const ops: Record<string, number> = {};
  for (const n of graph.node ?? []) ops[n.opType ?? '?'] = (ops[n.opType ?? '?'] ?? 0) + 1;
  return ops;
}

/**
 * Decodes an .onnx file and builds its graph (or its backbone, with `cut: 'pool'`) as a trainable TF.js model.
 * Throws OnnxImportError naming the operator and node of the first thing it cannot import. The caller owns the
 * model; no tensor is left behind on failure.
 */
export function importOnnx(bytes: Uint8Array, opts: OnnxImportOptions = {}): OnnxImport {
  let proto: onnx.ModelProto;
  try {
    proto = ModelProto.decode(bytes);
  } catch (err) {
    throw new OnnxImportError(`not an ONNX model: ${(err as Error).message}`);
  }
  const graph = proto.graph;
  if (!graph || !graph.node?.length) throw new OnnxImportError('not an ONNX model: it has no graph');
  const opset = num((proto.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx')?.version);
  const unknownDomain = graph.node.find((n) => n.domain && n.domain !== 'ai.onnx');
  if (unknownDomain) throw new OnnxImportError(`node "${unknownDomain.name}" is the ${unknownDomain.domain} operator ${unknownDomain.opType}; only standard ONNX operators are supported`, unknownDomain.opType ?? undefined, unknownDomain.name ?? undefined);
  if ((graph.output ?? []).length !== 1) throw new OnnxImportError(`the graph has ${(graph.output ?? []).length} outputs; a classifier has one`);

  const importer = new Importer(graph);
  const cut = opts.cut ?? 'none';
  let model: tf.LayersModel;
  let target: string;
  try {
    target = cut === 'pool' ? importer.poolInput() : graph.output![0].name!;
    // Images come out NHWC, as the studio's heads read them; a pooled [N, C, 1, 1] as [N, C].
    const out = importer.value(target).t;
    if (cut === 'pool' && out.shape.length !== 4) throw new OnnxImportError(`the global pool's input has rank ${out.shape.length}; a backbone ends in a feature map`);
    model = tf.model({ inputs: importer.input, outputs: out, name: opts.name ?? (graph.name || 'onnx') });
    importer.setWeights();
  } catch (err) {
    importer.disposeAll();
    throw err;
  }
  const last = graph.node.find((n) => n.output?.includes(graph.output![0].name!));
  return {
    model,
    normalization: importer.normalization(),
    output: cut === 'pool' ? 'features' : last?.opType === 'Softmax' ? 'probabilities' : 'logits',
    inputSize: importer.inputSize,
    channels: importer.channels,
    ops: countOps(graph),
    inputLayout: importer.inputLayout,
    inputName: importer.inputName,
    batch: importer.batch,
    outputName: target,
    producer: [proto.producerName, proto.producerVersion].filter(Boolean).join(' '),
    opset,
  };
}

/**
 * The same file with `value` as its only output (float32, shape left to the runtime), so a runtime computes what an
 * imported backbone ends at (a parity check of the features), whatever the graph's own output was.
 */
export function onnxWithOutput(bytes: Uint8Array, value: string): Uint8Array {
  const proto = ModelProto.decode(bytes);
  proto.graph!.output = [onnxProto.onnx.ValueInfoProto.create({ name: value, type: { tensorType: { elemType: DataType.FLOAT } } })];
  return ModelProto.encode(proto).finish();
}
