/**
 * TF.js LayersModel → ONNX ModelProto, serialised with onnx-proto (protobufjs). Covers the layers the studio's
 * classifiers are made of (simple_cnn, the MobileNets and their heads, ResNet, EfficientNet, ViT, Swin, imported
 * backbones with grouped convolutions), the transformers' custom layers spelled out in standard operators; any
 * other layer is refused by name.
 *
 * The exported graph takes what a user has: float32 pixel values in 0..255, NHWC as the studio feeds them. It
 * applies the model's normalisation itself, transposes once to NCHW (ONNX's convolution layout), runs the network
 * and ends in a softmax, so its output is class probabilities. The same facts are written in metadata_props.
 */
import * as tf from '@tensorflow/tfjs';
// A CommonJS package: its default export is the whole module in Vite, vitest and Node alike; named exports are not.
import onnxProto from 'onnx-proto';
import type { onnx } from 'onnx-proto';
import { type MultiHeadSelfAttention, type PatchMerging, shiftedWindowMask, type WindowAttention } from '../models/architectures/layers';
import type { ModelMetadata } from './metadata';

/** Opset 17 (ONNX 1.12): the one every maintained runtime reads; the graph needs nothing newer. */
export const ONNX_OPSET = 17;
const { ModelProto, AttributeProto, TensorProto } = onnxProto.onnx;
/** The IR version that goes with opset 17. */
const IR_VERSION = 8;
export const ONNX_INPUT = 'image';
export const ONNX_OUTPUT = 'probabilities';

export class UnsupportedLayerError extends Error {
  constructor(
    readonly layer: string,
    readonly className: string,
    detail: string,
  ) {
    super(`cannot export layer "${layer}" (${className}) to ONNX: ${detail}`);
    this.name = 'UnsupportedLayerError';
  }
}

const { AttributeType } = AttributeProto;
const { DataType } = TensorProto;

type Layer = tf.layers.Layer;
type Config = tf.serialization.ConfigDict;

/** An ONNX value: its name and its rank (rank-4 values are NCHW inside the graph). */
interface Value {
  name: string;
  rank: number;
}

/** Nodes and initializers, with names made unique. */
class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private readonly used = new Set<string>();

  unique(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  /** Adds a node; its output is named after `name` (made unique), or exactly `output` for a graph output. */
  node(opType: string, inputs: string[], name: string, attributes: onnx.IAttributeProto[] = [], output = this.unique(name)): string {
    this.nodes.push({ opType, input: inputs, output: [output], name: output, attribute: attributes });
    return output;
  }

  /** A node with `count` outputs (Split), named `name/0`, `name/1`, … */
  nodeN(opType: string, inputs: string[], name: string, count: number, attributes: onnx.IAttributeProto[] = []): string[] {
    const outputs = Array.from({ length: count }, (_, k) => this.unique(`${name}/${k}`));
    this.nodes.push({ opType, input: inputs, output: outputs, name: this.unique(name), attribute: attributes });
    return outputs;
  }

  floats(name: string, dims: number[], values: Float32Array): string {
    const unique = this.unique(name);
    // raw_data is little-endian by the ONNX spec, and so is every platform a browser or Node runs on (checked below).
    this.initializers.push({ name: unique, dims, dataType: DataType.FLOAT, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) });
    return unique;
  }

  int64s(name: string, values: number[]): string {
    const unique = this.unique(name);
    this.initializers.push({ name: unique, dims: [values.length], dataType: DataType.INT64, int64Data: values });
    return unique;
  }
}

const ints = (name: string, values: number[]): onnx.IAttributeProto => ({ name, type: AttributeType.INTS, ints: values });
const int = (name: string, value: number): onnx.IAttributeProto => ({ name, type: AttributeType.INT, i: value });
const float = (name: string, value: number): onnx.IAttributeProto => ({ name, type: AttributeType.FLOAT, f: value });

const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0], v[1]] : [v as number, v as number]);

/**
 * TF's "same" padding as explicit ONNX pads [top, left, bottom, right]: the output is ceil(in / stride) and any odd
 * padding goes to the bottom/right, which is what TF does (and what ONNX's SAME_UPPER would, spelled out).
 */
