import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateDemoDataset } from '../../src/core/dataset/demo';
import { channelStats } from '../../src/core/dataset/stats';
import { augmentDefault } from '../../src/core/settings/augment';
import { buildSimpleCnn } from '../../src/core/models/simple_cnn';
import { BestCheckpoint, EarlyStopping } from '../../src/core/train/callbacks';
import { AdamWOptimizer } from '../../src/core/train/optimizers';
import { createLrScheduler } from '../../src/core/train/schedules';
import { featureBatchSource, imageBatchSource, scaleToSymmetric, trainClassifier, type CheckpointKind, type TensorDataset, type TrainerOptions, type TrainerState } from '../../src/core/train/trainer';
import { tinyCnn } from '../fixtures/tiny-cnn';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// 3 classes × 5 images of 8×8: 12 to train (batches of 5, 5, 2), 3 to validate.
const demo = generateDemoDataset({ seed: 3, imageSize: 8, perClass: 5 });
const data: TensorDataset = { images: demo.images, labels: demo.labels, imageSize: 8, channels: 3, numClasses: 3 };
const split = { train: [0, 1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 13], val: [4, 9, 14] };
const normalization = channelStats(demo.images, 64, 3, split.train);
const base: TrainerOptions = { epochs: 3, batchSize: 5, seed: 1, normalization };

function setup() {
  return { model: buildSimpleCnn({ imageSize: 8, channels: 3, numClasses: 3, seed: 1 }), optimizer: new AdamWOptimizer(0.003) };
}

