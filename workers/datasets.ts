/**
 * The engine's dataset session: a folder is scanned (folderId), decoded once at a size and channel count
 * (datasetId), then split any number of times without decoding again (splitId). The engine holds the latest scan,
 * the latest decoded folder (decoded images are large: one is kept) and the imported dataset, the latest split,
 * which runs train on. An external test folder is decoded to be evaluated on and has no split.
 */
import { LABEL_CONFLICT_MODES, scanChecks } from '../src/core/dataset/checks';
import { DEMO_CLASSES, generateDemoDataset } from '../src/core/dataset/demo';
import { decodeFolder, scanFolder, splitDecoded, splitId, type DecodedFolder, type DecodeOptions, type FolderSource, type ImageAnalyzer, type ImportedDataset, type ImportOptions, type SplitOptions } from '../src/core/dataset/importer';
import { compileGroupPattern, manifestToCsv, manifestToJson, stratifiedSplit, type SplitIndices } from '../src/core/dataset/split';
import { channelStats, IMAGENET_STATS, verifyStats, type ChannelStats } from '../src/core/dataset/stats';
import { crossValidationSplit } from '../src/core/metrics/kfold';
import { deriveSeed, mulberry32, shuffle } from '../src/core/random';
import { BOUNDS, CHOICES } from '../src/core/settings/schema';
import { getStats, lastFolder, rememberFolder, saveSplit, saveStats, type StudioDB } from '../src/core/store/db';
import type { Zoo } from '../src/core/models/zoo';
import type { TensorDataset } from '../src/core/train/trainer';
import type { RunRecord, TrainConfig } from '../src/core/train/types';
import { recommendRecipe } from '../src/core/train/recommend';
import { defaultConfig, recommendedConfig, settingsFromConfig } from '../src/core/config';
import { routeRun } from './backend';
import { EngineError } from '../src/engine/errors';
import type { BackendInfo, DatasetSummary, DecodedSummary, FolderInput, FolderScan, ImportEvent, RecommendedRecipe, StatsVerification, Thumbnail } from '../src/engine/types';
import { bad, checkFractions, checkRange } from './checks';
import type { Claims } from './claim';
import { folderSource } from './folder';
import { browserBackboneLoader } from './models';
import { measureDeviceSpeed } from './recommend';
import { thumbnailOf } from './thumbnail';

/** What the dataset session needs of the engine. */
export interface DatasetHost {
  database(): Promise<StudioDB>;
  backend(): Promise<BackendInfo>;
  /** The engine's one lock: an import, and the recommendation's speed probe, claim it (see claim.ts). */
  claims: Claims;
  /** The engine's zoo, imported backbones included. */
  zoo(): Promise<Zoo>;
}

/** A run's data, split and statistics (see DatasetSessions.prepare). */
export interface Prepared {
  data: TensorDataset;
  /** Image keys (paths, demo ids), parallel to data.labels. */
  keys: readonly string[];
  classes: string[];
  split: SplitIndices;
  normalization: ChannelStats;
  dataset?: RunRecord['dataset'];
}

interface Imported {
  summary: DatasetSummary;
  data: ImportedDataset;
}

interface Decoded {
  summary: DecodedSummary;
  data: DecodedFolder;
}

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

function checkDecode(opts: DecodeOptions): void {
  checkRange('image size', BOUNDS.imageSize, opts.imageSize);
  if (opts.channels !== 1 && opts.channels !== 3) bad(`channels must be 1 or 3 (got ${opts.channels})`);
}

/** `evaluation`: a folder to evaluate on has no split, so its fractions are not used. */
function checkSplit(opts: SplitOptions, evaluation: boolean): void {
  checkRange('seed', BOUNDS.seed, opts.seed);
  if (opts.nearThreshold !== undefined) checkRange('the near-duplicate threshold', BOUNDS.nearThreshold, opts.nearThreshold);
  if (!(CHOICES.dedupe as readonly string[]).includes(opts.dedupe)) bad(`duplicates must be ${CHOICES.dedupe.join(', ')} (got ${String(opts.dedupe)})`);
  if (opts.labelConflicts !== undefined && !LABEL_CONFLICT_MODES.includes(opts.labelConflicts)) bad(`label conflicts must be ${LABEL_CONFLICT_MODES.join(', ')} (got ${String(opts.labelConflicts)})`);
  if (!evaluation) checkFractions(opts.split);
  // A group pattern that does not compile is refused before anything is decoded.
  if (opts.groupPattern) compileGroupPattern(opts.groupPattern);
}

