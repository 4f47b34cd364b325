import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadBackbone, type Backbone } from '../../src/core/models/backbone';
import { computeFeatures, findFrozenBoundary, splitAtFrozenBoundary } from '../../src/core/models/features';
import { rebuildModel } from '../../src/core/models/graph';
import { buildClassifier, listBlocks, probeThenFinetune, setTrainableBlocks, type Classifier, type StrategyOptions } from '../../src/core/models/strategies';
import { BUILTIN_ZOO } from '../../src/core/models/zoo';
import { createOptimizer } from '../../src/core/train/optimizers';
import { hasPretrained, PRETRAINED_DIR, pretrainedLoader } from '../fixtures/pretrained';

const SIZE = 32;
const CLASSES = 3;
const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);

/** The frozen part then the trainable part, on a seeded random batch of `shape`, give the full model's output. */
function expectPartsCompose(model: tf.LayersModel, split: ReturnType<typeof splitAtFrozenBoundary>, shape: number[], seed: number): void {
  const diff = tf.tidy(() => {
    const x = tf.randomUniform(shape, -1, 1, 'float32', seed);
    return maxAbsDiff(model.predict(x) as tf.Tensor, split.trainable.predict(split.frozen.predict(x) as tf.Tensor) as tf.Tensor);
  });
  expect(diff).toBeLessThan(1e-5);
}

/** Every weight's value by its name in the model (`block_16_project/kernel`), copied to the CPU. */
function snapshot(model: tf.LayersModel): Map<string, Float32Array> {
  return new Map(model.weights.map((w) => [w.originalName, w.read().dataSync() as Float32Array]));
}

function changed(before: Map<string, Float32Array>, after: Map<string, Float32Array>): string[] {
  return [...before].filter(([name, v]) => v.some((x, i) => x !== after.get(name)![i])).map(([name]) => name).sort();
}

/** One optimiser step as the trainer takes it: the model in training mode, softmax cross-entropy on its logits. */
function trainStep(model: tf.LayersModel, seed = 1): void {
  const opt = createOptimizer({ name: 'adamw', learningRate: 1e-2 });
  const [x, y] = tf.tidy(() => [tf.randomUniform([4, ...(model.inputs[0].shape.slice(1) as number[])], -1, 1, 'float32', seed), tf.oneHot(tf.tensor1d([0, 1, 2, 0], 'int32'), CLASSES).toFloat()]);
  const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true);
  tf.dispose([x, y, loss!]);
  opt.dispose();
}

const trainableNames = (m: tf.LayersModel) => m.trainableWeights.map((w) => w.originalName).sort();
const isMovingStat = (name: string) => /moving_(mean|variance)$/.test(name);

describe('graph surgery on a small synthetic model', () => {
  it('rebuilding a model with an uncopyable (nested) layer fails without leaking the copies made so far', () => {
    const before = tf.memory().numTensors;
    const inner = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [4] })] });
    const input = tf.input({ shape: [4, 4, 3] });
    const x = tf.layers.conv2d({ filters: 4, kernelSize: 1 }).apply(input) as tf.SymbolicTensor;
    const pooled = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: inner.apply(pooled) as tf.SymbolicTensor });
    const held = tf.memory().numTensors;
    expect(() => rebuildModel(model)).toThrow(/cannot be copied/);
    expect(tf.memory().numTensors).toBe(held);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

if (!existsSync(PRETRAINED_DIR)) console.warn(`skipping strategy tests: ${PRETRAINED_DIR} is absent`);

