import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import { openDB } from 'idb';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateDemoDataset } from '../../src/core/dataset/demo';
import { channelStats } from '../../src/core/dataset/stats';
import { augmentDefault } from '../../src/core/settings/augment';
import { captureCheckpoint, CHUNK_BYTES, checkpointToStore, deleteCheckpoints, listCheckpoints, loadCheckpoint, restoreCheckpoint, saveCheckpoint, type NamedArray } from '../../src/core/store/checkpoints';
import { StorageFullError } from '../../src/core/registry/quota';
import { getRun, openStudioDB, saveRun, type StudioDB } from '../../src/core/store/db';
import { BestCheckpoint, EarlyStopping } from '../../src/core/train/callbacks';
import { createOptimizer, type OptimizerName } from '../../src/core/train/optimizers';
import { createLrScheduler, type LrScheduleConfig } from '../../src/core/train/schedules';
import { trainClassifier, type TensorDataset, type TrainerOptions, type TrainerState } from '../../src/core/train/trainer';
import type { EpochMetrics, RunRecord } from '../../src/core/train/types';
import { withFullDisk } from '../fixtures/quota';
import { tinyCnn } from '../fixtures/tiny-cnn';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const demo = generateDemoDataset({ seed: 5, imageSize: 8, perClass: 4 });
const data: TensorDataset = { images: demo.images, labels: demo.labels, imageSize: 8, channels: 3, numClasses: 3 };
const split = { train: [0, 1, 2, 4, 5, 6, 8, 9, 10], val: [3, 7, 11] };
const normalization = channelStats(demo.images, 64, 3, split.train);
const plateau: LrScheduleConfig = { kind: 'plateau', monitor: 'trainLoss', patience: 1, factor: 0.5 };
const metrics: EpochMetrics = { epoch: 1, trainLoss: 1, trainAccuracy: 0.5, valLoss: 1, valAccuracy: 0.5, seconds: 1, imagesPerSecond: 1 };

/** Everything a run is configured with, rebuilt from the (restored) callback state as a resumed run would. */
function options(state?: TrainerState): TrainerOptions {
  return {
    epochs: 2,
    batchSize: 4,
    seed: 9,
    normalization,
    augment: augmentDefault,
    clipNorm: 1,
    labelSmoothing: 0.05,
    earlyStopping: new EarlyStopping({ patience: 5 }, state?.earlyStopping ?? undefined),
    lrScheduler: createLrScheduler(plateau, { baseLr: 0.01, epochs: 2, stepsPerEpoch: 3 }, state?.lrScheduler ?? undefined),
  };
}

function build(name: OptimizerName) {
  return { model: tinyCnn(4), optimizer: createOptimizer({ name, learningRate: 0.01 }) };
}

async function weights(model: tf.LayersModel): Promise<number[]> {
  return (await Promise.all(model.getWeights().map((w) => w.data()))).flatMap((v) => Array.from(v));
}

async function predictions(model: tf.LayersModel): Promise<number[]> {
  const x = tf.tidy(() => tf.tensor4d(data.images.subarray(0, 3 * 64 * 3), [3, 8, 8, 3], 'int32').toFloat().div(255));
  const y = model.predict(x) as tf.Tensor;
  const v = Array.from(await y.data());
  tf.dispose([x, y]);
  return v;
}

/** Byte-for-byte (vitest's deep equality walks a million-element array one element at a time). */
function identical(a: NamedArray[], b: NamedArray[]): boolean {
  const bytes = (x: NamedArray) => Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength);
  return a.length === b.length && a.every((x, i) => x.name === b[i].name && x.dtype === b[i].dtype && x.shape.join() === b[i].shape.join() && bytes(x).equals(bytes(b[i])));
}

let dbCount = 0;
const freshDb = () => openStudioDB(`ckpt-${dbCount++}`);

