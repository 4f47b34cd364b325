import 'fake-indexeddb/auto';
import { beforeAll, describe, expect, it } from 'vitest';
import { StudioEngine } from '../../workers/engine';
import { openStudioDB, saveRun } from '../../src/core/store/db';
import type { RunRecord, TrainConfig, TrainEvent } from '../../src/engine/types';

// The real engine on TF.js's CPU backend and fake-indexeddb. Node has no Web Locks: the engine knows its own runs
// to be live, which is what one process needs (the browser's locks are tested in e2e/tabs.spec.ts).
const cfg: TrainConfig = {
  dataset: { kind: 'demo', seed: 3, imageSize: 8, perClass: 10, split: { train: 0.7, val: 0.15, test: 0.15 } },
  model: 'simple_cnn',
  epochs: 3,
  batchSize: 8,
  learningRate: 0.003,
  seed: 3,
  earlyStopping: null,
};

describe('live runs in the engine', () => {
  const engine = new StudioEngine();
  beforeAll(async () => void (await engine.init('cpu')));

  it('a run left "running" by a worker that went away is listed, and stored, as interrupted; the live one is not', async () => {
    let live = '';
    let seen: RunRecord[] = [];
    const stale = { runId: 'run-left-behind', status: 'running', startedAt: '2000-01-01T00:00:00.000Z', endedAt: null, config: cfg, checkpoint: { best: 1, last: 1 }, epochs: [], best: null } as unknown as RunRecord;
    await saveRun(await openStudioDB(), stale);
    let resumeCode: string | undefined;
    const run = await engine.train(cfg, (e: TrainEvent) => {
      if (e.type === 'start') live = e.runId;
      if (e.type === 'epoch' && e.metrics.epoch === 1) {
        // Mid-run, from the same engine: listing keeps the live run as it is, and Resume of it is refused.
        void engine.runs().then((r) => (seen = r));
        void engine.resume(live, () => undefined).catch((err: { code?: string }) => (resumeCode = err.code));
      }
    });
    expect(run.status).toBe('completed');
    expect(seen.find((r) => r.runId === live)?.status).toBe('running');
    expect(seen.find((r) => r.runId === stale.runId)?.status).toBe('interrupted');
    expect(resumeCode).toBe('E_LOCKED');
    expect((await (await openStudioDB()).get('runs', stale.runId))?.status).toBe('interrupted');
    expect((await engine.runs()).find((r) => r.runId === live)?.epochs).toHaveLength(3);
  });

  it("a run asked for while a fresh engine is still choosing its backend waits for that choice, neither busy nor on another backend", async () => {
    // A worker that replaced a lost one: the page re-selects the user's backend, and a Resume may follow at once.
    const fresh = new StudioEngine();
    const choosing = fresh.init('cpu');
    const run = await fresh.train({ ...cfg, epochs: 1 }, () => undefined);
    expect(run.status).toBe('completed');
    expect(run.backend).toBe('cpu');
    expect((await choosing).name).toBe('cpu');
  });
});