/** Only the fields that decide each step: a decoded folder's options never carry a split's, nor the reverse. */
const decodeOptionsOf = ({ imageSize, channels, classes, concurrency, purpose }: DecodeOptions): DecodeOptions => ({ imageSize, channels, ...(classes ? { classes } : {}), ...(concurrency ? { concurrency } : {}), ...(purpose ? { purpose } : {}) });
const splitOptionsOf = ({ split, seed, groupPattern, dedupe, labelConflicts, nearThreshold }: SplitOptions): SplitOptions => ({
  split,
  seed,
  dedupe,
  ...(groupPattern ? { groupPattern } : {}),
  ...(labelConflicts ? { labelConflicts } : {}),
  ...(nearThreshold !== undefined ? { nearThreshold } : {}),
});

const SAMPLES_PER_CLASS = 8;

function samplesPerClass(data: ImportedDataset, seed: number): Record<string, string[]> {
  const byClass = data.classes.map((): string[] => []);
  data.keys.forEach((k, i) => byClass[data.labels[i]].push(k));
  const rand = mulberry32(deriveSeed(seed, 'samples'));
  return Object.fromEntries(data.classes.map((c, j) => [c, shuffle(byClass[j], rand).slice(0, SAMPLES_PER_CLASS)]));
}

export class DatasetSessions {
  private scans = 0;
  private scanned: { folderId: string; name: string; source: FolderSource } | null = null;
  /** The import in flight, so that cancelImport can stop it (claim.ts keeps a second one from starting). */
  private importing: { stop: boolean } | null = null;
  /** The latest decoded folder, the one `split` works on (decoded images are large: one is held). */
  private decoded: Decoded | null = null;
  /** The imported dataset: the latest split (a new one replaces it), which runs train on. */
  private dataset: Imported | null = null;

  /** @param analyze per-file import work (decode, hashes, sums); the worker passes a pool of browser decoders. */
  constructor(
    private readonly host: DatasetHost,
    private readonly analyze?: ImageAnalyzer,
  ) {}

