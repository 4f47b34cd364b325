/** The runs page's state: the stored runs and what can be done with them, through the Engine interface only. */
import { eventSink, type EngineProxy } from '../engine/client';
import type { ClusterRunFiles, CrossValidationEvent, CrossValidationResult, ExportedFile, RecipeFile, RunComparison, RunRecord, TrainConfig } from '../engine/types';
import { describeError, type ShownError } from './shown-error';

export class RunsState {
  runs = $state.raw<RunRecord[]>([]);
  error = $state<ShownError | null>(null);
  /** What the last import did, in words. */
  notice = $state<string | null>(null);
  /** A file refused because its run id is taken: kept so the user can import it as a copy. */
  clash = $state.raw<{ bytes: Uint8Array; name: string } | null>(null);
  comparison = $state.raw<RunComparison[] | null>(null);

  crossval = $state<{ id: string; folds: number; fold: number; step: string } | null>(null);
  crossvalResult = $state.raw<CrossValidationResult | null>(null);
  crossvalError = $state<ShownError | null>(null);

  constructor(private readonly engine: EngineProxy) {}

  async refresh(): Promise<void> {
    this.runs = await this.engine.runs();
  }

  private async attempt<T>(work: () => Promise<T>): Promise<T | undefined> {
    this.error = null;
    try {
      return await work();
    } catch (err) {
      this.error = describeError(err);
      return undefined;
    }
  }

  async remove(runId: string): Promise<void> {
    await this.attempt(() => this.engine.deleteRun(runId));
    this.comparison = this.comparison?.some((c) => c.runId === runId) ? null : this.comparison;
    await this.refresh();
  }

  exportRun(runId: string): Promise<ExportedFile | undefined> {
    return this.attempt(() => this.engine.exportRun(runId));
  }

  /** "Train at scale": the run's PyTorch recipe files; split.csv by path only with `fileNames` (the user's consent). */
  exportRecipe(runId: string, fileNames: boolean): Promise<RecipeFile[] | undefined> {
    return this.attempt(() => this.engine.exportRecipe(runId, { fileNames }));
  }

  /** Imports a run file; an id clash keeps the file for "import as a copy". */
  async importFile(bytes: Uint8Array, name: string, onClash: 'refuse' | 'rename' = 'refuse'): Promise<RunRecord | undefined> {
    this.notice = null;
    this.clash = null;
    const run = await this.attempt(() => this.engine.importRun(bytes, { onClash, name }));
    if (!run && this.error?.detail === 'E_EXISTS') this.clash = { bytes, name };
    if (run) {
      const original = run.imported?.originalRunId;
      this.notice = original && original !== run.runId ? `Imported ${name} as ${run.runId} (run ${original} was already here).` : `Imported ${name} as ${run.runId}.`;
      await this.refresh();
    }
    return run;
  }

  /**
   * Brings back a model trained on a cluster from run `sourceRunId`'s exported recipe (see Engine.importClusterRun):
   * the new run is listed, and compared with its browser run at once.
   */
  async importCluster(sourceRunId: string, files: ClusterRunFiles): Promise<RunRecord | undefined> {
    this.notice = null;
    const run = await this.attempt(() => this.engine.importClusterRun(sourceRunId, files));
    if (run) {
      const c = run.cluster!;
      this.notice = `Brought back ${run.runId}: trained with PyTorch DDP on ${c.worldSize} × ${c.device} (torch ${c.torch}), ${run.epochs.length} epochs, best validation accuracy ${run.best ? `${(run.best.valAccuracy * 100).toFixed(1)} %` : 'n/a'}. Compared with run ${sourceRunId} below; open it to evaluate it on the test split or register it.`;
      await this.refresh();
      await this.compare([sourceRunId, run.runId]);
    }
    return run;
  }

  async compare(runIds: string[]): Promise<void> {
    const rows = await this.attempt(() => this.engine.compareRuns(runIds));
    if (rows) this.comparison = rows;
  }

  async crossValidate(config: TrainConfig, folds: number, onEvent?: (e: CrossValidationEvent) => void): Promise<CrossValidationResult> {
    this.crossvalError = null;
    this.crossvalResult = null;
    try {
      const result = await this.engine.crossValidate(
        { config, folds },
        eventSink((e: CrossValidationEvent) => {
          if (e.type === 'start') this.crossval = { id: e.id, folds: e.folds, fold: 1, step: 'starting' };
          else if (this.crossval && e.type === 'train' && e.event.type === 'epoch') this.crossval = { ...this.crossval, fold: e.fold, step: `training, epoch ${e.event.metrics.epoch} of ${config.epochs}` };
          else if (this.crossval && e.type === 'evaluate' && e.event.type === 'start') this.crossval = { ...this.crossval, fold: e.fold, step: 'evaluating on the held-out fold' };
          else if (e.type === 'fold') this.crossvalResult = { id: this.crossval?.id ?? '', folds, status: 'completed', model: config.model, results: [...(this.crossvalResult?.results ?? []), e.result], accuracy: null, macroF1: null };
          onEvent?.(e);
        }),
      );
      this.crossvalResult = result;
      return result;
    } catch (err) {
      this.crossvalError = describeError(err);
      throw err;
    } finally {
      this.crossval = null;
      await this.refresh();
    }
  }

  async cancelCrossValidation(): Promise<void> {
    if (this.crossval) await this.engine.cancel(this.crossval.id);
  }
}
