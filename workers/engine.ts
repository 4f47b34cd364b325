/** The engine behind the `Engine` interface: runs in a dedicated worker and owns every tensor and every image. */
import * as tf from '@tensorflow/tfjs';
import { DEMO_CLASSES, generateDemoDataset } from '../src/core/dataset/demo';
import { scanChecks } from '../src/core/dataset/checks';
import { ImportCancelled, importDataset, scanFolder, splitId, type FolderSource, type ImageAnalyzer, type ImportedDataset, type ImportOptions } from '../src/core/dataset/importer';
import { DatasetError } from '../src/core/dataset/layout';
import { GroupPatternError, manifestToCsv, manifestToJson, stratifiedSplit, validateFractions, type SplitIndices } from '../src/core/dataset/split';
import { channelStats, IMAGENET_STATS, verifyStats, type ChannelStats } from '../src/core/dataset/stats';
import { BUILTIN_ZOO, Zoo, type ZooEntry } from '../src/core/models/zoo';
import { deriveSeed, mulberry32, shuffle } from '../src/core/random';
import { BOUNDS, CHOICES, rangeProblem, type Range } from '../src/core/settings/schema';
import { resolveTrainConfig } from '../src/core/settings/resolve';
import { deleteRun, getEvaluation, getRun, getStats, lastFolder, listRuns, openStudioDB, rememberFolder, saveRun, saveSplit, saveStats, type StudioDB } from '../src/core/store/db';
import { exportRunFile, importRunFile, RunFileError, runFileName } from '../src/core/store/run-file';
import { checkpointId } from '../src/core/store/checkpoints';
import { compareRun } from '../src/core/metrics/compare';
import { crossValidationSplit } from '../src/core/metrics/kfold';
import { crossValidate } from './crossval';
import { augmentDefault, isAugmentIdentity } from '../src/core/settings/augment';
import { checkpointToStore, loadCheckpoint, type Checkpoint } from '../src/core/store/checkpoints';
import { storageUsage } from '../src/core/store/usage';
import { paritySample } from '../src/core/export/parity';
import type { RecipeFile } from '../src/core/recipe/recipe';
import { exportRecipe } from './recipe';
import { browserEstimate, StorageFullError } from '../src/core/registry/quota';
import { inverseFrequencyClassWeights, isImbalanced } from '../src/core/train/losses';
import { checkLrSchedule, checkPhaseConfig, planPhases } from '../src/core/train/phases';
import type { TensorDataset } from '../src/core/train/trainer';
import type { RunRecord, Strategy, TrainConfig } from '../src/core/train/types';
import { EngineError, isOutOfMemory } from '../src/engine/errors';
import type { ClusterRunFiles, CrossValidationEvent, CrossValidationRequest, CrossValidationResult, MeasureProgress, RunComparison, SpeedProbe } from '../src/engine/types';
import type { AugmentPreview, AugmentPreviewRequest, BackboneImport, BackendInfo, BackendName, DatasetSummary, Engine, EvaluateEvent, EvaluateRequest, EvaluationRecord, ExportedFile, ModelExport, ModelVersion, NetworkRequest, RegisterModelRequest, ReportFile, ZooModel, FolderInput, FolderScan, ImportEvent, StatsVerification, Thumbnail, TrainEvent, PredictImage, PredictOptions, PredictProgress, PredictResult, RegistrationReview, StorageGroupUsage, ModelEvaluateRequest, ReportOptions, GradCam, GradCamRequest, OnnxBackboneImport, OnnxBackboneRequest, WeightsFileImport, RecommendedRecipe } from '../src/engine/types';
import { ConfigError, configFromSettings, configTemplates, checkSettings, defaultConfig, parseConfigText, readConfig, recommendedConfig, settingsFromConfig, type ConfigTemplate, type StudioConfig, type StudioSettings } from '../src/core/config';
import { importedBackbones } from '../src/core/store/backbones';
import { importBackboneFolder } from './backbone-import';
import { importTorchWeightsFile, loadTorchvisionState } from './torch-weights';
import { importOnnxBackbone } from './onnx-import';
import { importClusterRun } from './cluster-import';
import { importWeightsFile } from './weights-file';
import { augmentPreviews } from './preview';
import { resourceRequests } from '../src/engine/network';
import { gpuDeviceLoss, isShaderFailure, onBackend, releaseWebGL, routeRun, selectBackend, useBackend, webglContextLost } from './backend';
import { BACKEND_LABEL, cachesFeatures, forwardBackend, type BackendMeasurement, type RunWork } from '../src/core/routing';
import { bestValidationRecord } from '../src/core/metrics/operating-point';
import { folderSource } from './folder';
import { evaluateModelFolder, evaluateRun, evaluationFiles, evaluationThumbnails, type EvaluateHost } from './evaluate';
import { explain } from './gradcam';
import { thumbnailOf } from './thumbnail';
import { validationSampler } from './val-samples';
import { probeModel } from './speed';
import { candidatesFor, measureBackends, measuredRouting } from './measure';
import { getMeasurement, listMeasurements } from '../src/core/store/measurements';
import type { MemoryEstimate } from '../src/core/models/memory';
import { MemoryEstimator } from './memory';
import { browserBackboneLoader, buildModel, resolveStrategy } from './models';
import { RegistryService } from './registry';
import { Predictor } from './predict';
import { auditCsv, predictionsCsv } from '../src/core/inference/predictions';
import { clearAudit, listAudit, type AuditEntry } from '../src/core/store/audit';
import { trainInPhases } from './phases';
import { RunControl } from './run-control';
import { RunLocks } from './run-lock';
import { checkpointMetrics, markInterrupted } from '../src/core/store/run-status';
import { measureDeviceSpeed } from './recommend';
import { recommendRecipe } from '../src/core/train/recommend';

const bad = (what: string): never => {
  throw new EngineError('E_CONFIG', what);
};

function checkFractions(f: ImportOptions['split']): void {
  const problem = validateFractions(f);
  if (problem) bad(problem);
  if (f.val <= 0) bad('the validation fraction must be above 0: the studio picks the best epoch on validation');
}

/** A setting outside the schema's range (src/core/settings/schema.ts) is refused with the schema's words. */
function checkRange(name: string, range: Range, value: unknown): void {
  const problem = rangeProblem(name, range, value);
  if (problem) bad(problem);
}

function checkConfig(cfg: TrainConfig): void {
  checkRange('epochs', BOUNDS.epochs, cfg.epochs);
  checkRange('batch size', BOUNDS.batchSize, cfg.batchSize);
  checkRange('learning rate', BOUNDS.learningRate, cfg.learningRate);
  checkRange('seed', BOUNDS.seed, cfg.seed);
  if (cfg.labelSmoothing !== undefined) checkRange('label smoothing', BOUNDS.labelSmoothing, cfg.labelSmoothing);
  if (cfg.dataset.kind === 'demo') checkFractions(cfg.dataset.split);
  if (cfg.measureBackends !== undefined && !(CHOICES.measureBackends as readonly string[]).includes(cfg.measureBackends)) bad(`measureBackends must be auto, on or off (got ${String(cfg.measureBackends)})`);
  const cv = cfg.crossValidation;
  if (cv && !(Number.isInteger(cv.folds) && cv.folds >= 2 && cv.folds <= MAX_FOLDS && Number.isInteger(cv.fold) && cv.fold >= 1 && cv.fold <= cv.folds)) bad(`cross-validation needs 2 to ${MAX_FOLDS} folds and a fold among them (got fold ${cv.fold} of ${cv.folds})`);
}

