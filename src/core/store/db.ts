/**
 * The studio's IndexedDB database. One versioned schema; each version's upgrade step is additive, so a
 * returning user's data survives every release. Works in the page, in the worker, and in Node (fake-indexeddb).
 */
import type * as tf from '@tensorflow/tfjs';
import { openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames } from 'idb';
import type { SplitManifest } from '../dataset/split';
import type { ChannelStats } from '../dataset/stats';
import type { EvaluationRecord } from '../metrics/evaluation';
import type { ZooEntry } from '../models/zoo';
import type { BackendMeasurement, RunRecord } from '../train/types';
import type { AuditEntry, ModelVersion, StoredCheckpoint, StoredChunk, StoredModelFile } from './records';

export interface StoredStats extends ChannelStats {
  splitId: string;
  fingerprint: string;
  computedAt: string;
}

export const DB_NAME = 'mri-studio';
export const DB_VERSION = 7;

export interface StoredSplit {
  splitId: string;
  fingerprint: string;
  name: string;
  manifest: SplitManifest;
  /** SHA-256 (hex) of each manifest path's file (absent from splits stored before it was kept), for recipes (src/core/recipe). */
  contentHashes?: Record<string, string>;
  savedAt: string;
}

/** A cached backbone's model artifacts less its weight bytes, which are in `backboneChunks`. */
export interface StoredBackbone {
  id: string;
  modelTopology: tf.io.ModelArtifacts['modelTopology'];
  weightSpecs: tf.io.WeightsManifestEntry[];
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  byteLength: number;
  chunkCount: number;
  savedAt: string;
  /** A backbone imported from an ONNX file: its zoo entry (the cache is its only copy). */
  imported?: ZooEntry;
}

export interface StudioSchema extends DBSchema {
  runs: { key: string; value: RunRecord; indexes: { startedAt: string } };
  /** Normalisation statistics of a training split, keyed by splitId (dataset fingerprint + split settings). */
  stats: { key: string; value: StoredStats };
  /** Split manifests (file → split) of imported datasets, keyed by splitId. */
  splits: { key: string; value: StoredSplit };
  /** The last picked folder handle (File System Access), so a returning user re-grants instead of picking again. */
  folders: { key: string; value: { id: string; name: string; handle: unknown; savedAt: string } };
  /** Downloaded pretrained backbones by model id (see backbones.ts). */
  backbones: { key: string; value: StoredBackbone };
  /** Their weight bytes in chunks of at most 4 MB, keyed by [model id, chunk index]. */
  backboneChunks: { key: [string, number]; value: ArrayBuffer };
  /** Training checkpoints (see checkpoints.ts): the record, keyed by `${runId}/${kind}[/${epoch}]`. */
  checkpoints: { key: string; value: StoredCheckpoint; indexes: { runId: string } };
  /** Their tensor bytes, in chunks of at most 4 MB, keyed by [checkpoint id, chunk index]. */
  checkpointChunks: { key: [string, number]; value: StoredChunk };
  /** Registered model versions (see registry/registry.ts), keyed by `name@version`. */
  models: { key: string; value: ModelVersion; indexes: { name: string } };
  /** Their exported TF.js files (model.json, weight shards of at most 4 MB, metadata.json), keyed by [id, path]. */
  modelFiles: { key: [string, string]; value: StoredModelFile };
  /** The latest evaluation of each run (metrics, medical validation, per-image predictions), keyed by runId. */
  evaluations: { key: string; value: EvaluationRecord };
  /** The opt-in log of predictions made with registered models (see audit.ts), keyed by an increasing number. */
  predictionAudit: { key: number; value: AuditEntry };
  /** Timed backend choices (see measurements.ts), keyed by adapter, model, strategy, input and batch (measurementKey). */
  backendMeasurements: { key: string; value: BackendMeasurement };
}

export type StudioDB = IDBPDatabase<StudioSchema>;

/** A read-write transaction over stores that include `checkpoints` and `checkpointChunks`. */
export type WriteTx = IDBPTransaction<StudioSchema, StoreNames<StudioSchema>[], 'readwrite'>;

