/**
 * The engine behind the `Engine` interface: runs in a dedicated worker and owns every tensor and every image. A
 * facade: training and evaluation are the RunExecutor's, the registry's work the RegistryService's; one lock
 * (claim.ts) keeps apart the work that must not overlap, and errors are mapped once, for every method (errors.ts).
 */
import { generateDemoDataset } from '../src/core/dataset/demo';
import { scanChecks } from '../src/core/dataset/checks';
import { importDataset, scanFolder, splitId, type FolderSource, type ImageAnalyzer, type ImportedDataset, type ImportOptions } from '../src/core/dataset/importer';
import { manifestToCsv, manifestToJson, stratifiedSplit, type SplitIndices } from '../src/core/dataset/split';
import { channelStats, IMAGENET_STATS, verifyStats, type ChannelStats } from '../src/core/dataset/stats';
import { addImportedEntry, zooEntries, type ZooEntry } from '../src/core/models/zoo';
import { deriveSeed, mulberry32, shuffle } from '../src/core/random';
import { BOUNDS } from '../src/core/settings/schema';
import { getRun, getStats, lastFolder, openStudioDB, rememberFolder, saveSplit, saveStats, type StudioDB } from '../src/core/store/db';
import { crossValidationSplit } from '../src/core/metrics/kfold';
import { storageUsage } from '../src/core/store/usage';
import { paritySample } from '../src/core/export/parity';
import type { RecipeFile } from '../src/core/recipe/recipe';
import type { TrainConfig } from '../src/core/train/types';
import { EngineError } from '../src/engine/errors';
import type { BackboneImport, BackendInfo, BackendName, DatasetSummary, Engine, ZooModel, FolderInput, FolderScan, ImportEvent, StatsVerification, Thumbnail, PredictImage, PredictOptions, PredictProgress, PredictResult, OnnxBackboneImport, OnnxBackboneRequest, WeightsFileImport, RecommendedRecipe, AugmentPreview, AugmentPreviewRequest } from '../src/engine/types';
import { configFromSettings, configTemplates, checkSettings, parseConfigText, readConfig, recommendedConfig, settingsFromConfig } from '../src/core/config';
import { importedBackbones } from '../src/core/store/backbones';
import { listMeasurements } from '../src/core/store/measurements';
import { auditCsv, predictionsCsv } from '../src/core/inference/predictions';
import { clearAudit, listAudit } from '../src/core/store/audit';
import { recommendRecipe } from '../src/core/train/recommend';
import { resourceRequests } from '../src/engine/network';
import { importBackboneFolder } from './backbone-import';
import { onBackend, routeRun } from './backend';
import { BackendChoice } from './backend-choice';
import { checkFractions, checkRange, bad, zooEntry } from './checks';
import { Claims } from './claim';
import { asEngineError, mapErrors } from './errors';
import { folderSource } from './folder';
import { decodeImage } from './gradcam';
import { browserBackboneLoader } from './models';
import { importOnnxBackbone } from './onnx-import';
import { Predictor } from './predict';
import { augmentPreviews } from './preview';
import { exportRecipe } from './recipe';
import { measureDeviceSpeed } from './recommend';
import { RegistryService } from './registry';
import { RunExecutor, type PreparedRun } from './run-executor';
import { RunRecords } from './run-records';
import { thumbnailOf } from './thumbnail';
import { importTorchWeightsFile } from './torch-weights';
import { importWeightsFile } from './weights-file';

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

function checkImport(opts: ImportOptions): void {
  checkRange('image size', BOUNDS.imageSize, opts.imageSize);
  if (opts.channels !== 1 && opts.channels !== 3) bad(`channels must be 1 or 3 (got ${opts.channels})`);
  checkRange('seed', BOUNDS.seed, opts.seed);
  if (opts.nearThreshold !== undefined) checkRange('the near-duplicate threshold', BOUNDS.nearThreshold, opts.nearThreshold);
  // An evaluation import has no split (see ImportOptions.purpose).
  if (opts.purpose !== 'evaluation') checkFractions(opts.split);
}

const SAMPLES_PER_CLASS = 8;

function samplesPerClass(data: ImportedDataset, seed: number): Record<string, string[]> {
  const byClass = data.classes.map((): string[] => []);
  data.keys.forEach((k, i) => byClass[data.labels[i]].push(k));
  const rand = mulberry32(deriveSeed(seed, 'samples'));
  return Object.fromEntries(data.classes.map((c, j) => [c, shuffle(byClass[j], rand).slice(0, SAMPLES_PER_CLASS)]));
}

/** A run's images, labels, split and normalisation, prepared from its config. */
type Prepared = PreparedRun;