const MAX_FOLDS = 20;

/**
 * A cross-validation fold's split (see crossValidationSplit): the folds are cut from the images the dataset's own
 * split keeps for training and validation, so its test split stays out of every fold; validation is carved from
 * the training folds with the dataset's own train:val ratio.
 */
function foldSplit(cfg: TrainConfig, items: { key: string; label: number; group?: string }[], split: SplitIndices, fractions: ImportOptions['split']): SplitIndices {
  const cv = cfg.crossValidation!;
  const pool = [...split.train, ...split.val].sort((a, b) => a - b);
  return crossValidationSplit(items, pool, cv.folds, cv.fold, cfg.seed, fractions.val / (fractions.train + fractions.val));
}

/** Probe epochs, trainable blocks and the schedule, before anything is built. */
function checkPhases(cfg: TrainConfig, strategy: Strategy): void {
  const problem = checkPhaseConfig(cfg, strategy) ?? (cfg.lrSchedule ? checkLrSchedule(cfg.lrSchedule, planPhases(cfg, strategy)) : null);
  if (problem) bad(problem);
}

function zooEntry(zoo: Zoo, id: string): ZooEntry {
  try {
    return zoo.entry(id);
  } catch (err) {
    throw new EngineError('E_CONFIG', (err as Error).message);
  }
}

function checkImport(opts: ImportOptions): void {
  checkRange('image size', BOUNDS.imageSize, opts.imageSize);
  if (opts.channels !== 1 && opts.channels !== 3) bad(`channels must be 1 or 3 (got ${opts.channels})`);
  checkRange('seed', BOUNDS.seed, opts.seed);
  if (opts.nearThreshold !== undefined) checkRange('the near-duplicate threshold', BOUNDS.nearThreshold, opts.nearThreshold);
  // An evaluation import has no split (see ImportOptions.purpose).
  if (opts.purpose !== 'evaluation') checkFractions(opts.split);
}

/** Core errors a person can fix become E_CONFIG/E_DATASET with the core's own words. */
function asEngineError(err: unknown): unknown {
  if (err instanceof ConfigError) return new EngineError('E_CONFIG', err.message, err.problems.join('\n'));
  if (err instanceof DatasetError || err instanceof GroupPatternError) return new EngineError('E_DATASET', err.message);
  if (err instanceof RangeError) return new EngineError('E_CONFIG', err.message);
  if (err instanceof ImportCancelled) return new EngineError('E_CANCELLED', 'the import was cancelled; nothing was changed');
  // The run file's own code (E_FORMAT, E_VERSION, E_EXISTS) travels in `detail`, as the registry's does.
  if (err instanceof RunFileError) return new EngineError(err.code === 'E_NOT_FOUND' ? 'E_NOT_FOUND' : 'E_CONFIG', err.message, err.code);
  if (err instanceof StorageFullError) return new EngineError('E_QUOTA', err.message);
  return err;
}

const SAMPLES_PER_CLASS = 8;

function samplesPerClass(data: ImportedDataset, seed: number): Record<string, string[]> {
  const byClass = data.classes.map((): string[] => []);
  data.keys.forEach((k, i) => byClass[data.labels[i]].push(k));
  const rand = mulberry32(deriveSeed(seed, 'samples'));
  return Object.fromEntries(data.classes.map((c, j) => [c, shuffle(byClass[j], rand).slice(0, SAMPLES_PER_CLASS)]));
}

const newRunId = () => `run-${new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}-${Math.random().toString(36).slice(2, 8)}`;

/** Lets the worker's event loop deliver messages (a cancel) between batches. */
const yieldToHost = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

interface Prepared {
  data: TensorDataset;
  /** Image keys (paths, demo ids), parallel to data.labels. */
  keys: readonly string[];
  classes: string[];
  split: SplitIndices;
  normalization: ChannelStats;
  dataset?: RunRecord['dataset'];
}

/** A zoo entry whose weights come as one file the user may pick ("Choose weights file…"): its types and official URL. */
function weightsFileOf(e: ZooEntry): ZooModel['weightsFile'] {
  if (e.source.kind === 'torchvision') return { extension: '.pth,.pt,.safetensors', url: e.source.url };
  if (e.source.kind === 'keras-h5') return { extension: '.h5', url: e.source.url };
  return undefined;
}

/** What a WebGL shader failure means for a run, in the words its error and its move to another backend share. */
const webglCannotBuild = (cfg: TrainConfig) => `WebGL could not build the shaders that ${cfg.model} needs on this GPU${webglContextLost() ? ' (its context was lost)' : ''}`;

export class StudioEngine implements Engine {
  private info: BackendInfo | null = null;
  /** The backend choice in progress (see init and backend). */
  private selecting: Promise<BackendInfo> | null = null;
  private db: Promise<StudioDB> | null = null;
  /** The built-in models and this profile's imported backbones: read by database(), replaced by importOnnxBackbone. */
  private modelZoo: Zoo = BUILTIN_ZOO;
  private active: RunControl | null = null;
  /** A speed probe in flight (see probeSpeed). */
  private probing: Promise<void> | null = null;
  private scanned: { name: string; source: FolderSource } | null = null;
  private importing: { stop: boolean } | null = null;
  /** The one imported dataset held in memory (a new import replaces it: decoded images are large). */
  private dataset: { summary: DatasetSummary; data: ImportedDataset } | null = null;
  /** The cross-validation in progress: its folds' runs may train and be evaluated, nothing else. */
  private crossval: { id: string; stop: boolean } | null = null;
  private readonly memory = new MemoryEstimator();
  /** Each run's lock, held while this worker trains it, so no other tab trains it meanwhile (see run-lock.ts). */
  private readonly locks = new RunLocks();

  private readonly registry = new RegistryService(
    () => this.database(),
    (size, channels, count, runId) => this.sampleImages(size, channels, count, runId),
    () => this.modelZoo,
  );

  private readonly predictor: Predictor;
  private predicting = false;

  /** @param analyze per-file import work (decode, hashes, sums); the worker passes a pool of browser decoders. */
  constructor(private readonly analyze?: ImageAnalyzer) {
    this.predictor = new Predictor(() => this.database(), analyze);
  }

  /** The studio DB, once open with its imported ONNX backbones in the zoo. */
  private database(): Promise<StudioDB> {
    this.db ??= openStudioDB().then(async (db) => {
      this.modelZoo = new Zoo(await importedBackbones(db));
      return db;
    });
    return this.db;
  }

  /** The zoo, once the database's imported backbones are in it. */
  private async loadedZoo(): Promise<Zoo> {
    await this.database();
    return this.modelZoo;
  }

  async init(backend: BackendName | 'auto'): Promise<BackendInfo> {
    if (this.active) throw new EngineError('E_BUSY', 'cannot switch backend while a run is training; cancel it first');
    return this.choose(backend);
  }

  /**
   * The backend work runs on. A call that comes while one is being chosen (a fresh worker's first init, sent just
   * before a Resume) waits for that choice: it neither starts a second one nor is refused as busy.
   */
  async backend(): Promise<BackendInfo> {
    return this.selecting ?? this.info ?? this.choose('auto');
  }