describe.skipIf(!existsSync(PRETRAINED_DIR))('strategies on pretrained backbones at 32×32', () => {
  const backbones = new Map<string, Backbone>();
  const v1 = 'mobilenet_v1_0.25_224';
  const v2 = 'mobilenet_v2_0.35_224';
  beforeAll(async () => {
    await tf.setBackend('cpu');
    for (const id of [v1, v2].filter(hasPretrained)) backbones.set(id, await loadBackbone(BUILTIN_ZOO.entry(id), { load: pretrainedLoader() }, { inputSize: SIZE }));
  });

  const build = (id: string, opts: Omit<StrategyOptions, 'numClasses' | 'seed'>): Classifier => buildClassifier(backbones.get(id)!, { numClasses: CLASSES, seed: 7, ...opts });

  it.skipIf(!hasPretrained(v1) || !hasPretrained(v2))('splits MobileNet v1 into conv1 + 13 dw/pw blocks and v2 into 19 blocks, covering every layer once', () => {
    const b1 = listBlocks(backbones.get(v1)!.model, 'mobilenet_v1');
    expect(b1.map((b) => b.name)).toEqual(['stem', ...Array.from({ length: 13 }, (_, i) => `block_${i + 1}`)]);
    expect(b1[13].layers).toEqual(['conv_dw_13', 'conv_dw_13_bn', 'conv_dw_13_relu', 'conv_pw_13', 'conv_pw_13_bn', 'conv_pw_13_relu']);
    const b2 = listBlocks(backbones.get(v2)!.model, 'mobilenet_v2');
    expect(b2.map((b) => b.name)).toEqual(['stem', 'expanded_conv', ...Array.from({ length: 16 }, (_, i) => `block_${i + 1}`), 'top']);
    expect(b2[18].layers).toEqual(['Conv_1', 'Conv_1_bn', 'out_relu']);
    for (const [id, blocks] of [[v1, b1], [v2, b2]] as const) {
      const names = backbones.get(id)!.model.layers.slice(1).map((l) => l.name);
      expect(blocks.flatMap((b) => b.layers)).toEqual(names);
    }
  });

  it.skipIf(!hasPretrained(v2))('frozen: one step changes the linear head only, and frozen BatchNorm keeps its moving statistics', () => {
    const before = tf.memory().numTensors;
    const { model } = build(v2, { strategy: 'frozen' });
    expect(trainableNames(model)).toEqual(['logits/bias', 'logits/kernel']);
    const w0 = snapshot(model);
    expect([...w0.keys()].filter(isMovingStat).length).toBe(2 * 52); // 52 BatchNorm layers
    trainStep(model);
    expect(changed(w0, snapshot(model))).toEqual(['logits/bias', 'logits/kernel']);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it.skipIf(!hasPretrained(v1))('medical: GAP → Dropout 0.3 → Dense 128 ReLU → Dropout 0.25 → Dense n, only the head trains', () => {
    const before = tf.memory().numTensors;
    const { model } = build(v1, { strategy: 'medical' });
    const head = model.layers.slice(-5);
    expect(head.map((l) => [l.getClassName(), l.getConfig()['rate'] ?? l.getConfig()['units'] ?? null])).toEqual([
      ['GlobalAveragePooling2D', null],
      ['Dropout', 0.3],
      ['Dense', 128],
      ['Dropout', 0.25],
      ['Dense', CLASSES],
    ]);
    expect(model.outputs[0].shape).toEqual([null, CLASSES]);
    const w0 = snapshot(model);
    trainStep(model);
    expect(changed(w0, snapshot(model))).toEqual(['head_dense/bias', 'head_dense/kernel', 'logits/bias', 'logits/kernel']);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it.skipIf(!hasPretrained(v1))('mlp: GAP → Dense 100 ReLU → Dense n, only the head trains', () => {
    const before = tf.memory().numTensors;
    const { model, headLayers } = build(v1, { strategy: 'mlp' });
    expect(headLayers).toEqual(['head_pool', 'head_dense', 'logits']);
    const head = model.layers.slice(-3);
    expect(head.map((l) => [l.getClassName(), l.getConfig()['units'] ?? null, l.getConfig()['activation'] ?? null])).toEqual([
      ['GlobalAveragePooling2D', null, null],
      ['Dense', 100, 'relu'],
      ['Dense', CLASSES, 'linear'],
    ]);
    const w0 = snapshot(model);
    trainStep(model);
    expect(changed(w0, snapshot(model))).toEqual(['head_dense/bias', 'head_dense/kernel', 'logits/bias', 'logits/kernel']);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it.skipIf(!hasPretrained(v2))('finetune, last 2 blocks: exactly those blocks and the head change; frozen BatchNorm stays put', () => {
    const before = tf.memory().numTensors;
    const classifier = build(v2, { strategy: 'finetune', trainableBlocks: 2 });
    const unfrozen = new Set(classifier.blocks.slice(-2).flatMap((b) => b.layers));
    const w0 = snapshot(classifier.model);
    trainStep(classifier.model);
    const moved = changed(w0, snapshot(classifier.model));
    const expected = [...w0.keys()].filter((n) => n.startsWith('logits/') || unfrozen.has(n.split('/')[0])).sort();
    // Every weight of the unfrozen blocks moves: trainable ones by the optimiser, moving statistics by training-mode BN.
    expect(moved).toEqual(expected);
    expect(moved.some((n) => n.startsWith('block_16_') && isMovingStat(n))).toBe(true);
    expect(moved.some((n) => n.startsWith('block_15_'))).toBe(false);
    classifier.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it.skipIf(!hasPretrained(v1))('finetune, whole network with frozen BatchNorm: every conv trains, no BN weight moves', () => {
    const before = tf.memory().numTensors;
    const { model } = build(v1, { strategy: 'finetune', freezeBatchNorm: true });
    const w0 = snapshot(model);
    trainStep(model);
    const moved = changed(w0, snapshot(model));
    const convs = [...w0.keys()].filter((n) => !/_bn\//.test(n)).sort();
    expect(moved).toEqual(convs);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('linear probe, then fine-tune: head-only phase, then unfreezing at a lower learning rate', () => {
    expect(probeThenFinetune({ epochs: 10, probeEpochs: 3, trainableBlocks: 4 })).toEqual([
      { epochs: 3, trainableBlocks: 0, learningRateScale: 1 },
      { epochs: 7, trainableBlocks: 4, learningRateScale: 0.1 },
    ]);
    expect(probeThenFinetune({ epochs: 5, probeEpochs: 0, trainableBlocks: 'all' })).toEqual([{ epochs: 5, trainableBlocks: 'all', learningRateScale: 0.1 }]);
    expect(() => probeThenFinetune({ epochs: 5, probeEpochs: 6, trainableBlocks: 1 })).toThrow(RangeError);
  });

  it.skipIf(!hasPretrained(v2))('setTrainableBlocks switches phases in place and rejects a bad count', () => {
    const classifier = build(v2, { strategy: 'finetune', trainableBlocks: 0 });
    expect(trainableNames(classifier.model)).toEqual(['logits/bias', 'logits/kernel']);
    setTrainableBlocks(classifier, 1);
    expect(trainableNames(classifier.model)).toEqual(['Conv_1/kernel', 'Conv_1_bn/beta', 'Conv_1_bn/gamma', 'logits/bias', 'logits/kernel']);
    setTrainableBlocks(classifier, 'all');
    expect(classifier.model.trainableWeights.length).toBe(156 + 2);
    expect(() => setTrainableBlocks(classifier, 20)).toThrow(RangeError);
    expect(() => build(v2, { strategy: 'frozen', trainableBlocks: 2 })).toThrow(/finetune/);
    classifier.model.dispose();
  });

  it.skipIf(!hasPretrained(v2))('splits frozen, medical and mlp classifiers after the pooling, and the parts compose to the full model', () => {
    const before = tf.memory().numTensors;
    for (const strategy of ['frozen', 'medical', 'mlp'] as const) {
      const { model } = build(v2, { strategy });
      const split = splitAtFrozenBoundary(model);
      expect(split.featureShape).toEqual([1280]);
      expect(split.trainable.trainableWeights.length).toBe(model.trainableWeights.length);
      expectPartsCompose(model, split, [3, SIZE, SIZE, 3], 3);
      split.dispose();
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it.skipIf(!hasPretrained(v2))('splits partial fine-tuning at the input of the first unfrozen block; training the part trains the classifier', () => {
    const before = tf.memory().numTensors;
    const classifier = build(v2, { strategy: 'finetune', trainableBlocks: 3 });
    expect(classifier.blocks.slice(-3).map((b) => b.name)).toEqual(['block_15', 'block_16', 'top']);
    const split = splitAtFrozenBoundary(classifier.model);
    // block_15 reads block_14's residual sum (56 channels at α 0.35, 1×1 at a 32 px input).
    expect(findFrozenBoundary(classifier.model)!.sourceLayer.name).toBe('block_14_add');
    expect(split.featureShape).toEqual([1, 1, 56]);
    expect(split.frozen.trainableWeights).toEqual([]);
    expectPartsCompose(classifier.model, split, [2, SIZE, SIZE, 3], 5);
    const w0 = snapshot(classifier.model);
    trainStep(split.trainable);
    const moved = changed(w0, snapshot(classifier.model));
    expect(moved).toContain('block_16_project/kernel');
    expect(moved.some((n) => n.startsWith('block_14_'))).toBe(false);
    split.dispose();
    // The classifier survives its split.
    const probe = tf.tidy(() => classifier.model.predict(tf.zeros([1, SIZE, SIZE, 3])) as tf.Tensor);
    expect(probe.shape).toEqual([1, CLASSES]);
    probe.dispose();
    classifier.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('splits where a block pads the very tensor its shortcut reads (ResNet\'s first unfrozen block) at that tensor', () => {
    const before = tf.memory().numTensors;
    const input = tf.input({ shape: [8, 8, 3] });
    const stem = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'stem', trainable: false }).apply(input) as tf.SymbolicTensor;
    const out = tf.layers.reLU({ name: 'stem_out' }).apply(stem) as tf.SymbolicTensor;
    const padded = tf.layers.zeroPadding2d({ padding: 1, name: 'block_pad' }).apply(out) as tf.SymbolicTensor;
    const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, name: 'block_conv' }).apply(padded) as tf.SymbolicTensor;
    const shortcut = tf.layers.conv2d({ filters: 4, kernelSize: 1, name: 'block_downsample' }).apply(out) as tf.SymbolicTensor;
    const sum = tf.layers.add({ name: 'block_add' }).apply([conv, shortcut]) as tf.SymbolicTensor;
    const pooled = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(sum) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: CLASSES, name: 'head' }).apply(pooled) as tf.SymbolicTensor });
    expect(findFrozenBoundary(model)!.sourceLayer.name).toBe('stem_out');
    const split = splitAtFrozenBoundary(model);
    expect(split.featureShape).toEqual([8, 8, 4]);
    expectPartsCompose(model, split, [2, 8, 8, 3], 3);
    split.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it.skipIf(!hasPretrained(v1))('refuses to split a fully trainable network', () => {
    const { model } = build(v1, { strategy: 'finetune' });
    expect(findFrozenBoundary(model)).toBeNull();
    expect(() => splitAtFrozenBoundary(model)).toThrow(/nothing with weights is frozen/);
    model.dispose();
  });

  it.skipIf(!hasPretrained(v1))('computes features once, batch by batch, to the CPU or kept on the backend, without leaks', async () => {
    const { model } = build(v1, { strategy: 'frozen' });
    const split = splitAtFrozenBoundary(model);
    const all = tf.randomUniform([7, SIZE, SIZE, 3], -1, 1, 'float32', 9);
    const images = { count: 7, batch: (s: number, e: number) => all.slice([s], [e - s]) as tf.Tensor4D };
    const reference = split.frozen.predict(all) as tf.Tensor;
    const before = tf.memory().numTensors;
    const progress: number[] = [];
    const cpu = await computeFeatures(split.frozen, images, { batchSize: 3, keep: 'cpu', onProgress: (done, total) => progress.push(done / total) });
    expect(tf.memory().numTensors).toBe(before);
    expect(progress).toEqual([3 / 7, 6 / 7, 1]);
    expect(cpu.featureShape).toEqual([256]);
    expect(cpu.data.length).toBe(7 * 256);
    const onBackend = await computeFeatures(split.frozen, images, { batchSize: 3, keep: 'backend' });
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(onBackend.shape).toEqual([7, 256]);
    expect(maxAbsDiff(onBackend, reference)).toBeLessThan(1e-5);
    const fromCpu = tf.tensor2d(cpu.data, [7, 256]);
    expect(maxAbsDiff(fromCpu, reference)).toBeLessThan(1e-5);
    fromCpu.dispose();
    tf.dispose([onBackend, reference, all]);
    split.dispose();
    model.dispose();
  });
});
