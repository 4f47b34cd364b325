/**
 * Training checkpoints in IndexedDB: model weights, optimiser state, the trainer's callback state, metrics and
 * config, enough to resume a run after a reload or to load its best epoch.
 *
 * Tensors are packed into one byte stream and stored as chunks of at most CHUNK_BYTES in their own store: one
 * structured-clone value of a whole fine-tuned network (tens of MB, more with Adam's two slots per weight) is
 * slow to write and can fail outright in some browsers.
 *
 * Weights are keyed by their name within the model (`conv1/kernel`), not by TF.js's variable name
 * (`conv1/kernel_3` for the fourth model built in this page): a model rebuilt after a reload, or a second one
 * built in the same worker, gets new variable names, and its optimiser state has to follow it.
 */
import * as tf from '@tensorflow/tfjs';
import type { BestCheckpoint } from '../train/callbacks';
import type { CheckpointKind, TrainerState } from '../train/trainer';
import type { EpochMetrics } from '../train/types';
import { browserEstimate, commitOrAbort, writeWithinQuota, type EstimateFn } from '../registry/quota';
import { deleteCheckpointsIn, type StudioDB, type WriteTx } from './db';
import type { CheckpointMeta, StoredCheckpoint, TensorEntry } from './records';

export type { StoredCheckpoint, StoredChunk, TensorEntry } from './records';

/** Chunk size: well under every browser's per-value comfort zone, and few enough chunks for a large network. */
export const CHUNK_BYTES = 4 * 1024 * 1024;

export interface NamedArray {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
}

/** A checkpoint in memory: plain arrays, no tensors, so holding one leaks nothing on the backend. */
export interface Checkpoint extends CheckpointMeta {
  weights: NamedArray[];
  optimizer: NamedArray[];
}

export function checkpointId(runId: string, kind: CheckpointKind, epoch: number): string {
  return kind === 'periodic' ? `${runId}/${kind}/${epoch}` : `${runId}/${kind}`;
}

/**
 * Stable keys for a model's weights: the name within the model, with `#k` appended to the k-th repeat in the
 * rare model (nested sub-models) where two weights share one.
 */
function weightKeys(model: tf.LayersModel): { key: string; variable: tf.LayerVariable }[] {
  const seen = new Map<string, number>();
  return model.weights.map((variable) => {
    const n = seen.get(variable.originalName) ?? 0;
    seen.set(variable.originalName, n + 1);
    return { key: n === 0 ? variable.originalName : `${variable.originalName}#${n}`, variable };
  });
}

async function toArray(name: string, t: tf.Tensor): Promise<NamedArray> {
  if (t.dtype !== 'float32' && t.dtype !== 'int32') throw new TypeError(`cannot checkpoint "${name}" of dtype ${t.dtype}`);
  // A copy: the CPU backend hands out its own buffer, which must not end up shared with a stored checkpoint.
  return { name, shape: [...t.shape], dtype: t.dtype, data: ((await t.data()) as Float32Array | Int32Array).slice() };
}

/**
 * Optimiser state names are `<variable>/<slot>` (TF.js's optimisers and ours alike) plus `iter`; the variable part
 * is rewritten through `rename`, and an entry whose variable is not in the map keeps its name.
 */
function renameState(name: string, rename: Map<string, string>): string {
  const cut = name.lastIndexOf('/');
  const owner = cut < 0 ? undefined : rename.get(name.slice(0, cut));
  return owner === undefined ? name : `${owner}${name.slice(cut)}`;
}

export type CaptureMeta = Omit<CheckpointMeta, 'savedAt' | 'optimizerClass'>;

/** Reads the model's weights and the optimiser's state back from the backend (async reads, no blocking). */
export async function captureCheckpoint(model: tf.LayersModel, optimizer: tf.Optimizer, meta: CaptureMeta): Promise<Checkpoint> {
  const keys = weightKeys(model);
  const weights = await Promise.all(keys.map(({ key, variable }) => toArray(key, variable.read())));
  const toKey = new Map(keys.map(({ key, variable }) => [variable.name, key]));
  const state = await optimizer.getWeights();
  try {
    const optimizerState = await Promise.all(state.map(({ name, tensor }) => toArray(renameState(name, toKey), tensor)));
    return { ...meta, savedAt: new Date().toISOString(), optimizerClass: optimizer.getClassName(), weights, optimizer: optimizerState };
  } finally {
    // The slots are the optimiser's own variables; only the tensors getWeights made for us (the step count) are ours.
    tf.dispose(state.map((s) => s.tensor).filter((t) => !(t instanceof tf.Variable)));
  }
}