  private async choose(backend: BackendName | 'auto'): Promise<BackendInfo> {
    const selecting = selectBackend(backend).then((info) => (this.info = info));
    this.selecting = selecting;
    try {
      return await selecting;
    } finally {
      if (this.selecting === selecting) this.selecting = null;
    }
  }

  async scanFolder(input: FolderInput): Promise<FolderScan> {
    // A new pick replaces the last one, whatever it holds: an import must never read the previous folder by mistake.
    this.scanned = null;
    const { name, source } = await folderSource(input);
    const layout = scanFolder(source);
    const checks = scanChecks(layout, source.entries.map((e) => e.path), name);
    if (checks.refusal) throw new EngineError('E_DATASET', checks.refusal, `${layout.skipped.length} files skipped`);
    this.scanned = { name, source };
    if (input.kind === 'handle') await rememberFolder(await this.database(), name, input.handle);
    const count = new Map<string, number>();
    for (const f of layout.files) count.set(f.className, (count.get(f.className) ?? 0) + 1);
    return {
      name,
      layout: layout.kind,
      classes: layout.classes.map((c) => ({ name: c, count: count.get(c) ?? 0 })),
      emptyClasses: layout.emptyClasses,
      files: layout.files.length,
      skipped: layout.skipped,
      checks: checks.warnings,
    };
  }

  async recommendRecipe(): Promise<RecommendedRecipe> {
    if (!this.scanned) throw new EngineError('E_NOT_FOUND', 'pick a folder first: the recipe depends on its classes and size');
    if (this.active) throw new EngineError('E_BUSY', `run ${this.active.runId} is training or being evaluated; the speed probe would measure it too`);
    const layout = scanFolder(this.scanned.source);
    const count = new Map<string, number>();
    for (const f of layout.files) if (f.presetSplit !== 'test') count.set(f.className, (count.get(f.className) ?? 0) + 1);
    const shape = { classes: layout.classes.map((name) => ({ name, count: count.get(name) ?? 0 })), presetTest: layout.files.some((f) => f.presetSplit === 'test') };
    const routing = routeRun(await this.backend(), { strategy: 'mlp', augment: false, cacheFeatures: true });
    const imported = this.dataset?.summary.name === this.scanned.name ? this.dataset.summary.imagesPerSecond : undefined;
    try {
      const recommendation = recommendRecipe(shape, await measureDeviceSpeed(browserBackboneLoader(await this.database()), routing, shape.classes.length, imported));
      return { ...recommendation, form: settingsFromConfig(recommendedConfig(recommendation.settings, defaultConfig(this.modelZoo)), this.modelZoo) };
    } catch (err) {
      throw asEngineError(err);
    }
  }

  async importDataset(opts: ImportOptions, onEvent: (e: ImportEvent) => void): Promise<DatasetSummary> {
    if (!this.scanned) throw new EngineError('E_NOT_FOUND', 'pick a folder first');
    if (!this.analyze) throw new EngineError('E_INTERNAL', 'this engine has no image decoder');
    if (this.importing) throw new EngineError('E_BUSY', 'an import is already running');
    checkImport(opts);
    const control = { stop: false };
    this.importing = control;
    const started = performance.now();
    try {
      const data = await importDataset(this.scanned.source, opts, this.analyze, onEvent, () => control.stop);
      const seconds = (performance.now() - started) / 1000;
      const summary: DatasetSummary = {
        name: this.scanned.name,
        fingerprint: data.fingerprint,
        splitId: splitId(data),
        layout: data.layout,
        classes: data.classes,
        emptyClasses: data.emptyClasses,
        imageSize: data.imageSize,
        channels: data.channels,
        images: data.keys.length,
        counts: data.counts,
        samples: samplesPerClass(data, opts.seed),
        skipped: data.skipped,
        duplicates: data.duplicates,
        labelConflicts: data.labelConflicts,
        checks: data.checks,
        normalization: data.normalization,
        imagenet: IMAGENET_STATS,
        bytesHeld: data.images.buffer.byteLength,
        bytesPerPixelChannel: data.images.buffer.byteLength / Math.max(1, data.images.byteLength),
        seconds,
        imagesPerSecond: (data.keys.length + data.skipped.length) / seconds,
      };
      // Only now, with the import complete, is the previous dataset replaced: a failed import loses nothing.
      this.dataset = { summary, data };
      const db = await this.database();
      const savedAt = new Date().toISOString();
      await saveStats(db, { splitId: summary.splitId, fingerprint: data.fingerprint, ...data.normalization, computedAt: savedAt });
      await saveSplit(db, { splitId: summary.splitId, fingerprint: data.fingerprint, name: summary.name, manifest: data.manifest, contentHashes: Object.fromEntries(data.keys.map((k, i) => [k, data.contentHashes[i]])), savedAt });
      return summary;
    } catch (err) {
      throw asEngineError(err);
    } finally {
      this.importing = null;
    }
  }

  async cancelImport(): Promise<void> {
    if (this.importing) this.importing.stop = true;
  }

  private imported(): { summary: DatasetSummary; data: ImportedDataset } {
    if (!this.dataset) throw new EngineError('E_NOT_FOUND', 'no dataset is imported in this session: import a folder first');
    return this.dataset;
  }

  /** An imported folder's images as one dataset, every split together (an external test set). */
  private importedWhole(fingerprint: string) {
    const { summary, data } = this.importedAs(fingerprint);
    const notEvaluated = data.skipped.filter((f) => f.reason === 'not-evaluated').length;
    return { data: { images: data.images, labels: data.labels, imageSize: data.imageSize, channels: data.channels, numClasses: data.classes.length }, classes: data.classes, keys: data.keys, name: summary.name, notEvaluated };
  }

  private importedAs(fingerprint: string): { summary: DatasetSummary; data: ImportedDataset } {
    const imported = this.imported();
    if (imported.summary.fingerprint !== fingerprint) throw new EngineError('E_NOT_FOUND', `dataset ${fingerprint.slice(0, 12)}… is not the one imported in this session; import its folder again`);
    return imported;
  }

  async thumbnails(keys: string[], size: number): Promise<Thumbnail[]> {
    const { data } = this.imported();
    const index = new Map(data.keys.map((k, i) => [k, i]));
    const out: Thumbnail[] = [];
    for (const key of keys.slice(0, 200)) {
      const i = index.get(key);
      if (i !== undefined) out.push(thumbnailOf(data.images, data.imageSize, data.channels, i, key, size));
    }
    return out;
  }

  exportRecipe(runId: string, opts: { fileNames: boolean }): Promise<RecipeFile[]> {
    return this.database().then((db) => exportRecipe(db, this.modelZoo, runId, opts, this.dataset?.data));
  }

  async exportManifest(format: 'csv' | 'json'): Promise<string> {
    const { data } = this.imported();
    return format === 'csv' ? manifestToCsv(data.manifest) : manifestToJson(data.manifest);
  }

  private recompute(): ChannelStats {
    const { data } = this.imported();
    return channelStats(data.images, data.imageSize * data.imageSize, data.channels, data.split.train);
  }

