/**
 * The studio's UI state (Svelte 5 runes). It talks to the engine only through the `Engine` interface proxy;
 * it never imports TF.js or the core.
 */
import { EngineError } from '../engine/errors';
import { eventSink, type EngineProxy } from '../engine/client';
import type { BackendInfo, BackendName, Routing, ZooModel, DatasetSummary, EpochMetrics, FolderInput, FolderScan, ImportEvent, ImportOptions, RunRecord, TrainConfig, TrainEvent } from '../engine/types';

export type BackendChoice = BackendName | 'auto';
const BACKEND_KEY = 'mri-studio.backend';
const CHOICES: BackendChoice[] = ['auto', 'webgpu', 'webgl', 'wasm', 'cpu'];

export function isBackendChoice(v: string | null): v is BackendChoice {
  return v !== null && (CHOICES as string[]).includes(v);
}

/** `?backend=` wins over the saved setting, which wins over auto. */
export function initialBackend(search: string, saved: string | null): BackendChoice {
  const fromUrl = new URLSearchParams(search).get('backend');
  if (isBackendChoice(fromUrl)) return fromUrl;
  return isBackendChoice(saved) ? saved : 'auto';
}

export interface BatchPoint {
  step: number;
  loss: number;
}

/** What the user sees of an error: a sentence to act on, plus the technical detail behind a disclosure. */
export interface ShownError {
  code: string;
  message: string;
  detail?: string;
}