describe('checkpoints', () => {
  for (const name of ['adamw', 'adamax', 'adam'] as const) {
    it(`resuming from a stored checkpoint continues exactly as an uninterrupted run (${name})`, async () => {
      const db = await freshDb();
      // Uninterrupted: two epochs.
      const straight = build(name);
      const full = await trainClassifier(straight.model, straight.optimizer, data, split, options());
      // Interrupted: one epoch, checkpointed to IndexedDB.
      const first = build(name);
      const store = checkpointToStore(db, first.model, first.optimizer, { runId: 'r', config: { optimizer: name }, best: new BestCheckpoint() });
      await trainClassifier(first.model, first.optimizer, data, split, { ...options(), epochs: 1, checkpoint: store });
      const atEpoch1 = await predictions(first.model);
      first.model.dispose();
      first.optimizer.dispose();
      // "Reload": a new model and optimiser (with new TF.js variable names), restored from the stored checkpoint.
      const before = tf.memory().numTensors;
      const resumed = build(name);
      const ckpt = (await loadCheckpoint(db, 'r', 'last'))!;
      expect(ckpt).toMatchObject({ runId: 'r', kind: 'last', epoch: 1, config: { optimizer: name } });
      const state = await restoreCheckpoint(resumed.model, resumed.optimizer, ckpt);
      expect(await predictions(resumed.model)).toEqual(atEpoch1);
      const rest = await trainClassifier(resumed.model, resumed.optimizer, data, split, { ...options(state), startEpoch: state.epoch + 1, checkpoint: { best: new BestCheckpoint({}, state.best), save: async () => {} } });
      expect(rest.epochs.map((m) => m.epoch)).toEqual([2]);
      const [a, b] = [await weights(straight.model), await weights(resumed.model)];
      expect(a.length).toBe(b.length);
      expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeLessThanOrEqual(1e-6);
      expect(rest.epochs[0].trainLoss).toBeCloseTo(full.epochs[1].trainLoss, 6);
      expect(rest.epochs[0].learningRate).toBe(full.epochs[1].learningRate);
      resumed.model.dispose();
      resumed.optimizer.dispose();
      expect(tf.memory().numTensors).toBe(before);
      straight.model.dispose();
      straight.optimizer.dispose();
      db.close();
    });
  }

  it('stores tensors in chunks of at most 4 MB and reads them back bit for bit', async () => {
    const db = await freshDb();
    // 1.2 M weights (4.8 MB), with AdamW's two slots 14.4 MB: four chunks.
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [1200], units: 1000, name: 'big' })] });
    const optimizer = createOptimizer({ name: 'adamw', learningRate: 0.01 });
    optimizer.minimize(() => tf.tidy(() => (model.apply(tf.ones([2, 1200])) as tf.Tensor).square().mean() as tf.Scalar));
    const trainer = { epoch: 1, earlyStopping: null, best: null, lrScheduler: null };
    const ckpt = await captureCheckpoint(model, optimizer, { runId: 'big', kind: 'last', epoch: 1, metrics, config: null, trainer });
    const record = await saveCheckpoint(db, ckpt);
    expect(record.chunkCount).toBe(Math.ceil(record.byteLength / CHUNK_BYTES));
    expect(record.chunkCount).toBe(4);
    const chunks = await db.getAll('checkpointChunks');
    expect(chunks.every((c) => c.data.byteLength <= CHUNK_BYTES)).toBe(true);
    expect(record.weights.map((w) => w.name)).toEqual(['big/kernel', 'big/bias']);
    expect(record.optimizer.map((w) => w.name)).toEqual(['iter', 'big/kernel/m', 'big/bias/m', 'big/kernel/v', 'big/bias/v']);
    const loaded = (await loadCheckpoint(db, 'big', 'last'))!;
    expect(identical(loaded.weights, ckpt.weights)).toBe(true);
    expect(identical(loaded.optimizer, ckpt.optimizer)).toBe(true);
    // Saving again replaces the record and its chunks rather than adding to them.
    await saveCheckpoint(db, { ...ckpt, epoch: 2 });
    expect(await db.count('checkpointChunks')).toBe(4);
    expect((await listCheckpoints(db, 'big')).map((r) => r.epoch)).toEqual([2]);
    model.dispose();
    optimizer.dispose();
    db.close();
  });

  it('keeps best, last and each periodic checkpoint apart, lists and deletes a run', async () => {
    const db = await freshDb();
    const { model, optimizer } = build('adamw');
    const save = checkpointToStore(db, model, optimizer, { runId: 'p', config: {}, best: new BestCheckpoint({ everyEpochs: 1 }) });
    const trainer = { epoch: 1, earlyStopping: null, best: null, lrScheduler: null };
    for (const [kind, epoch] of [['best', 1], ['periodic', 1], ['periodic', 2], ['last', 2]] as const) await save.save(kind, epoch, { ...metrics, epoch }, { ...trainer, epoch });
    await save.save('last', 3, { ...metrics, epoch: 3 }, { ...trainer, epoch: 3 });
    const list = await listCheckpoints(db, 'p');
    expect(list.map((r) => `${r.kind}${r.epoch}`)).toEqual(['best1', 'periodic1', 'periodic2', 'last3']);
    expect((await loadCheckpoint(db, 'p', 'periodic', 2))?.epoch).toBe(2);
    expect(await loadCheckpoint(db, 'nope', 'last')).toBeUndefined();
    await deleteCheckpoints(db, 'p');
    expect(await db.count('checkpoints')).toBe(0);
    expect(await db.count('checkpointChunks')).toBe(0);
    model.dispose();
    optimizer.dispose();
    db.close();
  });

  it('a checkpoint that does not fit is refused before writing, and a QuotaExceededError mid-write keeps the previous one', async () => {
    const db = await freshDb();
    const { model, optimizer } = build('adamw');
    const trainer = { epoch: 1, earlyStopping: null, best: null, lrScheduler: null };
    const first = await captureCheckpoint(model, optimizer, { runId: 'q', kind: 'last', epoch: 1, metrics, config: null, trainer });
    const { byteLength } = await saveCheckpoint(db, first);
    const second = { ...first, epoch: 2, savedAt: 'later' };

    const tight = async () => ({ usage: 1_000_000, quota: 1_000_000 + byteLength - 1 });
    const refused = await saveCheckpoint(db, second, tight).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StorageFullError);
    expect((refused as Error).message).toMatch(/^cannot save the last checkpoint of epoch 2: it needs 0\.\d MB but only 0\.\d MB of the 1\.\d MB this site may use is free; delete old runs or model versions first$/);

    // The browser runs out of room on the first chunk, after the old chunks were deleted in the same transaction.
    await withFullDisk('checkpointChunks', 1, async () => {
      const full = await saveCheckpoint(db, second, async () => ({ usage: 0, quota: byteLength })).catch((e: unknown) => e);
      expect(full).toBeInstanceOf(StorageFullError);
      expect((full as Error).message).toBe("the browser's storage for this site is full, so the last checkpoint of epoch 2 was not saved; what was stored before is intact. Free space by deleting old runs or model versions");
    });
    const kept = (await loadCheckpoint(db, 'q', 'last'))!;
    expect(kept.epoch).toBe(1);
    expect(identical(kept.weights, first.weights) && identical(kept.optimizer, first.optimizer)).toBe(true);
    // With room, the same save goes through.
    await saveCheckpoint(db, second, async () => ({ usage: 0, quota: byteLength }));
    expect((await loadCheckpoint(db, 'q', 'last'))!.epoch).toBe(2);
    model.dispose();
    optimizer.dispose();
    db.close();
  });

  it('refuses a checkpoint of another optimiser or another architecture', async () => {
    const db = await freshDb();
    const { model, optimizer } = build('adamw');
    const trainer = { epoch: 1, earlyStopping: null, best: null, lrScheduler: null };
    const ckpt = await captureCheckpoint(model, optimizer, { runId: 'x', kind: 'last', epoch: 1, metrics, config: null, trainer });
    const sgd = tf.train.momentum(0.1, 0.9);
    await expect(restoreCheckpoint(model, sgd, ckpt)).rejects.toThrow(/AdamW/);
    const other = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 2 })] });
    await expect(restoreCheckpoint(other, optimizer, ckpt)).rejects.toThrow(/does not fit/);
    for (const m of [model, other]) m.dispose();
    for (const o of [optimizer, sgd]) o.dispose();
    db.close();
  });
});

