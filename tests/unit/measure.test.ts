import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_ZOO } from '../../src/core/models/zoo';
import { measureBackends, measuredRouting } from '../../workers/measure';
import { selectBackend } from '../../workers/backend';
import { StudioEngine } from '../../workers/engine';
import { openStudioDB, type StudioDB } from '../../src/core/store/db';
import { listMeasurements } from '../../src/core/store/measurements';
import type { BackendInfo, MeasureProgress, TrainConfig } from '../../src/engine/types';

// The measurement on the backends Node has (WASM with our convolution gradients, and the CPU backend), on
// fake-indexeddb. In the browser the candidates are WebGPU, WebGL and WASM (tests/e2e/measure.spec.ts).
const cfg = (over: Partial<TrainConfig> = {}): TrainConfig => ({
  dataset: { kind: 'demo', seed: 1, imageSize: 16, perClass: 4, split: { train: 0.7, val: 0.15, test: 0.15 } },
  model: 'simple_cnn',
  epochs: 1,
  batchSize: 4,
  learningRate: 0.003,
  seed: 1,
  ...over,
});
const data = { imageSize: 16, channels: 3, numClasses: 3 };
const work = { strategy: 'scratch' as const, augment: false };

describe('backend measurement', () => {
  let db: StudioDB;
  let info: BackendInfo;
  beforeAll(async () => {
    // The engine sets Vite's URLs for the WASM binaries; Node reads them from the package.
    const wasmDir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    setWasmPaths(Object.fromEntries(['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'].map((f) => [f, join(wasmDir, f)])) as Parameters<typeof setWasmPaths>[0]);
    db = await openStudioDB('measure-test');
    info = await selectBackend('auto');
    // Node: no WebGPU or WebGL; WASM selected, the CPU backend started beside it.
    expect(info).toMatchObject({ name: 'wasm', requested: 'auto', available: ['wasm', 'cpu'] });
  });

  it('times a training step on each backend, keeps the fastest, restores the backend and leaves no tensor behind', async () => {
    const before = tf.memory().numTensors;
    const progress: MeasureProgress[] = [];
    const m = await measureBackends(db, BUILTIN_ZOO, info, { cfg: cfg(), data, work }, ['cpu', 'wasm'], (p) => progress.push(p));
    expect(progress).toEqual([{ backend: 'cpu', index: 1, of: 2 }, { backend: 'wasm', index: 2, of: 2 }]);
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.memory().numTensors).toBe(before);
    expect(m).toMatchObject({ key: 'no GPU adapter|simple_cnn|scratch|16x16x3|batch 4', model: 'simple_cnn', strategy: 'scratch', imageSize: 16, channels: 3, classes: 3, batchSize: 4, failed: [] });
    expect(m!.figures.map((f) => f.backend).sort()).toEqual(['cpu', 'wasm']);
    expect(m!.figures.every((f) => f.secondsPerStep > 0 && f.firstStepSeconds > 0)).toBe(true);
    expect(m!.figures[0].secondsPerStep).toBeLessThanOrEqual(m!.figures[1].secondsPerStep);
    expect(m!.fastest).toBe(m!.figures[0].backend);
    expect(m!.seconds).toBeGreaterThan(0);
    expect(await listMeasurements(db)).toEqual([m]);
  });

  it('routes a later run of the same key by the stored measurement without measuring again', async () => {
    const [stored] = await listMeasurements(db);
    const progress: MeasureProgress[] = [];
    const routing = await measuredRouting(db, BUILTIN_ZOO, info, { cfg: cfg({ measureBackends: 'on' }), data, work }, (p) => progress.push(p));
    expect(progress).toEqual([]);
    expect(routing).toMatchObject({ train: stored.fastest, forward: stored.fastest, measured: stored });
    expect(routing.reason).toMatch(/^Measured here: (CPU|WASM) [\d.]+ (m?s)\/step, (CPU|WASM) [\d.]+ (m?s)\/step → (CPU|WASM): training and validation on (CPU|WASM)$/);
    // 'off': the fixed order, the stored measurement left aside.
    expect(await measuredRouting(db, BUILTIN_ZOO, info, { cfg: cfg({ measureBackends: 'off' }), data, work })).toMatchObject({ train: 'wasm', reason: 'No GPU backend: training and validation on WASM' });
    // Another batch size is another key: nothing stored, and WASM alone is a candidate here (never the CPU backend).
    const other = await measuredRouting(db, BUILTIN_ZOO, info, { cfg: cfg({ batchSize: 2, measureBackends: 'on' }), data, work }, (p) => progress.push(p));
    expect(progress).toEqual([]);
    expect(other.measured).toBeUndefined();
  });

  it('measures nothing for a forced backend, whatever is stored', async () => {
    const forced: BackendInfo = { ...info, requested: 'wasm', available: ['wasm'] };
    const progress: MeasureProgress[] = [];
    const routing = await measuredRouting(db, BUILTIN_ZOO, forced, { cfg: cfg({ measureBackends: 'on' }), data, work }, (p) => progress.push(p));
    expect(progress).toEqual([]);
    expect(routing).toEqual({ forward: 'wasm', train: 'wasm', routed: false, reason: 'training and validation on WASM, as chosen' });
  });

  it('the engine refuses to measure a forced backend, or where one backend alone could train the model', async () => {
    const engine = new StudioEngine();
    await engine.init('wasm');
    await expect(engine.measureBackends(cfg())).rejects.toMatchObject({ code: 'E_CONFIG', message: 'the WASM backend was chosen, so every run stays on it: choose auto to measure the backends' });
    await engine.init('auto');
    await expect(engine.measureBackends(cfg())).rejects.toMatchObject({ code: 'E_CONFIG', message: 'only WASM can train simple_cnn here: there is nothing to measure' });
    await expect(engine.measureBackends({ key: 'nothing stored' })).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });
});
