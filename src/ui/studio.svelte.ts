/**
 * The studio's UI state (Svelte 5 runes). It talks to the engine only through the `Engine` interface proxy;
 * it never imports TF.js or the core.
 */
import { EngineError } from '../engine/errors';
import { eventSink, type EngineProxy } from '../engine/client';
import { EvaluationState } from './evaluation.svelte';
import { RunsState } from './runs.svelte';
import { InferenceState } from './inference.svelte';
import { MeasurementsState } from './measurements.svelte';
import { RegistryState } from './registry.svelte';
import { externalImportOptions } from '../engine/external';
import type { BackendInfo, BackendName, CompiledAhead, ConfigTemplate, Routing, ZooModel, DatasetSummary, EpochMetrics, FolderInput, FolderScan, ImportEvent, ImportOptions, RunRecord, SplitOptions, StudioSettings, TrainConfig, TrainEvent, EvaluateEvent, EvaluateRequest, EvaluationRecord, OnnxBackboneImport, OnnxBackboneRequest, RecommendedRecipe, ValidationSample } from '../engine/types';
import { RESOURCE_BUFFER, resourceRequests, summarizeNetwork } from '../engine/network';
import { runLockName, RUNS_CHANNEL, type RunAnnouncement } from '../engine/live-runs';
import type { NetworkSummary } from '../engine/network';
import { describeError, type ShownError } from './shown-error';

// The components import these from here, beside `Studio`.
export { describeError, type ShownError } from './shown-error';

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

/**
 * The run, when it stopped early (interrupted or cancelled) with a checkpoint to continue from. A run still
 * `running` or `paused` is being trained by some worker (the engine stores the cut-off ones as `interrupted`).
 */
export function resumableRun(run: RunRecord): RunRecord | null {
  const stoppedEarly = (run.status === 'interrupted' || run.status === 'cancelled') && (run.checkpoint?.last ?? 0) > 0;
  return stoppedEarly && run.checkpoint.last! < run.config.epochs ? run : null;
}

/** A run another tab or window is training: what the list says of it, and where it is when that tab says so. */
export interface RunElsewhere {
  model: string;
  epochs: number;
  at: RunAnnouncement | null;
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
  /** The engine holds the run between batches (see `togglePause`). */
  paused = $state(false);
  /** Pause was asked for (the run pauses after the batch in flight) and not yet taken back. */
  pauseRequested = $state(false);
  /** Pretrained weights the current run is downloading (torchvision's), until its first batch. */
  weightsDownload = $state<{ model: string; loaded: number; total: number | null } | null>(null);
  classes = $state<string[]>([]);
  totalBatches = $state(0);
  batchesDone = $state(0);
  batches = $state<BatchPoint[]>([]);
  epochs = $state<EpochMetrics[]>([]);
  numTensors = $state<number | null>(null);
  /** A frozen backbone's features being cached before epoch 1 (images done, of total); null otherwise. */
  featureProgress = $state<{ done: number; total: number } | null>(null);
  /** The run's WebGPU shaders being compiled ahead of its first step (true), and what that compiled, over its phases. */
  compiling = $state(false);
  compiledAhead = $state<CompiledAhead | null>(null);
  /** A few validation images with the last epoch's predictions. */
  samples = $state.raw<ValidationSample[]>([]);
  numBytes = $state<number | null>(null);
  /** The backend the current (or last) run trains on, from its start event. */
  runBackend = $state<BackendInfo | null>(null);
  /** performance.now() at the run's start event: the ETA's clock. */
  runStartedAt = $state<number | null>(null);
  lastRun = $state<RunRecord | null>(null);
  trainError = $state<ShownError | null>(null);

