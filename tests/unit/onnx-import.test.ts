import * as tf from '@tensorflow/tfjs';
import { onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeModel } from '../../src/core/export/metadata';
import { exportOnnx } from '../../src/core/export/onnx';
import { maxAbsDifference, studioProbabilities } from '../../src/core/export/parity';
import { buildArchitecture } from '../../src/core/models/architectures/builders';
import { importOnnx, OnnxImportError } from '../../src/core/models/onnx-import';
import { normalizeWith } from '../../src/core/train/trainer';
import { randomizeWeights, randomPixels } from '../fixtures/export';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const { AttributeType } = onnx.AttributeProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

/** Seeded uniform numbers in [−scale, scale] (mulberry32), for hand-written initialisers. */
function uniform(count: number, seed: number, scale = 0.5): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  });
}

/** A hand-written ONNX graph, built node by node with onnx-proto. */
class Graph {
  nodes: onnx.INodeProto[] = [];
  inits: onnx.ITensorProto[] = [];
  private seed = 1;

  floats(name: string, dims: number[], values?: Float32Array): string {
    const data = values ?? uniform(dims.reduce((a, b) => a * b, 1), this.seed++);
    this.inits.push({ name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer.slice(0)) });
    return name;
  }

  int64s(name: string, values: number[]): string {
    this.inits.push({ name, dims: [values.length], dataType: INT64, int64Data: values });
    return name;
  }

  node(opType: string, input: string[], name: string, attribute: onnx.IAttributeProto[] = []): string {
    this.nodes.push({ opType, input, output: [name], name, attribute });
    return name;
  }

  model(input: string, inputDims: (number | string)[], output: string, outputDims: (number | string)[]): Uint8Array {
    const type = (dims: (number | string)[]) => ({ tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } });
    const proto = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      producerName: 'hand',
      graph: { name: 'hand', node: this.nodes, initializer: this.inits, input: [{ name: input, type: type(inputDims) }], output: [{ name: output, type: type(outputDims) }] },
    });
    return onnx.ModelProto.encode(proto).finish();
  }
}

const ints = (name: string, values: number[]): onnx.IAttributeProto => ({ name, type: AttributeType.INTS, ints: values });
const int = (name: string, value: number): onnx.IAttributeProto => ({ name, type: AttributeType.INT, i: value });
const float = (name: string, value: number): onnx.IAttributeProto => ({ name, type: AttributeType.FLOAT, f: value });

/** Runs an NCHW ONNX model in onnxruntime-node. */
async function runOrt(bytes: Uint8Array, input: string, output: string, nchw: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ [input]: new ort.Tensor('float32', nchw, dims) });
    return out[output].data as Float32Array;
  } finally {
    await session.release();
  }
}

/**
 * Every supported operator on the path to the output, at odd sizes: a strided conv with TF-"same" pads, one with
 * asymmetric pads, batch norm, ReLU6 (Clip), a grouped conv, a depthwise conv with multiplier 2 and bias, swish
 * (x · Sigmoid(x)), a MaxPool with asymmetric pads after a ReLU, an AveragePool, a Concat of two branches,
 * squeeze-and-excitation (GlobalAveragePool → 1×1 conv → Sigmoid → Mul), a Flatten of a 3×3 map into a Gemm
 * with transB = 1, a pooled Gemm with α and β, a MatMul plus bias, and Reshape to flatten.
 */
