import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { openStudioDB, saveRun, listRuns } from '../../src/core/store/db';
import { checkpointMetrics, markInterrupted, staleRuns } from '../../src/core/store/run-status';
import { lockedRunIds, runLockName } from '../../src/engine/live-runs';
import type { RunRecord } from '../../src/engine/types';
import type { EpochMetrics } from '../../src/core/train/types';
import type { StoredCheckpoint } from '../../src/core/store/checkpoints';

const run = (runId: string, status: RunRecord['status'], startedAt: string): RunRecord =>
  ({ runId, status, startedAt, endedAt: null, config: { epochs: 5 }, checkpoint: { best: 1, last: 1 }, epochs: [], best: null }) as unknown as RunRecord;

describe('stale run statuses', () => {
  it('a running or paused run nobody holds the lock of is stale; a held one, or one that ended, is not', () => {
    const runs = [run('a', 'running', '1'), run('b', 'paused', '2'), run('c', 'running', '3'), run('d', 'completed', '4'), run('e', 'cancelled', '5')];
    expect(staleRuns(runs, new Set(['c'])).map((r) => r.runId)).toEqual(['a', 'b']);
  });

  it('lock names map back to run ids; other locks are ignored', () => {
    expect(lockedRunIds([{ name: runLockName('run-1') }, { name: 'mri-studio-engine:x' }, {}])).toEqual(new Set(['run-1']));
  });

  it('stores stale runs as interrupted, keeps live ones, and does not overwrite a run that ended meanwhile', async () => {
    const db = await openStudioDB('run-status-test');
    await saveRun(db, run('cut', 'running', '2026-01-01'));
    await saveRun(db, run('live', 'running', '2026-01-02'));
    await saveRun(db, run('ends', 'running', '2026-01-03'));
    const read = await listRuns(db);
    // Between the read and the lock query, 'ends' completes and frees its lock: it must stay completed.
    const held = async () => {
      await saveRun(db, { ...read.find((r) => r.runId === 'ends')!, status: 'completed' });
      return new Set(['live']);
    };
    const listed = await markInterrupted(db, read, held);
    expect(Object.fromEntries(listed.map((r) => [r.runId, r.status]))).toEqual({ ends: 'completed', live: 'running', cut: 'interrupted' });
    expect((await db.get('runs', 'cut'))!.status).toBe('interrupted');
    expect((await db.get('runs', 'ends'))!.status).toBe('completed');
    expect((await db.get('runs', 'live'))!.status).toBe('running');
    db.close();
  });

  it('a run cut off between its checkpoint and its record takes that epoch from the checkpoints, so a resume redoes nothing and skips nothing', async () => {
    const db = await openStudioDB('run-status-checkpoint-test');
    const epoch1 = { epoch: 1, valAccuracy: 0.5 };
    const epoch2 = { epoch: 2, valAccuracy: 0.75 };
    await saveRun(db, { ...run('cut', 'running', '2026-01-01'), epochs: [epoch1], best: { epoch: 1, valAccuracy: 0.5 } } as unknown as RunRecord);
    // Epoch 2's checkpoints were written; the worker died before the record was.
    for (const kind of ['last', 'best'] as const) {
      await db.put('checkpoints', { id: `cut/${kind}`, runId: 'cut', kind, epoch: 2, metrics: epoch2 } as unknown as StoredCheckpoint);
    }
    const [cut] = await markInterrupted(db, await listRuns(db), async () => new Set());
    expect(cut.status).toBe('interrupted');
    expect(cut.epochs).toEqual([epoch1, epoch2]);
    expect(cut.checkpoint).toEqual({ last: 2, best: 2 });
    expect(cut.best).toEqual({ epoch: 2, valAccuracy: 0.75 });
    expect(await db.get('runs', 'cut')).toEqual(cut);
    db.close();
  });

  it('a metric taken from a checkpoint carries the name of the phase its epoch was trained in', () => {
    const phases = [{ name: 'probe', fromEpoch: 1, toEpoch: 1 }, { name: 'finetune', fromEpoch: 2, toEpoch: 3 }] as RunRecord['phases'];
    expect(checkpointMetrics({ phases }, { epoch: 2, valAccuracy: 0.5 } as EpochMetrics)).toEqual({ epoch: 2, valAccuracy: 0.5, phase: 'finetune' });
    expect(checkpointMetrics({}, { epoch: 2, valAccuracy: 0.5 } as EpochMetrics)).toEqual({ epoch: 2, valAccuracy: 0.5 });
  });
});