  scan = $state<FolderScan | null>(null);
  scanning = $state(false);
  scanError = $state<ShownError | null>(null);
  importing = $state(false);
  importProgress = $state<{ done: number; total: number; imagesPerSecond: number; etaSeconds: number } | null>(null);
  importError = $state<ShownError | null>(null);
  /** A re-split of the imported dataset in progress (see resplit). */
  splitting = $state(false);
  dataset = $state<DatasetSummary | null>(null);
  rememberedFolder = $state<FileSystemDirectoryHandle | null>(null);
  zoo = $state<ZooModel[]>([]);
  /** A run that stopped before its last epoch and has a checkpoint to continue from. */
  resumable = $state<RunRecord | null>(null);
  /** Runs other tabs or windows are training now (each holds its run's lock), by run id: never resumable here. */
  elsewhere = $state<Record<string, RunElsewhere>>({});
  /** The engine worker died (E_WORKER_LOST); a fresh one took its place. Cleared when the next run starts. */
  engineLost = $state<ShownError | null>(null);
  /** Config templates (studio defaults first), from the engine. */
  templates = $state<ConfigTemplate[]>([]);
  /** The last config applied (imported or a template); the train and dataset forms take their fields from it. */
  appliedConfig = $state<{ settings: StudioSettings; source: string } | null>(null);
  /** The recommended recipe for the scanned folder on this device (see Engine.recommendRecipe), once asked for. */
  recommendation = $state<RecommendedRecipe | null>(null);
  recommending = $state(false);
  recommendError = $state<ShownError | null>(null);
  /** The dataset form's current import options (published by it, so a config export can include them). */
  importDraft = $state<ImportOptions | null>(null);
  /** Every request the page and the engine made this session, by origin (see src/engine/network.ts). */
  network = $state<NetworkSummary | null>(null);
  /** Every file of the build is in the service worker's cache: the studio will load with the network off. */
  offlineReady = $state(false);

  /** The evaluation panel's state (src/ui/evaluation.svelte.ts). */
  readonly evaluation: EvaluationState;
  /** The stored backend measurements and the one under way (BackendStatus shows them). */
  readonly measurements: MeasurementsState;
  /** The runs page's state (src/ui/runs.svelte.ts). */
  readonly runs: RunsState;
  /** The inference panel's state (src/ui/inference.svelte.ts). */
  readonly inference: InferenceState;
  /** The registry and storage panels' state (src/ui/registry.svelte.ts). */
  readonly registry: RegistryState;

  constructor(readonly engine: EngineProxy) {
    this.evaluation = new EvaluationState(engine);
    this.runs = new RunsState(engine);
    this.inference = new InferenceState(engine);
    this.registry = new RegistryState(engine);
    this.measurements = new MeasurementsState(engine);
  }

  /** The scan in flight or last finished (null result: it failed, see scanError); automation waits on it. */
  lastScan: Promise<FolderScan | null> | null = null;

  /**
   * Scans a picked folder. A scan that finds nothing to import clears the previous folder's scan (the page must not
   * offer to import a folder the user has moved away from) and says why; the imported dataset stays as it was.
   */
  scanFolder(input: FolderInput): Promise<FolderScan | null> {
    this.lastScan = this.runScan(input);
    return this.lastScan;
  }

  private async runScan(input: FolderInput): Promise<FolderScan | null> {
    this.scanning = true;
    this.scanError = null;
    try {
      this.scan = await this.engine.scanFolder(input);
      this.recommendation = null;
      return this.scan;
    } catch (err) {
      this.scan = null;
      this.scanError = describeError(err);
      return null;
    } finally {
      this.scanning = false;
    }
  }

  /** Asks the engine for the recommended recipe of the scanned folder (it times the backbone and head here). */
  async recommend(): Promise<RecommendedRecipe> {
    this.recommending = true;
    this.recommendError = null;
    try {
      this.recommendation = await this.engine.recommendRecipe();
      return this.recommendation;
    } catch (err) {
      this.recommendError = describeError(err);
      throw err;
    } finally {
      this.recommending = false;
    }
  }

