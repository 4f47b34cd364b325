/**
 * TF.js LayersModel → ONNX ModelProto, serialised with onnx-proto (protobufjs). Covers the layers the studio's
 * classifiers are made of (simple_cnn, the MobileNet v1/v2 backbones and their heads); any other layer is refused
 * by name.
 *
 * The exported graph takes what a user has: float32 pixel values in 0..255, NHWC as the studio feeds them. It
 * applies the model's normalisation itself, transposes once to NCHW (ONNX's convolution layout), runs the network
 * and ends in a softmax, so its output is class probabilities. The same facts are written in metadata_props.
 */
import * as tf from '@tensorflow/tfjs';
// A CommonJS package: its default export is the whole module in Vite, vitest and Node alike; named exports are not.
import onnxProto from 'onnx-proto';
import type { onnx } from 'onnx-proto';
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

const SUPPORTED = new Set(['Conv2D', 'DepthwiseConv2D', 'BatchNormalization', 'Activation', 'ReLU', 'ZeroPadding2D', 'MaxPooling2D', 'GlobalAveragePooling2D', 'Flatten', 'Dense', 'Dropout', 'Add']);

class Converter {
  readonly g = new GraphBuilder();
  private clipBounds: [string, string] | null = null;

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
    try {
      return { name: this.g.floats(`${layer.name}/${suffix}`, t.shape, (await t.data()) as Float32Array), dims: t.shape };
    } finally {
      t.dispose();
    }
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
      case 'softmax':
        // TF's softmax runs over the last axis: the channels, which are axis 1 of an NCHW value.
        return { name: this.g.node('Softmax', [x.name], name, [int('axis', x.rank === 4 ? 1 : -1)]), rank: x.rank };
      default:
        return this.fail(layer, `activation "${String(fn)}" is not supported (linear, relu, relu6, sigmoid, tanh, softmax are)`);
    }
  }

  clip(layer: Layer, x: Value, max: number): Value {
    // Clip takes its bounds as inputs since opset 11; MobileNets use relu6 everywhere, so the bounds are shared.
    if (max !== 6) this.fail(layer, `ReLU with max value ${max} is not supported (6 is)`);
    this.clipBounds ??= [this.g.floats('relu6/min', [], new Float32Array([0])), this.g.floats('relu6/max', [], new Float32Array([6]))];
    return { name: this.g.node('Clip', [x.name, ...this.clipBounds], `${layer.name}/relu6`), rank: x.rank };
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
        const attrs = [ints('kernel_shape', kernel), ints('strides', strides), ints('dilations', dilations), ints('pads', padsFor(cfg['padding'] as string, inShapes[0], kernel, strides, dilations)), int('group', depthwise ? channels : 1)];
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
      case 'MaxPooling2D': {
        const kernel = pair(cfg['poolSize']);
        const strides = pair(cfg['strides'] ?? kernel);
        // ONNX MaxPool ignores padded positions, as TF's "same" max pooling does.
        const attrs = [ints('kernel_shape', kernel), ints('strides', strides), ints('pads', padsFor(cfg['padding'] as string, inShapes[0], kernel, strides, [1, 1]))];
        return { name: this.g.node('MaxPool', [rank4().name], layer.name, attrs), rank: 4 };
      }
      case 'GlobalAveragePooling2D': {
        const pooled = this.g.node('GlobalAveragePool', [rank4().name], `${layer.name}/pool`);
        if (outShape.length === 4) return { name: pooled, rank: 4 };
        return { name: this.g.node('Flatten', [pooled], layer.name, [int('axis', 1)]), rank: 2 };
      }
      case 'Flatten': {
        if (one().rank === 2) return x;
        if (x.rank !== 4) this.fail(layer, `rank ${x.rank} input`);
        // Back to NHWC first, so the features are in TF's order, the one the next Dense's kernel rows follow.
        const nhwc = this.g.node('Transpose', [x.name], `${layer.name}/to_nhwc`, [ints('perm', [0, 2, 3, 1])]);
        return { name: this.g.node('Flatten', [nhwc], layer.name, [int('axis', 1)]), rank: 2 };
      }
      case 'Dense': {
        if (one().rank !== 2) this.fail(layer, `Dense on a rank-${x.rank} input (flatten or pool first)`);
        const ins = [x.name, (await this.weight(layer, 'kernel')).name];
        if (cfg['useBias']) ins.push((await this.weight(layer, 'bias')).name);
        return this.activation(layer, { name: this.g.node('Gemm', ins, layer.name), rank: 2 }, cfg['activation']);
      }
      case 'Dropout':
        // Identity at inference.
        return one();
      case 'Add': {
        if (inputs.some((v) => v.rank !== x.rank)) this.fail(layer, 'inputs of different ranks');
        return inputs.slice(1).reduce((acc, v, k) => ({ name: this.g.node('Add', [acc.name, v.name], inputs.length > 2 ? `${layer.name}/${k}` : layer.name), rank: x.rank }), x);
      }
      default:
        return this.fail(layer, 'unreachable: SUPPORTED lists a layer the switch does not handle');
    }
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

  const done = new Map<number, Value>([[input.id, { name: nchw, rank: 4 }]]);
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
  const last = await visit(model.outputs[0]);
  if (last.rank !== 2) throw new Error(`the model's output has rank ${last.rank}; a classifier's is [batch, classes]`);
  if (meta.output === 'logits') g.node('Softmax', [last.name], 'softmax', [int('axis', -1)], ONNX_OUTPUT);
  else g.node('Identity', [last.name], 'output', [], ONNX_OUTPUT);

  const written: ModelMetadata = {
    ...meta,
    preprocessing: { ...meta.preprocessing, bakedIn: true },
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
    model_id: m.modelId,
    strategy: m.strategy,
    ...(m.name ? { name: m.name } : {}),
    ...(m.version ? { version: m.version } : {}),
    ...(m.runId ? { run_id: m.runId } : {}),
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