function padsFor(padding: string, inShape: tf.Shape, kernel: [number, number], strides: [number, number], dilation: [number, number]): number[] {
  if (padding === 'valid') return [0, 0, 0, 0];
  const before: number[] = [];
  const after: number[] = [];
  for (const d of [0, 1]) {
    const size = inShape[d + 1] as number;
    const out = Math.ceil(size / strides[d]);
    const total = Math.max((out - 1) * strides[d] + (kernel[d] - 1) * dilation[d] + 1 - size, 0);
    before.push(Math.floor(total / 2));
    after.push(total - Math.floor(total / 2));
  }
  return [...before, ...after];
}

const SUPPORTED = new Set([
  'Conv2D',
  'DepthwiseConv2D',
  'GroupedConv2D',
  'BatchNormalization',
  'LayerNormalization',
  'Activation',
  'ReLU',
  'ZeroPadding2D',
  'Cropping2D',
  'MaxPooling2D',
  'AveragePooling2D',
  'GlobalAveragePooling2D',
  'GlobalAveragePooling1D',
  'Flatten',
  'Reshape',
  'Dense',
  'Dropout',
  'Add',
  'Multiply',
  'Concatenate',
  'Permute',
  'Softmax',
  'ClassTokenPositionEmbedding',
  'MultiHeadSelfAttention',
  'WindowAttention',
  'PatchMerging',
]);

class Converter {
  readonly g = new GraphBuilder();
  private readonly scalars = new Map<number, string>();

  constructor() {
    if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('ONNX export needs a little-endian platform');
  }

  fail(layer: Layer, detail: string): never {
    throw new UnsupportedLayerError(layer.name, layer.getClassName(), detail);
  }

  async weight(layer: Layer, suffix: string, perm?: number[], shape?: number[]): Promise<{ name: string; dims: number[] }> {
    const variable = layer.weights.find((w) => w.originalName.endsWith(`/${suffix}`));
    if (!variable) this.fail(layer, `it has no "${suffix}" weight`);
    const t = tf.tidy(() => {
      let x = variable!.read();
      if (perm) x = x.transpose(perm);
      return shape ? x.reshape(shape) : x.clone();
    });
    const dims = t.shape;
    return { name: await this.constant(`${layer.name}/${suffix}`, t), dims };
  }

  /** A fused activation (Conv2D, Dense, Activation layers). */
  activation(layer: Layer, x: Value, fn: unknown): Value {
    const name = `${layer.name}/${String(fn)}`;
    switch (fn) {
      case undefined:
      case null:
      case 'linear':
        return x;
      case 'relu':
        return { name: this.g.node('Relu', [x.name], name), rank: x.rank };
      case 'relu6':
        return this.clip(layer, x, 6);
      case 'sigmoid':
        return { name: this.g.node('Sigmoid', [x.name], name), rank: x.rank };
      case 'tanh':
        return { name: this.g.node('Tanh', [x.name], name), rank: x.rank };
      case 'swish':
        // TF.js: x · sigmoid(x).
        return { name: this.g.node('Mul', [x.name, this.g.node('Sigmoid', [x.name], `${name}/sigmoid`)], name), rank: x.rank };
      case 'gelu': {
        // TF.js's exact GELU: x · 0.5 · (1 + erf(x / √2)), in that order.
        const erf = this.g.node('Erf', [this.g.node('Div', [x.name, this.scalar(Math.SQRT2)], `${name}/scaled`)], `${name}/erf`);
        const cdf = this.g.node('Mul', [this.scalar(0.5), this.g.node('Add', [this.scalar(1), erf], `${name}/shifted`)], `${name}/cdf`);
        return { name: this.g.node('Mul', [x.name, cdf], name), rank: x.rank };
      }
      case 'softmax':
        // TF's softmax runs over the last axis: the channels, which are axis 1 of an NCHW value.
        return { name: this.g.node('Softmax', [x.name], name, [int('axis', x.rank === 4 ? 1 : -1)]), rank: x.rank };
      default:
        return this.fail(layer, `activation "${String(fn)}" is not supported (linear, relu, relu6, sigmoid, tanh, swish, gelu, softmax are)`);
    }
  }

  /** The graph's axis for TF's `axis` of a rank-`rank` value (NHWC axes of an image map to NCHW). */
  axis(tfAxis: number, rank: number): number {
    const a = tfAxis < 0 ? tfAxis + rank : tfAxis;
    return rank === 4 ? [0, 2, 3, 1][a] : a;
  }

