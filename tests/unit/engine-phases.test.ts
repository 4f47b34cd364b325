import 'fake-indexeddb/auto';
import { beforeAll, describe, expect, it } from 'vitest';
import { StudioEngine } from '../../workers/engine';
import type { RunRecord, TrainConfig, TrainEvent } from '../../src/engine/types';

// The real engine class on TF.js's CPU backend and fake-indexeddb: schedules, pause and their checks.
const cfg = (over: Partial<TrainConfig> = {}): TrainConfig => ({
  dataset: { kind: 'demo', seed: 1, imageSize: 8, perClass: 10, split: { train: 0.7, val: 0.15, test: 0.15 } },
  model: 'simple_cnn',
  epochs: 2,
  batchSize: 8,
  learningRate: 0.004,
  seed: 1,
  earlyStopping: null,
  ...over,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('engine: schedules and pause', () => {
  const engine = new StudioEngine();
  beforeAll(async () => {
    await engine.init('cpu');
  });

  it('drives the optimiser with the configured schedule and records each epoch rate', async () => {
    const run = await engine.train(cfg({ epochs: 3, lrSchedule: { kind: 'step', everyEpochs: 1, gamma: 0.5 } }), () => {});
    expect(run.status).toBe('completed');
    expect(run.epochs.map((m) => m.learningRate)).toEqual([0.004, 0.002, 0.001]);
    // One phase: nothing about phases is recorded.
    expect(run.phases).toBeUndefined();
    expect(run.epochs.every((m) => m.phase === undefined)).toBe(true);
  });

  it('resumes a reduce-on-plateau schedule from the checkpoint, not from the base rate', async () => {
    // minDelta 2: no epoch after the first can improve, so the rate halves after every later epoch.
    const plateau = { kind: 'plateau', patience: 1, factor: 0.5, monitor: 'valAccuracy', minDelta: 2 } as const;
    let runId = '';
    const first = await engine.train(cfg({ epochs: 4, lrSchedule: plateau }), (e) => {
      if (e.type === 'start') runId = e.runId;
      if (e.type === 'batch' && e.epoch === 3) void engine.cancel(runId);
    });
    expect(first.status).toBe('cancelled');
    expect(first.checkpoint.last).toBe(2);
    const resumed = await engine.resume(runId, () => {});
    expect(resumed.status).toBe('completed');
    expect(resumed.epochs.map((m) => m.learningRate)).toEqual([0.004, 0.004, 0.002, 0.001]);
  });

  it('refuses schedules and phase settings it cannot honour, before a run starts', async () => {
    const before = (await engine.runs()).length;
    await expect(engine.train(cfg({ lrSchedule: { kind: 'cosine', warmup: 2, unit: 'epoch' } }), () => {})).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/warm-up \(2 epochs\) must be shorter than the run/) });
    await expect(engine.train(cfg({ lrSchedule: { kind: 'step', everyEpochs: 1, gamma: 0 } }), () => {})).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/factor/) });
    await expect(engine.train(cfg({ probeEpochs: 1 }), () => {})).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/probe epochs apply to finetune/) });
    await expect(engine.train(cfg({ trainableBlocks: 2 }), () => {})).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/trainable blocks apply to finetune, not scratch/) });
    expect((await engine.runs()).length).toBe(before);
  });

  it('pauses between batches, shows the run as paused, and continues where it stopped', async () => {
    const events: TrainEvent[] = [];
    const batches = () => events.filter((e) => e.type === 'batch').length;
    let runId = '';
    let whilePaused: { stored: RunRecord | undefined; batchesAfterWait: number; batchesLater: number; settled: boolean } | null = null;
    let settled = false;
    const done = engine.train(cfg({ epochs: 2 }), (e) => {
      events.push(e);
      if (e.type === 'start') runId = e.runId;
      if (e.type === 'batch' && e.epoch === 1 && e.batch === 1) void engine.pause(runId);
      if (e.type === 'paused' && e.paused) {
        void (async () => {
          const stored = (await engine.runs()).find((r) => r.runId === runId);
          // Loss reads already in flight may still land; after them, nothing moves until unpause.
          await sleep(100);
          const batchesAfterWait = batches();
          await sleep(400);
          whilePaused = { stored, batchesAfterWait, batchesLater: batches(), settled };
          await engine.unpause(runId);
        })();
      }
    });
    void done.then(() => (settled = true));
    const run = await done;
    expect(whilePaused).not.toBeNull();
    const seen = whilePaused!;
    expect(seen.stored?.status).toBe('paused');
    expect(seen.settled).toBe(false);
    expect(seen.batchesLater).toBe(seen.batchesAfterWait);
    expect(seen.batchesLater).toBeLessThan(2 * 3);
    expect(events.filter((e) => e.type === 'paused').map((e) => (e as { paused: boolean }).paused)).toEqual([true, false]);
    expect(run.status).toBe('completed');
    expect(batches()).toBe(2 * 3);
    const tensors = events.flatMap((e) => (e.type === 'epoch' ? [e.numTensors] : []));
    expect(tensors[1]).toBe(tensors[0]);
  });

  it('cancels a paused run', async () => {
    let runId = '';
    const run = await engine.train(cfg({ epochs: 50 }), (e) => {
      if (e.type === 'start') runId = e.runId;
      if (e.type === 'batch' && e.epoch === 1 && e.batch === 1) void engine.pause(runId);
      if (e.type === 'paused' && e.paused) void engine.cancel(runId);
    });
    expect(run.status).toBe('cancelled');
    expect(run.epochs.length).toBeLessThanOrEqual(1);
    expect((await engine.runs()).find((r) => r.runId === runId)?.status).toBe('cancelled');
  });
});
