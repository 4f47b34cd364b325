/**
 * The studio's IndexedDB database. One versioned schema; each version's upgrade step is additive, so a
 * returning user's data survives every release. Works in the page, in the worker, and in Node (fake-indexeddb).
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { RunRecord } from '../train/types';

export const DB_NAME = 'mri-studio';
export const DB_VERSION = 1;

export interface StudioSchema extends DBSchema {
  runs: { key: string; value: RunRecord; indexes: { startedAt: string } };
}

export type StudioDB = IDBPDatabase<StudioSchema>;

export function openStudioDB(name = DB_NAME): Promise<StudioDB> {
  return openDB<StudioSchema>(name, DB_VERSION, {
    upgrade(db, oldVersion) {
      if (oldVersion < 1) {
        const runs = db.createObjectStore('runs', { keyPath: 'runId' });
        runs.createIndex('startedAt', 'startedAt');
      }
    },
  });
}

export async function saveRun(db: StudioDB, run: RunRecord): Promise<void> {
  await db.put('runs', run);
}

export async function listRuns(db: StudioDB): Promise<RunRecord[]> {
  const runs = await db.getAllFromIndex('runs', 'startedAt');
  return runs.reverse();
}

export function getRun(db: StudioDB, runId: string): Promise<RunRecord | undefined> {
  return db.get('runs', runId);
}