  /** A float32 scalar initializer, one per value for the whole graph (MobileNets clip to 6 everywhere). */
  scalar(value: number): string {
    let name = this.scalars.get(value);
    if (name === undefined) {
      name = this.g.floats(`const/${value}`, [], new Float32Array([value]));
      this.scalars.set(value, name);
    }
    return name;
  }

  clip(layer: Layer, x: Value, max: number): Value {
    // Clip takes its bounds as inputs since opset 11.
    if (max !== 6) this.fail(layer, `ReLU with max value ${max} is not supported (6 is)`);
    return { name: this.g.node('Clip', [x.name, this.scalar(0), this.scalar(6)], `${layer.name}/relu6`), rank: x.rank };
  }

  /** Reshape to `shape`, where 0 keeps the input's dimension (the batch) and −1 is inferred. */
  reshape(x: string, shape: number[], name: string): string {
    return this.g.node('Reshape', [x, this.g.int64s(`${name}/shape`, shape)], name);
  }

  transpose(x: string, perm: number[], name: string): string {
    return this.g.node('Transpose', [x], name, [ints('perm', perm)]);
  }

  slice(x: string, axis: number, start: number, end: number, name: string): string {
    return this.g.node('Slice', [x, this.g.int64s(`${name}/starts`, [start]), this.g.int64s(`${name}/ends`, [end]), this.g.int64s(`${name}/axes`, [axis])], name);
  }

  /** torch.roll by `shift` over axes 1 and 2 of [b, H, W, c] (the sizes given), as WindowAttention's roll. */
  roll(x: string, shift: number, [h, w]: [number, number], name: string): string {
    let out = x;
    for (const [axis, size] of [[1, h], [2, w]] as const) {
      const s = ((shift % size) + size) % size;
      if (s === 0) continue;
      const head = this.slice(out, axis, 0, size - s, `${name}/${axis}/head`);
      const tail = this.slice(out, axis, size - s, size, `${name}/${axis}/tail`);
      out = this.g.node('Concat', [tail, head], `${name}/${axis}`, [int('axis', axis)]);
    }
    return out;
  }

  /**
   * Multi-head attention on fused q/k/v [B, n, 3C] → [B, n, C], as layers.ts's splitHeads, attend and mergeHeads:
   * q is scaled before q·kᵀ, and `bias` may add to the scores [B, heads, n, n] before the softmax.
   */
  attention(qkv: string, n: number, c3: number, heads: number, name: string, bias?: (scores: string) => string): string {
    const d = c3 / 3 / heads;
    const split = this.transpose(this.reshape(qkv, [0, n, 3 * heads, d], `${name}/heads`), [0, 2, 1, 3], `${name}/heads_first`);
    const [q, k, v] = this.g.nodeN('Split', [split, this.g.int64s(`${name}/split`, [heads, heads, heads])], `${name}/qkv`, 3, [int('axis', 1)]);
    const kt = this.transpose(k, [0, 1, 3, 2], `${name}/k_t`);
    let scores = this.g.node('MatMul', [this.g.node('Mul', [q, this.scalar(1 / Math.sqrt(d))], `${name}/q_scaled`), kt], `${name}/scores`);
    if (bias) scores = bias(scores);
    const probs = this.g.node('Softmax', [scores], `${name}/softmax`, [int('axis', -1)]);
    const out = this.g.node('MatMul', [probs, v], `${name}/weighted`);
    return this.reshape(this.transpose(out, [0, 2, 1, 3], `${name}/tokens_first`), [0, n, c3 / 3], `${name}/merged`);
  }

  /** A constant read from a layer at export time (e.g. Swin's relative position bias, computed from its table). */
  async constant(name: string, t: tf.Tensor): Promise<string> {
    try {
      return this.g.floats(name, t.shape, (await t.data()) as Float32Array);
    } finally {
      t.dispose();
    }
  }

