import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDemoDataset } from '../../src/core/dataset/demo';
import { channelStats } from '../../src/core/dataset/stats';
import { loadBackbone, type Backbone } from '../../src/core/models/backbone';
import { buildClassifier, type Classifier } from '../../src/core/models/strategies';
import { BUILTIN_ZOO, normalizationFor } from '../../src/core/models/zoo';
import { captureCheckpoint, type Checkpoint } from '../../src/core/store/checkpoints';
import { planPhases, type PlannedPhase } from '../../src/core/train/phases';
import { cosineWarmupLr } from '../../src/core/train/schedules';
import type { TensorDataset } from '../../src/core/train/trainer';
import type { EpochMetrics, FeatureCacheInfo } from '../../src/core/train/types';
import { trainInPhases, type PhasedTraining } from '../../workers/phases';
import { hasPretrained, pretrainedLoader } from '../fixtures/pretrained';

const ID = 'mobilenet_v2_0.35_224';
const SIZE = 32;
const LR = 0.01;
const skipWhy = `phased fine-tuning tests skipped: ../shared/pretrained/${ID} is absent (tests never download weights)`;
if (!hasPretrained(ID)) console.warn(skipWhy);

// 3 demo classes × 6 images at 32 px: 4 of each to train (batches of 4), 2 to validate.
const demo = generateDemoDataset({ seed: 5, imageSize: SIZE, perClass: 6 });
const data: TensorDataset = { images: demo.images, labels: demo.labels, imageSize: SIZE, channels: 3, numClasses: 3 };
const byClass = [0, 1, 2].map((k) => [...demo.labels.keys()].filter((i) => demo.labels[i] === k));
const split = { train: byClass.flatMap((c) => c.slice(0, 4)), val: byClass.flatMap((c) => c.slice(4)) };
const cosine = { kind: 'cosine', warmup: 0, unit: 'epoch' } as const;

interface Log {
  epochs: (EpochMetrics & { numTensors: number })[];
  phases: { phase: PlannedPhase; cache: FeatureCacheInfo | null }[];
  checkpoints: Map<number, Checkpoint>;
}

