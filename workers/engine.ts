/** The engine behind the `Engine` interface: runs in a dedicated worker and owns every tensor and every image. */
import * as tf from '@tensorflow/tfjs';
import { generateDemoDataset } from '../src/core/dataset/demo';
import { ImportCancelled, importDataset, scanFolder, splitId, type FolderSource, type ImageAnalyzer, type ImportedDataset, type ImportOptions } from '../src/core/dataset/importer';
import { DatasetError } from '../src/core/dataset/layout';
import { GroupPatternError, manifestToCsv, manifestToJson, stratifiedSplit, validateFractions, type SplitIndices } from '../src/core/dataset/split';
import { channelStats, IMAGENET_STATS, verifyStats, type ChannelStats } from '../src/core/dataset/stats';
import { computeFeatures, splitAtFrozenBoundary } from '../src/core/models/features';
import { getZooEntry, MODEL_ZOO, type ZooEntry } from '../src/core/models/zoo';
import { deriveSeed, mulberry32, shuffle } from '../src/core/random';
import { getRun, getStats, lastFolder, listRuns, openStudioDB, rememberFolder, saveRun, saveSplit, saveStats, type StudioDB } from '../src/core/store/db';
import { augmentDefault, isAugmentIdentity } from '../src/core/image/augment';
import { checkpointToStore, loadCheckpoint, restoreCheckpoint, type Checkpoint } from '../src/core/store/checkpoints';
import { BestCheckpoint, EarlyStopping } from '../src/core/train/callbacks';
import { inverseFrequencyClassWeights, isImbalanced } from '../src/core/train/losses';
import { createOptimizer } from '../src/core/train/optimizers';
import { featureBatchSource, imageBatchSource, normalizeWith, trainClassifier, type TensorDataset, type TrainerOptions } from '../src/core/train/trainer';
import type { RunRecord, TrainConfig } from '../src/core/train/types';
import { EngineError } from '../src/engine/errors';
import type { BackendInfo, BackendName, DatasetSummary, Engine, ZooModel, FolderInput, FolderScan, ImportEvent, StatsVerification, Thumbnail, TrainEvent } from '../src/engine/types';
import { onBackend, routeRun, selectBackend, useBackend } from './backend';
import { cachesFeatures } from '../src/core/routing';
import { confusionMatrix, perClassRecall } from '../src/core/metrics/confusion';
import { folderSource } from './folder';
import { browserBackboneLoader, buildModel, resolveStrategy } from './models';

const bad = (what: string): never => {
  throw new EngineError('E_CONFIG', what);
};

function checkFractions(f: ImportOptions['split']): void {
  const problem = validateFractions(f);
  if (problem) bad(problem);
  if (f.val <= 0) bad('the validation fraction must be above 0: the studio picks the best epoch on validation');
}

function checkConfig(cfg: TrainConfig): void {
  if (!Number.isInteger(cfg.epochs) || cfg.epochs < 1 || cfg.epochs > 10000) bad(`epochs must be a whole number from 1 to 10000 (got ${cfg.epochs})`);
  if (!Number.isInteger(cfg.batchSize) || cfg.batchSize < 1 || cfg.batchSize > 4096) bad(`batch size must be a whole number from 1 to 4096 (got ${cfg.batchSize})`);
  if (!(cfg.learningRate > 0 && cfg.learningRate < 10)) bad(`learning rate must be a positive number below 10 (got ${cfg.learningRate})`);
  if (!Number.isInteger(cfg.seed)) bad(`seed must be a whole number (got ${cfg.seed})`);
  if (cfg.labelSmoothing !== undefined && !(cfg.labelSmoothing >= 0 && cfg.labelSmoothing < 1)) bad(`label smoothing must be in [0, 1) (got ${cfg.labelSmoothing})`);
  if (cfg.dataset.kind === 'demo') checkFractions(cfg.dataset.split);
}

function zooEntry(id: string): ZooEntry {
  try {
    return getZooEntry(id);
  } catch (err) {
    throw new EngineError('E_CONFIG', (err as Error).message);
  }
}

function checkImport(opts: ImportOptions): void {
  if (!Number.isInteger(opts.imageSize) || opts.imageSize < 8 || opts.imageSize > 1024) bad(`image size must be a whole number from 8 to 1024 (got ${opts.imageSize})`);
  if (opts.channels !== 1 && opts.channels !== 3) bad(`channels must be 1 or 3 (got ${opts.channels})`);
  if (!Number.isInteger(opts.seed)) bad(`seed must be a whole number (got ${opts.seed})`);
  checkFractions(opts.split);
}

