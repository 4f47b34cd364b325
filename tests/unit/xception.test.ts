import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildXception, XCEPTION_OUTPUT } from '../../src/core/models/architectures/xception';
import { loadBackbone } from '../../src/core/models/backbone';
import { kerasH5Artifacts } from '../../src/core/models/keras-backbones';
import { assignKerasWeights, KerasWeightsError, readKerasWeights } from '../../src/core/models/keras-h5';
import { estimateTrainingMemory, modelFootprint } from '../../src/core/models/memory';
import { buildClassifier, listBlocks } from '../../src/core/models/strategies';
import { BUILTIN_ZOO } from '../../src/core/models/zoo';
import { StudioEngine } from '../../workers/engine';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

type Row = [name: string, className: string, shape: number[], params: number];

/**
 * keras.applications.Xception(include_top=False) at 299 px, as its model.summary() lists it (the unnamed shortcut
 * layers under tf.keras's names): every layer's name, output shape (without the batch) and parameter count.
 */
function kerasTable(): Row[] {
  const rows: Row[] = [
    ['input_1', 'InputLayer', [299, 299, 3], 0],
    ['block1_conv1', 'Conv2D', [149, 149, 32], 864],
    ['block1_conv1_bn', 'BatchNormalization', [149, 149, 32], 128],
    ['block1_conv1_act', 'Activation', [149, 149, 32], 0],
    ['block1_conv2', 'Conv2D', [147, 147, 64], 18432],
    ['block1_conv2_bn', 'BatchNormalization', [147, 147, 64], 256],
    ['block1_conv2_act', 'Activation', [147, 147, 64], 0],
    ['block2_sepconv1', 'SeparableConv2D', [147, 147, 128], 8768],
    ['block2_sepconv1_bn', 'BatchNormalization', [147, 147, 128], 512],
    ['block2_sepconv2_act', 'Activation', [147, 147, 128], 0],
    ['block2_sepconv2', 'SeparableConv2D', [147, 147, 128], 17536],
    ['block2_sepconv2_bn', 'BatchNormalization', [147, 147, 128], 512],
    ['conv2d', 'Conv2D', [74, 74, 128], 8192],
    ['block2_pool', 'MaxPooling2D', [74, 74, 128], 0],
    ['batch_normalization', 'BatchNormalization', [74, 74, 128], 512],
    ['add', 'Add', [74, 74, 128], 0],
    ['block3_sepconv1_act', 'Activation', [74, 74, 128], 0],
    ['block3_sepconv1', 'SeparableConv2D', [74, 74, 256], 33920],
    ['block3_sepconv1_bn', 'BatchNormalization', [74, 74, 256], 1024],
    ['block3_sepconv2_act', 'Activation', [74, 74, 256], 0],
    ['block3_sepconv2', 'SeparableConv2D', [74, 74, 256], 67840],
    ['block3_sepconv2_bn', 'BatchNormalization', [74, 74, 256], 1024],
    ['conv2d_1', 'Conv2D', [37, 37, 256], 32768],
    ['block3_pool', 'MaxPooling2D', [37, 37, 256], 0],
    ['batch_normalization_1', 'BatchNormalization', [37, 37, 256], 1024],
    ['add_1', 'Add', [37, 37, 256], 0],
    ['block4_sepconv1_act', 'Activation', [37, 37, 256], 0],
    ['block4_sepconv1', 'SeparableConv2D', [37, 37, 728], 188672],
    ['block4_sepconv1_bn', 'BatchNormalization', [37, 37, 728], 2912],
    ['block4_sepconv2_act', 'Activation', [37, 37, 728], 0],
    ['block4_sepconv2', 'SeparableConv2D', [37, 37, 728], 536536],
    ['block4_sepconv2_bn', 'BatchNormalization', [37, 37, 728], 2912],
    ['conv2d_2', 'Conv2D', [19, 19, 728], 186368],
    ['block4_pool', 'MaxPooling2D', [19, 19, 728], 0],
    ['batch_normalization_2', 'BatchNormalization', [19, 19, 728], 2912],
    ['add_2', 'Add', [19, 19, 728], 0],
  ];
  for (let b = 5; b <= 12; b++) {
    for (let i = 1; i <= 3; i++) {
      rows.push([`block${b}_sepconv${i}_act`, 'Activation', [19, 19, 728], 0]);
      rows.push([`block${b}_sepconv${i}`, 'SeparableConv2D', [19, 19, 728], 536536]);
      rows.push([`block${b}_sepconv${i}_bn`, 'BatchNormalization', [19, 19, 728], 2912]);
    }
    rows.push([`add_${b - 2}`, 'Add', [19, 19, 728], 0]);
  }
  rows.push(
    ['block13_sepconv1_act', 'Activation', [19, 19, 728], 0],
    ['block13_sepconv1', 'SeparableConv2D', [19, 19, 728], 536536],
    ['block13_sepconv1_bn', 'BatchNormalization', [19, 19, 728], 2912],
    ['block13_sepconv2_act', 'Activation', [19, 19, 728], 0],
    ['block13_sepconv2', 'SeparableConv2D', [19, 19, 1024], 752024],
    ['block13_sepconv2_bn', 'BatchNormalization', [19, 19, 1024], 4096],
    ['conv2d_3', 'Conv2D', [10, 10, 1024], 745472],
    ['block13_pool', 'MaxPooling2D', [10, 10, 1024], 0],
    ['batch_normalization_3', 'BatchNormalization', [10, 10, 1024], 4096],
    ['add_11', 'Add', [10, 10, 1024], 0],
    ['block14_sepconv1', 'SeparableConv2D', [10, 10, 1536], 1582080],
    ['block14_sepconv1_bn', 'BatchNormalization', [10, 10, 1536], 6144],
    ['block14_sepconv1_act', 'Activation', [10, 10, 1536], 0],
    ['block14_sepconv2', 'SeparableConv2D', [10, 10, 2048], 3159552],
    ['block14_sepconv2_bn', 'BatchNormalization', [10, 10, 2048], 8192],
    ['block14_sepconv2_act', 'Activation', [10, 10, 2048], 0],
  );
  return rows;
}