  async verifyStats(): Promise<StatsVerification> {
    const { summary } = this.imported();
    const stored = await getStats(await this.database(), summary.splitId);
    if (!stored) throw new EngineError('E_NOT_FOUND', 'no stored statistics for this split; recompute them');
    const recomputed = this.recompute();
    const storedStats = { mean: stored.mean, std: stored.std };
    return { ...verifyStats(storedStats, recomputed), stored: storedStats, recomputed };
  }

  async recomputeStats(): Promise<ChannelStats> {
    const { summary, data } = this.imported();
    const stats = this.recompute();
    await saveStats(await this.database(), { splitId: summary.splitId, fingerprint: data.fingerprint, ...stats, computedAt: new Date().toISOString() });
    summary.normalization = stats;
    return stats;
  }

  async rememberedFolder(): Promise<FileSystemDirectoryHandle | null> {
    return (await lastFolder(await this.database())) as FileSystemDirectoryHandle | null;
  }

  private async prepare(cfg: TrainConfig): Promise<Prepared> {
    if (cfg.dataset.kind === 'demo') {
      let demo;
      try {
        demo = generateDemoDataset(cfg.dataset);
      } catch (err) {
        throw new EngineError('E_CONFIG', err instanceof Error ? err.message : String(err));
      }
      const items = demo.keys.map((key, i) => ({ key, label: demo.labels[i] }));
      const whole = stratifiedSplit(items, cfg.dataset.split, cfg.seed);
      const split = cfg.crossValidation ? foldSplit(cfg, items, whole, cfg.dataset.split) : whole;
      return {
        data: { images: demo.images, labels: demo.labels, imageSize: demo.imageSize, channels: demo.channels, numClasses: demo.classes.length },
        keys: demo.keys,
        classes: demo.classes,
        split,
        normalization: channelStats(demo.images, demo.imageSize * demo.imageSize, demo.channels, split.train),
      };
    }
    const { summary, data } = this.importedAs(cfg.dataset.fingerprint);
    if (data.options.purpose === 'evaluation') throw new EngineError('E_DATASET', `"${summary.name}" was imported as a folder to evaluate on, without a split; import it again to train on it or to evaluate on its test split`);
    let split = data.split;
    // Training uses the statistics stored for this split (the ones the user can see and verify); a fold's come from
    // its own training images, so the held-out fold does not leak into the normalisation.
    const stored = cfg.crossValidation ? undefined : await getStats(await this.database(), summary.splitId);
    let normalization = stored ? { mean: stored.mean, std: stored.std } : data.normalization;
    if (cfg.crossValidation) {
      // The manifest's groups (patients and duplicate clusters) keep each group in one fold.
      const groups = new Map(data.manifest.entries.map((e) => [e.path, e.group]));
      split = foldSplit(cfg, data.keys.map((key, i) => ({ key, label: data.labels[i], group: groups.get(key) })), data.split, data.options.split);
      normalization = channelStats(data.images, data.imageSize * data.imageSize, data.channels, split.train);
    }
    return {
      data: { images: data.images, labels: data.labels, imageSize: data.imageSize, channels: data.channels, numClasses: data.classes.length },
      keys: data.keys,
      classes: data.classes,
      split,
      normalization,
      dataset: {
        fingerprint: data.fingerprint,
        classes: data.classes,
        counts: data.counts,
        skipped: data.skipped,
        duplicates: { exactGroups: data.duplicates.exactGroups, nearGroups: data.duplicates.nearGroups, crossSplit: data.duplicates.crossSplit },
        normalization,
        name: summary.name,
        splitId: summary.splitId,
        importOptions: data.options,
      },
    };
  }

  /** While a cross-validation runs, only its own folds may train or be evaluated. */
  private refuseDuringCrossValidation(own: boolean): void {
    if (this.crossval && !own) throw new EngineError('E_BUSY', `cross-validation ${this.crossval.id} is running; cancel it or wait for it to finish`);
  }

  async train(cfg: TrainConfig, onEvent: (e: TrainEvent) => void): Promise<RunRecord> {
    this.refuseDuringCrossValidation(cfg.crossValidation?.id === this.crossval?.id);
    checkConfig(cfg);
    const entry = zooEntry(await this.loadedZoo(), cfg.model);
    checkPhases(cfg, resolveStrategy(cfg, entry));
    const runId = newRunId();
    return this.locks.hold(runId, () => this.execute(runId, this.locks.announce(onEvent), async (backend) => ({
      run: {
        runId,
        status: 'running',
        startedAt: new Date().toISOString(),
        endedAt: null,
        config: cfg,
        backend: backend.name,
        adapter: backend.adapter,
        model: cfg.model,
        strategy: resolveStrategy(cfg, entry),
        optimizer: cfg.optimizer ?? 'adam',
        checkpoint: { best: null, last: null },
        classes: [],
        split: { train: 0, val: 0, test: 0 },
        epochs: [],
        best: null,
        ...(cfg.crossValidation ? { tags: [`cv:${cfg.crossValidation.id}`, `fold ${cfg.crossValidation.fold}/${cfg.crossValidation.folds}`] } : {}),
      },
      checkpoint: null,
    })));
  }

  async resume(runId: string, onEvent: (e: TrainEvent) => void): Promise<RunRecord> {
    this.refuseDuringCrossValidation(false);
    // The lock first: while another tab trains the run, its record is not this tab's to read or write.
    return this.locks.hold(runId, () => this.execute(runId, this.locks.announce(onEvent), (backend) => this.reopen(runId, backend)));
  }

  /**
   * A stored run, opened to continue from its last checkpoint. `movedBecause` (a run moved to another backend, see
   * execute) starts one with no checkpoint again from its first epoch, where Resume refuses it.
   */
  private async reopen(runId: string, backend: BackendInfo, movedBecause?: string): Promise<{ run: RunRecord; checkpoint: Checkpoint | null }> {
    const db = await this.database();
    const run = await getRun(db, runId);
    if (!run) throw new EngineError('E_NOT_FOUND', `there is no run ${runId}`);
    if (run.status === 'completed') throw new EngineError('E_CONFIG', `run ${runId} has completed; there is nothing to resume`);
    const checkpoint = run.checkpoint?.last ? await loadCheckpoint(db, runId, 'last') : undefined;
    if (!checkpoint && !movedBecause) throw new EngineError('E_NOT_FOUND', `run ${runId} stopped before its first epoch ended, so it has no checkpoint to resume from; start it again`);
    // Epochs after the checkpoint would be redone, so they are dropped; the checkpoint's own epoch is missing from a
    // record cut off between the two writes (see withStoredCheckpoints), and its metrics are in the checkpoint.
    const epochs = checkpoint ? [...run.epochs.filter((m) => m.epoch < checkpoint.epoch), run.epochs.find((m) => m.epoch === checkpoint.epoch) ?? checkpointMetrics(run, checkpoint.metrics)] : [];
    const resumed = { at: new Date().toISOString(), fromEpoch: checkpoint?.epoch ?? 0, ...(movedBecause ? { reason: movedBecause } : {}) };
    return {
      run: { ...run, status: 'running', endedAt: null, error: undefined, backend: backend.name, adapter: backend.adapter, epochs, resumes: [...(run.resumes ?? []), resumed] },
      checkpoint: checkpoint ?? null,
    };
  }