function kitchenSink(): Uint8Array {
  const g = new Graph();
  let x = g.node('Conv', ['input', g.floats('c1.w', [8, 3, 3, 3]), g.floats('c1.b', [8])], 'conv1', [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])]);
  x = g.node('BatchNormalization', [x, g.floats('bn.g', [8]), g.floats('bn.b', [8]), g.floats('bn.m', [8]), g.floats('bn.v', [8], uniform(8, 99).map((v) => v + 1))], 'bn1', [float('epsilon', 1e-5)]);
  x = g.node('Clip', [x, g.floats('zero', [], Float32Array.of(0)), g.floats('six', [], Float32Array.of(6))], 'relu6');
  x = g.node('Conv', [x, g.floats('gc.w', [8, 4, 3, 3])], 'grouped', [ints('kernel_shape', [3, 3]), ints('pads', [0, 1, 1, 0]), int('group', 2)]);
  x = g.node('Conv', [x, g.floats('dw.w', [16, 1, 3, 3]), g.floats('dw.b', [16])], 'depthwise', [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1]), int('group', 8)]);
  x = g.node('Mul', [x, g.node('Sigmoid', [x], 'swish_gate')], 'swish');
  const r = g.node('Relu', [x], 'relu');
  const mp = g.node('MaxPool', [r], 'maxpool', [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 0, 0])]);
  const ap = g.node('AveragePool', [mp], 'avgpool', [ints('kernel_shape', [2, 2]), ints('pads', [1, 1, 0, 0]), int('count_include_pad', 1)]);
  const side = g.node('Conv', [mp, g.floats('side.w', [4, 16, 1, 1])], 'side', [ints('kernel_shape', [1, 1])]);
  x = g.node('Concat', [ap, side], 'concat', [int('axis', 1)]);
  const pooled = g.node('GlobalAveragePool', [x], 'se_pool');
  let gate = g.node('Conv', [pooled, g.floats('se.w', [20, 20, 1, 1]), g.floats('se.b', [20])], 'se_conv', [ints('kernel_shape', [1, 1])]);
  gate = g.node('Sigmoid', [gate], 'se_gate');
  const features = g.node('Mul', [x, gate], 'se_scale');
  const flat = g.node('Flatten', [features], 'flatten');
  const a = g.node('Gemm', [flat, g.floats('fc.w', [5, 20 * 3 * 3]), g.floats('fc.b', [5])], 'fc', [int('transB', 1)]);
  const gap = g.node('Reshape', [g.node('GlobalAveragePool', [features], 'pool'), g.int64s('flat_shape', [0, -1])], 'pool_flat');
  const b = g.node('Gemm', [gap, g.floats('fc2.w', [20, 5]), g.floats('fc2.c', [5])], 'fc2', [float('alpha', 0.5), float('beta', 2)]);
  const c = g.node('Add', [g.node('MatMul', [gap, g.floats('mm.w', [20, 5])], 'mm'), g.floats('mm.b', [5])], 'mm_bias');
  const logits = g.node('Add', [g.node('Add', [a, b], 'ab'), c], 'logits');
  return g.model('input', ['batch', 3, 15, 15], logits, ['batch', 5]);
}

const nhwcToNchw = (t: tf.Tensor4D) => tf.tidy(() => t.transpose([0, 3, 1, 2]).dataSync() as Float32Array);