const byName = (rows: Row[]) => new Map(rows.map((r) => [r[0], r]));

describe("Keras's Xception in TF.js", () => {
  it('has Keras\'s layers, output shapes and parameter counts: 20,861,480 without the top, 22,910,480 with it', () => {
    const before = tf.memory().numTensors;
    const model = buildXception();
    const ours: Row[] = model.layers.map((l) => [l.name, l.getClassName(), (l.outputShape as number[]).slice(1), l.countParams()]);
    const table = kerasTable();
    // Layer for layer by name (TF.js may order the branches of a residual block differently from Keras's summary).
    expect(byName(ours)).toEqual(byName(table));
    expect(ours).toHaveLength(table.length);
    expect(model.countParams()).toBe(20_861_480);
    // Keras's "Trainable params" (22,855,952 with the top): all but the batch norms' 54,528 moving statistics.
    expect(modelFootprint(model).trainableParams).toBe(20_806_952);
    expect(model.outputs[0].shape).toEqual([null, 10, 10, 2048]);
    expect(model.layers.at(-1)!.name).toBe(XCEPTION_OUTPUT);
    expect(BUILTIN_ZOO.entry('xception').params).toBe(model.countParams());
    model.dispose();
    const top = buildXception({ includeTop: true });
    expect(top.countParams()).toBe(22_910_480);
    expect(top.layers.slice(-2).map((l) => [l.name, l.countParams()])).toEqual([['avg_pool', 0], ['predictions', 2_049_000]]);
    top.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("weights are named as Keras's: kernel, depthwise_kernel/pointwise_kernel, gamma/beta/moving_mean/moving_variance", () => {
    const model = buildXception({ inputSize: 71 });
    const names = (layer: string) => model.getLayer(layer).weights.map((w) => w.originalName);
    expect(names('block1_conv1')).toEqual(['block1_conv1/kernel']);
    expect(names('block2_sepconv1')).toEqual(['block2_sepconv1/depthwise_kernel', 'block2_sepconv1/pointwise_kernel']);
    expect(names('block14_sepconv2_bn')).toEqual(['block14_sepconv2_bn/gamma', 'block14_sepconv2_bn/beta', 'block14_sepconv2_bn/moving_mean', 'block14_sepconv2_bn/moving_variance']);
    model.dispose();
  });

  it('unfreezes by Keras block: block1 … block14, each contiguous, shortcuts with the block they close', () => {
    const model = buildXception({ inputSize: 71 });
    const blocks = listBlocks(model, 'xception');
    expect(blocks.map((b) => b.name)).toEqual(Array.from({ length: 14 }, (_, i) => `block${i + 1}`));
    const of = (layer: string) => blocks.find((b) => b.layers.includes(layer))!.name;
    expect([of('conv2d'), of('batch_normalization_1'), of('add_2'), of('add_3'), of('add_10'), of('conv2d_3'), of('add_11')]).toEqual(['block2', 'block3', 'block4', 'block5', 'block12', 'block13', 'block13']);
    model.dispose();
  });

  it('the memory estimate covers Xception-Medical at 299 px: 80 MiB of weights, batch 16 too big for 8 GiB', () => {
    const model = buildXception();
    const classifier = buildClassifier({ entry: BUILTIN_ZOO.entry('xception'), model, inputSize: 299, outputShape: [10, 10, 2048] }, { strategy: 'finetune', numClasses: 4, seed: 1 });
    const fp = modelFootprint(classifier.model);
    expect(fp.params).toBe(20_861_480 + 2048 * 4 + 4);
    expect(fp.trainableParams).toBe(20_806_952 + 2048 * 4 + 4);
    // The largest feature map per image: block2's 147 × 147 × 128 (block1_conv2's 147 × 147 × 64 is half of it).
    expect(fp.largestPerSample).toBe(147 * 147 * 128);
    const estimate = estimateTrainingMemory(fp, { batchSize: 16, optimizer: 'adamax' }, { totalBytes: 8 * 2 ** 30, maxBufferBytes: null, source: 'test' });
    expect(estimate.weightsBytes).toBe(fp.params * 4);
    expect(estimate.optimizerBytes).toBe(fp.trainableParams * 2 * 4);
    console.log(`Xception-Medical at 299 px: ${estimate.summary}; ${estimate.warning ?? 'fits'}`);
    expect(estimate.fits).toBe(false);
    expect(estimate.suggestedBatchSize).toBeGreaterThanOrEqual(1);
    classifier.model.dispose();
    model.dispose();
  });

  it("the engine's memory estimate builds Xception here and reads no .h5: no request, the same weights and optimiser state", async () => {
    const asked: string[] = [];
    vi.stubGlobal('self', { location: { origin: 'http://127.0.0.1:4800' } });
    vi.stubGlobal('fetch', async (url: string) => {
      asked.push(String(url));
      return new Response(null, { status: 404 });
    });
    try {
      const engine = new StudioEngine();
      await engine.init('cpu');
      const dataset = { kind: 'demo', seed: 1, imageSize: 71, perClass: 3, split: { train: 0.34, val: 0.33, test: 0.33 } } as const;
      const estimate = await engine.estimateMemory({ dataset, model: 'xception', strategy: 'finetune', epochs: 1, batchSize: 2, learningRate: 1e-3, seed: 1 });
      expect(asked).toEqual([]);
      // The backbone and a linear head for the demo's 3 classes; Adamax keeps two slots per trainable weight.
      expect(estimate.weightsBytes).toBe(4 * (20_861_480 + 2048 * 3 + 3));
      expect(estimate.optimizerBytes).toBe(4 * 2 * (20_806_952 + 2048 * 3 + 3));
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('rejects images below Keras\'s 71 px minimum', () => {
    expect(() => buildXception({ inputSize: 64 })).toThrow(/at least 71 px/);
  });
});

const PYTHON = '/usr/bin/python3';
const probe = spawnSync(PYTHON, ['-c', 'import h5py, torch, numpy'], { encoding: 'utf8' });
const skipWhy = probe.status === 0 ? null : `Xception .h5 parity skipped: ${PYTHON} cannot import h5py, torch and numpy (apt-get install python3-h5py python3-torch): ${(probe.stderr || probe.error?.message || '').trim().split('\n').at(-1)}`;
if (skipWhy) console.warn(skipWhy);

describe.skipIf(skipWhy !== null)("an .h5 in Keras's layout, written by h5py, against PyTorch on the same numbers", () => {
  const SIZE = 71;
  let dir = '';
  let bytes: ArrayBuffer;
  const floats = (file: string) => {
    const b = readFileSync(join(dir, file));
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'xception-h5-'));
    const r = spawnSync(PYTHON, ['tests/fixtures/xception_h5.py', dir, '--size', String(SIZE), '--images', '2', '--seed', '7'], { encoding: 'utf8', timeout: 600_000 });
    expect(r.status, r.stderr).toBe(0);
    const b = readFileSync(join(dir, 'xception.h5'));
    bytes = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loads: every weight lands in its layer, and the features equal PyTorch\'s within 1e-4 of their range', async () => {
    const before = tf.memory().numTensors;
    const { artifacts, report } = await kerasH5Artifacts(BUILTIN_ZOO.entry('xception'), bytes, 'xception.h5');
    // 36 convolutions (2 plain, 4 shortcuts, 34 separable with 2 kernels each) and 40 batch norms of 4 weights.
    expect(report).toEqual({ layers: 80, weights: 6 + 34 * 2 + 40 * 4, ignored: [] });
    const backbone = await loadBackbone(BUILTIN_ZOO.entry('xception'), { load: () => tf.io.fromMemory(artifacts) }, { inputSize: SIZE });
    expect(backbone.outputShape).toEqual([3, 3, 2048]);
    // A few weights by their Keras path; the file's Keras 2.0 conv2d_1 (block2's shortcut) is the model's conv2d.
    const expected: Record<string, number[]> = JSON.parse(readFileSync(join(dir, 'weights.json'), 'utf8'));
    const at: Record<string, string> = {
      block1_conv1: 'block1_conv1/kernel',
      conv2d_1: 'conv2d/kernel',
      batch_normalization_4: 'batch_normalization_3/moving_variance',
      block8_sepconv2: 'block8_sepconv2/depthwise_kernel',
      block14_sepconv2: 'block14_sepconv2/pointwise_kernel',
      block14_sepconv2_bn: 'block14_sepconv2_bn/beta',
    };
    for (const [fileLayer, weight] of Object.entries(at)) {
      const w = backbone.model.weights.find((v) => v.originalName === weight)!;
      expect(Array.from(w.read().dataSync().slice(0, 8)), weight).toEqual(expected[fileLayer].map(Math.fround));
    }
    const x = tf.tensor(floats('input.bin'), [2, SIZE, SIZE, 3]);
    const y = backbone.model.predict(x) as tf.Tensor;
    const ours = y.dataSync();
    const ref = floats('features.bin');
    expect(ours.length).toBe(ref.length);
    let diff = 0;
    let range = 0;
    for (let i = 0; i < ref.length; i++) {
      diff = Math.max(diff, Math.abs(ours[i] - ref[i]));
      range = Math.max(range, Math.abs(ref[i]));
    }
    console.log(`Xception .h5 parity at ${SIZE} px: features max |Δ| ${diff.toExponential(2)} of max |x| ${range.toFixed(2)} (relative ${(diff / range).toExponential(2)})`);
    expect(range).toBeGreaterThan(0.1);
    expect(diff / range).toBeLessThan(1e-4);
    tf.dispose([x, y]);
    // The backbone trains under a head: the classifier holds the file's weights too.
    const classifier = buildClassifier(backbone, { strategy: 'finetune', numClasses: 3, seed: 1, trainableBlocks: 2 });
    expect(classifier.blocks).toHaveLength(14);
    expect(classifier.model.getLayer('block13_sepconv1').trainable && !classifier.model.getLayer('block12_sepconv3').trainable).toBe(true);
    classifier.model.dispose();
    backbone.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names what does not fit: a missing layer, a weight of another shape, a layer the network lacks, not HDF5', () => {
    const model = buildXception({ inputSize: SIZE });
    const weights = () => readKerasWeights(bytes, 'x.h5');
    const missing = weights();
    missing.delete('block7_sepconv2_bn');
    expect(() => assignKerasWeights(model, missing, 'x.h5')).toThrow(/layer "block7_sepconv2_bn" \(\[728\] \[728\] \[728\] \[728\]\) has .* in the file/);
    const extra = weights();
    extra.set('block15_conv', extra.get('block1_conv1')!);
    expect(() => assignKerasWeights(model, extra, 'x.h5')).toThrow('the file has layers the network lacks: block15_conv');
    const wrong = weights();
    const [dw, pw] = wrong.get('block14_sepconv1')!;
    wrong.set('block14_sepconv1', [dw, { ...pw, name: 'kernel' }]);
    expect(() => assignKerasWeights(model, wrong, 'x.h5')).toThrow('x.h5: layer "block14_sepconv1" has no weight "pointwise_kernel" (it has depthwise_kernel, kernel)');
    // The with-top file (xception_weights_tf_dim_ordering_tf_kernels.h5) loads too: its classifier is left out.
    const top = weights();
    top.set('predictions', [{ name: 'kernel', shape: [2048, 1000], values: new Float32Array(2048 * 1000) }, { name: 'bias', shape: [1000], values: new Float32Array(1000) }]);
    expect(assignKerasWeights(model, top, 'top.h5', ['predictions']).ignored).toEqual(['predictions']);
    expect(() => readKerasWeights(new TextEncoder().encode('<!doctype html><html>').buffer, 'index.h5')).toThrow(KerasWeightsError);
    expect(() => readKerasWeights(bytes.slice(0, 4096), 'cut.h5')).toThrow(KerasWeightsError);
    model.dispose();
  });
});