  /** Fills the train and dataset forms with the recommended recipe. */
  useRecommended(): void {
    if (this.recommendation) this.appliedConfig = { settings: $state.snapshot(this.recommendation.form) as StudioSettings, source: 'the recommended recipe' };
  }

  /** Files from `<input webkitdirectory>` or a drop: their relative paths say which class folder each is in. */
  scanFiles(files: File[], paths: string[] = files.map((f) => f.webkitRelativePath || f.name)): Promise<FolderScan | null> {
    // A browser lists nothing, not even the folder's name, for an empty folder.
    const name = paths[0]?.split('/')[0] ?? '';
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

  /**
   * Splits the imported dataset's decoded images again with new split settings (seed, percentages, groups,
   * duplicates): nothing is decoded again. A refusal shows in the panel and the dataset stays as it was.
   */
  async resplit(opts: SplitOptions): Promise<DatasetSummary> {
    this.splitting = true;
    this.importError = null;
    try {
      if (!this.dataset) throw new EngineError('E_NOT_FOUND', 'import a folder first: a re-split splits its decoded images again');
      this.dataset = await this.engine.split(this.dataset.datasetId, opts);
      return this.dataset;
    } catch (err) {
      this.importError = describeError(err);
      throw err;
    } finally {
      this.splitting = false;
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

  /** Re-reads the browser's record of requests; cheap, so the header can poll it. */
  async refreshNetwork(): Promise<void> {
    const engine = await this.engine.network().catch(() => []);
    this.network = summarizeNetwork([...resourceRequests(performance, 'page'), ...engine], location.origin);
  }

  /** Checks the service worker's cache against the build's file list (see public/sw.js) once the worker is active. */
  async watchOffline(): Promise<void> {
    const reg = await navigator.serviceWorker.ready;
    const { files } = (await (await fetch(new URL('precache.json', reg.scope))).json()) as { files: string[] };
    const cache = await caches.open('mri-studio-app');
    const held = await Promise.all(files.map((f) => cache.match(new URL(f, reg.scope).href)));
    this.offlineReady = held.every(Boolean);
  }

  /** Imports an ONNX backbone and lists it in the zoo (the train form's model choice) when it is kept. */
  async importOnnxBackbone(req: OnnxBackboneRequest): Promise<OnnxBackboneImport> {
    const done = await this.engine.importOnnxBackbone(req);
    this.zoo = await this.engine.zoo();
    return done;
  }

  async start(): Promise<void> {
    performance.setResourceTimingBufferSize(RESOURCE_BUFFER);
    void this.refreshNetwork();
    setInterval(() => void this.refreshNetwork(), 2000);
    await this.selectBackend(initialBackend(location.search, localStorage.getItem(BACKEND_KEY)));
    await this.loadRememberedFolder();
    this.zoo = await this.engine.zoo();
    this.templates = await this.engine.configTemplates();
    await this.measurements.refresh();
    this.followOtherTabs();
    await this.refreshRuns();
  }

  /**
   * Re-reads the runs (the engine stores the cut-off ones as `interrupted` as it lists them): the runs panel's list,
   * the newest run for the Resume banner, and the runs other tabs train, which are followed until their lock is freed.
   */
  async refreshRuns(): Promise<void> {
    const runs = await this.engine.runs();
    this.runs.runs = runs;
    for (const r of runs) if ((r.status === 'running' || r.status === 'paused') && !this.ownRun(r.runId)) this.followElsewhere(r);
    if (!this.running) this.resumable = runs[0] ? resumableRun(runs[0]) : null;
  }

  /** This tab trains `runId` (or has started a run whose id it does not know yet). */
  private ownRun(runId: string): boolean {
    return this.running && (this.runId === null || this.runId === runId);
  }

  /** Follows a run another tab trains: shown as such until its lock is freed, when the list is read again. */
  private followElsewhere(run: RunRecord): void {
    if (run.runId in this.elsewhere) return;
    this.elsewhere[run.runId] = { model: run.model, epochs: run.config.epochs, at: null };
    // Granted (and at once given back) only when the worker training the run has let go of it: ended or died.
    void navigator.locks?.request(runLockName(run.runId), () => undefined).then(() => {
      delete this.elsewhere[run.runId];
      return this.refreshRuns();
    });
  }

  /** Other tabs' training workers say where their runs are (see workers/run-lock.ts). */
  private followOtherTabs(): void {
    if (typeof BroadcastChannel === 'undefined') return;
    new BroadcastChannel(RUNS_CHANNEL).onmessage = (e: MessageEvent<RunAnnouncement>) => {
      const at = e.data;
      if (this.ownRun(at.runId)) return;
      const known = this.elsewhere[at.runId];
      if (known) known.at = at.state === 'ended' ? known.at : at;
      // A run started elsewhere after this page read the list: read it once (announcements come with every batch).
      else if (at.state !== 'ended') this.rereading ??= this.refreshRuns().finally(() => (this.rereading = null));
    };
  }

  private rereading: Promise<void> | null = null;

  /** The engine worker died (see src/engine/client.ts): every call in flight failed with E_WORKER_LOST. */
  async engineStopped(err: EngineError): Promise<void> {
    this.engineLost = describeError(err);
    // The dead worker held the scanned folder and the imported images; the fresh one starts without them.
    this.scan = null;
    this.lastScan = null;
    this.dataset = null;
    const cut = this.runId;
    await this.selectBackend(this.backendChoice);
    // The dead worker's run lock goes when the browser has torn its context down, which may come after this point:
    // until then its run reads as trained elsewhere, and a resume would be refused as locked.
    if (cut) await navigator.locks?.request(runLockName(cut), () => undefined);
    await this.refreshRuns();
  }

  private onEvent = (e: TrainEvent): void => {
    switch (e.type) {
      case 'start':
        // A second start is the same run moved to another backend (engine: moveOffWebGL): it goes on from its checkpoint.
        if (this.runId === e.runId) {
          this.epochs = this.epochs.filter((m) => m.epoch <= (e.resumedFrom ?? 0));
          this.batches = [];
          this.batchesDone = 0;
        }
        this.runId = e.runId;
        // The engine's own view, which may have changed since init (a backend left out after it failed a run).
        this.backend = e.backend;
        this.classes = e.classes;
        this.totalBatches = e.totalBatches;
        this.runBackend = e.backend;
        this.runStartedAt = performance.now();
        this.routing = e.routing;
        this.measurements.progress = null;
        if (e.routing.measured) void this.measurements.refresh();
        break;
      case 'measure':
        this.measurements.progress = { backend: e.backend, index: e.index, of: e.of };
        break;
      case 'features':
        this.featureProgress = e.done < e.total ? { done: e.done, total: e.total } : null;
        break;
      case 'compile':
        this.compiling = e.compiled === null;
        if (e.compiled) this.compiledAhead = { programs: (this.compiledAhead?.programs ?? 0) + e.compiled.programs, seconds: (this.compiledAhead?.seconds ?? 0) + e.compiled.seconds };
        break;
      case 'batch':
        this.weightsDownload = null;
        this.featureProgress = null;
        this.batchesDone += 1;
        this.batches.push({ step: (e.epoch - 1) * e.batchesPerEpoch + e.batch, loss: e.loss });
        break;
      case 'epoch':
        this.epochs.push(e.metrics);
        if (e.samples) this.samples = e.samples;
        this.numTensors = e.numTensors;
        this.numBytes = e.numBytes;
        break;
      case 'paused':
        this.paused = e.paused;
        break;
      case 'weights':
        this.weightsDownload = { model: e.model, loaded: e.loaded, total: e.total };
        break;
      case 'done':
        this.lastRun = e.run;
        break;
    }
  };

  train(cfg: TrainConfig, onEvent?: (e: TrainEvent) => void): Promise<RunRecord> {
    return this.follow((sink) => this.engine.train(cfg, sink), [], onEvent);
  }

  /**
   * Evaluates a run on the folder last picked (an external test set): imports it with the run's input settings, then
   * evaluates every image of a class the run knows (see EvaluateRequest.external). A failure shows in the panel.
   */
  async evaluateExternal(run: RunRecord, req: Omit<EvaluateRequest, 'runId' | 'external'> = {}, onEvent?: (e: ImportEvent | EvaluateEvent) => void): Promise<EvaluationRecord> {
    let fingerprint: string;
    try {
      const scan = this.lastScan && (await this.lastScan);
      if (!scan) throw this.scanError ? new EngineError(this.scanError.code as EngineError['code'], this.scanError.message) : new EngineError('E_DATASET', 'pick the folder to evaluate on first');
      // A plain copy: a run from the UI's state is a rune proxy, which cannot be posted to the worker.
      fingerprint = (await this.importDataset(externalImportOptions($state.snapshot(run)), onEvent)).fingerprint;
    } catch (err) {
      this.evaluation.error = describeError(err);
      throw err;
    }
    return this.evaluation.evaluate({ ...req, runId: run.runId, external: { fingerprint } }, onEvent);
  }

  /** Continues an interrupted or cancelled run from its last checkpoint; its earlier epochs stay on the chart. */
  resume(run: RunRecord, onEvent?: (e: TrainEvent) => void): Promise<RunRecord> {
    const kept = run.epochs.filter((m) => m.epoch <= (run.checkpoint.last ?? 0));
    return this.follow((sink) => this.engine.resume(run.runId, sink), kept, onEvent);
  }

  private async follow(start: (sink: (e: TrainEvent) => void) => Promise<RunRecord>, epochs: EpochMetrics[], onEvent?: (e: TrainEvent) => void): Promise<RunRecord> {
    this.running = true;
    this.paused = false;
    this.pauseRequested = false;
    this.trainError = null;
    this.engineLost = null;
    this.resumable = null;
    this.runId = null;
    this.batches = [];
    this.samples = [];
    this.featureProgress = null;
    this.compiling = false;
    this.compiledAhead = null;
    this.epochs = [...epochs];
    this.batchesDone = 0;
    this.totalBatches = 0;
    this.weightsDownload = null;
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
      this.paused = false;
      this.pauseRequested = false;
      // A run that failed while its backends were being measured.
      this.measurements.progress = null;
    }
  }

  /** Sets the forms from a config; a file's backend preference is applied too (a template's is not: it is a recipe). */
  applyConfig(settings: StudioSettings, source: string, withBackend: boolean): void {
    this.appliedConfig = { settings, source };
    if (withBackend && settings.backend !== this.backendChoice && !this.running) void this.selectBackend(settings.backend);
  }

  /** Shows a stored run in the dashboard (its epochs; per-batch losses are not stored). */
  showRun(run: RunRecord): void {
    if (this.running) return;
    this.clearRunView();
    this.lastRun = run;
    this.runId = run.runId;
    this.classes = run.classes;
    this.epochs = [...run.epochs];
    this.routing = run.routing ?? null;
    this.runBackend = null;
    this.numBytes = null;
  }

  /** Clears the last run from view (conference mode, between visitors); the run itself stays stored. */
  clearRunView(): void {
    this.lastRun = null;
    this.runId = null;
    this.trainError = null;
    this.batches = [];
    this.samples = [];
    this.epochs = [];
    this.batchesDone = 0;
    this.totalBatches = 0;
    this.numTensors = null;
  }

  /** Pause after the batch in flight, or continue a paused run. */
  async togglePause(): Promise<void> {
    if (!this.runId) return;
    this.pauseRequested = !this.pauseRequested;
    await (this.pauseRequested ? this.engine.pause(this.runId) : this.engine.unpause(this.runId));
  }

  async cancel(): Promise<void> {
    if (this.runId) await this.engine.cancel(this.runId);
  }
}