  /** Runs (or continues) a run; `open` builds its record, and the checkpoint to continue from, once the run is claimed. */
  private async execute(runId: string, onEvent: (e: TrainEvent) => void, open: (backend: BackendInfo) => Promise<{ run: RunRecord; checkpoint: Checkpoint | null }>): Promise<RunRecord> {
    if (this.active) throw new EngineError('E_BUSY', `run ${this.active.runId} is still training; cancel it or wait for it to finish`);
    if (this.predicting) throw new EngineError('E_BUSY', 'a prediction is running; train when it has finished');
    // Claimed before the first await, so a second call made meanwhile is refused.
    const control = new RunControl(runId);
    this.active = control;
    let run: RunRecord;
    let resumeFrom: Checkpoint | null;
    let backend: BackendInfo;
    try {
      while (this.probing) await this.probing;
      backend = await this.backend();
      ({ run, checkpoint: resumeFrom } = await open(backend));
    } catch (err) {
      this.active = null;
      throw err;
    }
    const cfg = run.config;
    // Every optional setting resolved once (src/core/settings/resolve.ts); the stored config stays as given.
    const full = resolveTrainConfig(cfg);
    let db: StudioDB | null = null;
    let model: tf.LayersModel | null = null;
    const requested = cfg.augment === 'default' ? augmentDefault : cfg.augment;
    const augment = requested && !isAugmentIdentity(requested) ? requested : undefined;
    const work = { strategy: run.strategy, augment: Boolean(augment), cacheFeatures: full.featureCache !== 'off' };
    // Set when WebGL could not build this run's shaders in auto mode and another backend can take the run over.
    let movedBecause: string | null = null;
    try {
      // Work that no backend here can train is refused before the data is prepared.
      routeRun(backend, work);
      // A lost context cannot run anything; a fresh backend gets a new one.
      if (webglContextLost()) await releaseWebGL();
      db = await this.database();
      const store = db;
      const prepared = await this.prepare(cfg);
      const { data, split } = prepared;
      const routing = (run.routing = await measuredRouting(store, this.modelZoo, backend, { cfg, data, work }, (p) => onEvent({ type: 'measure', ...p })));
      run.classes = prepared.classes;
      run.split = { train: split.train.length, val: split.val.length, test: split.test.length };
      if (prepared.dataset) run.dataset = prepared.dataset;
      await saveRun(store, run);
      const batchesPerEpoch = Math.ceil(((cfg.mirrorTraining ? 2 : 1) * split.train.length) / cfg.batchSize);
      onEvent({ type: 'start', runId: run.runId, classes: run.classes, split: run.split, totalBatches: batchesPerEpoch * (cfg.epochs - (resumeFrom?.epoch ?? 0)), backend, routing, resumedFrom: resumeFrom?.epoch ?? null });

      const trainCounts = Array.from({ length: data.numClasses }, (_, k) => split.train.filter((i) => data.labels[i] === k).length);
      // The seed balanced classes by default; weights are recorded so a resumed run (and the report) uses the same.
      if (cfg.classWeights === 'auto' && isImbalanced(trainCounts)) run.classWeights = inverseFrequencyClassWeights(trainCounts);
      // Weights are created on the backend that uses them first; later work moves them on use.
      await useBackend(cachesFeatures(work) ? routing.forward : routing.train);
      const built = await buildModel(this.modelZoo, cfg, data, prepared.normalization, browserBackboneLoader(store), (entry) => loadTorchvisionState(entry, store, (p) => onEvent({ type: 'weights', ...p })));
      model = built.model;
      run.optimizer = built.optimizer;
      run.input = { imageSize: data.imageSize, channels: data.channels as 1 | 3, normalization: built.normalization };
      let validated: { epoch: number; predicted: Int32Array; logits: Float32Array } | null = null;
      const samples = validationSampler(data, split.val, (i) => prepared.keys[i]);
      const result = await trainInPhases({
        model,
        classifier: built.classifier,
        phases: planPhases(cfg, built.strategy),
        optimizer: built.optimizer,
        lrSchedule: cfg.lrSchedule,
        data,
        split,
        earlyStopping: full.earlyStopping,
        saveEveryEpochs: full.saveEveryEpochs,
        keepEpoch: full.keepEpoch,
        resumeFrom,
        // The frozen part maps each image to the same activations every epoch only without augmentation.
        cacheFeatures: !augment && full.featureCache !== 'off',
        save: (optimizer, best) => {
          const toStore = checkpointToStore(store, built.model, optimizer, { runId: run.runId, config: cfg, best });
          return async (kind, epoch, metrics, state) => {
            await toStore.save(kind, epoch, metrics, state);
            if (kind === 'last') run.checkpoint.last = epoch;
            if (kind === 'best') {
              run.checkpoint.best = epoch;
              run.best = { epoch, valAccuracy: metrics.valAccuracy };
              if (validated?.epoch === epoch) run.bestValidation = bestValidationRecord(run.classes, epoch, split.val.map((i) => data.labels[i]), validated.predicted, validated.logits);
            }
          };
        },
        onFeatureProgress: (done, total) => onEvent({ type: 'features', done, total }),
        onPhase: async (phase, cache) => {
          if (phase.name === null) {
            if (cache) run.featureCache = cache;
            return;
          }
          const phases = (run.phases ?? []).filter((p) => p.fromEpoch < phase.fromEpoch);
          run.phases = [...phases, { name: phase.name, fromEpoch: phase.fromEpoch, toEpoch: phase.toEpoch, trainableBlocks: phase.trainableBlocks ?? 'all', learningRate: phase.learningRate, ...(cache ? { featureCache: cache } : {}) }];
          await saveRun(store, run);
        },
        trainer: {
          batchSize: cfg.batchSize,
          seed: cfg.seed,
          normalization: built.normalization,
          augment,
          clipNorm: full.clipNorm === 0 ? undefined : full.clipNorm,
          classWeights: run.classWeights,
          labelSmoothing: full.labelSmoothing,
          tta: full.tta,
          mirrorTraining: full.mirrorTraining,
          onBatch: (e) => onEvent({ type: 'batch', ...e }),
          onEpoch: async (metrics) => {
            run.epochs.push(metrics);
            await saveRun(store, run);
            const predicted = validated?.epoch === metrics.epoch ? validated.predicted : null;
            onEvent({ type: 'epoch', metrics, numTensors: tf.memory().numTensors, numBytes: tf.memory().numBytes, ...(predicted ? { samples: samples(predicted) } : {}) });
          },
          shouldStop: () => control.stop,
          yieldToHost,
          waitWhilePaused: (flush) =>
            control.waitWhilePaused(async (paused) => {
              run.status = paused ? 'paused' : 'running';
              await saveRun(store, run);
              onEvent({ type: 'paused', paused });
            }, flush),
          validateOn: (validate) => onBackend(routing.forward, validate),
          onValidation: (epoch, predicted, logits) => void (validated = { epoch, predicted, logits }),
        },
        // A frozen part's activations are forward work; the trainable part trains where convolution gradients run.
        onForward: (work) => onBackend(routing.forward, work),
        onTrain: () => useBackend(routing.train),
      });
      run.status = result.stopped ? 'cancelled' : 'completed';
    } catch (thrown) {
      const loss = await gpuDeviceLoss();
      if (loss) {
        // Not the run's failure: its checkpoints stand, and the fresh worker that replaces this one resumes it.
        run.status = 'interrupted';
        throw new EngineError('E_WORKER_LOST', `the engine worker stopped: ${loss}`);
      }
      movedBecause = isShaderFailure(thrown) ? this.moveOffWebGL(cfg, backend, work, thrown as Error) : null;
      if (movedBecause) {
        run.status = 'interrupted';
      } else {
        const err = isOutOfMemory(thrown)
          ? new EngineError('E_MEMORY', `the ${BACKEND_LABEL[tf.getBackend() as BackendName] ?? tf.getBackend()} backend ran out of memory training ${cfg.model} on batches of ${cfg.batchSize}${run.input ? ` at ${run.input.imageSize} px` : ''}; choose a smaller batch size or image size (the browser said: ${(thrown as Error).message})`)
          : isShaderFailure(thrown)
            ? this.shaderFailure(cfg, backend, thrown as Error)
            : thrown;
        run.status = 'failed';
        run.error = err instanceof Error ? err.message : String(err);
        throw asEngineError(err);
      }
    } finally {
      run.endedAt = new Date().toISOString();
      model?.dispose();
      await useBackend(backend.name);
      await releaseWebGL();
      this.active = null;
      if (db) await saveRun(db, run);
    }
    // The same run, continued from its last checkpoint (or from its start) where routing now sends it.
    if (movedBecause) return this.execute(runId, onEvent, (b) => this.reopen(runId, b, movedBecause!));
    onEvent({ type: 'done', run });
    return run;
  }

