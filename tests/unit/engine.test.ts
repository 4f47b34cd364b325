import 'fake-indexeddb/auto';
import { beforeAll, describe, expect, it } from 'vitest';
import { StudioEngine } from '../../workers/engine';
import { demoImage } from '../../src/core/dataset/demo';
import { analyzeWith } from '../../src/core/dataset/importer';
import { EngineError } from '../../src/engine/errors';
import type { TrainConfig, TrainEvent } from '../../src/engine/types';

// The real engine class, as the worker exposes it, on TF.js's CPU backend and fake-indexeddb.
const cfg = (over: Partial<TrainConfig> = {}): TrainConfig => ({
  dataset: { kind: 'demo', seed: 1, imageSize: 8, perClass: 10, split: { train: 0.7, val: 0.15, test: 0.15 } },
  model: 'simple_cnn',
  epochs: 3,
  batchSize: 8,
  learningRate: 0.003,
  seed: 1,
  ...over,
});

describe('engine progress protocol', () => {
  const engine = new StudioEngine();
  beforeAll(async () => {
    const info = await engine.init('cpu');
    expect(info.name).toBe('cpu');
  });

  it('streams start, per-batch and per-epoch events, then done, and records the run', async () => {
    const events: TrainEvent[] = [];
    const run = await engine.train(cfg(), (e) => events.push(e));
    expect(events[0]).toMatchObject({ type: 'start', runId: run.runId, classes: ['glioma', 'meningioma', 'pituitary'], split: { train: 18, val: 6, test: 6 } });
    expect(events.at(-1)).toEqual({ type: 'done', run });
    const batches = events.filter((e) => e.type === 'batch');
    expect(batches).toHaveLength(3 * 3); // ceil(18 / 8) batches × 3 epochs
    expect(batches.every((e) => Number.isFinite(e.loss) && e.batchesPerEpoch === 3)).toBe(true);
    const epochs = events.filter((e) => e.type === 'epoch');
    expect(epochs.map((e) => e.metrics.epoch)).toEqual([1, 2, 3]);
    // Each epoch's events come after its batches.
    const order = events.map((e) => (e.type === 'batch' ? `b${e.epoch}` : e.type === 'epoch' ? `e${e.metrics.epoch}` : e.type));
    expect(order.join(' ')).toBe('start b1 b1 b1 e1 b2 b2 b2 e2 b3 b3 b3 e3 done');
    // No tensor leaks from one epoch to the next.
    expect(new Set(epochs.map((e) => e.numTensors)).size).toBe(1);
    expect(run.status).toBe('completed');
    expect(run.epochs).toHaveLength(3);
    expect(run.best?.valAccuracy).toBe(Math.max(...run.epochs.map((m) => m.valAccuracy)));
    expect((await engine.runs()).map((r) => r.runId)).toContain(run.runId);
    // Each epoch carries a few validation images with that epoch's predictions, one class after another.
    const samples = epochs.map((e) => e.samples!);
    expect(samples.every((s) => s.length === 6)).toBe(true);
    expect(samples[0].map((s) => s.truth)).toEqual([0, 1, 2, 0, 1, 2]);
    expect(samples[0].every((s) => s.predicted >= 0 && s.predicted < 3 && s.thumb.rgba.length === 48 * 48 * 4)).toBe(true);
  });

  it("with keepEpoch 'last' the run hands back its final epoch as the model that evaluation and export use", async () => {
    const run = await engine.train(cfg({ keepEpoch: 'last', epochs: 4 }), () => {});
    expect(run.checkpoint).toEqual({ best: 4, last: 4 });
    expect(run.best).toEqual({ epoch: 4, valAccuracy: run.epochs[3].valAccuracy });
    expect(run.bestValidation?.epoch).toBe(4);
  });

  it('times a forward pass and a training step of a batch for the model cards, refusing to while a run trains', async () => {
    const probe = await engine.probeSpeed(cfg({ batchSize: 4 }));
    expect(probe).toMatchObject({ backend: 'cpu', batchSize: 4, imageSize: 8 });
    expect(probe.secondsPerBatch).toBeGreaterThan(0);
    expect(probe.forwardSecondsPerImage).toBeCloseTo(probe.secondsPerBatch / 4, 12);
    expect(probe.stepSecondsPerBatch).toBeGreaterThan(0);
    const training = engine.train(cfg({ epochs: 1 }), () => {});
    await expect(engine.probeSpeed(cfg())).rejects.toMatchObject({ code: 'E_BUSY' });
    await training;
  });

  it('cancels within one batch', async () => {
    const events: TrainEvent[] = [];
    let runId = '';
    const done = engine.train(cfg({ epochs: 50 }), (e) => {
      events.push(e);
      if (e.type === 'start') runId = e.runId;
      if (e.type === 'batch' && e.epoch === 1 && e.batch === 1) void engine.cancel(runId);
    });
    const run = await done;
    expect(run.status).toBe('cancelled');
    expect(events.filter((e) => e.type === 'batch').length).toBeLessThanOrEqual(4);
    expect(run.epochs).toHaveLength(0);
  });

  it('resumes a cancelled run from its last checkpoint, keeping the epochs before it', async () => {
    let runId = '';
    const first = await engine.train(cfg({ epochs: 3, earlyStopping: null }), (e) => {
      if (e.type === 'start') runId = e.runId;
      if (e.type === 'batch' && e.epoch === 2) void engine.cancel(runId);
    });
    expect(first.status).toBe('cancelled');
    expect(first.epochs.map((m) => m.epoch)).toEqual([1]);
    expect(first.checkpoint.last).toBe(1);
    const events: TrainEvent[] = [];
    const resumed = await engine.resume(runId, (e) => events.push(e));
    expect(events[0]).toMatchObject({ type: 'start', runId, resumedFrom: 1 });
    expect(resumed).toMatchObject({ runId, status: 'completed', checkpoint: { last: 3 }, resumes: [{ fromEpoch: 1 }] });
    expect(resumed.epochs.map((m) => m.epoch)).toEqual([1, 2, 3]);
    await expect(engine.resume(runId, () => {})).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/completed/) });
  });

  it('refuses bad settings with a typed error, and a second run while one trains', async () => {
    await expect(engine.train(cfg({ epochs: 0 }), () => {})).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/epochs/) });
    // A setting the page or a script could send that no form offers: refused by name, not ignored.
    await expect(engine.train(cfg({ compileAhead: 'always' as 'on' }), () => {})).rejects.toMatchObject({ code: 'E_CONFIG', message: 'compileAhead must be auto, on or off (got always)' });
    await expect(engine.train(cfg({ dataset: { kind: 'demo', seed: 1, imageSize: 8, perClass: 10, split: { train: 0.5, val: 0.2, test: 0.2 } } }), () => {})).rejects.toBeInstanceOf(EngineError);
    const first = engine.train(cfg({ epochs: 1 }), () => {});
    await expect(engine.train(cfg(), () => {})).rejects.toMatchObject({ code: 'E_BUSY' });
    await first;
  });

  it('says a batch ran out of memory with E_MEMORY and what to change, and records it on the run', async () => {
    let runId = '';
    const err = await engine
      .train(cfg({ epochs: 1 }), (e) => {
        if (e.type === 'start') runId = e.runId;
        // V8's message when an ArrayBuffer cannot be allocated (Swin-S at batch 16 on the CPU backend), thrown inside
        // the training loop (the epoch callback is awaited there; batch events are not).
        if (e.type === 'epoch') throw new RangeError('Array buffer allocation failed');
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect(err).toMatchObject({ code: 'E_MEMORY', message: expect.stringMatching(/^the CPU backend ran out of memory training simple_cnn on batches of 8 at 8 px; choose a smaller batch size or image size \(the browser said: Array buffer allocation failed\)$/) });
    expect((await engine.runs()).find((r) => r.runId === runId)).toMatchObject({ status: 'failed', error: (err as Error).message });
  });

  it("weights classes by inverse frequency on an imbalanced folder with 'auto', and not by default", async () => {
    const size = 8;
    const withFolder = new StudioEngine(analyzeWith(async (_file, bytes, _size, _channels, out) => out.set(bytes)));
    await withFolder.init('cpu');
    const paths: string[] = [];
    const files: File[] = [];
    ['a', 'b'].forEach((c, k) => {
      for (let i = 0; i < (k === 0 ? 30 : 10); i++) {
        paths.push(`data/${c}/${i}.png`);
        files.push(new File([demoImage(k, i, 5, size) as Uint8Array<ArrayBuffer>], `${i}.png`));
      }
    });
    await withFolder.scanFolder({ kind: 'files', name: 'data', files, paths });
    const summary = await withFolder.importDataset({ imageSize: size, channels: 3, split: { train: 0.6, val: 0.2, test: 0.2 }, seed: 1, dedupe: 'off' }, () => {});
    const run = await withFolder.train(cfg({ dataset: { kind: 'folder', fingerprint: summary.fingerprint }, epochs: 1, classWeights: 'auto' }), () => {});
    // 18 and 6 training images: N / (C · n) = 24/36 and 24/12.
    expect(run.classWeights?.map((w) => w.toFixed(4))).toEqual([(24 / 36).toFixed(4), '2.0000']);
    const unweighted = await withFolder.train(cfg({ dataset: { kind: 'folder', fingerprint: summary.fingerprint }, epochs: 1 }), () => {});
    expect(unweighted.classWeights).toBeUndefined();
    await expect(withFolder.train(cfg({ labelSmoothing: 1.5 }), () => {})).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/label smoothing/) });
  });

  it("trains with the studio's default augmentation, keeping the tensor count flat", async () => {
    const epochs: number[] = [];
    const run = await engine.train(cfg({ augment: 'default', epochs: 2 }), (e) => {
      if (e.type === 'epoch') epochs.push(e.numTensors);
    });
    expect(run.status).toBe('completed');
    expect(run.epochs.every((m) => Number.isFinite(m.trainLoss))).toBe(true);
    expect(epochs[1]).toBe(epochs[0]);
  });

  it('names the backend that is not available', async () => {
    const other = new StudioEngine();
    await expect(other.init('webgpu')).rejects.toMatchObject({ code: 'E_BACKEND', detail: expect.stringMatching(/webgpu/) });
  });
});