describe('training loop options', () => {
  it('keeps the tensor count flat across epochs with augmentation, clipping, AdamW, weights, smoothing and a schedule', async () => {
    const before = tf.memory().numTensors;
    const { model, optimizer } = setup();
    const counts: number[] = [];
    const result = await trainClassifier(model, optimizer, data, split, {
      ...base,
      epochs: 4,
      augment: { ...augmentDefault, randomResizedCrop: true },
      clipNorm: 1,
      classWeights: [1, 2, 0.5],
      labelSmoothing: 0.1,
      lrScheduler: createLrScheduler({ kind: 'cosine', warmup: 2, unit: 'step' }, { baseLr: 0.003, epochs: 4, stepsPerEpoch: 3 }),
      onEpoch: () => void counts.push(tf.memory().numTensors),
    });
    expect(result.epochs).toHaveLength(4);
    expect(result.epochs.every((m) => Number.isFinite(m.trainLoss) && Number.isFinite(m.valLoss))).toBe(true);
    expect(new Set(counts).size).toBe(1);
    model.dispose();
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('sets the scheduled rate before every step and reports it per epoch', async () => {
    const { model, optimizer } = setup();
    const result = await trainClassifier(model, optimizer, data, split, {
      ...base,
      lrScheduler: createLrScheduler({ kind: 'step', everyEpochs: 1, gamma: 0.5 }, { baseLr: 0.01, epochs: 3, stepsPerEpoch: 3 }),
    });
    expect(result.epochs.map((m) => m.learningRate)).toEqual([0.01, 0.005, 0.0025]);
    model.dispose();
    optimizer.dispose();
  });

  it('clipping bounds the update: a tiny norm barely moves the weights', async () => {
    const moved = async (clipNorm?: number) => {
      const model = buildSimpleCnn({ imageSize: 8, channels: 3, numClasses: 3, seed: 1 });
      const optimizer = new tf.SGDOptimizer(0.5);
      const w0 = model.trainableWeights.map((w) => w.read().clone());
      await trainClassifier(model, optimizer, data, split, { ...base, epochs: 1, clipNorm });
      const d = tf.tidy(() => tf.addN(model.trainableWeights.map((w, i) => w.read().sub(w0[i]).square().sum())).sqrt().dataSync()[0]);
      tf.dispose(w0);
      model.dispose();
      optimizer.dispose();
      return d;
    };
    // Three SGD steps at lr 0.5, each of global norm at most 1e-3, move the trained weights by at most 1.5e-3.
    expect(await moved(1e-3)).toBeLessThanOrEqual(1.5e-3 + 1e-6);
    expect(await moved()).toBeGreaterThan(1.5e-2);
  });

  it('stops early, checkpoints best / periodic / last with the callbacks state, and honours pause', async () => {
    const { model, optimizer } = setup();
    const saves: { kind: CheckpointKind; epoch: number; state: TrainerState }[] = [];
    let pauses = 0;
    const result = await trainClassifier(model, optimizer, data, split, {
      ...base,
      epochs: 10,
      // No accuracy gain can exceed 2: the first epoch improves on −∞, the next two do not.
      earlyStopping: new EarlyStopping({ patience: 2, minDelta: 2 }),
      checkpoint: {
        best: new BestCheckpoint({ everyEpochs: 2 }),
        save: async (kind, epoch, _metrics, state) => void saves.push({ kind, epoch, state }),
      },
      waitWhilePaused: async () => void pauses++,
    });
    expect(result.earlyStopped).toBe(true);
    expect(result.stopped).toBe(false);
    expect(result.epochs.map((m) => m.epoch)).toEqual([1, 2, 3]);
    expect(pauses).toBe(3 * 3);
    expect(saves.filter((s) => s.kind === 'last').map((s) => s.epoch)).toEqual([1, 2, 3]);
    expect(saves.filter((s) => s.kind === 'periodic').map((s) => s.epoch)).toEqual([2]);
    expect(saves[0]).toMatchObject({ kind: 'best', epoch: 1 });
    const last = saves.at(-1)!.state;
    expect(last).toMatchObject({ epoch: 3, earlyStopping: { wait: 2 }, lrScheduler: null });
    expect(last.best?.epoch).toBeGreaterThanOrEqual(1);
    model.dispose();
    optimizer.dispose();
  });

  it('resumes at startEpoch and hands [0, 255] pixels to a model-declared preprocess', async () => {
    const { model, optimizer } = setup();
    let range = [Infinity, -Infinity];
    const result = await trainClassifier(model, optimizer, data, split, {
      epochs: 3,
      batchSize: 5,
      seed: 1,
      startEpoch: 2,
      preprocess: (x) => {
        const [lo, hi] = [x.min().dataSync()[0], x.max().dataSync()[0]];
        range = [Math.min(range[0], lo), Math.max(range[1], hi)];
        return scaleToSymmetric(x);
      },
    });
    expect(result.epochs.map((m) => m.epoch)).toEqual([2, 3]);
    expect(range[0]).toBeGreaterThanOrEqual(0);
    expect(range[1]).toBeLessThanOrEqual(255);
    expect(range[1]).toBeGreaterThan(1);
    model.dispose();
    optimizer.dispose();
  });

  it('trains a head on precomputed features, from a tensor or an array, identically', async () => {
    // Linearly separable 4-d features: class c has a large value in component c.
    const n = 15;
    const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
    const rows = new Float32Array(n * 4).map((_, k) => (k % 4 === labels[Math.floor(k / 4)] ? 2 : 0) + ((k * 0.37) % 0.5));
    const head = () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) })] });
    const run = async (features: tf.Tensor | Float32Array) => {
      const model = head();
      const optimizer = new AdamWOptimizer(0.05);
      const source = featureBatchSource({ features, featureShape: [4], labels, numClasses: 3 });
      const result = await trainClassifier(model, optimizer, source, { train: [...Array(12).keys()], val: [12, 13, 14] }, { epochs: 20, batchSize: 4, seed: 1, clipNorm: 1 });
      const w = await model.getWeights()[0].data();
      model.dispose();
      optimizer.dispose();
      return { result, w: Array.from(w) };
    };
    const features = tf.tensor2d(rows, [n, 4]);
    const before = tf.memory().numTensors;
    const onTensor = await run(features);
    expect(tf.memory().numTensors).toBe(before);
    const onArray = await run(rows);
    features.dispose();
    expect(onTensor.result.epochs.at(-1)!.valAccuracy).toBe(1);
    expect(onArray.w).toEqual(onTensor.w);
    await expect(
      trainClassifier(head(), new AdamWOptimizer(0.05), featureBatchSource({ features: rows, featureShape: [4], labels, numClasses: 3 }), { train: [0, 1], val: [2] }, { epochs: 1, batchSize: 2, seed: 1, augment: augmentDefault }),
    ).rejects.toThrow(/augmentation/);
  });

  it('still takes a TensorDataset directly, as the engine passes it', async () => {
    const model = tinyCnn();
    const optimizer = new AdamWOptimizer(0.003);
    const direct = await trainClassifier(model, optimizer, data, split, { ...base, epochs: 1 });
    const other = { model: tinyCnn(), optimizer: new AdamWOptimizer(0.003) };
    const viaSource = await trainClassifier(other.model, other.optimizer, imageBatchSource(data), split, { ...base, epochs: 1 });
    expect(viaSource.epochs[0].trainLoss).toBeCloseTo(direct.epochs[0].trainLoss, 6);
    await expect(trainClassifier(model, optimizer, data, split, { epochs: 1, batchSize: 5, seed: 1 })).rejects.toThrow(/preprocess/);
    for (const m of [model, other.model]) m.dispose();
    for (const o of [optimizer, other.optimizer]) o.dispose();
  });
});