describe.skipIf(!hasPretrained(ID))('training in phases: MobileNetV2 0.35 at 32 px, last 2 blocks', () => {
  let backbone: Backbone;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    backbone = await loadBackbone(BUILTIN_ZOO.entry(ID), { load: pretrainedLoader() }, { inputSize: SIZE });
  });
  afterAll(() => backbone.model.dispose());

  const classifier = () => buildClassifier(backbone, { strategy: 'finetune', numClasses: 3, seed: 7, trainableBlocks: 2 });

  const trainerOf = (c: Classifier): PhasedTraining['trainer'] => ({ batchSize: 4, seed: 1, normalization: normalizationFor(c.entry, channelStats(demo.images, SIZE * SIZE, 3, split.train)) });

  /** Trains `c` with "probe 1 epoch, then 2 blocks for 2" and a cosine per phase unless `over` says otherwise. */
  async function train(c: Classifier, over: Partial<PhasedTraining> = {}): Promise<Log> {
    const log: Log = { epochs: [], phases: [], checkpoints: new Map() };
    await trainInPhases({
      model: c.model,
      classifier: c,
      phases: planPhases({ epochs: 3, learningRate: LR, trainableBlocks: 2, probeEpochs: 1 }, 'finetune'),
      optimizer: 'adamax',
      lrSchedule: cosine,
      data,
      split,
      trainer: { ...trainerOf(c), onEpoch: (m) => void log.epochs.push({ ...m, numTensors: tf.memory().numTensors }) },
      earlyStopping: null,
      saveEveryEpochs: 0,
      keepEpoch: 'best',
      save: (optimizer) => async (kind, epoch, metrics, trainer) => {
        if (kind === 'last') log.checkpoints.set(epoch, await captureCheckpoint(c.model, optimizer, { runId: 'test', kind, epoch, metrics, config: null, trainer }));
      },
      resumeFrom: null,
      cacheFeatures: true,
      onPhase: (phase, cache) => void log.phases.push({ phase, cache }),
      ...over,
    });
    return log;
  }

  let unbroken: Log;

  it('probes the head on pooled features, then fine-tunes 2 blocks on cached block_16 inputs, each phase on its own cosine', async () => {
    const c = classifier();
    const before = tf.memory().numTensors;
    unbroken = await train(c);
    // Everything a phase made (caches, optimisers, the split models) is gone once training returns.
    expect(tf.memory().numTensors).toBe(before);
    c.model.dispose();

    expect(unbroken.phases.map(({ phase, cache }) => [phase.name, phase.trainableBlocks, cache?.boundary, cache?.featureShape, cache?.keep, cache?.images])).toEqual([
      ['probe', 0, 'head_pool', [1280], 'backend', 18],
      ['finetune', 2, 'block_15_add', [1, 1, 56], 'backend', 18],
    ]);
    expect(unbroken.epochs.map((m) => m.phase)).toEqual(['probe', 'finetune', 'finetune']);
    expect(unbroken.epochs.map((m) => m.learningRate)).toEqual([cosineWarmupLr(LR, 0, { warmup: 0, total: 1 }), cosineWarmupLr(LR / 10, 0, { warmup: 0, total: 2 }), cosineWarmupLr(LR / 10, 1, { warmup: 0, total: 2 })]);
    expect(unbroken.epochs.every((m) => Number.isFinite(m.trainLoss))).toBe(true);
    // Flat within a phase.
    expect(unbroken.epochs[2].numTensors).toBe(unbroken.epochs[1].numTensors);
  });

  it('leaves nothing of the probe behind: the fine-tune phase holds as many tensors as a run that never probed', async () => {
    const c = classifier();
    const direct = await train(c, { phases: planPhases({ epochs: 2, learningRate: LR, trainableBlocks: 2 }, 'finetune') });
    c.model.dispose();
    expect(direct.epochs.map((m) => m.numTensors)).toEqual(unbroken.epochs.slice(1).map((m) => m.numTensors));
  });

  it('trains the same with the frozen part cached as with it run every epoch', async () => {
    const phases = planPhases({ epochs: 2, learningRate: LR, trainableBlocks: 2 }, 'finetune');
    const [a, b] = [classifier(), classifier()];
    const cached = await train(a, { phases });
    const uncached = await train(b, { phases, cacheFeatures: false });
    a.model.dispose();
    b.model.dispose();
    expect(uncached.phases.map((p) => p.cache)).toEqual([null]);
    for (const [m, n] of cached.epochs.map((m, i) => [m, uncached.epochs[i]])) {
      expect(m.trainLoss).toBeCloseTo(n.trainLoss, 4);
      expect(m.valLoss).toBeCloseTo(n.valLoss, 4);
    }
  });

  it('with test-time mirroring, caches the validation images mirrored too and validates as a run without a cache does', async () => {
    const phases = planPhases({ epochs: 2, learningRate: LR, trainableBlocks: 2 }, 'finetune');
    const [a, b] = [classifier(), classifier()];
    const logits = { cached: [] as number[][], uncached: [] as number[][] };
    const heard = (to: number[][]) => (_: number, __: Int32Array, l: Float32Array) => void to.push(Array.from(l));
    const cached = await train(a, { phases, trainer: { ...trainerOf(a), tta: 'flip', onValidation: heard(logits.cached) } });
    await train(b, { phases, cacheFeatures: false, trainer: { ...trainerOf(b), tta: 'flip', onValidation: heard(logits.uncached) } });
    a.model.dispose();
    b.model.dispose();
    // 12 training and 6 validation images, and the 6 validation images mirrored.
    expect(cached.phases.map((p) => p.cache?.images)).toEqual([24]);
    logits.cached.forEach((epoch, e) => epoch.forEach((v, k) => expect(v).toBeCloseTo(logits.uncached[e][k], 3)));
  });

  it('with mirrored training and test-time mirroring, caches both mirrors and trains as a run without a cache does', async () => {
    const phases = planPhases({ epochs: 2, learningRate: LR, trainableBlocks: 2 }, 'finetune');
    const [a, b] = [classifier(), classifier()];
    const losses = { cached: [] as number[], uncached: [] as number[] };
    const heard = (to: number[]) => (m: EpochMetrics) => void to.push(m.trainLoss, m.valLoss);
    const cached = await train(a, { phases, trainer: { ...trainerOf(a), tta: 'flip', mirrorTraining: true, onEpoch: heard(losses.cached) } });
    await train(b, { phases, cacheFeatures: false, trainer: { ...trainerOf(b), tta: 'flip', mirrorTraining: true, onEpoch: heard(losses.uncached) } });
    a.model.dispose();
    b.model.dispose();
    // 12 training and 6 validation images, and each of them mirrored.
    expect(cached.phases.map((p) => p.cache?.images)).toEqual([36]);
    losses.cached.forEach((v, k) => expect(v).toBeCloseTo(losses.uncached[k], 4));
  });

  it('resumes in the right phase: afresh at a phase boundary, with its optimiser inside one, as if never stopped', async () => {
    for (const from of [1, 2]) {
      const c = classifier();
      const resumed = await train(c, { resumeFrom: unbroken.checkpoints.get(from)! });
      c.model.dispose();
      expect(resumed.phases.map((p) => p.phase.name)).toEqual(['finetune']);
      expect(resumed.epochs.map((m) => [m.epoch, m.phase, m.learningRate])).toEqual(unbroken.epochs.slice(from).map((m) => [m.epoch, m.phase, m.learningRate]));
      resumed.epochs.forEach((m, i) => {
        expect(m.trainLoss).toBeCloseTo(unbroken.epochs[from + i].trainLoss, 5);
        expect(m.valAccuracy).toBe(unbroken.epochs[from + i].valAccuracy);
      });
    }
  });
});