/** Core errors a person can fix become E_CONFIG/E_DATASET with the core's own words. */
function asEngineError(err: unknown): unknown {
  if (err instanceof DatasetError || err instanceof GroupPatternError) return new EngineError('E_DATASET', err.message);
  if (err instanceof RangeError) return new EngineError('E_CONFIG', err.message);
  if (err instanceof ImportCancelled) return new EngineError('E_CANCELLED', 'the import was cancelled; nothing was changed');
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
  classes: string[];
  split: SplitIndices;
  normalization: ChannelStats;
  dataset?: RunRecord['dataset'];
}

export class StudioEngine implements Engine {
  private info: BackendInfo | null = null;
  private db: Promise<StudioDB> | null = null;
  private active: { runId: string; stop: boolean } | null = null;
  private scanned: { name: string; source: FolderSource } | null = null;
  private importing: { stop: boolean } | null = null;
  /** The one imported dataset held in memory (a new import replaces it: decoded images are large). */
  private dataset: { summary: DatasetSummary; data: ImportedDataset } | null = null;

  /** @param analyze per-file import work (decode, hashes, sums); the worker passes a pool of browser decoders. */
  constructor(private readonly analyze?: ImageAnalyzer) {}

  private database(): Promise<StudioDB> {
    this.db ??= openStudioDB();
    return this.db;
  }

  async init(backend: BackendName | 'auto'): Promise<BackendInfo> {
    if (this.active) throw new EngineError('E_BUSY', 'cannot switch backend while a run is training; cancel it first');
    this.info = await selectBackend(backend);
    return this.info;
  }

  async backend(): Promise<BackendInfo> {
    return this.info ?? this.init('auto');
  }

  async scanFolder(input: FolderInput): Promise<FolderScan> {
    const { name, source } = await folderSource(input);
    const layout = scanFolder(source);
    if (layout.files.length === 0) {
      throw new EngineError('E_DATASET', `no images found in "${name}": expected one sub-folder per class (e.g. ${name}/glioma/*.jpg) or Training/ and Testing/ folders of class sub-folders`, `${layout.skipped.length} files skipped`);
    }
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
    };
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
      await saveSplit(db, { splitId: summary.splitId, fingerprint: data.fingerprint, name: summary.name, manifest: data.manifest, savedAt });
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