  async layer(layer: Layer, inputs: Value[], inShapes: tf.Shape[], outShape: tf.Shape): Promise<Value> {
    const cfg = layer.getConfig() as Config;
    const className = layer.getClassName();
    if ('layers' in layer) this.fail(layer, 'nested models are not supported; export the inner functional model');
    if (!SUPPORTED.has(className)) this.fail(layer, 'this layer type is not supported by the ONNX exporter');
    if (cfg['dataFormat'] !== undefined && cfg['dataFormat'] !== 'channelsLast') this.fail(layer, `data format ${String(cfg['dataFormat'])} (only channels-last)`);
    const [x] = inputs;
    const one = () => {
      if (inputs.length !== 1) this.fail(layer, `it has ${inputs.length} inputs`);
      return x;
    };
    const rank4 = () => {
      if (one().rank !== 4) this.fail(layer, `expected an image-shaped (4-D) input, got rank ${x.rank}`);
      return x;
    };
    switch (className) {
      case 'Conv2D':
      case 'GroupedConv2D':
      case 'DepthwiseConv2D': {
        rank4();
        const depthwise = className === 'DepthwiseConv2D';
        const kernel = pair(cfg['kernelSize']);
        const strides = pair(cfg['strides']);
        const dilations = pair(cfg['dilationRate'] ?? 1);
        const channels = inShapes[0][3] as number;
        // TF: [kh, kw, in, out] (depthwise: [kh, kw, in, multiplier], output channel c·m + k); ONNX: [out, in/group, kh, kw].
        const w = depthwise
          ? await this.weight(layer, 'depthwise_kernel', [2, 3, 0, 1], [channels * (cfg['depthMultiplier'] as number), 1, kernel[0], kernel[1]])
          : await this.weight(layer, 'kernel', [3, 2, 0, 1]);
        const ins = [x.name, w.name];
        if (cfg['useBias']) ins.push((await this.weight(layer, 'bias')).name);
        const group = depthwise ? channels : ((cfg['groups'] as number | undefined) ?? 1);
        const attrs = [ints('kernel_shape', kernel), ints('strides', strides), ints('dilations', dilations), ints('pads', padsFor(cfg['padding'] as string, inShapes[0], kernel, strides, dilations)), int('group', group)];
        const conv = { name: this.g.node('Conv', ins, layer.name, attrs), rank: 4 };
        return this.activation(layer, conv, cfg['activation']);
      }
      case 'BatchNormalization': {
        const axis = cfg['axis'] as number;
        if (axis !== -1 && axis !== one().rank - 1) this.fail(layer, `normalisation over axis ${axis} (only the channel axis)`);
        const channels = inShapes[0][inShapes[0].length - 1] as number;
        const gamma = cfg['scale'] ? (await this.weight(layer, 'gamma')).name : this.g.floats(`${layer.name}/gamma`, [channels], new Float32Array(channels).fill(1));
        const beta = cfg['center'] ? (await this.weight(layer, 'beta')).name : this.g.floats(`${layer.name}/beta`, [channels], new Float32Array(channels));
        const mean = (await this.weight(layer, 'moving_mean')).name;
        const variance = (await this.weight(layer, 'moving_variance')).name;
        // Inference mode: the moving statistics, as the studio's own predictions use.
        return { name: this.g.node('BatchNormalization', [x.name, gamma, beta, mean, variance], layer.name, [float('epsilon', cfg['epsilon'] as number)]), rank: x.rank };
      }
      case 'LayerNormalization': {
        const axes = [cfg['axis']].flat() as number[];
        if (axes.length !== 1 || (axes[0] !== -1 && axes[0] !== one().rank - 1)) this.fail(layer, `normalisation over axes ${JSON.stringify(cfg['axis'])} (only the last)`);
        // Over a rank-4 value the last axis is the channels, which are axis 1 inside the (NCHW) graph.
        if (x.rank === 4) this.fail(layer, 'layer normalisation of an image-shaped value is not supported (only of tokens)');
        const channels = inShapes[0][inShapes[0].length - 1] as number;
        const gamma = cfg['scale'] ? (await this.weight(layer, 'gamma')).name : this.g.floats(`${layer.name}/gamma`, [channels], new Float32Array(channels).fill(1));
        const ins = [x.name, gamma];
        if (cfg['center']) ins.push((await this.weight(layer, 'beta')).name);
        return { name: this.g.node('LayerNormalization', ins, layer.name, [int('axis', -1), float('epsilon', cfg['epsilon'] as number)]), rank: x.rank };
      }
      case 'Activation':
        return this.activation(layer, one(), cfg['activation']);
      case 'ReLU': {
        const max = cfg['maxValue'] as number | null | undefined;
        return max == null ? { name: this.g.node('Relu', [one().name], layer.name), rank: x.rank } : this.clip(layer, one(), max);
      }
      case 'ZeroPadding2D': {
        const [[top, bottom], [left, right]] = cfg['padding'] as number[][];
        const pads = this.g.int64s(`${layer.name}/pads`, [0, 0, top, left, 0, 0, bottom, right]);
        return { name: this.g.node('Pad', [rank4().name, pads], layer.name), rank: 4 };
      }
      case 'Cropping2D': {
        const [[top, bottom], [left, right]] = cfg['cropping'] as number[][];
        const [, h, w] = inShapes[0] as number[];
        const rows = this.slice(rank4().name, 2, top, h - bottom, `${layer.name}/rows`);
        return { name: this.slice(rows, 3, left, w - right, layer.name), rank: 4 };
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        const kernel = pair(cfg['poolSize']);
        const strides = pair(cfg['strides'] ?? kernel);
        // Padded positions are ignored (MaxPool; AveragePool without count_include_pad), as in TF's "same" pooling.
        const attrs = [ints('kernel_shape', kernel), ints('strides', strides), ints('pads', padsFor(cfg['padding'] as string, inShapes[0], kernel, strides, [1, 1]))];
        const max = className === 'MaxPooling2D';
        return { name: this.g.node(max ? 'MaxPool' : 'AveragePool', [rank4().name], layer.name, max ? attrs : [...attrs, int('count_include_pad', 0)]), rank: 4 };
      }
      case 'GlobalAveragePooling2D': {
        const pooled = this.g.node('GlobalAveragePool', [rank4().name], `${layer.name}/pool`);
        if (outShape.length === 4) return { name: pooled, rank: 4 };
        return { name: this.g.node('Flatten', [pooled], layer.name, [int('axis', 1)]), rank: 2 };
      }
      case 'GlobalAveragePooling1D': {
        if (one().rank !== 3) this.fail(layer, `expected a [batch, tokens, channels] input, got rank ${x.rank}`);
        // Opset 17's ReduceMean takes its axes as an attribute (an input from opset 18 on).
        return { name: this.g.node('ReduceMean', [x.name], layer.name, [ints('axes', [1]), int('keepdims', 0)]), rank: 2 };
      }
      case 'Reshape': {
        // In TF's layout: back to NHWC from an image, and to NCHW again when the result is an image.
        const target = cfg['targetShape'] as number[];
        const source = one().rank === 4 ? this.transpose(x.name, [0, 2, 3, 1], `${layer.name}/to_nhwc`) : x.name;
        if (target.length !== 3) return { name: this.reshape(source, [0, ...target], layer.name), rank: target.length + 1 };
        const image = this.reshape(source, [0, ...target], `${layer.name}/nhwc`);
        return { name: this.transpose(image, [0, 3, 1, 2], layer.name), rank: 4 };
      }
      case 'Flatten': {
        if (one().rank === 2) return x;
        if (x.rank !== 4) this.fail(layer, `rank ${x.rank} input`);
        // Back to NHWC first, so the features are in TF's order, the one the next Dense's kernel rows follow.
        const nhwc = this.g.node('Transpose', [x.name], `${layer.name}/to_nhwc`, [ints('perm', [0, 2, 3, 1])]);
        return { name: this.g.node('Flatten', [nhwc], layer.name, [int('axis', 1)]), rank: 2 };
      }
      case 'Dense': {
        if (one().rank === 4) this.fail(layer, `Dense on a rank-${x.rank} input (flatten or pool first)`);
        const kernel = (await this.weight(layer, 'kernel')).name;
        const bias = cfg['useBias'] ? (await this.weight(layer, 'bias')).name : null;
        let y: string;
        if (x.rank === 2) y = this.g.node('Gemm', bias ? [x.name, kernel, bias] : [x.name, kernel], layer.name);
        else {
          // Per token ([batch, tokens, channels]): Gemm takes matrices only.
          y = this.g.node('MatMul', [x.name, kernel], bias ? `${layer.name}/matmul` : layer.name);
          if (bias) y = this.g.node('Add', [y, bias], layer.name);
        }
        return this.activation(layer, { name: y, rank: x.rank }, cfg['activation']);
      }
      case 'Dropout':
        // Identity at inference.
        return one();
      case 'Add':
      case 'Multiply': {
        // Same-rank inputs broadcast alike in both layouts (EfficientNet's [b, c, 1, 1] gate over its feature map).
        if (inputs.some((v) => v.rank !== x.rank)) this.fail(layer, 'inputs of different ranks');
        const op = className === 'Add' ? 'Add' : 'Mul';
        return inputs.slice(1).reduce((acc, v, k) => ({ name: this.g.node(op, [acc.name, v.name], inputs.length > 2 ? `${layer.name}/${k}` : layer.name), rank: x.rank }), x);
      }
      case 'Concatenate': {
        if (inputs.some((v) => v.rank !== x.rank)) this.fail(layer, 'inputs of different ranks');
        return { name: this.g.node('Concat', inputs.map((v) => v.name), layer.name, [int('axis', this.axis(cfg['axis'] as number, x.rank))]), rank: x.rank };
      }
      case 'Softmax':
        return { name: this.g.node('Softmax', [one().name], layer.name, [int('axis', this.axis(cfg['axis'] as number, x.rank))]), rank: x.rank };
      case 'Permute': {
        // TF's permutation acts on NHWC; inside the graph an image is NCHW, so it is composed with both layout changes.
        const perm = [0, ...(cfg['dims'] as number[])];
        const q = one().rank === 4 ? [0, 1, 2, 3].map((k) => this.axis(perm[[0, 3, 1, 2][k]], 4)) : perm;
        return { name: this.transpose(x.name, q, layer.name), rank: x.rank };
      }
      case 'ClassTokenPositionEmbedding': {
        if (one().rank !== 3) this.fail(layer, `expected tokens, got rank ${x.rank}`);
        const d = inShapes[0][2] as number;
        // The class token [1, 1, d] broadcast to the batch, whose size is read from the input.
        const batch = this.slice(this.g.node('Shape', [x.name], `${layer.name}/shape`), 0, 0, 1, `${layer.name}/batch`);
        const tokenShape = this.g.node('Concat', [batch, this.g.int64s(`${layer.name}/token_dims`, [1, d])], `${layer.name}/token_shape`, [int('axis', 0)]);
        const token = this.g.node('Expand', [(await this.weight(layer, 'class_token')).name, tokenShape], `${layer.name}/token`);
        const tokens = this.g.node('Concat', [token, x.name], `${layer.name}/tokens`, [int('axis', 1)]);
        return { name: this.g.node('Add', [tokens, (await this.weight(layer, 'pos_embedding')).name], layer.name), rank: 3 };
      }
      case 'MultiHeadSelfAttention': {
        if (one().rank !== 3) this.fail(layer, `expected fused q/k/v tokens, got rank ${x.rank}`);
        const [, n, c3] = inShapes[0] as number[];
        return { name: this.attention(x.name, n, c3, (layer as MultiHeadSelfAttention).numHeads, layer.name), rank: 3 };
      }
      case 'WindowAttention':
        return { name: await this.windowAttention(layer as WindowAttention, one().name, inShapes[0][2] as number), rank: 3 };
      case 'PatchMerging': {
        const [h, w] = (layer as PatchMerging).resolution;
        const c = inShapes[0][2] as number;
        // [b, H/2, row in pair, W/2, column in pair, c] → [b, H/2, W/2, column, row, c]: layers.ts's order (0,0), (1,0), (0,1), (1,1).
        const pairs = this.reshape(one().name, [0, h / 2, 2, w / 2, 2, c], `${layer.name}/pairs`);
        const ordered = this.transpose(pairs, [0, 1, 3, 4, 2, 5], `${layer.name}/ordered`);
        return { name: this.reshape(ordered, [0, (h / 2) * (w / 2), 4 * c], layer.name), rank: 3 };
      }
      default:
        return this.fail(layer, 'unreachable: SUPPORTED lists a layer the switch does not handle');
    }
  }

