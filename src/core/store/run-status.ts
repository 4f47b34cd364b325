/**
 * Stale run statuses. A run is stored as `running` (or `paused`) while a worker trains it, and that worker holds
 * the run's lock (src/engine/live-runs.ts). A run in one of those states whose lock nobody holds was cut off — a
 * reload, a closed tab, a crash, a dead worker — and is stored as `interrupted`, so the list never says `running`
 * about a run no one trains.
 */
import type { EpochMetrics, RunRecord } from '../train/types';
import { checkpointId, type StoredCheckpoint } from './checkpoints';
import type { StudioDB } from './db';

export const isLiveStatus = (status: RunRecord['status']): boolean => status === 'running' || status === 'paused';

/** The runs marked live whose lock is not held (`live`: the run ids whose lock is held now). */
export function staleRuns(runs: readonly RunRecord[], live: ReadonlySet<string>): RunRecord[] {
  return runs.filter((r) => isLiveStatus(r.status) && !live.has(r.runId));
}

/**
 * Stores each stale run of `runs` as `interrupted` and returns the list as stored. `heldRunIds` must be asked AFTER
 * `runs` was read: a run's lock is taken before its record says `running` and freed after its last write, so a run
 * read as live whose lock is free afterwards has either ended (its record, re-read in the write transaction, no
 * longer says live, and is kept) or was cut off.
 */
export async function markInterrupted(db: StudioDB, runs: RunRecord[], heldRunIds: () => Promise<ReadonlySet<string>>): Promise<RunRecord[]> {
  if (!runs.some((r) => isLiveStatus(r.status))) return runs;
  const stale = staleRuns(runs, await heldRunIds());
  if (stale.length === 0) return runs;
  const tx = db.transaction(['runs', 'checkpoints'], 'readwrite');
  const runsStore = tx.objectStore('runs');
  const checkpoints = tx.objectStore('checkpoints');
  const marked = new Map<string, RunRecord>();
  for (const { runId } of stale) {
    const now = await runsStore.get(runId);
    if (!now || !isLiveStatus(now.status)) {
      if (now) marked.set(runId, now);
      continue;
    }
    const [last, best] = await Promise.all([checkpoints.get(checkpointId(runId, 'last', 0)), checkpoints.get(checkpointId(runId, 'best', 0))]);
    // endedAt stays as it was: when the worker went away is not known, only that it did.
    const run: RunRecord = withStoredCheckpoints({ ...now, status: 'interrupted' }, last, best);
    await runsStore.put(run);
    marked.set(runId, run);
  }
  await tx.done;
  return runs.map((r) => marked.get(r.runId) ?? r);
}

/**
 * The run as its stored checkpoints say it stood. An epoch's checkpoints are written before its record (see the
 * trainer): a worker cut off between the two leaves a record one epoch behind the checkpoint a resume continues
 * from, so that epoch's metrics, and the checkpoint epochs, are taken from the checkpoints themselves.
 */
export function withStoredCheckpoints(run: RunRecord, last: StoredCheckpoint | undefined, best: StoredCheckpoint | undefined): RunRecord {
  if (!last || last.epoch <= (run.checkpoint.last ?? 0)) return run;
  const epochs = run.epochs.some((m) => m.epoch === last.epoch) ? run.epochs : [...run.epochs.filter((m) => m.epoch < last.epoch), checkpointMetrics(run, last.metrics)];
  const newBest = best && best.epoch !== run.checkpoint.best ? best : null;
  return {
    ...run,
    epochs,
    checkpoint: { last: last.epoch, best: newBest ? newBest.epoch : run.checkpoint.best },
    ...(newBest ? { best: { epoch: newBest.epoch, valAccuracy: newBest.metrics.valAccuracy } } : {}),
  };
}

/** A checkpoint's metrics as the run's record holds them: with the name of the phase they were trained in. */
export function checkpointMetrics(run: Pick<RunRecord, 'phases'>, metrics: EpochMetrics): EpochMetrics {
  const phase = run.phases?.find((p) => p.fromEpoch <= metrics.epoch && metrics.epoch <= p.toEpoch);
  return phase ? { ...metrics, phase: phase.name } : metrics;
}
