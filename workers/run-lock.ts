/**
 * The worker's side of "one writer per run" (see src/engine/live-runs.ts): the run's Web Lock is held for the whole
 * run, and its progress is announced to the other tabs. Without the Web Locks API (Node, in the unit tests) only
 * this engine's own runs can be known to be live, which is what a single process needs.
 */
import { EngineError } from '../src/engine/errors';
import { lockedRunIds, runLockName, RUNS_CHANNEL, type RunAnnouncement } from '../src/engine/live-runs';
import type { TrainEvent } from '../src/engine/types';

export class RunLocks {
  private readonly own = new Set<string>();
  private readonly channel = typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel(RUNS_CHANNEL);

  constructor(private readonly locks: LockManager | undefined = (globalThis.navigator as Navigator | undefined)?.locks) {}

  /** Runs `work` holding the run's lock; E_LOCKED at once, without waiting, when another tab or worker holds it. */
  async hold<T>(runId: string, work: () => Promise<T>): Promise<T> {
    const refuse = () => new EngineError('E_LOCKED', `run ${runId} is being trained in another tab or window of this studio; follow it there, or resume it here once that tab has closed`);
    if (!this.locks) {
      if (this.own.has(runId)) throw refuse();
      this.own.add(runId);
      try {
        return await work();
      } finally {
        this.own.delete(runId);
      }
    }
    return this.locks.request(runLockName(runId), { ifAvailable: true }, async (lock) => {
      if (!lock) throw refuse();
      return work();
    });
  }

  /** The ids of the runs some worker of this origin (any tab) is training now. */
  async held(): Promise<Set<string>> {
    if (!this.locks) return new Set(this.own);
    return lockedRunIds((await this.locks.query()).held ?? []);
  }

  /** Wraps a run's event callback so that the other tabs hear where the run is (see RunAnnouncement). */
  announce(onEvent: (e: TrainEvent) => void): (e: TrainEvent) => void {
    const channel = this.channel;
    if (!channel) return onEvent;
    let at: RunAnnouncement | null = null;
    return (e) => {
      onEvent(e);
      if (e.type === 'start') at = { runId: e.runId, state: 'running', epoch: (e.resumedFrom ?? 0) + 1, batch: 0, batchesPerEpoch: 0 };
      if (!at) return;
      if (e.type === 'batch') at = { ...at, epoch: e.epoch, batch: e.batch, batchesPerEpoch: e.batchesPerEpoch };
      if (e.type === 'epoch') at = { ...at, epoch: e.metrics.epoch + 1, batch: 0 };
      if (e.type === 'paused') at = { ...at, state: e.paused ? 'paused' : 'running' };
      if (e.type === 'done') at = { ...at, state: 'ended' };
      channel.postMessage(at);
    };
  }
}