  /**
   * WindowAttention as the layer computes it: shift, partition into windows, attention with the relative position
   * bias (a constant of the trained table) and the shifted-window mask, then back.
   */
  async windowAttention(layer: WindowAttention, x: string, c3: number): Promise<string> {
    const { windowSize: win, shiftSize: shift, numHeads: heads, resolution } = layer;
    const [h, w] = resolution;
    const c = c3 / 3;
    const n = win * win;
    const windows = (h / win) * (w / win);
    const name = layer.name;
    let grid = this.reshape(x, [-1, h, w, c3], `${name}/grid`);
    if (shift > 0) grid = this.roll(grid, -shift, resolution, `${name}/shift`);
    const rows = this.transpose(this.reshape(grid, [-1, win, w / win, win * c3], `${name}/rows`), [0, 2, 1, 3], `${name}/windows_first`);
    const windowed = this.reshape(rows, [-1, n, c3], `${name}/windows`);
    const bias = await this.constant(`${name}/position_bias`, tf.tidy(() => layer.relativePositionBias()));
    const mask = shift > 0 ? this.g.floats(`${name}/mask`, [windows, 1, n, n], shiftedWindowMask(h, w, win, shift)) : null;
    const attended = this.attention(windowed, n, c3, heads, name, (scores) => {
      const biased = this.g.node('Add', [scores, bias], `${name}/biased`);
      if (!mask) return biased;
      const perImage = this.reshape(biased, [-1, windows, heads, n, n], `${name}/per_image`);
      return this.reshape(this.g.node('Add', [perImage, mask], `${name}/masked`), [-1, heads, n, n], `${name}/masked_windows`);
    });
    const back = this.transpose(this.reshape(attended, [-1, w / win, win, win * c], `${name}/window_rows`), [0, 2, 1, 3], `${name}/rows_first`);
    let merged = this.reshape(back, [-1, h, w, c], `${name}/merged_grid`);
    if (shift > 0) merged = this.roll(merged, shift, resolution, `${name}/unshift`);
    return this.reshape(merged, [-1, h * w, c], name);
  }
}