/**
 * Puts the checkpoint's weights into `model` and its state into `optimizer` (the same architecture and the same
 * optimiser class, freshly built). Returns the trainer state, whose epoch + 1 is the run's `startEpoch`.
 */
export async function restoreCheckpoint(model: tf.LayersModel, optimizer: tf.Optimizer, ckpt: Checkpoint): Promise<TrainerState> {
  if (optimizer.getClassName() !== ckpt.optimizerClass) throw new Error(`the checkpoint's optimiser is ${ckpt.optimizerClass}, not ${optimizer.getClassName()}`);
  const stored = new Map(ckpt.weights.map((w) => [w.name, w]));
  const keys = weightKeys(model);
  const missing = keys.filter(({ key }) => !stored.has(key)).map(({ key }) => key);
  if (missing.length > 0 || keys.length !== stored.size) throw new Error(`the checkpoint does not fit this model${missing.length > 0 ? `: it lacks ${missing.slice(0, 3).join(', ')}` : ''}`);
  for (const { key, variable } of keys) {
    const w = stored.get(key)!;
    if (w.shape.join('x') !== variable.shape.join('x')) throw new Error(`checkpoint weight ${key} is ${w.shape.join('×')}, the model's is ${variable.shape.join('×')}`);
  }
  const fromKey = new Map(keys.map(({ key, variable }) => [key, variable.name]));
  const weights = keys.map(({ key }) => tf.tensor(stored.get(key)!.data, stored.get(key)!.shape, stored.get(key)!.dtype));
  const state = ckpt.optimizer.map((s) => ({ name: renameState(s.name, fromKey), tensor: tf.tensor(s.data, s.shape, s.dtype) }));
  try {
    model.setWeights(weights);
    // setWeights copies the tensors into the optimiser's own variables; ours are disposed below.
    await optimizer.setWeights(state);
  } finally {
    tf.dispose([...weights, ...state.map((s) => s.tensor)]);
  }
  return { ...ckpt.trainer };
}

function pack(arrays: NamedArray[], start: number): { entries: TensorEntry[]; end: number } {
  let offset = start;
  const entries = arrays.map(({ name, shape, dtype, data }) => {
    const entry = { name, shape, dtype, offset, byteLength: data.byteLength };
    offset += data.byteLength;
    return entry;
  });
  return { entries, end: offset };
}

/**
 * Writes (or replaces) the checkpoint in one transaction: a reader sees the old one or the new one, never half. A
 * checkpoint the storage estimate says will not fit, or one the browser refuses for quota, is a StorageFullError
 * and the previous checkpoint stays as it was.
 */
export async function saveCheckpoint(db: StudioDB, ckpt: Checkpoint, estimate: EstimateFn | undefined = browserEstimate()): Promise<StoredCheckpoint> {
  const id = checkpointId(ckpt.runId, ckpt.kind, ckpt.epoch);
  const w = pack(ckpt.weights, 0);
  const o = pack(ckpt.optimizer, w.end);
  const bytes = new Uint8Array(o.end);
  for (const [arrays, entries] of [[ckpt.weights, w.entries], [ckpt.optimizer, o.entries]] as const) {
    arrays.forEach((a, i) => bytes.set(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength), entries[i].offset));
  }
  const chunkCount = Math.ceil(o.end / CHUNK_BYTES);
  const record: StoredCheckpoint = {
    id,
    runId: ckpt.runId,
    kind: ckpt.kind,
    epoch: ckpt.epoch,
    savedAt: ckpt.savedAt,
    metrics: ckpt.metrics,
    config: ckpt.config,
    trainer: ckpt.trainer,
    optimizerClass: ckpt.optimizerClass,
    weights: w.entries,
    optimizer: o.entries,
    byteLength: o.end,
    chunkCount,
  };
  await writeWithinQuota(`the ${ckpt.kind} checkpoint of epoch ${ckpt.epoch}`, o.end, estimate, () => {
    const tx = db.transaction(['checkpoints', 'checkpointChunks'], 'readwrite') as unknown as WriteTx;
    return commitOrAbort(tx, () => putCheckpoint(tx, record, bytes));
  });
  return record;
}

