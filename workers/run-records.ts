/**
 * The stored runs as the engine offers them: listed (a stale live run marked interrupted), deleted, exported and
 * imported as run files, imported from a cluster, compared. Work on a run in flight is refused through the claims.
 */
import { compareRun } from '../src/core/metrics/compare';
import { browserEstimate } from '../src/core/registry/quota';
import { checkpointId } from '../src/core/store/checkpoints';
import { deleteRun, getEvaluation, getRun, listRuns, type StudioDB } from '../src/core/store/db';
import type { Zoo } from '../src/core/models/zoo';
import { exportRunFile, importRunFile, runFileName } from '../src/core/store/run-file';
import { markInterrupted } from '../src/core/store/run-status';
import type { RunRecord } from '../src/core/train/types';
import { EngineError } from '../src/engine/errors';
import type { BackendInfo, ClusterRunFiles, ExportedFile, RunComparison } from '../src/engine/types';
import type { Claims } from './claim';
import { importClusterRun } from './cluster-import';
import type { RunLocks } from './run-lock';

export interface RunRecordsHost {
  database(): Promise<StudioDB>;
  backend(): Promise<BackendInfo>;
  claims: Claims;
  /** The runs' Web Locks: which runs some tab trains now. */
  locks: RunLocks;
  zoo(): Promise<Zoo>;
}

export class RunRecords {
  constructor(private readonly host: RunRecordsHost) {}

  /** Every stored run, newest first; a run marked live that no worker trains any more is stored as `interrupted` first. */
  async list(): Promise<RunRecord[]> {
    const db = await this.host.database();
    return markInterrupted(db, await listRuns(db), () => this.host.locks.held());
  }

  async delete(runId: string): Promise<void> {
    this.host.claims.check('delete', runId);
    if ((await this.host.locks.held()).has(runId)) throw new EngineError('E_LOCKED', `run ${runId} is being trained in another tab or window; delete it when it has stopped`);
    if (!(await deleteRun(await this.host.database(), runId))) throw new EngineError('E_NOT_FOUND', `there is no run ${runId}`);
  }

  async export(runId: string): Promise<ExportedFile> {
    this.host.claims.check('export', runId);
    return { name: runFileName(runId), bytes: await exportRunFile(await this.host.database(), runId) };
  }

  async import(bytes: Uint8Array, opts: { onClash?: 'refuse' | 'rename'; name?: string } = {}): Promise<RunRecord> {
    return importRunFile(await this.host.database(), bytes, { onClash: opts.onClash, source: opts.name, estimate: browserEstimate() });
  }

  async importCluster(sourceRunId: string, files: ClusterRunFiles): Promise<RunRecord> {
    this.host.claims.check('cluster');
    // The weights are set through tensors, on whichever backend the engine uses.
    await this.host.backend();
    return importClusterRun(await this.host.database(), await this.host.zoo(), sourceRunId, files);
  }

  async compare(runIds: string[]): Promise<RunComparison[]> {
    const db = await this.host.database();
    return Promise.all(
      runIds.map(async (runId) => {
        const run = await getRun(db, runId);
        if (!run) throw new EngineError('E_NOT_FOUND', `there is no run ${runId}`);
        const kind = run.checkpoint.best != null ? 'best' : 'last';
        return compareRun(run, await getEvaluation(db, runId), await db.get('checkpoints', checkpointId(runId, kind, 0)));
      }),
    );
  }
}