export interface OnnxExport {
  bytes: Uint8Array;
  /** The metadata as written into the file (preprocessing baked in, output probabilities). */
  metadata: ModelMetadata;
}

/**
 * Converts `model` (one NHWC image input, one output of class logits or probabilities as `meta.output` says) to
 * an ONNX file whose input is float32 pixels in 0..255 ([batch, h, w, c], named `image`) and whose output is
 * class probabilities ([batch, classes], named `probabilities`). Reads the weights asynchronously (any backend).
 */
export async function exportOnnx(model: tf.LayersModel, meta: ModelMetadata): Promise<OnnxExport> {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) throw new Error(`model "${model.name}" must have one input and one output to be exported`);
  const input = model.inputs[0];
  const [, h, w, c] = input.shape;
  if (input.shape.length !== 4 || h == null || w == null || c == null) throw new Error(`model "${model.name}" must take fixed-size images (input shape ${JSON.stringify(input.shape)})`);
  if (c !== meta.channels || meta.preprocessing.mean.length !== c || meta.preprocessing.std.length !== c) throw new Error(`the model takes ${c}-channel images but the metadata describes ${meta.channels} channels and ${meta.preprocessing.mean.length} means`);
  const outShape = model.outputs[0].shape;
  if (outShape.length !== 2 || outShape[1] !== meta.labels.length) throw new Error(`the model has ${JSON.stringify(outShape)} outputs but ${meta.labels.length} labels`);

  const conv = new Converter();
  const g = conv.g;
  // Reserved, so no inner value takes the graph's input or output name.
  g.unique(ONNX_INPUT);
  g.unique(ONNX_OUTPUT);
  // (x − 255·mean) / (255·std), the trainer's normalizeWith, then NHWC → NCHW once for the whole network.
  const { mean, std } = meta.preprocessing;
  const centred = g.node('Sub', [ONNX_INPUT, g.floats('preprocess/mean', [c], Float32Array.from(mean, (m) => m * 255))], 'preprocess/centre');
  const scaled = g.node('Div', [centred, g.floats('preprocess/std', [c], Float32Array.from(std, (s) => s * 255))], 'preprocess/scale');
  const nchw = g.node('Transpose', [scaled], 'preprocess/to_nchw', [ints('perm', [0, 3, 1, 2])]);
  // Test-time mirroring (src/core/inference/tta.ts): the batch and its mirror (columns reversed) go through the
  // network as one batch of 2·b, and the two halves' outputs are averaged after it.
  const mirror = meta.tta?.kind === 'flip';
  const views = mirror
    ? g.node('Concat', [nchw, g.node('Gather', [nchw, g.int64s('tta/columns_reversed', Array.from({ length: w }, (_, k) => w - 1 - k))], 'tta/mirror', [int('axis', 3)])], 'tta/views', [int('axis', 0)])
    : nchw;

  const done = new Map<number, Value>([[input.id, { name: views, rank: 4 }]]);
  const visit = async (t: tf.SymbolicTensor): Promise<Value> => {
    const known = done.get(t.id);
    if (known) return known;
    if (t.inputs.length === 0) throw new Error(`the graph reads "${t.name}", which is not the model's input`);
    const inputs: Value[] = [];
    for (const i of t.inputs) inputs.push(await visit(i));
    const out = await conv.layer(t.sourceLayer, inputs, t.inputs.map((i) => i.shape), t.shape);
    done.set(t.id, out);
    return out;
  };
  const network = await visit(model.outputs[0]);
  if (network.rank !== 2) throw new Error(`the model's output has rank ${network.rank}; a classifier's is [batch, classes]`);
  const last = mirror ? g.node('ReduceMean', [conv.reshape(network.name, [2, -1, meta.labels.length], 'tta/by_view')], 'tta/mean', [ints('axes', [0]), int('keepdims', 0)]) : network.name;
  if (meta.output === 'logits') g.node('Softmax', [last], 'softmax', [int('axis', -1)], ONNX_OUTPUT);
  else g.node('Identity', [last], 'output', [], ONNX_OUTPUT);

  const written: ModelMetadata = {
    ...meta,
    preprocessing: { ...meta.preprocessing, bakedIn: true },
    ...(mirror ? { tta: { kind: 'flip', bakedIn: true } } : {}),
    output: 'probabilities',
    libraries: { ...meta.libraries, onnxOpset: String(ONNX_OPSET) },
  };
  const dim = (d: number | null) => (d == null ? { dimParam: 'batch' } : { dimValue: d });
  const tensorType = (shape: (number | null)[]): onnx.ITypeProto => ({ tensorType: { elemType: DataType.FLOAT, shape: { dim: shape.map(dim) } } });
  const proto = ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'mri-studio',
    producerVersion: meta.libraries['studio'] ?? '',
    docString: `${meta.name ?? meta.modelId}${meta.version ? `@${meta.version}` : ''}: float32 NHWC pixels in 0..255 → class probabilities (${meta.labels.join(', ')})`,
    graph: {
      name: model.name,
      node: g.nodes,
      initializer: g.initializers,
      input: [{ name: ONNX_INPUT, type: tensorType([null, h, w, c]) }],
      output: [{ name: ONNX_OUTPUT, type: tensorType([null, meta.labels.length]) }],
    },
    metadataProps: metadataProps(written),
  });
  return { bytes: ModelProto.encode(proto).finish(), metadata: written };
}

