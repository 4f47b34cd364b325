import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { StudioEngine } from '../../workers/engine';
import type { TrainConfig } from '../../src/engine/types';

// The real engine on TF.js's CPU backend: the architectures go through the same scratch path as simple_cnn.
const cfg = (over: Partial<TrainConfig> = {}): TrainConfig => ({
  dataset: { kind: 'demo', seed: 1, imageSize: 32, perClass: 3, split: { train: 0.34, val: 0.33, test: 0.33 } },
  model: 'swin_nano',
  epochs: 1,
  batchSize: 4,
  learningRate: 5e-4,
  seed: 1,
  ...over,
});

describe('built-in architectures in the engine', () => {
  const engine = new StudioEngine();
  beforeAll(async () => {
    await engine.init('cpu');
  });

  it('estimates the memory of a run from the model the run would build, and frees that model', async () => {
    const before = tf.memory().numTensors;
    const small = await engine.estimateMemory(cfg());
    const large = await engine.estimateMemory(cfg({ batchSize: 64 }));
    expect(tf.memory().numTensors).toBe(before);
    expect(large.activationsBytes).toBe(16 * small.activationsBytes);
    expect(large.weightsBytes).toBe(small.weightsBytes);
    // Node reports neither device memory nor GPU limits: no verdict.
    expect(small).toMatchObject({ batchSize: 4, fits: null, warning: null });
  });

  it('refuses an input size an architecture cannot take, before and at training, with sizes that work', async () => {
    const swin = cfg({ model: 'swin_t' });
    await expect(engine.estimateMemory(swin)).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/^Swin-T cannot take 32 px images: .*; sizes that work nearby: 224, 448, 672 px$/) });
    await expect(engine.train(swin, () => undefined)).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringContaining('Swin-T cannot take 32 px images') });
  });

  it('trains one from scratch with its default optimiser, AdamW', async () => {
    const run = await engine.train(cfg(), () => undefined);
    expect(run).toMatchObject({ status: 'completed', model: 'swin_nano', strategy: 'scratch', optimizer: 'adamw' });
    expect(Number.isFinite(run.epochs[0].trainLoss)).toBe(true);
  });
});
