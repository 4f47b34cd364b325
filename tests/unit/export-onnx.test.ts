import * as tf from '@tensorflow/tfjs';
import { onnx } from 'onnx-proto';
import '@tensorflow/tfjs-backend-wasm';
import * as ort from 'onnxruntime-node';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelStats } from '../../src/core/dataset/stats';
import { describeModel, type ModelMetadata } from '../../src/core/export/metadata';
import { exportOnnx, ONNX_INPUT, ONNX_OPSET, ONNX_OUTPUT, readOnnxMetadata, UnsupportedLayerError } from '../../src/core/export/onnx';
import { ARCHITECTURES } from '../../src/core/models/architectures/catalog';
import { buildArchitecture } from '../../src/core/models/architectures/builders';
import { GroupedConv2D } from '../../src/core/models/architectures/layers';
import { loadBackbone } from '../../src/core/models/backbone';
import { buildSimpleCnn } from '../../src/core/models/simple_cnn';
import { buildClassifier, type StrategyName } from '../../src/core/models/strategies';
import { BUILTIN_ZOO, MODEL_ZOO, normalizationFor } from '../../src/core/models/zoo';
import { maxAbsDifference, PARITY_TOLERANCE } from '../../src/core/export/parity';
import { perturbArchitecture, probabilitiesOf, randomizeWeights, randomPixels } from '../fixtures/export';
import { hasPretrained, PRETRAINED_DIR, pretrainedLoader } from '../fixtures/pretrained';

const DATASET_STATS: ChannelStats = { mean: [0.21, 0.19, 0.2], std: [0.18, 0.17, 0.19] };
const LABELS = ['glioma', 'meningioma', 'notumor', 'pituitary'];

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function meta(model: tf.LayersModel, overrides: Partial<ModelMetadata> & { normalization?: ChannelStats } = {}): ModelMetadata {
  const [, size, , channels] = model.inputs[0].shape as number[];
  const { normalization = DATASET_STATS, ...rest } = overrides;
  const labels = LABELS.slice(0, model.outputs[0].shape[1] as number);
  return { ...describeModel({ modelId: 'test', strategy: 'scratch', labels, inputSize: size, channels: channels as 1 | 3, normalization, scaling: 'dataset', libraries: { tfjs: tf.version.tfjs } }), ...rest };
}

async function onnxProbabilities(bytes: Uint8Array, pixels: tf.Tensor4D): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const feeds = { [ONNX_INPUT]: new ort.Tensor('float32', pixels.dataSync() as Float32Array, pixels.shape) };
    const out = await session.run(feeds);
    return out[ONNX_OUTPUT].data as Float32Array;
  } finally {
    await session.release();
  }
}

/** Exports `model`, runs the file in onnxruntime-node and returns the largest probability difference to TF.js. */
async function parity(model: tf.LayersModel, m: ModelMetadata, seed = 3, count = 4): Promise<number> {
  const before = tf.memory().numTensors;
  const { bytes } = await exportOnnx(model, m);
  expect(tf.memory().numTensors).toBe(before);
  const pixels = randomPixels(count, m.inputSize, m.channels, seed);
  try {
    const expected = probabilitiesOf(model, pixels, m);
    const got = await onnxProbabilities(bytes, pixels);
    expect(got.length).toBe(count * m.labels.length);
    // The probabilities must not be (near) uniform, or the comparison would prove little.
    expect(Math.max(...expected)).toBeGreaterThan(1 / m.labels.length + 0.05);
    return maxAbsDifference(expected, got);
  } finally {
    pixels.dispose();
  }
}