/** A zoo entry whose weights come as one file the user may pick ("Choose weights file…"): its types and official URL. */
function weightsFileOf(e: ZooEntry): ZooModel['weightsFile'] {
  if (e.source.kind === 'torchvision') return { extension: '.pth,.pt,.safetensors', url: e.source.url };
  if (e.source.kind === 'keras-h5') return { extension: '.h5', url: e.source.url };
  return undefined;
}

export class StudioEngine implements Engine {
  private db: Promise<StudioDB> | null = null;
  private readonly backends = new BackendChoice();
  /** The one lock: which work may overlap which (see claim.ts). */
  private readonly claims = new Claims();
  private scanned: { name: string; source: FolderSource } | null = null;
  private importing: { stop: boolean } | null = null;
  /** The one imported dataset held in memory (a new import replaces it: decoded images are large). */
  private dataset: { summary: DatasetSummary; data: ImportedDataset } | null = null;

  private readonly registry = new RegistryService(
    () => this.database(),
    (size, channels, count, runId) => this.sampleImages(size, channels, count, runId),
  );

  private readonly predictor: Predictor;
  private readonly executor: RunExecutor;
  private readonly records: RunRecords;

  /**
   * @param analyze per-file import work (decode, hashes, sums); the worker passes a pool of browser decoders.
   * Returns the engine with its errors mapped (errors.ts), for the worker and for Node callers alike.
   */
  constructor(private readonly analyze?: ImageAnalyzer) {
    this.predictor = new Predictor(() => this.database(), analyze);
    this.executor = new RunExecutor({
      backends: this.backends,
      claims: this.claims,
      database: () => this.database(),
      prepare: (cfg) => this.prepare(cfg),
      importedWhole: (fp) => this.importedWhole(fp),
      importedShape: (fp) => {
        const { summary } = this.importedAs(fp);
        return { imageSize: summary.imageSize, channels: summary.channels, numClasses: summary.classes.length };
      },
      decode: (file, size, channels) => decodeImage(this.analyze, file, size, channels),
      registry: this.registry,
    });
    this.records = new RunRecords({ database: () => this.database(), backend: () => this.backend(), claims: this.claims, locks: this.executor.locks });
    return mapErrors(this);
  }

  /** The studio DB, once open with the imported ONNX backbones registered in the zoo. */
  private database(): Promise<StudioDB> {
    this.db ??= openStudioDB().then(async (db) => {
      for (const entry of await importedBackbones(db)) addImportedEntry(entry);
      return db;
    });
    return this.db;
  }

  /** The run training or being evaluated, as the dataset methods ask for it. */
  private get active(): { runId: string } | null {
    const held = this.claims.held('train', 'evaluate', 'gradcam');
    return held ? { runId: held.id } : null;
  }

  async init(backend: BackendName | 'auto'): Promise<BackendInfo> {
    this.claims.check('init');
    return this.backends.choose(backend);
  }