  /**
   * Auto mode, WebGL could not compile or link a shader of the run: WebGL is refused for the rest of this page (its
   * backend is reset when the run ends anyway), and the run moves on to where routing then sends it. Returns why, or
   * null when the run cannot move (a forced backend, or no other backend that can train it).
   */
  private moveOffWebGL(cfg: TrainConfig, info: BackendInfo, work: RunWork, err: Error): string | null {
    if (info.requested !== 'auto' || info.refused?.some((r) => r.name === 'webgl')) return null;
    const reason = `${webglCannotBuild(cfg)}: ${err.message}`;
    const refusing = { ...info, refused: [...(info.refused ?? []), { name: 'webgl' as const, reason }] };
    try {
      routeRun(refusing, work);
    } catch {
      return null;
    }
    if (this.info === info) this.info = refusing;
    return reason;
  }

  /**
   * WebGL could not compile or link a shader of the run and the run could not move to another backend. Said as
   * E_BACKEND with what to do, the driver's words kept for the details.
   */
  private shaderFailure(cfg: TrainConfig, info: BackendInfo, err: Error): EngineError {
    const next = info.requested === 'auto' ? 'no other backend that started here can train it' : 'choose another backend (auto, CPU or WebGPU) in the settings and resume this run or start it again';
    return new EngineError('E_BACKEND', `${webglCannotBuild(cfg)}; ${next}`, `${err.message} (${info.adapter?.description ?? 'unknown adapter'})`);
  }

  async cancel(runId: string): Promise<void> {
    if (this.crossval?.id === runId) {
      this.crossval.stop = true;
      this.active?.cancel();
    }
    if (this.active?.runId === runId) this.active.cancel();
  }

  async pause(runId: string): Promise<void> {
    if (this.active?.runId === runId) this.active.pause();
  }

  async unpause(runId: string): Promise<void> {
    if (this.active?.runId === runId) this.active.unpause();
  }

  async evaluate(req: EvaluateRequest, onEvent: (e: EvaluateEvent) => void): Promise<EvaluationRecord> {
    this.refuseDuringCrossValidation(Boolean(this.crossval && (await getRun(await this.database(), req.runId))?.config.crossValidation?.id === this.crossval.id));
    return this.evaluating(req.runId, (host) => evaluateRun(host, req, onEvent));
  }

  evaluateModel(req: ModelEvaluateRequest, onEvent: (e: EvaluateEvent) => void): Promise<EvaluationRecord> {
    return this.evaluating('model', (host) => evaluateModelFolder(host, req, onEvent));
  }

  /** Claims the engine like a run does, so training and evaluation never share the backend, and cancel(id) stops it. */
  private async evaluating(id: string, work: (host: EvaluateHost) => Promise<EvaluationRecord>): Promise<EvaluationRecord> {
    if (this.active) throw new EngineError('E_BUSY', `run ${this.active.runId} is training or being evaluated; wait for it to finish`);
    if (this.predicting) throw new EngineError('E_BUSY', 'a prediction is running; evaluate when it has finished');
    const control = new RunControl(id);
    this.active = control;
    try {
      const backend = await this.forwardInfo();
      const host: EvaluateHost = { db: await this.database(), zoo: this.modelZoo, backend, prepare: (cfg: TrainConfig) => this.prepare(cfg), imported: (fp: string) => this.importedWhole(fp), shouldStop: () => control.stop, yieldToHost };
      return await onBackend(backend.name, () => work(host));
    } catch (err) {
      throw asEngineError(err);
    } finally {
      await releaseWebGL();
      this.active = null;
    }
  }

  /** The backend that forward-only work (evaluation, prediction) runs on, described as the UI and reports show it. */
  private async forwardInfo(): Promise<BackendInfo> {
    const b = await this.backend();
    const name = forwardBackend({ requested: b.requested, selected: b.name, adapter: b.adapter, available: b.available, refused: b.refused?.map((r) => r.name) });
    // The adapter describes the GPU backends only; WASM and CPU work on the CPU whatever the adapter is.
    return name === b.name ? b : { ...b, name, adapter: name === 'webgpu' || name === 'webgl' ? b.adapter : null };
  }

  async evaluation(runId: string): Promise<EvaluationRecord | null> {
    return (await getEvaluation(await this.database(), runId)) ?? null;
  }

  async evaluationThumbnails(runId: string, keys: string[], size: number): Promise<Thumbnail[]> {
    return evaluationThumbnails({ db: await this.database(), prepare: (cfg) => this.prepare(cfg), imported: (fp) => this.importedWhole(fp) }, runId, keys, size);
  }

  async gradcam(req: GradCamRequest): Promise<GradCam> {
    if (this.active) throw new EngineError('E_BUSY', `run ${this.active.runId} is training or being evaluated; wait for it to finish`);
    // Claimed like a run: Grad-CAM switches the active backend, which a run in flight must not see.
    this.active = new RunControl('gradcam');
    try {
      return await explain({ db: await this.database(), zoo: this.modelZoo, backend: await this.backend(), prepare: (cfg) => this.prepare(cfg), registry: this.registry, decode: (file, size, channels) => this.decodeOne(file, size, channels) }, req);
    } catch (err) {
      throw asEngineError(err);
    } finally {
      this.active = null;
    }
  }

  /** One image file through the import's decoder workers, at `size`; E_DATASET with the decoder's reason when it fails. */
  private async decodeOne(file: Blob, size: number, channels: 1 | 3): Promise<Uint8Array> {
    if (!this.analyze) throw new EngineError('E_INTERNAL', 'this engine has no image decoder');
    const { items, pixels } = await this.analyze.analyze([file], size, channels);
    const item = items[0];
    if ('error' in item) throw new EngineError('E_DATASET', `the image could not be read: ${item.error.message}`);
    return pixels.slice(0, size * size * channels);
  }

