/**
 * One run as one file, and back: a zip (fflate) holding `run.json` (the run record, its evaluation, its dataset's
 * split manifest and statistics when stored, the checkpoint records) and each checkpoint's packed tensor bytes
 * (weights and optimiser state, exactly as `checkpointChunks` holds them joined) under `checkpoints/`.
 *
 * Import checks the whole file before it writes, then writes everything in one transaction: a bad, foreign or
 * newer file, or a clash refused, changes nothing.
 */
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import type { EvaluationRecord } from '../metrics/evaluation';
import { checkQuota, isQuotaError, type StorageEstimateLike } from '../registry/quota';
import type { RunRecord } from '../train/types';
import { checkpointBytes, checkpointId, CHUNK_BYTES, listCheckpoints, putCheckpoint, type StoredCheckpoint, type TensorEntry } from './checkpoints';
import { getEvaluation, getRun, getSplit, getStats, type StoredSplit, type StoredStats, type StudioDB, type WriteTx } from './db';

export const RUN_FILE_FORMAT = 'mri-studio-run';
/** Bumped when a reader of an older version could not read the file; a newer file is refused with that reason. */
export const RUN_FILE_VERSION = 1;

export interface RunFile {
  format: typeof RUN_FILE_FORMAT;
  version: number;
  exportedAt: string;
  run: RunRecord;
  evaluation: EvaluationRecord | null;
  /** A folder run's split manifest and training-split statistics, so the split can be checked after import. */
  split: StoredSplit | null;
  stats: StoredStats | null;
  /** Records as stored; `file` names each one's bytes in the zip. */
  checkpoints: (StoredCheckpoint & { file: string })[];
}

export type RunFileErrorCode = 'E_FORMAT' | 'E_VERSION' | 'E_EXISTS' | 'E_NOT_FOUND' | 'E_QUOTA';

export class RunFileError extends Error {
  constructor(
    readonly code: RunFileErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RunFileError';
  }
}

/** `run-…-best.mristudio-run.zip`: the file name a download gets. */
export const runFileName = (runId: string): string => `${runId}.mristudio-run.zip`;