/** The metadata as flat key/value pairs (what ONNX tools show), plus the whole record as JSON under `mri_studio`. */
function metadataProps(m: ModelMetadata): onnx.IStringStringEntryProto[] {
  const flat: Record<string, string> = {
    labels: JSON.stringify(m.labels),
    input_size: String(m.inputSize),
    channels: String(m.channels),
    input: `${ONNX_INPUT}: float32 ${m.input.layout} [batch, ${m.inputSize}, ${m.inputSize}, ${m.channels}], pixel values 0..255`,
    preprocessing: `baked in: (x/255 - mean) / std, scaling ${m.preprocessing.scaling}`,
    normalization_mean: JSON.stringify(m.preprocessing.mean),
    normalization_std: JSON.stringify(m.preprocessing.std),
    output: `${ONNX_OUTPUT}: float32 [batch, ${m.labels.length}], softmax applied`,
    ...(m.tta ? { test_time_augmentation: 'baked in: the mean of the outputs for the image and its left-right mirror' } : {}),
    model_id: m.modelId,
    strategy: m.strategy,
    ...(m.name ? { name: m.name } : {}),
    ...(m.version ? { version: m.version } : {}),
    ...(m.runId ? { run_id: m.runId } : {}),
    // The thresholds apply to this file's output as is (softmax at T = 1): see operating_point_rule.
    ...(m.operatingPoint
      ? { operating_point_thresholds: JSON.stringify(m.operatingPoint.thresholds), operating_point_rule: m.operatingPoint.rule, target_sensitivity: String(m.operatingPoint.targetSensitivity), temperature: String(m.operatingPoint.temperature) }
      : {}),
    mri_studio: JSON.stringify(m),
  };
  return Object.entries(flat).map(([key, value]) => ({ key, value }));
}

/** The metadata record an exported ONNX file carries (e.g. to show it, or to check a file before use). */
export function readOnnxMetadata(bytes: Uint8Array): ModelMetadata | null {
  const props = ModelProto.decode(bytes).metadataProps;
  const json = props.find((p) => p.key === 'mri_studio')?.value;
  return json ? (JSON.parse(json) as ModelMetadata) : null;
}