  backend(): Promise<BackendInfo> {
    return this.backends.current();
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
      return { ...recommendation, form: settingsFromConfig(recommendedConfig(recommendation.settings)) };
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
    return this.database().then((db) => exportRecipe(db, runId, opts, this.dataset?.data));
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

  // Training and evaluation (run-executor.ts).
  readonly train: Engine['train'] = (cfg, onEvent) => this.executor.train(cfg, onEvent);
  readonly resume: Engine['resume'] = (runId, onEvent) => this.executor.resume(runId, onEvent);
  readonly cancel: Engine['cancel'] = (runId) => this.executor.cancel(runId);
  readonly pause: Engine['pause'] = (runId) => this.executor.pause(runId);
  readonly unpause: Engine['unpause'] = (runId) => this.executor.unpause(runId);
  readonly evaluate: Engine['evaluate'] = (req, onEvent) => this.executor.evaluate(req, onEvent);
  readonly evaluateModel: Engine['evaluateModel'] = (req, onEvent) => this.executor.evaluateModel(req, onEvent);
  readonly evaluation: Engine['evaluation'] = (runId) => this.executor.evaluation(runId);
  readonly evaluationThumbnails: Engine['evaluationThumbnails'] = (runId, keys, size) => this.executor.evaluationThumbnails(runId, keys, size);
  readonly evaluationReport: Engine['evaluationReport'] = (runId, opts) => this.executor.evaluationReport(runId, opts);
  readonly gradcam: Engine['gradcam'] = (req) => this.executor.gradcam(req);
  readonly crossValidate: Engine['crossValidate'] = (req, onEvent) => this.executor.crossValidate(req, onEvent);
  readonly probeSpeed: Engine['probeSpeed'] = (cfg) => this.executor.probeSpeed(cfg);
  readonly measureBackends: Engine['measureBackends'] = (target, onProgress) => this.executor.measureBackends(target, onProgress);
  readonly estimateMemory: Engine['estimateMemory'] = (cfg) => this.executor.estimateMemory(cfg);

  async zoo(): Promise<ZooModel[]> {
    await this.database();
    return zooEntries().map((e) => ({ id: e.id, name: e.name, family: e.family, inputSize: e.inputSize, params: e.params, pretrained: e.source.kind !== 'builtin', defaults: e.defaults, ...(weightsFileOf(e) ? { weightsFile: weightsFileOf(e) } : {}) }));
  }

  // The stored runs (run-records.ts).
  readonly runs: Engine['runs'] = () => this.records.list();
  readonly deleteRun: Engine['deleteRun'] = (runId) => this.records.delete(runId);
  readonly exportRun: Engine['exportRun'] = (runId) => this.records.export(runId);
  readonly importRun: Engine['importRun'] = (bytes, opts) => this.records.import(bytes, opts);
  readonly importClusterRun: Engine['importClusterRun'] = (sourceRunId, files) => this.records.importCluster(sourceRunId, files);
  readonly compareRuns: Engine['compareRuns'] = (runIds) => this.records.compare(runIds);

  // The model registry (registry.ts).
  readonly register: Engine['register'] = (req) => this.registry.register(req);
  readonly models: Engine['models'] = () => this.registry.models();
  readonly exportModel: Engine['exportModel'] = (ref, format, opts) => this.registry.exportModel(ref, format, opts);
  readonly importModel: Engine['importModel'] = (files, req) => this.registry.importModel(files, req);
  readonly reviewRegistration: Engine['reviewRegistration'] = (req) => this.registry.reviewRegistration(req);
  readonly setAlias: Engine['setAlias'] = (ref, alias) => this.registry.setAlias(ref, alias);
  readonly removeAlias: Engine['removeAlias'] = (name, alias) => this.registry.removeAlias(name, alias);
  readonly deleteModel: Engine['deleteModel'] = (id) => this.registry.deleteModel(id);

  async predict(ref: string, images: PredictImage[], opts: PredictOptions = {}, onProgress?: (p: PredictProgress) => void): Promise<PredictResult> {
    // Training switches backends under its own tensors; predicting in between would run on whichever is current.
    const claim = this.claims.claim('predict', 'predict');
    try {
      await claim.ready;
      const backend = await this.executor.forwardInfo();
      return await onBackend(backend.name, () => this.predictor.predict(ref, images, opts, backend.name, onProgress));
    } finally {
      claim.release();
    }
  }

  // Stored records and files, each one call into the core.
  readonly auditLog: Engine['auditLog'] = async () => listAudit(await this.database());
  readonly clearAuditLog: Engine['clearAuditLog'] = async () => clearAudit(await this.database());
  readonly auditLogCsv: Engine['auditLogCsv'] = async () => auditCsv(await this.auditLog());
  readonly predictionsCsv: Engine['predictionsCsv'] = async (result) => predictionsCsv(result);
  readonly storageUsage: Engine['storageUsage'] = async () => storageUsage(await this.database());
  readonly backendMeasurements: Engine['backendMeasurements'] = async () => listMeasurements(await this.database());
  readonly configTemplates: Engine['configTemplates'] = async () => configTemplates();
  readonly readConfig: Engine['readConfig'] = async (file) => settingsFromConfig(typeof file === 'string' ? parseConfigText(file) : readConfig(file));
  readonly writeConfig: Engine['writeConfig'] = async (settings) => configFromSettings(checkSettings(settings));
  readonly network: Engine['network'] = async () => resourceRequests(performance, 'engine');

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

  async augmentPreview(req: AugmentPreviewRequest): Promise<AugmentPreview[]> {
    const { data } = this.imported();
    await this.backend();
    return augmentPreviews(data, req);
  }

  async importBackbone(id: string, input: FolderInput): Promise<BackboneImport> {
    await this.backend();
    return importBackboneFolder(zooEntry(id), input, await this.database());
  }

  async importWeightsFile(id: string, file: File): Promise<WeightsFileImport> {
    // Building the network to check the file runs on the active backend, which a run switches.
    this.claims.check('weights');
    await this.backend();
    const entry = zooEntry(id);
    const db = await this.database();
    if (entry.source.kind !== 'torchvision') return importWeightsFile(entry, file, db);
    const b = await importTorchWeightsFile(entry, { kind: 'files', name: file.name, files: [file], paths: [file.name] }, db);
    return { id: b.id, name: b.name, file: b.folder, bytes: b.bytes, weights: b.params };
  }

  async importOnnxBackbone(req: OnnxBackboneRequest): Promise<OnnxBackboneImport> {
    // Its parity check runs on the active backend, which a run switches between its forward and training work.
    this.claims.check('onnx');
    await this.backend();
    return importOnnxBackbone(req, await this.database());
  }
}