describe('ONNX import: a hand-written graph of every supported operator', () => {
  it('matches onnxruntime-node within 1e-4 and counts its operators', async () => {
    const bytes = kitchenSink();
    const before = tf.memory().numTensors;
    const imported = importOnnx(bytes);
    expect(imported.inputLayout).toBe('NCHW');
    expect([imported.inputSize, imported.channels, imported.output, imported.normalization]).toEqual([15, 3, 'logits', null]);
    expect(imported.ops).toMatchObject({ Conv: 5, Gemm: 2, MatMul: 1, GlobalAveragePool: 2, Concat: 1, MaxPool: 1, AveragePool: 1, Clip: 1, Sigmoid: 2, Mul: 2 });
    const layers = imported.model.layers.map((l) => l.getClassName());
    expect(layers).toEqual(expect.arrayContaining(['GroupedConv2D', 'DepthwiseConv2D', 'Permute', 'ZeroPadding2D', 'Multiply', 'Concatenate', 'Dense']));
    const x = tf.randomUniform([3, 15, 15, 3], -1, 1, 'float32', 5) as tf.Tensor4D;
    const ours = tf.tidy(() => (imported.model.predict(x) as tf.Tensor).dataSync() as Float32Array);
    const theirs = await runOrt(bytes, 'input', 'logits', nhwcToNchw(x), [3, 3, 15, 15]);
    const diff = maxAbsDifference(ours, theirs);
    console.log(`hand-written graph: max |logit_tfjs − logit_ort| = ${diff.toExponential(2)}`);
    expect(diff).toBeLessThanOrEqual(1e-4);
    // Not a degenerate comparison: the logits vary.
    expect(Math.max(...theirs) - Math.min(...theirs)).toBeGreaterThan(0.1);

    // It serialises (the backbone cache stores it so) and reloads, the grouped convolution included.
    let saved: tf.io.ModelArtifacts | undefined;
    await imported.model.save(tf.io.withSaveHandler(async (artifacts) => ((saved = artifacts), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })));
    const reloaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
    const again = tf.tidy(() => (reloaded.predict(x) as tf.Tensor).dataSync() as Float32Array);
    expect(maxAbsDifference(ours, again)).toBe(0);
    reloaded.dispose();
    imported.model.dispose();
    x.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('exports back to ONNX (average pooling, concatenation, permute) and matches TF.js within 1e-4', async () => {
    const { model } = importOnnx(kitchenSink());
    const meta = describeModel({ modelId: 'imported', strategy: 'scratch', labels: ['a', 'b', 'c', 'd', 'e'], inputSize: 15, channels: 3, normalization: { mean: [0.4, 0.5, 0.6], std: [0.3, 0.3, 0.3] }, scaling: 'dataset', libraries: {} });
    const { bytes } = await exportOnnx(model, meta);
    const pixels = randomPixels(3, 15, 3, 4);
    const expected = studioProbabilities(model, pixels, meta);
    const session = await ort.InferenceSession.create(bytes);
    const out = await session.run({ image: new ort.Tensor('float32', pixels.dataSync() as Float32Array, pixels.shape) });
    await session.release();
    const diff = maxAbsDifference(expected.dataSync(), out['probabilities'].data as Float32Array);
    console.log(`hand-written graph, imported then exported: max |Δp| = ${diff.toExponential(2)}`);
    expect(Math.max(...expected.dataSync())).toBeGreaterThan(0.25);
    expect(diff).toBeLessThanOrEqual(1e-4);
    tf.dispose([pixels, expected]);
    model.dispose();
  });

  it('cuts at the last global pool: NHWC features of the graph up to there', () => {
    const imported = importOnnx(kitchenSink(), { cut: 'pool' });
    expect(imported.output).toBe('features');
    expect(imported.model.outputs[0].shape).toEqual([null, 3, 3, 20]);
    // Nothing after the cut was built: no Dense layer.
    expect(imported.model.layers.some((l) => l.getClassName() === 'Dense')).toBe(false);
    imported.model.dispose();
  });

  it('trains: one SGD step changes the first convolution kernel and leaks no tensor', () => {
    const { model } = importOnnx(kitchenSink());
    const conv = model.getLayer('conv1');
    const x = tf.randomUniform([4, 15, 15, 3], -1, 1, 'float32', 8);
    const labels = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 5));
    const kernelBefore = conv.getWeights()[0].dataSync().slice();
    const optimizer = tf.train.sgd(0.1);
    const before = tf.memory().numTensors;
    expect(model.trainableWeights.length).toBeGreaterThan(10);
    tf.tidy(() => {
      optimizer.minimize(() => tf.losses.softmaxCrossEntropy(labels, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar);
    });
    expect(tf.memory().numTensors).toBe(before);
    const kernelAfter = conv.getWeights()[0].dataSync();
    expect(maxAbsDifference(kernelBefore, kernelAfter)).toBeGreaterThan(0);
    optimizer.dispose();
    tf.dispose([x, labels]);
    model.dispose();
  });
});