export function openStudioDB(name = DB_NAME): Promise<StudioDB> {
  return openDB<StudioSchema>(name, DB_VERSION, {
    upgrade(db, oldVersion) {
      if (oldVersion < 1) {
        const runs = db.createObjectStore('runs', { keyPath: 'runId' });
        runs.createIndex('startedAt', 'startedAt');
      }
      if (oldVersion < 2) {
        db.createObjectStore('stats', { keyPath: 'splitId' });
        db.createObjectStore('splits', { keyPath: 'splitId' });
        db.createObjectStore('folders', { keyPath: 'id' });
      }
      if (oldVersion < 3) {
        db.createObjectStore('backbones', { keyPath: 'id' });
        db.createObjectStore('backboneChunks');
      }
      if (oldVersion < 4) {
        db.createObjectStore('checkpoints', { keyPath: 'id' }).createIndex('runId', 'runId');
        db.createObjectStore('checkpointChunks', { keyPath: ['checkpointId', 'index'] });
      }
      if (oldVersion < 5) {
        db.createObjectStore('models', { keyPath: 'id' }).createIndex('name', 'name');
        db.createObjectStore('modelFiles', { keyPath: ['versionId', 'path'] });
        db.createObjectStore('evaluations', { keyPath: 'runId' });
      }
      if (oldVersion < 6) {
        db.createObjectStore('predictionAudit', { keyPath: 'id', autoIncrement: true });
      }
      if (oldVersion < 7) {
        db.createObjectStore('backendMeasurements', { keyPath: 'key' });
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

/**
 * Deletes a run with its checkpoints and its evaluation in one transaction: all of it goes, or (on any failure)
 * none. Registered model versions keep their own copy of the weights (registry.ts), so they stay. False when absent.
 */
export async function deleteRun(db: StudioDB, runId: string): Promise<boolean> {
  const tx = db.transaction(['runs', 'checkpoints', 'checkpointChunks', 'evaluations'], 'readwrite') as unknown as WriteTx;
  if (!(await tx.objectStore('runs').get(runId))) {
    await tx.done;
    return false;
  }
  await deleteCheckpointsIn(tx, runId);
  await tx.objectStore('evaluations').delete(runId);
  await tx.objectStore('runs').delete(runId);
  await tx.done;
  return true;
}

/** Deletes a run's checkpoints in the caller's transaction (deleting a run takes its checkpoints in the same one). */
export async function deleteCheckpointsIn(tx: WriteTx, runId: string): Promise<void> {
  const records = await tx.objectStore('checkpoints').index('runId').getAll(runId);
  for (const r of records) {
    await tx.objectStore('checkpointChunks').delete(IDBKeyRange.bound([r.id, 0], [r.id, Infinity]));
    await tx.objectStore('checkpoints').delete(r.id);
  }
}

export async function saveStats(db: StudioDB, stats: StoredStats): Promise<void> {
  await db.put('stats', stats);
}

export function getStats(db: StudioDB, splitId: string): Promise<StoredStats | undefined> {
  return db.get('stats', splitId);
}

const LAST_FOLDER = 'last';

export async function rememberFolder(db: StudioDB, name: string, handle: unknown): Promise<void> {
  await db.put('folders', { id: LAST_FOLDER, name, handle, savedAt: new Date().toISOString() });
}

export async function lastFolder(db: StudioDB): Promise<unknown | null> {
  return (await db.get('folders', LAST_FOLDER))?.handle ?? null;
}

export async function saveSplit(db: StudioDB, split: StoredSplit): Promise<void> {
  await db.put('splits', split);
}

export function getSplit(db: StudioDB, splitId: string): Promise<StoredSplit | undefined> {
  return db.get('splits', splitId);
}

export async function saveEvaluation(db: StudioDB, evaluation: EvaluationRecord): Promise<void> {
  await db.put('evaluations', evaluation);
}

export function getEvaluation(db: StudioDB, runId: string): Promise<EvaluationRecord | undefined> {
  return db.get('evaluations', runId);
}