describe('ONNX export of the simple CNN', () => {
  it('matches TF.js within 1e-4 (RGB, 32 px, 4 classes, seeded weights)', async () => {
    const model = buildSimpleCnn({ imageSize: 32, channels: 3, numClasses: 4, seed: 11 });
    randomizeWeights(model, 5);
    const diff = await parity(model, meta(model));
    console.log(`simple_cnn 32px RGB: max |p_onnx − p_tfjs| = ${diff.toExponential(2)}`);
    expect(diff).toBeLessThanOrEqual(PARITY_TOLERANCE);
    model.dispose();
  });

  it('computes test-time mirroring in the graph: the mean over the image and its mirror, as the studio answers', async () => {
    const model = buildSimpleCnn({ imageSize: 32, channels: 3, numClasses: 4, seed: 11 });
    randomizeWeights(model, 5);
    const m = meta(model, { tta: { kind: 'flip', bakedIn: false } });
    const diff = await parity(model, m);
    expect(diff).toBeLessThanOrEqual(PARITY_TOLERANCE);
    const { bytes, metadata } = await exportOnnx(model, m);
    expect(metadata.tta).toEqual({ kind: 'flip', bakedIn: true });
    expect(readOnnxMetadata(bytes)?.tta).toEqual({ kind: 'flip', bakedIn: true });
    // Without it the file answers differently, beyond the parity tolerance: the parity check above would catch a
    // graph that left the mirror out.
    const pixels = randomPixels(4, 32, 3, 3);
    const single = await onnxProbabilities((await exportOnnx(model, meta(model))).bytes, pixels);
    expect(maxAbsDifference(single, await onnxProbabilities(bytes, pixels))).toBeGreaterThan(PARITY_TOLERANCE);
    pixels.dispose();
    model.dispose();
  });

  it('matches TF.js within 1e-4 (grey, 24 px, 3 classes)', async () => {
    const model = buildSimpleCnn({ imageSize: 24, channels: 1, numClasses: 3, seed: 2 });
    randomizeWeights(model, 9);
    const diff = await parity(model, meta(model, { normalization: { mean: [0.3], std: [0.25] } }));
    expect(diff).toBeLessThanOrEqual(PARITY_TOLERANCE);
    model.dispose();
  });

  it('writes a well-formed opset-17 model: input, output, metadata and baked-in preprocessing', async () => {
    const model = buildSimpleCnn({ imageSize: 16, channels: 3, numClasses: 4, seed: 1 });
    const m = meta(model, { name: 'brain-mri', version: '1.0.0', runId: 'run-1' });
    const { bytes, metadata } = await exportOnnx(model, m);
    const proto = onnx.ModelProto.decode(bytes);
    expect(proto.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', ONNX_OPSET]]);
    expect(Number(proto.irVersion)).toBe(8);
    const graph = proto.graph as onnx.GraphProto;
    const dims = (v: onnx.IValueInfoProto) => v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
    expect(graph.input.map((v) => v.name)).toEqual([ONNX_INPUT]);
    expect(dims(graph.input[0])).toEqual(['batch', 16, 16, 3]);
    expect(dims(graph.output[0])).toEqual(['batch', 4]);
    const props = Object.fromEntries(proto.metadataProps.map((p) => [p.key, p.value]));
    expect(JSON.parse(props['labels'])).toEqual(LABELS);
    expect(props['input_size']).toBe('16');
    expect(JSON.parse(props['normalization_mean'])).toEqual(DATASET_STATS.mean);
    expect(props['version']).toBe('1.0.0');
    expect(readOnnxMetadata(bytes)).toEqual(metadata);
    expect(metadata).toMatchObject({ output: 'probabilities', preprocessing: { bakedIn: true }, libraries: { onnxOpset: '17' } });
    // The input metadata stays what it was (the TF.js graph still takes normalised input and returns logits).
    expect(m).toMatchObject({ output: 'logits', preprocessing: { bakedIn: false } });
    const session = await ort.InferenceSession.create(bytes);
    expect([session.inputNames, session.outputNames]).toEqual([[ONNX_INPUT], [ONNX_OUTPUT]]);
    await session.release();
    model.dispose();
  });
});

describe('ONNX export of every supported layer', () => {
  /**
   * Each layer kind and option the converter handles, at odd sizes where "same" padding is asymmetric:
   * strided and dilated convolutions, a depthwise convolution with multiplier 2, asymmetric zero padding, batch
   * norm without centre or scale, every supported activation, ReLU with and without a cap, max and average pooling,
   * a residual Add, concatenation of images and of vectors, a permute before flatten, dropout, global pooling, a
   * softmax layer, and a Dense that ends in its own softmax.
   */
  function kitchenSink(): tf.LayersModel {
    const input = tf.input({ shape: [15, 15, 3] });
    const L = tf.layers;
    const a = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;
    let x = a(L.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6', name: 'c_stride' }), input);
    x = a(L.zeroPadding2d({ padding: [[0, 1], [1, 2]], name: 'zpad' }), x);
    x = a(L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'valid', useBias: true, name: 'dw' }), x);
    x = a(L.batchNormalization({ center: false, scale: false, name: 'bn_plain' }), x);
    x = a(L.reLU({ maxValue: 6, name: 'relu6_layer' }), x);
    const branch = a(L.conv2d({ filters: 12, kernelSize: 3, dilationRate: 2, padding: 'same', useBias: false, name: 'c_dilated' }), x);
    x = a(L.add({ name: 'residual' }), [x, branch]);
    x = a(L.activation({ activation: 'tanh', name: 'act_tanh' }), x);
    x = a(L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'pool_same' }), x);
    x = a(L.reLU({ name: 'relu_layer' }), x);
    const averaged = a(L.averagePooling2d({ poolSize: 2, strides: 1, padding: 'same', name: 'avg_same' }), x);
    x = a(L.concatenate({ name: 'cat_channels' }), [x, averaged]);
    const flat = a(L.flatten({ name: 'flat' }), a(L.permute({ dims: [3, 1, 2], name: 'channels_first' }), x));
    const pooled = a(L.globalAveragePooling2d({ name: 'gap' }), x);
    let y = a(L.dense({ units: 8, activation: 'sigmoid', name: 'd_flat' }), flat);
    y = a(L.dropout({ rate: 0.5, name: 'drop' }), y);
    let z = a(L.dense({ units: 4, activation: 'relu', name: 'd_pool' }), pooled);
    z = a(L.concatenate({ name: 'cat_vectors' }), [z, a(L.softmax({ name: 'soft_layer' }), z)]);
    y = a(L.add({ name: 'merge' }), [y, z]);
    y = a(L.batchNormalization({ name: 'bn_vector' }), y);
    const out = a(L.dense({ units: 3, activation: 'softmax', name: 'probs' }), y);
    return tf.model({ inputs: input, outputs: out });
  }

  it('matches TF.js within 1e-4', async () => {
    const model = kitchenSink();
    randomizeWeights(model, 21);
    const diff = await parity(model, meta(model, { output: 'probabilities' }), 4, 6);
    console.log(`kitchen-sink model: max |p_onnx − p_tfjs| = ${diff.toExponential(2)}`);
    expect(diff).toBeLessThanOrEqual(PARITY_TOLERANCE);
    model.dispose();
  });

  it('refuses an unsupported layer, naming it and its class', async () => {
    const input = tf.input({ shape: [8, 8, 3] });
    const x = tf.layers.conv2dTranspose({ filters: 2, kernelSize: 3, name: 'upsample' }).apply(input) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 2 }).apply(tf.layers.flatten().apply(x)) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    const before = tf.memory().numTensors;
    const err = await exportOnnx(model, meta(model)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedLayerError);
    expect((err as Error).message).toBe('cannot export layer "upsample" (Conv2DTranspose) to ONNX: this layer type is not supported by the ONNX exporter');
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('refuses an unsupported activation and a Dense applied to an image, saying why', async () => {
    const input = tf.input({ shape: [8, 8, 3] });
    const elu = tf.layers.conv2d({ filters: 2, kernelSize: 3, activation: 'elu', name: 'c_elu' }).apply(input) as tf.SymbolicTensor;
    const m1 = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2 }).apply(tf.layers.flatten().apply(elu)) as tf.SymbolicTensor });
    await expect(exportOnnx(m1, meta(m1))).rejects.toThrow('cannot export layer "c_elu" (Conv2D) to ONNX: activation "elu" is not supported');
    const dense4d = tf.layers.dense({ units: 2, name: 'd_on_image' }).apply(input) as tf.SymbolicTensor;
    const m2 = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2 }).apply(tf.layers.flatten().apply(dense4d)) as tf.SymbolicTensor });
    await expect(exportOnnx(m2, meta(m2))).rejects.toThrow(/"d_on_image" \(Dense\).*flatten or pool first/);
    m1.dispose();
    m2.dispose();
  });

  it('refuses metadata that does not fit the model', async () => {
    const model = buildSimpleCnn({ imageSize: 16, channels: 3, numClasses: 3, seed: 1 });
    await expect(exportOnnx(model, { ...meta(model), labels: ['a', 'b'] })).rejects.toThrow(/3\] outputs but 2 labels/);
    await expect(exportOnnx(model, meta(model, { normalization: { mean: [0.5], std: [0.5] } }))).rejects.toThrow(/3-channel images/);
    model.dispose();
  });
});

