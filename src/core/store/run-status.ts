/**
 * Stale run statuses. A run is stored as `running` (or `paused`) while a worker trains it, and that worker holds
 * the run's lock (src/engine/live-runs.ts). A run in one of those states whose lock nobody holds was cut off — a
 * reload, a closed tab, a crash, a dead worker — and is stored as `interrupted`, so the list never says `running`
 * about a run no one trains.
 */
import type { RunRecord } from '../train/types';
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
  const tx = db.transaction('runs', 'readwrite');
  const marked = new Map<string, RunRecord>();
  for (const { runId } of stale) {
    const now = await tx.store.get(runId);
    if (!now || !isLiveStatus(now.status)) {
      if (now) marked.set(runId, now);
      continue;
    }
    // endedAt stays as it was: when the worker went away is not known, only that it did.
    const run: RunRecord = { ...now, status: 'interrupted' };
    await tx.store.put(run);
    marked.set(runId, run);
  }
  await tx.done;
  return runs.map((r) => marked.get(r.runId) ?? r);
}