describe('database upgrade to version 4', () => {
  const run = { runId: 'old', startedAt: '2026-01-01T00:00:00Z' } as RunRecord;

  async function upgradeFrom(version: 2 | 3): Promise<StudioDB> {
    const name = `upgrade-v${version}`;
    const old = await openDB(name, version, {
      upgrade(db) {
        db.createObjectStore('runs', { keyPath: 'runId' }).createIndex('startedAt', 'startedAt');
        for (const store of ['stats', 'splits']) db.createObjectStore(store, { keyPath: 'splitId' });
        db.createObjectStore('folders', { keyPath: 'id' });
        if (version === 3) {
          db.createObjectStore('backbones', { keyPath: 'id' });
          db.createObjectStore('backboneChunks');
        }
      },
    });
    await old.put('runs', run);
    old.close();
    return openStudioDB(name);
  }

  for (const version of [2, 3] as const) {
    it(`upgrades a version-${version} database without losing its runs`, async () => {
      const db = await upgradeFrom(version);
      expect(db.version).toBeGreaterThanOrEqual(4);
      expect(await getRun(db, 'old')).toEqual(run);
      expect([...db.objectStoreNames]).toEqual(expect.arrayContaining(['runs', 'stats', 'splits', 'folders', 'checkpoints', 'checkpointChunks']));
      await saveRun(db, { ...run, runId: 'new' });
      expect(await db.count('runs')).toBe(2);
      db.close();
    });
  }
});