  async scanFolder(input: FolderInput): Promise<FolderScan> {
    // A new pick replaces the last one, whatever it holds: an import must never read the previous folder by mistake.
    this.scanned = null;
    const { name, source } = await folderSource(input);
    const layout = scanFolder(source);
    const checks = scanChecks(layout, source.entries.map((e) => e.path), name);
    if (checks.refusal) throw new EngineError('E_DATASET', checks.refusal, `${layout.skipped.length} files skipped`);
    const folderId = `folder-${++this.scans}`;
    this.scanned = { folderId, name, source };
    if (input.kind === 'handle') await rememberFolder(await this.host.database(), name, input.handle);
    const count = new Map<string, number>();
    for (const f of layout.files) count.set(f.className, (count.get(f.className) ?? 0) + 1);
    return {
      folderId,
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
    const layout = scanFolder(this.scanned.source);
    const count = new Map<string, number>();
    for (const f of layout.files) if (f.presetSplit !== 'test') count.set(f.className, (count.get(f.className) ?? 0) + 1);
    const shape = { classes: layout.classes.map((name) => ({ name, count: count.get(name) ?? 0 })), presetTest: layout.files.some((f) => f.presetSplit === 'test') };
    const routing = routeRun(await this.host.backend(), { strategy: 'mlp', augment: false, cacheFeatures: true });
    const imported = this.dataset?.summary.name === this.scanned.name ? this.dataset.summary.imagesPerSecond : undefined;
    // Its timed probes would measure a run training meanwhile too, and a run waits for them (claim.ts).
    const claim = this.host.claims.claim('probe', 'recommend');
    try {
      await claim.ready;
      const recommendation = recommendRecipe(shape, await measureDeviceSpeed(browserBackboneLoader(await this.host.database()), routing, shape.classes.length, imported));
      const zoo = await this.host.zoo();
      return { ...recommendation, form: settingsFromConfig(recommendedConfig(recommendation.settings, defaultConfig(zoo)), zoo) };
    } finally {
      claim.release();
    }
  }

  /** The latest scan decoded and split in one go; nothing is replaced unless both succeed. */
  async importDataset(opts: ImportOptions, onEvent: (e: ImportEvent) => void): Promise<DatasetSummary> {
    if (!this.scanned) throw new EngineError('E_NOT_FOUND', 'pick a folder first');
    checkSplit(opts, opts.purpose === 'evaluation');
    const decoded = await this.decodeScan(this.scanned.folderId, opts, onEvent);
    const dataset = this.splitOf(decoded, opts);
    this.decoded = decoded;
    return this.keep(dataset);
  }

  async decode(folderId: string, opts: DecodeOptions, onEvent: (e: ImportEvent) => void): Promise<DecodedSummary> {
    const decoded = await this.decodeScan(folderId, opts, onEvent);
    // The imported dataset (the latest split) stays usable until this folder is split: until then both are held.
    this.decoded = decoded;
    return decoded.summary;
  }

  async split(datasetId: string, opts: SplitOptions): Promise<DatasetSummary> {
    const decoded = this.decoded;
    if (decoded?.summary.datasetId !== datasetId) throw new EngineError('E_NOT_FOUND', `the decoded images ${datasetId} are no longer held (the engine keeps the latest decoded folder only${decoded ? `, "${decoded.summary.name}"` : ''}); import the folder again`);
    if (decoded.summary.evaluationOnly) throw new EngineError('E_DATASET', `"${decoded.summary.name}" was decoded to be evaluated on, without a split; import it again to train on it`);
    checkSplit(opts, false);
    return this.keep(this.splitOf(decoded, opts));
  }

  private async decodeScan(folderId: string, opts: DecodeOptions, onEvent: (e: ImportEvent) => void): Promise<Decoded> {
    const scanned = this.scanned;
    if (!scanned) throw new EngineError('E_NOT_FOUND', 'pick a folder first');
    if (scanned.folderId !== folderId) throw new EngineError('E_NOT_FOUND', `folder ${folderId} is not the last one picked ("${scanned.name}" is); pick it again`);
    if (!this.analyze) throw new EngineError('E_INTERNAL', 'this engine has no image decoder');
    checkDecode(opts);
    const claim = this.host.claims.claim('import', folderId);
    const control = { stop: false };
    this.importing = control;
    const started = performance.now();
    try {
      const data = await decodeFolder(scanned.source, decodeOptionsOf(opts), this.analyze, onEvent, () => control.stop);
      const seconds = (performance.now() - started) / 1000;
      const evaluationOnly = data.options.purpose === 'evaluation';
      return {
        data,
        summary: {
          datasetId: `${data.fingerprint.slice(0, 16)}@${data.imageSize}x${data.channels}${evaluationOnly ? '-evaluation' : ''}`,
          folderId,
          name: scanned.name,
          fingerprint: data.fingerprint,
          layout: data.layout,
          classes: data.classes,
          emptyClasses: data.emptyClasses,
          imageSize: data.imageSize,
          channels: data.channels,
          images: data.files.length,
          skipped: data.skipped,
          bytesHeld: data.images.buffer.byteLength,
          evaluationOnly,
          seconds,
          imagesPerSecond: (data.files.length + data.skipped.length) / seconds,
        },
      };
    } finally {
      this.importing = null;
      claim.release();
    }
  }

  /** A split of decoded images, and its summary; the decoding's figures are the import's. */
  private splitOf({ summary: decoded, data: folder }: Decoded, opts: SplitOptions): Imported {
    const data = splitDecoded(folder, splitOptionsOf(opts));
    // A split that dropped images holds its own copy of the rest, besides the decoded folder.
    const bytesHeld = folder.images.buffer.byteLength + (data.images.buffer === folder.images.buffer ? 0 : data.images.buffer.byteLength);
    const summary: DatasetSummary = {
      datasetId: decoded.datasetId,
      folderId: decoded.folderId,
      evaluationOnly: decoded.evaluationOnly,
      name: decoded.name,
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
      bytesHeld,
      bytesPerPixelChannel: bytesHeld / Math.max(1, data.images.byteLength),
      seconds: decoded.seconds,
      imagesPerSecond: decoded.imagesPerSecond,
    };
    return { summary, data };
  }

  /** Makes a split the imported dataset and stores its statistics and manifest, as every import's are. */
  private async keep(dataset: Imported): Promise<DatasetSummary> {
    const { summary, data } = dataset;
    this.dataset = dataset;
    const db = await this.host.database();
    const savedAt = new Date().toISOString();
    await saveStats(db, { splitId: summary.splitId, fingerprint: data.fingerprint, ...data.normalization, computedAt: savedAt });
    await saveSplit(db, { splitId: summary.splitId, fingerprint: data.fingerprint, name: summary.name, manifest: data.manifest, contentHashes: Object.fromEntries(data.keys.map((k, i) => [k, data.contentHashes[i]])), savedAt });
    return summary;
  }

  async cancelImport(): Promise<void> {
    if (this.importing) this.importing.stop = true;
  }

  /** The imported dataset, if any (a parity sample, a recipe's split). */
  held(): ImportedDataset | undefined {
    return this.dataset?.data;
  }

  imported(): Imported {
    if (!this.dataset) throw new EngineError('E_NOT_FOUND', 'no dataset is imported in this session: import a folder first');
    return this.dataset;
  }

  /** An imported folder's images as one dataset, every split together (an external test set). */
  importedWhole(fingerprint: string) {
    const { summary, data } = this.importedAs(fingerprint);
    const notEvaluated = data.skipped.filter((f) => f.reason === 'not-evaluated').length;
    return { data: { images: data.images, labels: data.labels, imageSize: data.imageSize, channels: data.channels, numClasses: data.classes.length }, classes: data.classes, keys: data.keys, name: summary.name, notEvaluated };
  }

  importedAs(fingerprint: string): Imported {
    const imported = this.imported();
    if (imported.summary.fingerprint !== fingerprint) throw new EngineError('E_NOT_FOUND', `dataset ${fingerprint.slice(0, 12)}… is not the one imported in this session; import its folder again`);
    return imported;
  }

  /** The input and class count a config's model is built for: the demo's, or the imported dataset's. */
  inputShape(cfg: TrainConfig): { imageSize: number; channels: number; numClasses: number } {
    if (cfg.dataset.kind === 'demo') return { imageSize: cfg.dataset.imageSize, channels: 3, numClasses: DEMO_CLASSES.length };
    const { summary } = this.importedAs(cfg.dataset.fingerprint);
    return { imageSize: summary.imageSize, channels: summary.channels, numClasses: summary.classes.length };
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
    const stored = await getStats(await this.host.database(), summary.splitId);
    if (!stored) throw new EngineError('E_NOT_FOUND', 'no stored statistics for this split; recompute them');
    const recomputed = this.recompute();
    const storedStats = { mean: stored.mean, std: stored.std };
    return { ...verifyStats(storedStats, recomputed), stored: storedStats, recomputed };
  }

  async recomputeStats(): Promise<ChannelStats> {
    const { summary, data } = this.imported();
    const stats = this.recompute();
    await saveStats(await this.host.database(), { splitId: summary.splitId, fingerprint: data.fingerprint, ...stats, computedAt: new Date().toISOString() });
    summary.normalization = stats;
    return stats;
  }

  async rememberedFolder(): Promise<FileSystemDirectoryHandle | null> {
    return (await lastFolder(await this.host.database())) as FileSystemDirectoryHandle | null;
  }

  /** A run's data: the demo's, generated from its config, or the imported dataset's split (a fold's, in cross-validation). */
  async prepare(cfg: TrainConfig): Promise<Prepared> {
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
    const stored = cfg.crossValidation ? undefined : await getStats(await this.host.database(), summary.splitId);
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
}
