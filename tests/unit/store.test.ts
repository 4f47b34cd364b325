import 'fake-indexeddb/auto';
import { openDB } from 'idb';
import { describe, expect, it } from 'vitest';
import { getEvaluation, getRun, getSplit, getStats, openStudioDB, saveEvaluation, saveRun, saveSplit, saveStats } from '../../src/core/store/db';
import { appendAudit, clearAudit, listAudit } from '../../src/core/store/audit';
import { getMeasurement, listMeasurements, saveMeasurement } from '../../src/core/store/measurements';
import type { BackendMeasurement } from '../../src/core/routing';
import type { EvaluationRecord } from '../../src/core/metrics/evaluation';
import type { RunRecord } from '../../src/core/train/types';

describe('studio database', () => {
  it('upgrades a version-1 database without losing its runs', async () => {
    const name = 'upgrade-test';
    const v1 = await openDB(name, 1, {
      upgrade(db) {
        db.createObjectStore('runs', { keyPath: 'runId' }).createIndex('startedAt', 'startedAt');
      },
    });
    await v1.put('runs', { runId: 'r1', startedAt: '2026-01-01T00:00:00Z' });
    v1.close();
    const db = await openStudioDB(name);
    expect((await getRun(db, 'r1'))?.runId).toBe('r1');
    await saveStats(db, { splitId: 'fp:1', fingerprint: 'fp', mean: [0.1], std: [0.2], computedAt: 'now' });
    expect(await getStats(db, 'fp:1')).toMatchObject({ mean: [0.1], std: [0.2] });
    const manifest = { seed: 42, fractions: { train: 0.7, val: 0.15, test: 0.15 }, entries: [{ path: 'a/1.png', className: 'a', split: 'train' as const }] };
    await saveSplit(db, { splitId: 'fp:1', fingerprint: 'fp', name: 'data', manifest, savedAt: 'now' });
    expect((await getSplit(db, 'fp:1'))?.manifest).toEqual(manifest);
    await saveRun(db, { runId: 'r2', startedAt: '2026-01-02T00:00:00Z' } as RunRecord);
    expect((await db.getAll('runs')).length).toBe(2);
    db.close();
  });

  it('adds the evaluations store to a version-4 database, keeping its runs and checkpoints', async () => {
    const name = 'upgrade-v4-test';
    const v4 = await openDB(name, 4, {
      upgrade(db) {
        db.createObjectStore('runs', { keyPath: 'runId' }).createIndex('startedAt', 'startedAt');
        for (const [store, keyPath] of [['stats', 'splitId'], ['splits', 'splitId'], ['folders', 'id'], ['backbones', 'id']]) db.createObjectStore(store, { keyPath });
        db.createObjectStore('backboneChunks');
        db.createObjectStore('checkpoints', { keyPath: 'id' }).createIndex('runId', 'runId');
        db.createObjectStore('checkpointChunks', { keyPath: ['checkpointId', 'index'] });
      },
    });
    await v4.put('runs', { runId: 'r1', startedAt: '2026-01-01T00:00:00Z' });
    await v4.put('checkpoints', { id: 'r1/best', runId: 'r1' });
    v4.close();
    const db = await openStudioDB(name);
    expect((await getRun(db, 'r1'))?.runId).toBe('r1');
    expect(await db.get('checkpoints', 'r1/best')).toEqual({ id: 'r1/best', runId: 'r1' });
    await saveEvaluation(db, { runId: 'r1', evaluatedAt: 'now' } as EvaluationRecord);
    expect(await getEvaluation(db, 'r1')).toMatchObject({ runId: 'r1' });
    db.close();
  });

  it('adds the prediction audit log to a version-5 database, keeping its registered models', async () => {
    const name = 'upgrade-v5-test';
    const v5 = await openDB(name, 5, {
      upgrade(db) {
        db.createObjectStore('runs', { keyPath: 'runId' }).createIndex('startedAt', 'startedAt');
        db.createObjectStore('models', { keyPath: 'id' }).createIndex('name', 'name');
        db.createObjectStore('modelFiles', { keyPath: ['versionId', 'path'] });
      },
    });
    await v5.put('models', { id: 'm@1.0.0', name: 'm' });
    await v5.put('modelFiles', { versionId: 'm@1.0.0', path: 'model.json', data: new ArrayBuffer(3) });
    v5.close();
    const db = await openStudioDB(name);
    expect(await db.get('models', 'm@1.0.0')).toEqual({ id: 'm@1.0.0', name: 'm' });
    expect((await db.get('modelFiles', ['m@1.0.0', 'model.json']))?.data.byteLength).toBe(3);
    const entry = { at: 'now', ref: 'm@champion', model: 'm@1.0.0', sha256: 'ab', top: 'glioma', probability: 0.9 };
    await appendAudit(db, [entry, { ...entry, file: 'scan.png' }]);
    await appendAudit(db, [{ ...entry, top: 'pituitary' }]);
    expect((await listAudit(db)).map((e) => [e.id, e.top, e.file])).toEqual([[1, 'glioma', undefined], [2, 'glioma', 'scan.png'], [3, 'pituitary', undefined]]);
    await clearAudit(db);
    expect(await listAudit(db)).toEqual([]);
    db.close();
  });

  it('adds the backend measurements store to a version-6 database, keeping its runs and audit log', async () => {
    const name = 'upgrade-v6-test';
    const v6 = await openDB(name, 6, {
      upgrade(db) {
        db.createObjectStore('runs', { keyPath: 'runId' }).createIndex('startedAt', 'startedAt');
        db.createObjectStore('predictionAudit', { keyPath: 'id', autoIncrement: true });
      },
    });
    await v6.put('runs', { runId: 'r1', startedAt: '2026-01-01T00:00:00Z' });
    await v6.add('predictionAudit', { at: 'now', ref: 'm@1.0.0', model: 'm@1.0.0', sha256: 'ab', top: 'glioma', probability: 0.9 });
    v6.close();
    const db = await openStudioDB(name);
    expect(db.version).toBe(7);
    expect((await getRun(db, 'r1'))?.runId).toBe('r1');
    expect((await listAudit(db)).map((e) => [e.id, e.top])).toEqual([[1, 'glioma']]);
    const measurement = (key: string, measuredAt: string) => ({ key, measuredAt, fastest: 'wasm', figures: [{ backend: 'wasm', firstStepSeconds: 2, secondsPerStep: 1 }] }) as unknown as BackendMeasurement;
    await saveMeasurement(db, measurement('a', '2026-12-01T00:00:00Z'));
    await saveMeasurement(db, measurement('b', '2026-12-02T00:00:00Z'));
    // A re-measurement replaces the stored one under its key.
    await saveMeasurement(db, { ...measurement('a', '2026-12-03T00:00:00Z'), fastest: 'webgl' });
    expect((await listMeasurements(db)).map((m) => [m.key, m.fastest])).toEqual([['a', 'webgl'], ['b', 'wasm']]);
    expect((await getMeasurement(db, 'b'))?.measuredAt).toBe('2026-12-02T00:00:00Z');
    expect(await getMeasurement(db, 'c')).toBeNull();
    db.close();
  });
});