/** Writes a checkpoint record and its packed bytes (replacing any under its id) in the caller's transaction. */
export async function putCheckpoint(tx: WriteTx, record: StoredCheckpoint, bytes: Uint8Array): Promise<void> {
  const chunks = tx.objectStore('checkpointChunks');
  await chunks.delete(IDBKeyRange.bound([record.id, 0], [record.id, Infinity]));
  for (let i = 0; i < record.chunkCount; i++) {
    await chunks.put({ checkpointId: record.id, index: i, data: bytes.slice(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES).buffer });
  }
  await tx.objectStore('checkpoints').put(record);
}

function unpack(bytes: Uint8Array, entries: TensorEntry[]): NamedArray[] {
  return entries.map(({ name, shape, dtype, offset, byteLength }) => {
    // Copied out so that each array owns an aligned buffer (offsets need not be multiples of 4 across entries).
    const buffer = bytes.slice(offset, offset + byteLength).buffer;
    return { name, shape, dtype, data: dtype === 'int32' ? new Int32Array(buffer) : new Float32Array(buffer) };
  });
}

/** The checkpoint of a run by kind ('best', 'last'), or a periodic one by epoch; undefined when there is none. */
export async function loadCheckpoint(db: StudioDB, runId: string, kind: CheckpointKind, epoch = 0): Promise<Checkpoint | undefined> {
  const stored = await checkpointBytes(db, checkpointId(runId, kind, epoch));
  if (!stored) return undefined;
  const { record, bytes } = stored;
  return {
    runId: record.runId,
    kind: record.kind,
    epoch: record.epoch,
    savedAt: record.savedAt,
    metrics: record.metrics,
    config: record.config,
    trainer: record.trainer,
    optimizerClass: record.optimizerClass,
    weights: unpack(bytes, record.weights),
    optimizer: unpack(bytes, record.optimizer),
  };
}

/** A run's checkpoint records (no tensor bytes), oldest epoch first. */
export async function listCheckpoints(db: StudioDB, runId: string): Promise<StoredCheckpoint[]> {
  const records = await db.getAllFromIndex('checkpoints', 'runId', runId);
  return records.sort((a, b) => a.epoch - b.epoch);
}

/** A checkpoint's record and its packed tensor bytes (the chunks joined), or undefined when there is none. */
export async function checkpointBytes(db: StudioDB, id: string): Promise<{ record: StoredCheckpoint; bytes: Uint8Array } | undefined> {
  const tx = db.transaction(['checkpoints', 'checkpointChunks'], 'readonly');
  const record = await tx.objectStore('checkpoints').get(id);
  if (!record) return undefined;
  const chunks = await tx.objectStore('checkpointChunks').getAll(IDBKeyRange.bound([id, 0], [id, Infinity]));
  await tx.done;
  if (chunks.length !== record.chunkCount) throw new Error(`checkpoint ${id} is incomplete: ${chunks.length} of ${record.chunkCount} chunks`);
  const bytes = new Uint8Array(record.byteLength);
  // getAll returns keys in order, and [id, index] keys sort by index.
  chunks.forEach((c, i) => bytes.set(new Uint8Array(c.data), i * CHUNK_BYTES));
  return { record, bytes };
}

export async function deleteCheckpoints(db: StudioDB, runId: string): Promise<void> {
  const tx = db.transaction(['checkpoints', 'checkpointChunks'], 'readwrite') as unknown as WriteTx;
  await deleteCheckpointsIn(tx, runId);
  await tx.done;
}

/**
 * The trainer's `checkpoint` option wired to this store: each save captures the model and optimiser and writes
 * the record. `config` is stored with every checkpoint so a resumed run can rebuild what it trained.
 */
export function checkpointToStore(db: StudioDB, model: tf.LayersModel, optimizer: tf.Optimizer, run: { runId: string; config: unknown; best: BestCheckpoint }) {
  return {
    best: run.best,
    save: async (kind: CheckpointKind, epoch: number, metrics: EpochMetrics, trainer: TrainerState): Promise<void> => {
      await saveCheckpoint(db, await captureCheckpoint(model, optimizer, { runId: run.runId, kind, epoch, metrics, config: run.config, trainer }));
    },
  };
}
