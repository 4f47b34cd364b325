/**
 * One writer per run, across tabs and windows. The worker that trains a run holds the Web Lock named by
 * `runLockName` for the whole run (the browser releases it when that worker ends, however it ends), and announces
 * the run's progress on the `RUNS_CHANNEL` BroadcastChannel. Every tab of the origin sees the same locks, so a run
 * whose status is still `running`/`paused` while nobody holds its lock was cut off: it is `interrupted`.
 * The names are shared by the worker (which takes the locks) and the UI (which watches them).
 */

const RUN_LOCK_PREFIX = 'mri-studio-run:';

export const runLockName = (runId: string): string => `${RUN_LOCK_PREFIX}${runId}`;

/** The run ids among held lock names (`navigator.locks.query().held`). */
export function lockedRunIds(held: readonly { name?: string }[]): Set<string> {
  return new Set(held.flatMap((l) => (l.name?.startsWith(RUN_LOCK_PREFIX) ? [l.name.slice(RUN_LOCK_PREFIX.length)] : [])));
}

export const RUNS_CHANNEL = 'mri-studio-runs';

/** What the training worker tells the other tabs about its run (cheap: no record, no metrics beyond position). */
export interface RunAnnouncement {
  runId: string;
  state: 'running' | 'paused' | 'ended';
  /** The epoch in progress (1-based) and the batch last finished in it; 0 before the first batch. */
  epoch: number;
  batch: number;
  batchesPerEpoch: number;
}

/** The worker's Web Lock, held for its whole life: the page learns of the worker's death when the lock is freed. */
export const workerLockName = (id: string): string => `mri-studio-engine:${id}`;

/** Messages the engine worker posts outside comlink's protocol (comlink ignores messages without its `id`). */
export type WorkerSignal = { mriStudio: 'alive' } | { mriStudio: 'lost'; reason: string };
