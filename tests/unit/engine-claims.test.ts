import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { StudioEngine } from '../../workers/engine';
import type { TrainConfig } from '../../src/engine/types';

// The real engine on TF.js's CPU backend: every busy refusal its flags made, now made by its claims (workers/claim.ts).
const cfg = (over: Partial<TrainConfig> = {}): TrainConfig => ({
  dataset: { kind: 'demo', seed: 1, imageSize: 8, perClass: 10, split: { train: 0.7, val: 0.15, test: 0.15 } },
  model: 'simple_cnn',
  epochs: 1,
  batchSize: 8,
  learningRate: 0.003,
  seed: 1,
  ...over,
});

describe('the engine while a run trains', () => {
  it('refuses what would share the backend or the run, lets the rest through, and is free again afterwards', async () => {
    const engine = new StudioEngine();
    await engine.init('cpu');
    const earlier = await engine.train(cfg(), () => {});
    let started!: (runId: string) => void;
    const start = new Promise<string>((resolve) => (started = resolve));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const training = engine.train(cfg({ epochs: 2 }), async (e) => {
      if (e.type === 'start') started(e.runId);
      // The first epoch's callback is awaited by the training loop: the run stays in flight until released.
      if (e.type === 'epoch') await held;
    });
    const runId = await start;
    const busy = { code: 'E_BUSY' };
    await expect(engine.init('cpu')).rejects.toMatchObject({ ...busy, message: expect.stringMatching(/switching the backend/) });
    await expect(engine.train(cfg(), () => {})).rejects.toMatchObject(busy);
    await expect(engine.resume(earlier.runId, () => {})).rejects.toMatchObject(busy);
    await expect(engine.evaluate({ runId: earlier.runId }, () => {})).rejects.toMatchObject(busy);
    await expect(engine.gradcam({ runId: earlier.runId, key: 'demo-0' })).rejects.toMatchObject(busy);
    await expect(engine.predict('demo@1', [{ name: 'x.png', file: new Blob([]) }])).rejects.toMatchObject({ ...busy, message: expect.stringMatching(/predict when it has finished/) });
    await expect(engine.probeSpeed(cfg())).rejects.toMatchObject(busy);
    await expect(engine.measureBackends(cfg())).rejects.toMatchObject(busy);
    await expect(engine.crossValidate({ config: cfg(), folds: 2 }, () => {})).rejects.toMatchObject(busy);
    await expect(engine.deleteRun(runId)).rejects.toMatchObject({ ...busy, message: expect.stringMatching(/cancel it before deleting it/) });
    await expect(engine.exportRun(runId)).rejects.toMatchObject(busy);
    // Another run's file and records are not the run in flight.
    expect((await engine.exportRun(earlier.runId)).bytes.length).toBeGreaterThan(0);
    expect((await engine.runs()).map((r) => r.runId)).toContain(runId);
    release();
    expect((await training).status).toBe('completed');
    await expect(engine.init('cpu')).resolves.toMatchObject({ name: 'cpu' });
    await expect(engine.evaluate({ runId, latencySamples: 1 }, () => {})).resolves.toMatchObject({ runId });
  });
});