  async evaluationReport(runId: string, opts?: ReportOptions): Promise<ReportFile[]> {
    const ev = await this.evaluation(runId);
    if (!ev) throw new EngineError('E_NOT_FOUND', `run ${runId} has not been evaluated yet`);
    return evaluationFiles(ev, opts);
  }

  async zoo(): Promise<ZooModel[]> {
    return (await this.loadedZoo()).entries().map((e) => ({ id: e.id, name: e.name, family: e.family, inputSize: e.inputSize, params: e.params, pretrained: e.source.kind !== 'builtin', defaults: e.defaults, ...(weightsFileOf(e) ? { weightsFile: weightsFileOf(e) } : {}) }));
  }

  async estimateMemory(cfg: TrainConfig): Promise<MemoryEstimate> {
    checkConfig(cfg);
    const zoo = await this.loadedZoo();
    zooEntry(zoo, cfg.model);
    const backend = await this.backend();
    let data;
    if (cfg.dataset.kind === 'demo') {
      data = { imageSize: cfg.dataset.imageSize, channels: 3, numClasses: DEMO_CLASSES.length };
    } else {
      const { summary } = this.importedAs(cfg.dataset.fingerprint);
      data = { imageSize: summary.imageSize, channels: summary.channels, numClasses: summary.classes.length };
    }
    try {
      return await this.memory.estimate(zoo, cfg, data, browserBackboneLoader(await this.database()), backend.name);
    } catch (err) {
      throw asEngineError(err);
    }
  }

  /** A probe during a run would slow the run and measure a shared device. */
  private refuseProbeWhileTraining(): void {
    if (this.active) throw new EngineError('E_BUSY', `run ${this.active.runId} is training; measure when it has finished`);
  }

  /** The input and class count a config's model is built for: the demo's, or the imported dataset's. */
  private inputShape(cfg: TrainConfig): { imageSize: number; channels: number; numClasses: number } {
    if (cfg.dataset.kind === 'demo') return { imageSize: cfg.dataset.imageSize, channels: 3, numClasses: DEMO_CLASSES.length };
    const { summary } = this.importedAs(cfg.dataset.fingerprint);
    return { imageSize: summary.imageSize, channels: summary.channels, numClasses: summary.classes.length };
  }

  async probeSpeed(cfg: TrainConfig): Promise<SpeedProbe> {
    checkConfig(cfg);
    const zoo = await this.loadedZoo();
    const entry = zooEntry(zoo, cfg.model);
    this.refuseProbeWhileTraining();
    const backend = await this.backend();
    const data = this.inputShape(cfg);
    const routing = routeRun(backend, { strategy: resolveStrategy(cfg, entry), augment: false, cacheFeatures: false });
    return this.probe(backend, async () => {
      await useBackend(routing.train);
      const built = await buildModel(zoo, cfg, data, { mean: [0, 0, 0], std: [1, 1, 1] }, browserBackboneLoader(await this.database()));
      try {
        return await probeModel(built.model, cfg.batchSize, routing.train);
      } finally {
        built.model.dispose();
      }
    });
  }

  /**
   * Runs a timing probe alone: one probe at a time, and a run that starts meanwhile waits for it (both switch the
   * active backend); `backend` is active again afterwards.
   */
  private async probe<T>(backend: BackendInfo, work: () => Promise<T>): Promise<T> {
    let done!: () => void;
    const probing = new Promise<void>((resolve) => (done = resolve));
    while (this.probing) await this.probing;
    this.refuseProbeWhileTraining();
    this.probing = probing;
    try {
      return await work();
    } catch (err) {
      throw asEngineError(err);
    } finally {
      await useBackend(backend.name);
      this.probing = null;
      done();
    }
  }

  /**
   * Times a few training steps of the model on each backend that could train it here, keeps the fastest for this
   * adapter (see workers/measure.ts) and returns the figures: "Re-measure", or a first measurement on demand. `key`
   * re-measures a stored measurement with the settings it was taken with.
   */
  async measureBackends(target: TrainConfig | { key: string }, onProgress?: (p: MeasureProgress) => void): Promise<BackendMeasurement> {
    let cfg: TrainConfig;
    let data: { imageSize: number; channels: number; numClasses: number };
    if ('key' in target) {
      const stored = await getMeasurement(await this.database(), target.key);
      if (!stored) throw new EngineError('E_NOT_FOUND', `no backend measurement is stored as "${target.key}"`);
      ({ config: cfg } = stored);
      data = { imageSize: stored.imageSize, channels: stored.channels, numClasses: stored.classes };
    } else {
      cfg = target;
      checkConfig(cfg);
      data = this.inputShape(cfg);
    }
    this.refuseProbeWhileTraining();
    const backend = await this.backend();
    const work = { strategy: resolveStrategy(cfg, zooEntry(await this.loadedZoo(), cfg.model)), augment: false, cacheFeatures: false };
    const candidates = candidatesFor(backend, work);
    if (backend.requested !== 'auto') throw new EngineError('E_CONFIG', `the ${BACKEND_LABEL[backend.name]} backend was chosen, so every run stays on it: choose auto to measure the backends`);
    if (candidates.length < 2) throw new EngineError('E_CONFIG', `only ${candidates.map((b) => BACKEND_LABEL[b]).join(', ') || 'no backend'} can train ${cfg.model} here: there is nothing to measure`);
    return this.probe(backend, async () => {
      const measured = await measureBackends(await this.database(), this.modelZoo, backend, { cfg, data, work }, candidates, onProgress);
      if (!measured) throw new EngineError('E_BACKEND', `no backend could run a training step of ${cfg.model} here`);
      return measured;
    });
  }

  /** The stored backend measurements, newest first. */
  async backendMeasurements(): Promise<BackendMeasurement[]> {
    return listMeasurements(await this.database());
  }

  /** Every stored run, newest first; a run marked live that no worker trains any more is stored as `interrupted` first. */
  async runs(): Promise<RunRecord[]> {
    const db = await this.database();
    return markInterrupted(db, await listRuns(db), () => this.locks.held());
  }

  async deleteRun(runId: string): Promise<void> {
    if (this.active?.runId === runId) throw new EngineError('E_BUSY', `run ${runId} is training or being evaluated; cancel it before deleting it`);
    if ((await this.locks.held()).has(runId)) throw new EngineError('E_LOCKED', `run ${runId} is being trained in another tab or window; delete it when it has stopped`);
    if (!(await deleteRun(await this.database(), runId))) throw new EngineError('E_NOT_FOUND', `there is no run ${runId}`);
  }

  async exportRun(runId: string): Promise<ExportedFile> {
    if (this.active?.runId === runId) throw new EngineError('E_BUSY', `run ${runId} is training; export it when it has stopped`);
    try {
      return { name: runFileName(runId), bytes: await exportRunFile(await this.database(), runId) };
    } catch (err) {
      throw asEngineError(err);
    }
  }

  async importRun(bytes: Uint8Array, opts: { onClash?: 'refuse' | 'rename'; name?: string } = {}): Promise<RunRecord> {
    try {
      return await importRunFile(await this.database(), bytes, { onClash: opts.onClash, source: opts.name, estimate: browserEstimate() });
    } catch (err) {
      throw asEngineError(err);
    }
  }