export function describeError(err: unknown): ShownError {
  if (err instanceof EngineError) return { code: err.code, message: err.message, detail: err.detail };
  return { code: 'E_INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

/** The run, when it stopped early (interrupted or cancelled) with a checkpoint to continue from. */
export function resumableRun(run: RunRecord): RunRecord | null {
  const stoppedEarly = (run.status === 'running' || run.status === 'cancelled') && (run.checkpoint?.last ?? 0) > 0;
  return stoppedEarly && run.checkpoint.last! < run.config.epochs ? run : null;
}

export class Studio {
  backend = $state<BackendInfo | null>(null);
  backendChoice = $state<BackendChoice>('auto');
  backendError = $state<ShownError | null>(null);
  switching = $state(false);
  /** Where the current (or last) run's work runs: auto mode routes around a software GPU adapter. */
  routing = $state<Routing | null>(null);

  runId = $state<string | null>(null);
  running = $state(false);
  classes = $state<string[]>([]);
  totalBatches = $state(0);
  batchesDone = $state(0);
  batches = $state<BatchPoint[]>([]);
  epochs = $state<EpochMetrics[]>([]);
  numTensors = $state<number | null>(null);
  lastRun = $state<RunRecord | null>(null);
  trainError = $state<ShownError | null>(null);

  scan = $state<FolderScan | null>(null);
  scanning = $state(false);
  scanError = $state<ShownError | null>(null);
  importing = $state(false);
  importProgress = $state<{ done: number; total: number; imagesPerSecond: number; etaSeconds: number } | null>(null);
  importError = $state<ShownError | null>(null);
  dataset = $state<DatasetSummary | null>(null);
  rememberedFolder = $state<FileSystemDirectoryHandle | null>(null);
  zoo = $state<ZooModel[]>([]);
  /** A run that stopped before its last epoch and has a checkpoint to continue from. */
  resumable = $state<RunRecord | null>(null);

  constructor(readonly engine: EngineProxy) {}

  /** The scan in flight or last finished (null result: it failed, see scanError); automation waits on it. */
  lastScan: Promise<FolderScan | null> | null = null;

  /** Scans a picked folder. A failed scan keeps the previous folder and dataset as they were. */
  scanFolder(input: FolderInput): Promise<FolderScan | null> {
    this.lastScan = this.runScan(input);
    return this.lastScan;
  }

  private async runScan(input: FolderInput): Promise<FolderScan | null> {
    this.scanning = true;
    this.scanError = null;
    try {
      this.scan = await this.engine.scanFolder(input);
      return this.scan;
    } catch (err) {
      this.scanError = describeError(err);
      return null;
    } finally {
      this.scanning = false;
    }
  }

  /** Files from `<input webkitdirectory>` or a drop: their relative paths say which class folder each is in. */
  scanFiles(files: File[], paths: string[] = files.map((f) => f.webkitRelativePath || f.name)): Promise<FolderScan | null> {
    const name = paths[0]?.split('/')[0] ?? 'folder';
    return this.scanFolder({ kind: 'files', name, files, paths });
  }

  async importDataset(opts: ImportOptions, onEvent?: (e: ImportEvent) => void): Promise<DatasetSummary> {
    this.importing = true;
    this.importError = null;
    this.importProgress = null;
    try {
      const summary = await this.engine.importDataset(
        opts,
        eventSink((e: ImportEvent) => {
          if (e.type === 'progress') this.importProgress = { done: e.done, total: e.total, imagesPerSecond: e.imagesPerSecond, etaSeconds: e.etaSeconds };
          onEvent?.(e);
        }),
      );
      this.dataset = summary;
      return summary;
    } catch (err) {
      this.importError = describeError(err);
      throw err;
    } finally {
      this.importing = false;
    }
  }

  cancelImport(): Promise<void> {
    return this.engine.cancelImport();
  }

  async loadRememberedFolder(): Promise<void> {
    this.rememberedFolder = await this.engine.rememberedFolder().catch(() => null);
  }

  async selectBackend(choice: BackendChoice): Promise<void> {
    this.backendChoice = choice;
    this.switching = true;
    this.backendError = null;
    this.routing = null;
    try {
      this.backend = await this.engine.init(choice);
      localStorage.setItem(BACKEND_KEY, choice);
    } catch (err) {
      this.backendError = describeError(err);
    } finally {
      this.switching = false;
    }
  }

  async start(): Promise<void> {
    await this.selectBackend(initialBackend(location.search, localStorage.getItem(BACKEND_KEY)));
    await this.loadRememberedFolder();
    this.zoo = await this.engine.zoo();
    // A run still marked 'running' when the page opens was cut off by a reload or a crash.
    const [latest] = await this.engine.runs();
    if (latest) this.resumable = resumableRun(latest);
  }

  private onEvent = (e: TrainEvent): void => {
    switch (e.type) {
      case 'start':
        this.runId = e.runId;
        this.classes = e.classes;
        this.totalBatches = e.totalBatches;
        this.routing = e.routing;
        break;
      case 'batch':
        this.batchesDone += 1;
        this.batches.push({ step: (e.epoch - 1) * e.batchesPerEpoch + e.batch, loss: e.loss });
        break;
      case 'epoch':
        this.epochs.push(e.metrics);
        this.numTensors = e.numTensors;
        break;
      case 'done':
        this.lastRun = e.run;
        break;
    }
  };

  train(cfg: TrainConfig, onEvent?: (e: TrainEvent) => void): Promise<RunRecord> {
    return this.follow((sink) => this.engine.train(cfg, sink), [], onEvent);
  }

  /** Continues an interrupted or cancelled run from its last checkpoint; its earlier epochs stay on the chart. */
  resume(run: RunRecord, onEvent?: (e: TrainEvent) => void): Promise<RunRecord> {
    const kept = run.epochs.filter((m) => m.epoch <= (run.checkpoint.last ?? 0));
    return this.follow((sink) => this.engine.resume(run.runId, sink), kept, onEvent);
  }

  private async follow(start: (sink: (e: TrainEvent) => void) => Promise<RunRecord>, epochs: EpochMetrics[], onEvent?: (e: TrainEvent) => void): Promise<RunRecord> {
    this.running = true;
    this.trainError = null;
    this.resumable = null;
    this.runId = null;
    this.batches = [];
    this.epochs = [...epochs];
    this.batchesDone = 0;
    this.totalBatches = 0;
    try {
      const run = await start(
        eventSink((e: TrainEvent) => {
          this.onEvent(e);
          onEvent?.(e);
        }),
      );
      this.lastRun = run;
      this.resumable = resumableRun(run);
      return run;
    } catch (err) {
      this.trainError = describeError(err);
      throw err;
    } finally {
      this.running = false;
    }
  }

  async cancel(): Promise<void> {
    if (this.runId) await this.engine.cancel(this.runId);
  }
}