describe('ONNX export of every built-in architecture (seeded init, perturbed statistics)', () => {
  // WASM: a Swin-S forward pass at 224 px takes minutes on TF.js's CPU backend and seconds here.
  beforeAll(async () => {
    await tf.setBackend('wasm');
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  // The smallest size each takes (Swin-T/S only work at 224 px); Swin nano at 32 px has shifted windows in its first
  // two stages and one window without a shift in its last.
  const cases = ARCHITECTURES.map((a) => [a.id, a.family === 'swin' && a.id !== 'swin_nano' ? 224 : 32] as const);

  it.each(cases)('%s at %i px matches TF.js within 1e-4', async (id, size) => {
    const model = buildArchitecture(id, { imageSize: size, channels: 3, numClasses: 4, seed: 5 });
    perturbArchitecture(model, 13);
    const diff = await parity(model, meta(model), 7, 2);
    console.log(`${id} ${size}px: max |p_onnx − p_tfjs| = ${diff.toExponential(2)}`);
    expect(diff).toBeLessThanOrEqual(PARITY_TOLERANCE);
    model.dispose();
  });

  it('a grouped convolution (an imported backbone\'s) matches TF.js within 1e-4', async () => {
    const input = tf.input({ shape: [9, 9, 3] });
    let x = tf.layers.conv2d({ filters: 4, kernelSize: 1 }).apply(input) as tf.SymbolicTensor;
    x = new GroupedConv2D({ filters: 6, kernelSize: [3, 3], groups: 2, strides: [2, 2], padding: 'same', name: 'grouped' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 3, name: 'logits' }).apply(x) as tf.SymbolicTensor });
    randomizeWeights(model, 3);
    const diff = await parity(model, meta(model));
    expect(diff).toBeLessThanOrEqual(PARITY_TOLERANCE);
    model.dispose();
  });
});