  async importClusterRun(sourceRunId: string, files: ClusterRunFiles): Promise<RunRecord> {
    this.refuseDuringCrossValidation(false);
    // The weights are set through tensors, on whichever backend the engine uses.
    await this.backend();
    return importClusterRun(await this.database(), this.modelZoo, sourceRunId, files);
  }

  async compareRuns(runIds: string[]): Promise<RunComparison[]> {
    const db = await this.database();
    return Promise.all(
      runIds.map(async (runId) => {
        const run = await getRun(db, runId);
        if (!run) throw new EngineError('E_NOT_FOUND', `there is no run ${runId}`);
        const kind = run.checkpoint.best != null ? 'best' : 'last';
        return compareRun(run, await getEvaluation(db, runId), await db.get('checkpoints', checkpointId(runId, kind, 0)));
      }),
    );
  }

  async crossValidate(req: CrossValidationRequest, onEvent: (e: CrossValidationEvent) => void): Promise<CrossValidationResult> {
    const folds = req.folds ?? 5;
    if (this.active || this.crossval) throw new EngineError('E_BUSY', 'a run, an evaluation or a cross-validation is in progress; wait for it to finish');
    const id = newRunId().replace(/^run-/, 'cv-');
    // The whole config (folds included) is checked before the first fold trains.
    checkConfig({ ...req.config, crossValidation: { id, folds, fold: 1 } });
    const control = { id, stop: false };
    this.crossval = control;
    try {
      return await crossValidate({ train: (cfg, on) => this.train(cfg, on), evaluate: (r, on) => this.evaluate(r, on), stopped: () => control.stop }, id, req.config, folds, onEvent);
    } finally {
      this.crossval = null;
    }
  }

  register(req: RegisterModelRequest): Promise<ModelVersion> {
    return this.registry.register(req);
  }

  models(): Promise<ModelVersion[]> {
    return this.registry.models();
  }

  exportModel(ref: string, format: 'tfjs' | 'onnx', opts?: { zip?: boolean; parityImages?: number }): Promise<ModelExport> {
    return this.registry.exportModel(ref, format, opts);
  }

  importModel(files: ExportedFile[], req: Omit<RegisterModelRequest, 'runId'>): Promise<ModelVersion> {
    return this.registry.importModel(files, req);
  }

  async predict(ref: string, images: PredictImage[], opts: PredictOptions = {}, onProgress?: (p: PredictProgress) => void): Promise<PredictResult> {
    // Training switches backends under its own tensors; predicting in between would run on whichever is current.
    if (this.active) throw new EngineError('E_BUSY', `run ${this.active.runId} is training or being evaluated; predict when it has finished`);
    if (this.predicting) throw new EngineError('E_BUSY', 'a prediction is already running');
    this.predicting = true;
    try {
      const backend = await this.forwardInfo();
      return await onBackend(backend.name, () => this.predictor.predict(ref, images, opts, backend.name, onProgress));
    } finally {
      this.predicting = false;
    }
  }

  async auditLog(): Promise<AuditEntry[]> {
    return listAudit(await this.database());
  }

  async clearAuditLog(): Promise<void> {
    await clearAudit(await this.database());
  }

  async predictionsCsv(result: PredictResult): Promise<string> {
    return predictionsCsv(result);
  }

  async auditLogCsv(): Promise<string> {
    return auditCsv(await this.auditLog());
  }

  reviewRegistration(req: RegisterModelRequest): Promise<RegistrationReview> {
    return this.registry.reviewRegistration(req);
  }

  setAlias(ref: string, alias: string): Promise<ModelVersion> {
    return this.registry.setAlias(ref, alias);
  }

  removeAlias(name: string, alias: string): Promise<void> {
    return this.registry.removeAlias(name, alias);
  }

  deleteModel(id: string): Promise<void> {
    return this.registry.deleteModel(id);
  }

  async storageUsage(): Promise<StorageGroupUsage[]> {
    return storageUsage(await this.database());
  }

  /**
   * Held-out images for an export's parity check, when their size fits the model: the imported dataset's, else (a
   * demo run's version) the run's own demo images, regenerated from its seed.
   */
  private async sampleImages(size: number, channels: number, count: number, runId: string | null): Promise<{ pixels: Uint8Array; count: number } | null> {
    const stride = size * size * channels;
    const data = this.dataset?.data;
    if (data && data.imageSize === size && data.channels === channels) return paritySample(data.images, stride, data.split, count);
    const run = runId ? await getRun(await this.database(), runId) : undefined;
    if (run?.config.dataset.kind !== 'demo') return null;
    const demo = await this.prepare(run.config);
    if (demo.data.imageSize !== size || demo.data.channels !== channels) return null;
    return paritySample(demo.data.images, stride, demo.split, count);
  }

  async configTemplates(): Promise<ConfigTemplate[]> {
    return configTemplates(await this.loadedZoo());
  }

  async readConfig(file: string | object): Promise<StudioSettings> {
    const zoo = await this.loadedZoo();
    try {
      return settingsFromConfig(typeof file === 'string' ? parseConfigText(file, zoo) : readConfig(file, zoo), zoo);
    } catch (err) {
      throw asEngineError(err);
    }
  }

  async writeConfig(settings: StudioSettings): Promise<StudioConfig> {
    const zoo = await this.loadedZoo();
    try {
      return configFromSettings(checkSettings(settings, zoo));
    } catch (err) {
      throw asEngineError(err);
    }
  }

  async augmentPreview(req: AugmentPreviewRequest): Promise<AugmentPreview[]> {
    const { data } = this.imported();
    await this.backend();
    return augmentPreviews(data, req).catch((err) => {
      throw asEngineError(err);
    });
  }

  async importBackbone(id: string, input: FolderInput): Promise<BackboneImport> {
    await this.backend();
    return importBackboneFolder(zooEntry(await this.loadedZoo(), id), input, await this.database()).catch((err) => {
      throw asEngineError(err);
    });
  }

  async importWeightsFile(id: string, file: File): Promise<WeightsFileImport> {
    // Building the network to check the file runs on the active backend, which a run switches.
    if (this.active) throw new EngineError('E_BUSY', `run ${this.active.runId} is training; pick the weights file when it has finished`);
    await this.backend();
    const entry = zooEntry(await this.loadedZoo(), id);
    const db = await this.database();
    const done =
      entry.source.kind === 'torchvision'
        ? importTorchWeightsFile(entry, { kind: 'files', name: file.name, files: [file], paths: [file.name] }, db).then((b) => ({ id: b.id, name: b.name, file: b.folder, bytes: b.bytes, weights: b.params }))
        : importWeightsFile(entry, file, db);
    return done.catch((err) => {
      throw asEngineError(err);
    });
  }

  async importOnnxBackbone(req: OnnxBackboneRequest): Promise<OnnxBackboneImport> {
    // Its parity check runs on the active backend, which a run switches between its forward and training work.
    if (this.active) throw new EngineError('E_BUSY', `run ${this.active.runId} is training; import the ONNX backbone when it has finished`);
    await this.backend();
    try {
      const { entry, report } = await importOnnxBackbone(req, await this.database());
      this.modelZoo = this.modelZoo.withImported(entry);
      return report;
    } catch (err) {
      throw asEngineError(err);
    }
  }

  async network(): Promise<NetworkRequest[]> {
    return resourceRequests(performance, 'engine');
  }
}