  async thumbnails(keys: string[], size: number): Promise<Thumbnail[]> {
    const { data } = this.imported();
    const index = new Map(data.keys.map((k, i) => [k, i]));
    const s = data.imageSize;
    const c = data.channels;
    const out: Thumbnail[] = [];
    for (const key of keys.slice(0, 200)) {
      const i = index.get(key);
      if (i === undefined) continue;
      const rgba = new Uint8ClampedArray(size * size * 4);
      // Nearest-neighbour: thumbnails only need to be recognisable, and this stays cheap for a gallery.
      for (let y = 0; y < size; y++) {
        const sy = Math.floor(((y + 0.5) * s) / size);
        for (let x = 0; x < size; x++) {
          const sx = Math.floor(((x + 0.5) * s) / size);
          const src = ((i * s + sy) * s + sx) * c;
          const dst = (y * size + x) * 4;
          rgba[dst] = data.images[src];
          rgba[dst + 1] = data.images[src + (c === 3 ? 1 : 0)];
          rgba[dst + 2] = data.images[src + (c === 3 ? 2 : 0)];
          rgba[dst + 3] = 255;
        }
      }
      out.push({ key, size, rgba });
    }
    return out;
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
      const split = stratifiedSplit(demo.keys.map((key, i) => ({ key, label: demo.labels[i] })), cfg.dataset.split, cfg.seed);
      return {
        data: { images: demo.images, labels: demo.labels, imageSize: demo.imageSize, channels: demo.channels, numClasses: demo.classes.length },
        classes: demo.classes,
        split,
        normalization: channelStats(demo.images, demo.imageSize * demo.imageSize, demo.channels, split.train),
      };
    }
    const { summary, data } = this.imported();
    if (summary.fingerprint !== cfg.dataset.fingerprint) throw new EngineError('E_NOT_FOUND', `dataset ${cfg.dataset.fingerprint.slice(0, 12)}… is not the one imported in this session; import its folder again`);
    // Training uses the statistics stored for this split (the ones the user can see and verify).
    const stored = await getStats(await this.database(), summary.splitId);
    return {
      data: { images: data.images, labels: data.labels, imageSize: data.imageSize, channels: data.channels, numClasses: data.classes.length },
      classes: data.classes,
      split: data.split,
      normalization: stored ? { mean: stored.mean, std: stored.std } : data.normalization,
      dataset: {
        fingerprint: data.fingerprint,
        classes: data.classes,
        counts: data.counts,
        skipped: data.skipped,
        duplicates: { exactGroups: data.duplicates.exactGroups, nearGroups: data.duplicates.nearGroups, crossSplit: data.duplicates.crossSplit },
        normalization: stored ? { mean: stored.mean, std: stored.std } : data.normalization,
      },
    };
  }

  async train(cfg: TrainConfig, onEvent: (e: TrainEvent) => void): Promise<RunRecord> {
    checkConfig(cfg);
    const entry = zooEntry(cfg.model);
    const runId = newRunId();
    return this.execute(runId, onEvent, async (backend) => ({
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
      },
      checkpoint: null,
    }));
  }

  async resume(runId: string, onEvent: (e: TrainEvent) => void): Promise<RunRecord> {
    return this.execute(runId, onEvent, async (backend) => {
      const db = await this.database();
      const run = await getRun(db, runId);
      if (!run) throw new EngineError('E_NOT_FOUND', `there is no run ${runId}`);
      if (run.status === 'completed') throw new EngineError('E_CONFIG', `run ${runId} has completed; there is nothing to resume`);
      const checkpoint = run.checkpoint?.last ? await loadCheckpoint(db, runId, 'last') : undefined;
      if (!checkpoint) throw new EngineError('E_NOT_FOUND', `run ${runId} stopped before its first epoch ended, so it has no checkpoint to resume from; start it again`);
      // Epochs after the checkpoint (none, as 'last' is written every epoch) would be redone, so they are dropped.
      const epochs = run.epochs.filter((m) => m.epoch <= checkpoint.epoch);
      return {
        run: { ...run, status: 'running', endedAt: null, error: undefined, backend: backend.name, adapter: backend.adapter, epochs, resumes: [...(run.resumes ?? []), { at: new Date().toISOString(), fromEpoch: checkpoint.epoch }] },
        checkpoint,
      };
    });
  }

  /** Runs (or continues) a run; `open` builds its record, and the checkpoint to continue from, once the run is claimed. */
  private async execute(runId: string, onEvent: (e: TrainEvent) => void, open: (backend: BackendInfo) => Promise<{ run: RunRecord; checkpoint: Checkpoint | null }>): Promise<RunRecord> {
    if (this.active) throw new EngineError('E_BUSY', `run ${this.active.runId} is still training; cancel it or wait for it to finish`);
    // Claimed before the first await, so a second call made meanwhile is refused.
    const control = { runId, stop: false };
    this.active = control;
    let run: RunRecord;
    let resumeFrom: Checkpoint | null;
    let backend: BackendInfo;
    try {
      backend = await this.backend();
      ({ run, checkpoint: resumeFrom } = await open(backend));
    } catch (err) {
      this.active = null;
      throw err;
    }
    const cfg = run.config;
    let db: StudioDB | null = null;
    let model: tf.LayersModel | null = null;
    let optimizer: tf.Optimizer | null = null;
    const requested = cfg.augment === 'default' ? augmentDefault : cfg.augment;
    const augment = requested && !isAugmentIdentity(requested) ? requested : undefined;
    try {
      const work = { strategy: run.strategy, augment: Boolean(augment), cacheFeatures: cfg.cacheFeatures };
      const routing = (run.routing = routeRun(backend, work));
      db = await this.database();
      const store = db;
      const prepared = await this.prepare(cfg);
      const { data, split } = prepared;
      run.classes = prepared.classes;
      run.split = { train: split.train.length, val: split.val.length, test: split.test.length };
      if (prepared.dataset) run.dataset = prepared.dataset;
      await saveRun(store, run);
      const batchesPerEpoch = Math.ceil(split.train.length / cfg.batchSize);
      onEvent({ type: 'start', runId: run.runId, classes: run.classes, split: run.split, totalBatches: batchesPerEpoch * (cfg.epochs - (resumeFrom?.epoch ?? 0)), backend, routing, resumedFrom: resumeFrom?.epoch ?? null });

      const trainCounts = Array.from({ length: data.numClasses }, (_, k) => split.train.filter((i) => data.labels[i] === k).length);
      // The seed balanced classes by default; weights are recorded so a resumed run (and the report) uses the same.
      if ((cfg.classWeights ?? 'auto') === 'auto' && isImbalanced(trainCounts)) run.classWeights = inverseFrequencyClassWeights(trainCounts);
      // Weights are created on the backend that uses them first; later work moves them on use.
      await useBackend(cachesFeatures(work) ? routing.forward : routing.train);
      const built = await buildModel(cfg, data, prepared.normalization, browserBackboneLoader(store));
      model = built.model;
      run.optimizer = built.optimizer;
      optimizer = createOptimizer({ name: built.optimizer, learningRate: cfg.learningRate });
      const resumed = resumeFrom ? await restoreCheckpoint(model, optimizer, resumeFrom) : null;
      const best = new BestCheckpoint({ everyEpochs: cfg.saveEveryEpochs ?? 0 }, resumed?.best ?? null);
      const toStore = checkpointToStore(store, model, optimizer, { runId: run.runId, config: cfg, best });
      let validated: { epoch: number; predicted: Int32Array } | null = null;
      const es = cfg.earlyStopping === undefined ? {} : cfg.earlyStopping;
      const options: TrainerOptions = {
        epochs: cfg.epochs,
        batchSize: cfg.batchSize,
        seed: cfg.seed,
        normalization: built.normalization,
        augment,
        clipNorm: cfg.clipNorm === 0 ? undefined : (cfg.clipNorm ?? 1),
        classWeights: run.classWeights,
        labelSmoothing: cfg.labelSmoothing,
        earlyStopping: es === null ? undefined : new EarlyStopping(es, resumed?.earlyStopping ?? undefined),
        startEpoch: resumed ? resumed.epoch + 1 : 1,
        checkpoint: {
          best,
          save: async (kind, epoch, metrics, state) => {
            await toStore.save(kind, epoch, metrics, state);
            if (kind === 'last') run.checkpoint.last = epoch;
            if (kind === 'best') {
              run.checkpoint.best = epoch;
              run.best = { epoch, valAccuracy: metrics.valAccuracy };
              if (validated?.epoch === epoch) {
                const confusion = confusionMatrix(split.val.map((i) => data.labels[i]), validated.predicted, data.numClasses);
                run.bestValidation = { epoch, confusion, recall: perClassRecall(confusion) };
              }
            }
          },
        },
        onBatch: (e) => onEvent({ type: 'batch', ...e }),
        onEpoch: async (metrics) => {
          run.epochs.push(metrics);
          await saveRun(store, run);
          onEvent({ type: 'epoch', metrics, numTensors: tf.memory().numTensors });
        },
        shouldStop: () => control.stop,
        yieldToHost,
        validateOn: (validate) => onBackend(routing.forward, validate),
        onValidation: (epoch, predicted) => void (validated = { epoch, predicted }),
      };
      let result;
      if (cachesFeatures(work)) {
        // The backbone never changes: run it once per image and train only the head on its cached features.
        const frozenSplit = splitAtFrozenBoundary(model);
        const started = performance.now();
        const source = imageBatchSource(data);
        const preprocess = normalizeWith(built.normalization);
        const features = await computeFeatures(
          frozenSplit.frozen,
          {
            count: data.labels.length,
            batch: (start, end) =>
              tf.tidy(() => {
                const { x, y } = source.batch(Array.from({ length: end - start }, (_, k) => start + k));
                y.dispose();
                return preprocess(x as tf.Tensor4D) as tf.Tensor4D;
              }),
          },
          { batchSize: cfg.batchSize, keep: 'backend' },
        );
        // The backend runs asynchronously: wait until the features really exist, so the time is the backbone's.
        const probe = tf.tidy(() => features.sum());
        await probe.data();
        probe.dispose();
        run.featureCache = { images: data.labels.length, seconds: (performance.now() - started) / 1000 };
        try {
          await useBackend(routing.train);
          result = await trainClassifier(frozenSplit.trainable, optimizer, featureBatchSource({ features, featureShape: frozenSplit.featureShape, labels: data.labels, numClasses: data.numClasses }), split, { ...options, normalization: undefined });
        } finally {
          features.dispose();
          frozenSplit.dispose();
        }
      } else {
        result = await trainClassifier(model, optimizer, data, split, options);
      }
      run.status = result.stopped ? 'cancelled' : 'completed';
    } catch (err) {
      run.status = 'failed';
      run.error = err instanceof Error ? err.message : String(err);
      throw asEngineError(err);
    } finally {
      run.endedAt = new Date().toISOString();
      model?.dispose();
      optimizer?.dispose();
      await useBackend(backend.name);
      this.active = null;
      if (db) await saveRun(db, run);
    }
    onEvent({ type: 'done', run });
    return run;
  }

  async cancel(runId: string): Promise<void> {
    if (this.active?.runId === runId) this.active.stop = true;
  }

  async zoo(): Promise<ZooModel[]> {
    return MODEL_ZOO.map((e) => ({ id: e.id, name: e.name, family: e.family, inputSize: e.inputSize, params: e.params, pretrained: e.source.kind === 'url', defaults: e.defaults }));
  }

  async runs(): Promise<RunRecord[]> {
    return listRuns(await this.database());
  }
}