describe('ONNX import: refusals', () => {
  function withOp(op: string, after: 'conv' | 'pool'): Uint8Array {
    const g = new Graph();
    let x = g.node('Conv', ['input', g.floats('w', [4, 3, 3, 3])], 'conv', [ints('kernel_shape', [3, 3])]);
    if (after === 'pool') x = g.node('Flatten', [g.node('GlobalAveragePool', [x], 'gap')], 'flat');
    const out = g.node(op, [x], 'rnn_1');
    return g.model('input', [1, 3, 8, 8], out, [1, 4]);
  }

  it('names an unsupported operator and its node, and leaves no tensor behind', () => {
    const before = tf.memory().numTensors;
    let error: unknown;
    try {
      importOnnx(withOp('LSTM', 'conv'));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OnnxImportError);
    expect((error as OnnxImportError).message).toMatch(/LSTM node "rnn_1".*LSTM operator is not supported/);
    expect([(error as OnnxImportError).op, (error as OnnxImportError).node]).toEqual(['LSTM', 'rnn_1']);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('imports the backbone of a graph whose classifier it cannot read', () => {
    const bytes = withOp('Hardmax', 'pool');
    expect(() => importOnnx(bytes)).toThrow(/Hardmax/);
    const { model } = importOnnx(bytes, { cut: 'pool' });
    expect(model.outputs[0].shape).toEqual([null, 6, 6, 4]);
    model.dispose();
  });

  it('says what is wrong with a file that is not a model, or whose shapes are computed', () => {
    expect(() => importOnnx(new Uint8Array([1, 2, 3, 4, 5]))).toThrow(OnnxImportError);
    const g = new Graph();
    const shape = g.node('Shape', ['input'], 'shape');
    const out = g.node('Reshape', ['input', shape], 'reshape');
    expect(() => importOnnx(g.model('input', [1, 3, 8, 8], out, [1, 192]))).toThrow(/Reshape node "reshape": its target shape is computed/);
  });
});

describe('ONNX import: ResNet-18 round trip through the studio’s own ONNX writer', () => {
  it('gives the exported network back: same features, same probabilities (≤ 1e-4), same parameters', async () => {
    const original = buildArchitecture('resnet18', { imageSize: 64, channels: 3, numClasses: 4, seed: 3 });
    randomizeWeights(original, 17);
    // Small weights keep 18 random layers from saturating the softmax, so the comparison means something.
    for (const w of original.weights) if (!w.originalName.includes('moving_variance')) w.write(tf.tidy(() => w.read().mul(0.3)));
    const normalization = { mean: [0.2, 0.25, 0.3], std: [0.2, 0.21, 0.22] };
    const meta = describeModel({ modelId: 'resnet18', strategy: 'scratch', labels: ['a', 'b', 'c', 'd'], inputSize: 64, channels: 3, normalization, scaling: 'dataset', libraries: {} });
    const { bytes } = await exportOnnx(original, meta);
    const before = tf.memory().numTensors;

    const full = importOnnx(bytes);
    expect(full.inputLayout).toBe('NHWC');
    expect(full.output).toBe('probabilities');
    expect(full.model.countParams()).toBe(original.countParams());
    for (const k of [0, 1, 2]) {
      expect(full.normalization!.mean[k]).toBeCloseTo(normalization.mean[k], 6);
      expect(full.normalization!.std[k]).toBeCloseTo(normalization.std[k], 6);
    }
    const pixels = randomPixels(3, 64, 3, 9);
    const expected = studioProbabilities(original, pixels, meta);
    const got = tf.tidy(() => full.model.predict(normalizeWith(full.normalization!)(pixels)) as tf.Tensor);
    const probDiff = maxAbsDifference(expected.dataSync(), got.dataSync());
    expect(Math.max(...expected.dataSync())).toBeGreaterThan(0.3);

    // The backbone: cut at the global pool, compared with the original's last block.
    const backbone = importOnnx(bytes, { cut: 'pool' });
    expect(backbone.model.countParams()).toBe(original.countParams() - (512 * 4 + 4));
    const cutOriginal = tf.model({ inputs: original.inputs, outputs: original.getLayer('layer4_1_out').output as tf.SymbolicTensor });
    const [a, b] = tf.tidy(() => {
      const x = normalizeWith(normalization)(pixels);
      return [cutOriginal.predict(x) as tf.Tensor, backbone.model.predict(x) as tf.Tensor];
    });
    const featureDiff = maxAbsDifference(a.dataSync(), b.dataSync());
    const scale = Math.max(...a.dataSync());
    console.log(`ResNet-18 64 px round trip: max |Δp| = ${probDiff.toExponential(2)}, max |Δfeature| = ${featureDiff.toExponential(2)} (features up to ${scale.toFixed(2)})`);
    expect(probDiff).toBeLessThanOrEqual(1e-4);
    expect(featureDiff).toBeLessThanOrEqual(1e-4 * Math.max(1, scale));

    // And onnxruntime agrees with the imported model on the file's own input (pixels 0..255, NHWC).
    const session = await ort.InferenceSession.create(bytes);
    const out = await session.run({ image: new ort.Tensor('float32', pixels.dataSync() as Float32Array, pixels.shape) });
    await session.release();
    expect(maxAbsDifference(out['probabilities'].data as Float32Array, got.dataSync())).toBeLessThanOrEqual(1e-4);

    tf.dispose([pixels, expected, got, a, b]);
    full.model.dispose();
    backbone.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    original.dispose();
  });
});