const pretrainedIds = MODEL_ZOO.filter((e) => e.source.kind === 'url').map((e) => e.id);
const available = pretrainedIds.filter(hasPretrained);
if (!existsSync(PRETRAINED_DIR)) console.warn(`skipping ONNX parity of the MobileNets: ${PRETRAINED_DIR} is absent`);
else if (available.length < pretrainedIds.length) console.warn(`ONNX parity runs for ${available.join(', ')}; not in ${PRETRAINED_DIR}: ${pretrainedIds.filter((id) => !hasPretrained(id)).join(', ')}`);

describe.skipIf(available.length === 0)('ONNX export of MobileNet classifiers (pretrained backbones, seeded heads)', () => {
  // 32 px is the smallest size the backbones take; 33 px makes MobileNet v2's stride-2 pads symmetric (Keras's correct_pad).
  const cases: [string, StrategyName, number][] = available.flatMap((id): [string, StrategyName, number][] => [
    [id, 'frozen', 32],
    [id, 'medical', 33],
    [id, 'finetune', 32],
  ]);
  // And once at the size the weights were trained at, the size a user's export has.
  if (available.includes('mobilenet_v2_0.35_224')) cases.push(['mobilenet_v2_0.35_224', 'medical', 224]);

  it.each(cases)('%s %s at %i px matches TF.js within 1e-4', async (id, strategy, size) => {
    const entry = BUILTIN_ZOO.entry(id);
    const backbone = await loadBackbone(entry, { load: pretrainedLoader() }, { inputSize: size });
    const classifier = buildClassifier(backbone, { strategy, numClasses: 4, seed: 7 });
    backbone.model.dispose();
    const normalization = normalizationFor(entry, DATASET_STATS);
    const m = describeModel({ modelId: id, strategy, labels: LABELS, inputSize: size, channels: 3, normalization, scaling: entry.preprocessing.scaling, libraries: {} });
    const diff = await parity(classifier.model, m, 5, 3);
    console.log(`${id} ${strategy} ${size}px: max |p_onnx − p_tfjs| = ${diff.toExponential(2)}`);
    expect(diff).toBeLessThanOrEqual(PARITY_TOLERANCE);
    classifier.model.dispose();
  });
});