export async function exportRunFile(db: StudioDB, runId: string): Promise<Uint8Array> {
  const run = await getRun(db, runId);
  if (!run) throw new RunFileError('E_NOT_FOUND', `there is no run ${runId}`);
  const files: Record<string, Uint8Array> = {};
  const checkpoints: RunFile['checkpoints'] = [];
  for (const record of await listCheckpoints(db, runId)) {
    const stored = await checkpointBytes(db, record.id);
    if (!stored) continue;
    const file = `checkpoints/${record.id.slice(runId.length + 1).replace(/\//g, '-')}.bin`;
    files[file] = stored.bytes;
    checkpoints.push({ ...stored.record, file });
  }
  const splitId = run.dataset?.splitId;
  const body: RunFile = {
    format: RUN_FILE_FORMAT,
    version: RUN_FILE_VERSION,
    exportedAt: new Date().toISOString(),
    run,
    evaluation: (await getEvaluation(db, runId)) ?? null,
    split: (splitId && (await getSplit(db, splitId))) || null,
    stats: (splitId && (await getStats(db, splitId))) || null,
    checkpoints,
  };
  files['run.json'] = strToU8(JSON.stringify(body));
  // Tensor bytes barely compress; storing them keeps export and import fast.
  return zipSync(files, { level: 0 });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function entriesFit(entries: unknown, byteLength: number): entries is TensorEntry[] {
  return (
    Array.isArray(entries) &&
    entries.every(
      (e) =>
        isObject(e) &&
        typeof e.name === 'string' &&
        Array.isArray(e.shape) &&
        (e.dtype === 'float32' || e.dtype === 'int32') &&
        Number.isInteger(e.offset) &&
        Number.isInteger(e.byteLength) &&
        (e.offset as number) >= 0 &&
        (e.offset as number) + (e.byteLength as number) <= byteLength &&
        (e.byteLength as number) === 4 * (e.shape as number[]).reduce((a, b) => a * b, 1),
    )
  );
}

/** Reads and checks a run file; every problem is a RunFileError naming what is wrong. Writes nothing. */
export function readRunFile(bytes: Uint8Array): { file: RunFile; blobs: Map<string, Uint8Array> } {
  const bad = (why: string): never => {
    throw new RunFileError('E_FORMAT', `not an MRI Studio run file: ${why}`);
  };
  let zip: Record<string, Uint8Array> = {};
  try {
    zip = unzipSync(bytes);
  } catch {
    bad('it is not a zip archive');
  }
  if (!zip['run.json']) bad('it has no run.json');
  let body: unknown;
  try {
    body = JSON.parse(strFromU8(zip['run.json']));
  } catch {
    bad('its run.json is not valid JSON');
  }
  if (!isObject(body) || body.format !== RUN_FILE_FORMAT) bad(`its run.json is not of format "${RUN_FILE_FORMAT}"`);
  const file = body as unknown as RunFile;
  if (!Number.isInteger(file.version) || file.version < 1) bad('its version is missing');
  if (file.version > RUN_FILE_VERSION) {
    throw new RunFileError('E_VERSION', `this run file was written by a newer MRI Studio (run file version ${file.version}; this studio reads up to ${RUN_FILE_VERSION}): update the studio to import it`);
  }
  const run = file.run as unknown;
  if (!isObject(run) || typeof run.runId !== 'string' || !run.runId || !isObject(run.config) || !Array.isArray(run.epochs) || !isObject(run.checkpoint) || typeof run.status !== 'string') bad('its run record is incomplete');
  if (file.evaluation !== null && (!isObject(file.evaluation) || file.evaluation.runId !== file.run.runId)) bad("its evaluation belongs to another run");
  if (!Array.isArray(file.checkpoints)) bad('its checkpoint list is missing');
  const blobs = new Map<string, Uint8Array>();
  for (const c of file.checkpoints) {
    if (!isObject(c) || c.runId !== file.run.runId || typeof c.file !== 'string' || !Number.isInteger(c.byteLength) || !Number.isInteger(c.epoch)) bad('a checkpoint record is damaged');
    const blob = zip[c.file];
    if (!blob) bad(`${c.file} is missing`);
    if (blob.byteLength !== c.byteLength) bad(`${c.file} holds ${blob.byteLength} bytes, its record says ${c.byteLength}`);
    if (!entriesFit(c.weights, c.byteLength) || !entriesFit(c.optimizer, c.byteLength)) bad(`${c.file}'s tensors do not fit its bytes`);
    blobs.set(c.file, blob);
  }
  for (const kind of ['best', 'last'] as const) {
    const epoch = file.run.checkpoint[kind];
    if (epoch != null && !file.checkpoints.some((c) => c.kind === kind && c.epoch === epoch)) bad(`the run's ${kind} checkpoint (epoch ${epoch}) is not in the file`);
  }
  return { file, blobs };
}

export interface ImportRunOptions {
  /** `refuse` (default): a run with the same id is an E_EXISTS error; `rename`: the import gets a new id. */
  onClash?: 'refuse' | 'rename';
  /** Where the file came from (its name), recorded on the run. */
  source?: string;
  /** navigator.storage.estimate, asked before writing. */
  estimate?: () => Promise<StorageEstimateLike>;
}

/** Imports a run file; returns the run as stored (with its new id when renamed). */
export async function importRunFile(db: StudioDB, bytes: Uint8Array, opts: ImportRunOptions = {}): Promise<RunRecord> {
  const { file, blobs } = readRunFile(bytes);
  const original = file.run.runId;
  let runId = original;
  if (await getRun(db, runId)) {
    if (opts.onClash !== 'rename') throw new RunFileError('E_EXISTS', `run ${runId} is already in this studio: import it as a copy (it gets a new id) or delete the existing run first`);
    for (let n = 1; await getRun(db, runId); n++) runId = `${original}-copy${n}`;
  }
  const run: RunRecord = { ...file.run, runId, imported: { at: new Date().toISOString(), from: opts.source ?? 'file', originalRunId: original } };
  const tooBig = opts.estimate ? checkQuota(bytes.byteLength, await opts.estimate()) : null;
  if (tooBig) throw new RunFileError('E_QUOTA', `run ${original} was not imported: ${tooBig}`);
  const tx = db.transaction(['runs', 'checkpoints', 'checkpointChunks', 'evaluations', 'splits', 'stats'], 'readwrite') as unknown as WriteTx;
  try {
    for (const { file: name, ...record } of file.checkpoints) {
      const id = checkpointId(runId, record.kind, record.epoch);
      await putCheckpoint(tx, { ...record, id, runId, chunkCount: Math.ceil(record.byteLength / CHUNK_BYTES) }, blobs.get(name)!);
    }
    if (file.evaluation) await tx.objectStore('evaluations').put({ ...file.evaluation, runId });
    // A split or statistics already stored under the same id came from the same dataset and settings: kept as is.
    if (file.split && !(await tx.objectStore('splits').get(file.split.splitId))) await tx.objectStore('splits').put(file.split);
    if (file.stats && !(await tx.objectStore('stats').get(file.stats.splitId))) await tx.objectStore('stats').put(file.stats);
    await tx.objectStore('runs').put(run);
    await tx.done;
  } catch (err) {
    // Aborting rolls back every write above; the transaction may already be aborted by the failed request.
    try {
      tx.abort();
    } catch {
      /* already finished */
    }
    if (isQuotaError(err)) throw new RunFileError('E_QUOTA', `run ${original} was not imported: the browser's storage for this site is full; delete old runs or model versions first`);
    throw err;
  }
  return run;
}
