import 'fake-indexeddb/auto';
import { openDB } from 'idb';
import { describe, expect, it } from 'vitest';
import { StorageFullError } from '../../src/core/registry/quota';
import { idbBackboneCache } from '../../src/core/store/backbones';
import { getSplit, getStats, openStudioDB } from '../../src/core/store/db';
import { withFullDisk } from '../fixtures/quota';

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);
const artifacts = (weightData: ArrayBuffer | ArrayBuffer[]) => ({
  modelTopology: { class_name: 'Model', config: { name: 'm' } },
  weightSpecs: [{ name: 'w', shape: [10], dtype: 'float32' as const }],
  weightData,
  format: 'layers-model',
  generatedBy: 'test',
  convertedBy: null,
});

describe('backbone cache in IndexedDB', () => {
  it('adds the backbone stores to a version-2 database without losing its data', async () => {
    const name = 'upgrade-v2-test';
    const v2 = await openDB(name, 2, {
      upgrade(db) {
        db.createObjectStore('runs', { keyPath: 'runId' }).createIndex('startedAt', 'startedAt');
        db.createObjectStore('stats', { keyPath: 'splitId' });
        db.createObjectStore('splits', { keyPath: 'splitId' });
        db.createObjectStore('folders', { keyPath: 'id' });
      },
    });
    await v2.put('runs', { runId: 'r1', startedAt: '2026-01-01T00:00:00Z' });
    await v2.put('stats', { splitId: 'fp:1', fingerprint: 'fp', mean: [0.1], std: [0.2], computedAt: 'now' });
    await v2.put('splits', { splitId: 'fp:1', fingerprint: 'fp', name: 'data', manifest: { seed: 1 }, savedAt: 'now' });
    v2.close();
    const db = await openStudioDB(name);
    expect([...db.objectStoreNames]).toEqual(expect.arrayContaining(['runs', 'stats', 'splits', 'folders', 'backbones', 'backboneChunks']));
    expect((await db.get('runs', 'r1'))?.runId).toBe('r1');
    expect(await getStats(db, 'fp:1')).toMatchObject({ mean: [0.1], std: [0.2] });
    expect((await getSplit(db, 'fp:1'))?.name).toBe('data');
    const cache = idbBackboneCache(db);
    await cache.put('mobilenet_v2_0.35_224', artifacts(bytes(40, 1).buffer));
    expect(new Uint8Array((await cache.get('mobilenet_v2_0.35_224'))!.weightData as ArrayBuffer)).toEqual(bytes(40, 1));
    db.close();
  });

  it('stores weights in chunks and reads them back byte for byte; replacing an entry drops its old chunks', async () => {
    const db = await openStudioDB('backbone-chunks-test');
    const cache = idbBackboneCache(db, 1000);
    const weights = bytes(4500, 2);
    // Weight data may arrive in several buffers (TF.js's WeightData); chunk boundaries need not match them.
    await cache.put('a', artifacts([weights.slice(0, 1700).buffer, weights.slice(1700).buffer]));
    expect(await db.count('backboneChunks')).toBe(5);
    const got = await cache.get('a');
    expect(got).toMatchObject({ modelTopology: { class_name: 'Model' }, weightSpecs: [{ name: 'w' }], format: 'layers-model', generatedBy: 'test' });
    expect(new Uint8Array(got!.weightData as ArrayBuffer)).toEqual(weights);
    await cache.put('b', artifacts(bytes(10, 3).buffer));
    await cache.put('a', artifacts(bytes(1200, 4).buffer));
    expect(await db.count('backboneChunks')).toBe(3);
    expect(new Uint8Array((await cache.get('a'))!.weightData as ArrayBuffer)).toEqual(bytes(1200, 4));
    expect(new Uint8Array((await cache.get('b'))!.weightData as ArrayBuffer)).toEqual(bytes(10, 3));
    db.close();
  });

  it('refuses weights that do not fit, and on a QuotaExceededError mid-write keeps the entry it had', async () => {
    const db = await openStudioDB('backbone-quota-test');
    await idbBackboneCache(db, 1000).put('a', artifacts(bytes(2500, 6).buffer));
    const tight = idbBackboneCache(db, 1000, async () => ({ usage: 0, quota: 3999 }));
    await expect(tight.put('a', artifacts(bytes(4000, 7).buffer))).rejects.toThrow(/^cannot save backbone a: it needs 0\.0 MB but only 0\.0 MB of the 0\.0 MB this site may use is free/);

    const roomy = idbBackboneCache(db, 1000, async () => ({ usage: 0, quota: 1e9 }));
    // The third chunk finds the disk full, after the old chunks were deleted and two new ones written.
    const writes = await withFullDisk('backboneChunks', 3, async () => {
      const err = await roomy.put('a', artifacts(bytes(4000, 7).buffer)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageFullError);
      expect((err as Error).message).toBe("the browser's storage for this site is full, so backbone a was not saved; what was stored before is intact. Free space by deleting old runs or model versions");
    });
    expect(writes).toBe(3);
    expect(new Uint8Array((await roomy.get('a'))!.weightData as ArrayBuffer)).toEqual(bytes(2500, 6));
    expect(await db.count('backboneChunks')).toBe(3);
    db.close();
  });

  it('treats a missing or damaged entry as a miss', async () => {
    const db = await openStudioDB('backbone-miss-test');
    const cache = idbBackboneCache(db, 1000);
    expect(await cache.get('nothing')).toBeUndefined();
    await cache.put('a', artifacts(bytes(2500, 5).buffer));
    await db.delete('backboneChunks', ['a', 1]);
    expect(await cache.get('a')).toBeUndefined();
    db.close();
  });
});
