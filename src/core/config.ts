/**
 * The studio's settings as one JSON file, in the sections of the seed's `config.yaml`: `models` (per-model
 * defaults), `dataset` (import and split), `transform` (augmentation, normalisation), `train` and `performance`.
 * The UI (through the engine) and the CLI (`--config FILE`) read and write it with these functions, so a file
 * exported from one trains the same in the other.
 *
 * Pure TypeScript: the CLI validates a file in Node before it opens a browser. The bounds and defaults of the
 * numbers come from the settings schema (src/core/settings/schema.ts), which the engine and the CLI check with too.
 */
import { validateFractions, compileGroupPattern, type SplitFractions } from './dataset/split';
import type { DedupeMode, ImportOptions } from './dataset/importer';
import { augmentDefault, validateAugmentConfig, type AugmentConfig } from './settings/augment';
import { BOUNDS, CHOICES, DEFAULTS, SCHEDULE_DEFAULTS, DEFAULT_EARLY_STOPPING, describeRange, inRange, type Range } from './settings/schema';
import type { Zoo } from './models/zoo';
import type { OptimizerName } from './train/optimizers';
import type { LrScheduleConfig, MonitoredMetric } from './train/schedules';
import { TTA_KINDS, type BackendName, type DemoDatasetConfig, type Strategy, type TestTimeAugmentation, type TrainConfig } from './train/types';
import { RECOMMENDED_HEAD, RECOMMENDED_MODEL, type RecommendedSettings } from './train/recommend';

export const CONFIG_VERSION = 1;

export interface ModelDefaults {
  learningRate: number;
  batchSize: number;
  optimizer: OptimizerName;
}

/** The file, as written (every field present) and as read (every section and field optional, see readConfig). */
export interface StudioConfig {
  version: typeof CONFIG_VERSION;
  /** Zoo id → the defaults a run of that model takes where `train` leaves lr, batch size or optimiser null. */
  models: Record<string, ModelDefaults>;
  dataset: {
    split: SplitFractions;
    /** Seeds the split (and the demo phantoms). */
    seed: number;
    imageSize: number;
    channels: 1 | 3;
    /** Classes to keep; null keeps every class folder. */
    classes: string[] | null;
    /** Regex whose first capture is a patient (group) id; null: no grouping. */
    groupPattern: string | null;
    dedupe: DedupeMode;
    /** Largest Hamming distance (of 64 bits) between perceptual hashes that counts as a near duplicate. */
    nearThreshold: number;
    /** Demo phantoms per class (the built-in dataset). */
    perClass: number;
  };
  transform: {
    /** The parameters are kept when `enabled` is false, so turning augmentation back on restores them. */
    augment: AugmentConfig & { enabled: boolean };
    /** Each model's declared input scaling (dataset mean/std for the simple CNN, [-1, 1] for MobileNets). */
    normalization: 'model';
  };
  train: {
    model: string;
    /** null: the model's own (scratch for the simple CNN, frozen for a backbone). */
    strategy: Strategy | null;
    trainableBlocks: number | 'all';
    probeEpochs: number;
    /** null: the model's (and strategy's) default. */
    optimizer: OptimizerName | null;
    learningRate: number | null;
    lrSchedule: LrScheduleConfig;
    epochs: number;
    batchSize: number | null;
    earlyStopping: { patience: number; minDelta: number } | null;
    labelSmoothing: number;
    classWeights: 'auto' | 'off';
    clipNorm: number;
    saveEveryEpochs: number;
    keepEpoch: 'best' | 'last';
    tta: TestTimeAugmentation;
    mirrorTraining: boolean;
    /** Seeds initialisation, batch order and augmentation. */
    seed: number;
  };
  performance: {
    backend: BackendName | 'auto';
  };
}

export type DatasetSettings = StudioConfig['dataset'];

/** What the train form and the CLI hold: a TrainConfig without its dataset, the import options, the backend. */
export interface StudioSettings {
  models: Record<string, ModelDefaults>;
  dataset: DatasetSettings;
  augment: StudioConfig['transform']['augment'];
  /** learningRate and batchSize resolved; strategy and optimizer absent where the model's default applies. */
  train: Omit<TrainConfig, 'dataset' | 'augment'> & Required<Pick<TrainConfig, 'trainableBlocks' | 'probeEpochs' | 'lrSchedule' | 'labelSmoothing' | 'classWeights' | 'clipNorm' | 'saveEveryEpochs' | 'keepEpoch' | 'tta' | 'mirrorTraining'>> & { earlyStopping: { patience: number; minDelta: number } | null };
  backend: BackendName | 'auto';
}

/** A config file that cannot be used: every problem found, each naming its field. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0] : `${problems.length} problems: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

const OPTIMIZERS: readonly OptimizerName[] = CHOICES.optimizer;
const STRATEGIES: readonly Strategy[] = CHOICES.strategy;
const BACKENDS: readonly (BackendName | 'auto')[] = CHOICES.backend;
const DEDUPE: readonly DedupeMode[] = CHOICES.dedupe;
const METRICS: readonly MonitoredMetric[] = CHOICES.monitor;

/**
 * The studio's defaults: what the UI starts with and what a file's missing fields mean. The models table holds every
 * model of `zoo`, imported backbones included, so a file may set their defaults too.
 */
export function defaultConfig(zoo: Zoo): StudioConfig {
  return {
    version: CONFIG_VERSION,
    models: Object.fromEntries(zoo.entries().map((e) => [e.id, { ...e.defaults }])),
    dataset: { split: { train: 0.7, val: 0.15, test: 0.15 }, seed: DEFAULTS.seed, imageSize: DEFAULTS.imageSize, channels: 3, classes: null, groupPattern: null, dedupe: 'keep-together', nearThreshold: DEFAULTS.nearThreshold, perClass: DEFAULTS.perClass },
    transform: { augment: { enabled: false, ...augmentDefault }, normalization: 'model' },
    train: {
      model: 'simple_cnn',
      strategy: null,
      trainableBlocks: 'all',
      probeEpochs: DEFAULTS.probeEpochs,
      optimizer: null,
      learningRate: null,
      lrSchedule: { kind: 'constant' },
      epochs: DEFAULTS.epochs,
      batchSize: null,
      earlyStopping: { ...DEFAULT_EARLY_STOPPING },
      labelSmoothing: DEFAULTS.labelSmoothing,
      // Off: on a training set with one class cut to half (k-fold, docs/quality.md) inverse-frequency weights cost
      // 0.46 points of accuracy and 2.2 of the lowest tumour sensitivity, and on an external set made the weighted
      // class's answers wrong almost half the time. 'auto' stays available for a user who wants it.
      classWeights: 'off',
      clipNorm: DEFAULTS.clipNorm,
      saveEveryEpochs: DEFAULTS.saveEveryEpochs,
      keepEpoch: 'best',
      tta: 'none',
      mirrorTraining: false,
      seed: DEFAULTS.seed,
    },
    performance: { backend: 'auto' },
  };
}

type Rec = Record<string, unknown>;

const isRecord = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);
const shown = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? 'a list' : v === null ? 'null' : typeof v === 'object' ? 'an object' : String(v));

/** Reads one section: every field optional (the default fills it), unknown keys and bad values noted by path. */
class Reader {
  readonly problems: string[] = [];

  note(path: string, problem: string): void {
    this.problems.push(`${path} ${problem}`);
  }

  /** The object at `o[key]`, or {} when absent; complains about a non-object and about keys not in `known`. */
  section(o: Rec, key: string, path: string, known: readonly string[]): Rec {
    const v = o[key];
    if (v === undefined) return {};
    if (!isRecord(v)) {
      this.note(path, `must be an object of settings (got ${shown(v)})`);
      return {};
    }
    this.unknownKeys(v, path, known);
    return v;
  }

  unknownKeys(o: Rec, path: string, known: readonly string[]): void {
    for (const k of Object.keys(o)) if (!known.includes(k)) this.note(`${path}.${k}`, `is not a setting here; known: ${known.join(', ')}`);
  }

  number(o: Rec, key: string, path: string, fallback: number, range: Range): number {
    const v = o[key];
    if (v === undefined) return fallback;
    if (!inRange(range, v)) {
      this.note(`${path}.${key}`, `must be ${describeRange(range)} (got ${shown(v)})`);
      return fallback;
    }
    return v;
  }

  /** Like number, but null (or absent, when the fallback is null) stands for "the model's default". */
  nullableNumber(o: Rec, key: string, path: string, fallback: number | null, range: Range): number | null {
    return o[key] === null ? null : this.number(o, key, path, fallback as number, range);
  }

  oneOf<T>(o: Rec, key: string, path: string, fallback: T, allowed: readonly T[]): T {
    const v = o[key];
    if (v === undefined) return fallback;
    if (!allowed.includes(v as T)) {
      this.note(`${path}.${key}`, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')} (got ${shown(v)})`);
      return fallback;
    }
    return v as T;
  }

  boolean(o: Rec, key: string, path: string, fallback: boolean): boolean {
    const v = o[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') {
      this.note(`${path}.${key}`, `must be true or false (got ${shown(v)})`);
      return fallback;
    }
    return v;
  }
}

function readModels(r: Reader, root: Rec, fallback: Record<string, ModelDefaults>): Record<string, ModelDefaults> {
  const o = root.models;
  const models = structuredClone(fallback);
  if (o === undefined) return models;
  if (!isRecord(o)) {
    r.note('models', `must be an object of model ids (got ${shown(o)})`);
    return models;
  }
  for (const [id, v] of Object.entries(o)) {
    const path = `models.${id}`;
    if (!models[id]) {
      r.note(path, `is not a model of the studio; known: ${Object.keys(models).join(', ')}`);
      continue;
    }
    if (!isRecord(v)) {
      r.note(path, `must be an object with learningRate, batchSize and optimizer (got ${shown(v)})`);
      continue;
    }
    r.unknownKeys(v, path, ['learningRate', 'batchSize', 'optimizer']);
    const d = models[id];
    models[id] = {
      learningRate: r.number(v, 'learningRate', path, d.learningRate, BOUNDS.learningRate),
      batchSize: r.number(v, 'batchSize', path, d.batchSize, BOUNDS.batchSize),
      optimizer: r.oneOf(v, 'optimizer', path, d.optimizer, OPTIMIZERS),
    };
  }
  return models;
}

function readDataset(r: Reader, root: Rec, d: DatasetSettings): DatasetSettings {
  const path = 'dataset';
  const o = r.section(root, 'dataset', path, ['split', 'seed', 'imageSize', 'channels', 'classes', 'groupPattern', 'dedupe', 'nearThreshold', 'perClass']);
  const s = r.section(o, 'split', `${path}.split`, ['train', 'val', 'test']);
  const split = {
    train: r.number(s, 'train', `${path}.split`, d.split.train, BOUNDS.splitFraction),
    val: r.number(s, 'val', `${path}.split`, d.split.val, BOUNDS.splitFraction),
    test: r.number(s, 'test', `${path}.split`, d.split.test, BOUNDS.splitFraction),
  };
  const splitProblem = validateFractions(split) ?? (split.val > 0 ? null : 'the validation fraction must be above 0: the studio picks the best epoch on validation');
  if (splitProblem) r.note(`${path}.split:`, splitProblem);

  let classes = d.classes;
  if (o.classes === null) classes = null;
  else if (o.classes !== undefined) {
    const c = o.classes;
    if (!Array.isArray(c) || c.some((x) => typeof x !== 'string' || x.trim() === '')) r.note(`${path}.classes`, `must be a list of class folder names, or null for every class (got ${shown(c)})`);
    else if (new Set(c).size < 2 || new Set(c).size !== c.length) r.note(`${path}.classes`, `must name at least two different classes, each once (got ${c.length === 0 ? 'an empty list' : c.join(', ')})`);
    else classes = [...(c as string[])];
  }

  let groupPattern = d.groupPattern;
  if (o.groupPattern === null || o.groupPattern === '') groupPattern = null;
  else if (o.groupPattern !== undefined) {
    if (typeof o.groupPattern !== 'string') r.note(`${path}.groupPattern`, `must be a regular expression as text, or null (got ${shown(o.groupPattern)})`);
    else {
      try {
        compileGroupPattern(o.groupPattern);
        groupPattern = o.groupPattern;
      } catch (err) {
        r.note(`${path}.groupPattern:`, (err as Error).message);
      }
    }
  }
  return {
    split,
    seed: r.number(o, 'seed', path, d.seed, BOUNDS.seed),
    imageSize: r.number(o, 'imageSize', path, d.imageSize, BOUNDS.imageSize),
    channels: r.oneOf(o, 'channels', path, d.channels, [1, 3] as const),
    classes,
    groupPattern,
    dedupe: r.oneOf(o, 'dedupe', path, d.dedupe, DEDUPE),
    nearThreshold: r.number(o, 'nearThreshold', path, d.nearThreshold, BOUNDS.nearThreshold),
    perClass: r.number(o, 'perClass', path, d.perClass, BOUNDS.perClass),
  };
}

function readTransform(r: Reader, root: Rec, d: StudioConfig['transform']): StudioConfig['transform'] {
  const path = 'transform';
  const o = r.section(root, 'transform', path, ['augment', 'normalization']);
  const a = r.section(o, 'augment', `${path}.augment`, ['enabled', 'flip', 'rotationDeg', 'brightness', 'contrast', 'randomResizedCrop']);
  const ap = `${path}.augment`;
  let crop = d.augment.randomResizedCrop;
  const c = a.randomResizedCrop;
  if (typeof c === 'boolean') crop = c;
  else if (isRecord(c)) {
    r.unknownKeys(c, `${ap}.randomResizedCrop`, ['scale']);
    const scale = c.scale;
    if (Array.isArray(scale) && scale.length === 2 && scale.every((x) => typeof x === 'number' && Number.isFinite(x))) crop = { scale: [scale[0], scale[1]] };
    else r.note(`${ap}.randomResizedCrop.scale`, `must be two numbers [min, max], the fraction of the image's area kept (got ${shown(scale)})`);
  } else if (c !== undefined) r.note(`${ap}.randomResizedCrop`, `must be true, false or { "scale": [min, max] } (got ${shown(c)})`);
  const augment = {
    enabled: r.boolean(a, 'enabled', ap, d.augment.enabled),
    flip: r.boolean(a, 'flip', ap, d.augment.flip),
    rotationDeg: r.number(a, 'rotationDeg', ap, d.augment.rotationDeg, {}),
    brightness: r.number(a, 'brightness', ap, d.augment.brightness, {}),
    contrast: r.number(a, 'contrast', ap, d.augment.contrast, {}),
    randomResizedCrop: crop,
  };
  // The ranges are augment.ts's own, so the file and the trainer cannot disagree about them.
  try {
    validateAugmentConfig(augment);
  } catch (err) {
    r.note(`${ap}:`, (err as Error).message);
  }
  const normalization = r.oneOf(o, 'normalization', path, d.normalization, ['model'] as const);
  return { augment, normalization };
}

function readSchedule(r: Reader, o: Rec, path: string, fallback: LrScheduleConfig): LrScheduleConfig {
  const v = o.lrSchedule;
  const p = `${path}.lrSchedule`;
  if (v === undefined) return fallback;
  if (!isRecord(v)) {
    r.note(p, `must be an object with a "kind" (got ${shown(v)})`);
    return fallback;
  }
  const kind = r.oneOf(v, 'kind', p, undefined, ['constant', 'step', 'cosine', 'plateau'] as const);
  switch (kind) {
    case undefined:
      if (v.kind === undefined) r.note(`${p}.kind`, 'is missing: one of "constant", "step", "cosine", "plateau"');
      return fallback;
    case 'constant':
      r.unknownKeys(v, p, ['kind']);
      return { kind };
    case 'step':
      r.unknownKeys(v, p, ['kind', 'everyEpochs', 'gamma']);
      return { kind, everyEpochs: r.number(v, 'everyEpochs', p, SCHEDULE_DEFAULTS.everyEpochs, BOUNDS.stepEveryEpochs), gamma: r.number(v, 'gamma', p, SCHEDULE_DEFAULTS.gamma, BOUNDS.stepGamma) };
    case 'cosine': {
      r.unknownKeys(v, p, ['kind', 'warmup', 'unit', 'minLr']);
      const minLr = v.minLr === undefined ? undefined : r.number(v, 'minLr', p, 0, BOUNDS.minLr);
      return { kind, warmup: r.number(v, 'warmup', p, SCHEDULE_DEFAULTS.warmup, BOUNDS.warmup), unit: r.oneOf(v, 'unit', p, 'epoch', ['epoch', 'step'] as const), ...(minLr === undefined ? {} : { minLr }) };
    }
    case 'plateau': {
      r.unknownKeys(v, p, ['kind', 'monitor', 'mode', 'patience', 'factor', 'minLr', 'minDelta']);
      const out: Extract<LrScheduleConfig, { kind: 'plateau' }> = { kind };
      if (v.monitor !== undefined) out.monitor = r.oneOf(v, 'monitor', p, 'valLoss', METRICS);
      if (v.mode !== undefined) out.mode = r.oneOf(v, 'mode', p, 'min', ['min', 'max'] as const);
      if (v.patience !== undefined) out.patience = r.number(v, 'patience', p, SCHEDULE_DEFAULTS.patience, BOUNDS.schedulePatience);
      if (v.factor !== undefined) out.factor = r.number(v, 'factor', p, SCHEDULE_DEFAULTS.factor, BOUNDS.plateauFactor);
      if (v.minLr !== undefined) out.minLr = r.number(v, 'minLr', p, 0, BOUNDS.minLr);
      if (v.minDelta !== undefined) out.minDelta = r.number(v, 'minDelta', p, 0, BOUNDS.plateauMinDelta);
      return out;
    }
  }
}

const TRAIN_KEYS = ['model', 'strategy', 'trainableBlocks', 'probeEpochs', 'optimizer', 'learningRate', 'lrSchedule', 'epochs', 'batchSize', 'earlyStopping', 'labelSmoothing', 'classWeights', 'clipNorm', 'saveEveryEpochs', 'keepEpoch', 'tta', 'mirrorTraining', 'seed'] as const;

function readTrain(r: Reader, root: Rec, d: StudioConfig['train'], zoo: Zoo): StudioConfig['train'] {
  const path = 'train';
  const o = r.section(root, 'train', path, TRAIN_KEYS);
  let model = d.model;
  if (o.model !== undefined) {
    // The zoo the caller holds: the engine's includes the backbones imported into its profile.
    if (typeof o.model === 'string' && zoo.has(o.model)) model = o.model;
    else r.note(`${path}.model`, `must be a model of the studio (got ${shown(o.model)}); known: ${zoo.entries().map((e) => e.id).join(', ')}`);
  }
  const strategy = o.strategy === null ? null : r.oneOf(o, 'strategy', path, d.strategy, STRATEGIES);
  const pretrained = zoo.entry(model).source.kind !== 'builtin';
  if (strategy === 'scratch' && pretrained) r.note(`${path}.strategy`, `"scratch" is for the simple CNN; ${model} is a pretrained backbone: choose frozen, medical, mlp or finetune`);
  if (strategy !== null && strategy !== 'scratch' && !pretrained) r.note(`${path}.strategy`, `"${strategy}" needs a pretrained backbone; ${model} trains from scratch`);

  let trainableBlocks = d.trainableBlocks;
  const tb = o.trainableBlocks;
  if (tb === 'all' || inRange(BOUNDS.trainableBlocks, tb)) trainableBlocks = tb;
  else if (tb !== undefined) r.note(`${path}.trainableBlocks`, `must be "all" or a whole number of blocks from ${BOUNDS.trainableBlocks.min} to ${BOUNDS.trainableBlocks.max} (got ${shown(tb)})`);

  let earlyStopping = d.earlyStopping;
  if (o.earlyStopping === null) earlyStopping = null;
  else if (o.earlyStopping !== undefined) {
    const e = r.section(o, 'earlyStopping', `${path}.earlyStopping`, ['patience', 'minDelta']);
    const base = d.earlyStopping ?? DEFAULT_EARLY_STOPPING;
    earlyStopping = {
      patience: r.number(e, 'patience', `${path}.earlyStopping`, base.patience, BOUNDS.patience),
      minDelta: r.number(e, 'minDelta', `${path}.earlyStopping`, base.minDelta, BOUNDS.minDelta),
    };
  }
  const epochs = r.number(o, 'epochs', path, d.epochs, BOUNDS.epochs);
  const probeEpochs = r.number(o, 'probeEpochs', path, d.probeEpochs, BOUNDS.probeEpochs);
  if (probeEpochs > epochs) r.note(`${path}.probeEpochs`, `must not exceed train.epochs (${probeEpochs} > ${epochs})`);
  return {
    model,
    strategy,
    trainableBlocks,
    probeEpochs,
    optimizer: o.optimizer === null ? null : r.oneOf(o, 'optimizer', path, d.optimizer, OPTIMIZERS),
    learningRate: r.nullableNumber(o, 'learningRate', path, d.learningRate, BOUNDS.learningRate),
    lrSchedule: readSchedule(r, o, path, d.lrSchedule),
    epochs,
    batchSize: r.nullableNumber(o, 'batchSize', path, d.batchSize, BOUNDS.batchSize),
    earlyStopping,
    labelSmoothing: r.number(o, 'labelSmoothing', path, d.labelSmoothing, BOUNDS.labelSmoothing),
    classWeights: r.oneOf(o, 'classWeights', path, d.classWeights, CHOICES.classWeights),
    clipNorm: r.number(o, 'clipNorm', path, d.clipNorm, BOUNDS.clipNorm),
    saveEveryEpochs: r.number(o, 'saveEveryEpochs', path, d.saveEveryEpochs, BOUNDS.saveEveryEpochs),
    keepEpoch: r.oneOf(o, 'keepEpoch', path, d.keepEpoch, CHOICES.keepEpoch),
    tta: r.oneOf(o, 'tta', path, d.tta, TTA_KINDS),
    mirrorTraining: r.boolean(o, 'mirrorTraining', path, d.mirrorTraining),
    seed: r.number(o, 'seed', path, d.seed, BOUNDS.seed),
  };
}

/**
 * Checks a parsed file against the schema and fills what it leaves out from `base` (the studio's defaults). Throws
 * ConfigError listing every unknown key, wrong type and out-of-range value, each by its path (`train.epochs`). The
 * models it may name are those of `zoo`.
 */
export function readConfig(value: unknown, zoo: Zoo, base: StudioConfig = defaultConfig(zoo)): StudioConfig {
  if (!isRecord(value)) throw new ConfigError([`a config must be a JSON object with "version": ${CONFIG_VERSION} (got ${shown(value)})`]);
  const r = new Reader();
  r.unknownKeys(value, 'config', ['version', 'models', 'dataset', 'transform', 'train', 'performance']);
  if (value.version === undefined) r.note('version', `is missing: this studio reads version ${CONFIG_VERSION}`);
  else if (value.version !== CONFIG_VERSION) r.note('version', `${shown(value.version)} is not one this studio reads (it reads ${CONFIG_VERSION})`);
  const models = readModels(r, value, base.models);
  const dataset = readDataset(r, value, base.dataset);
  const transform = readTransform(r, value, base.transform);
  const train = readTrain(r, value, base.train, zoo);
  const perf = r.section(value, 'performance', 'performance', ['backend']);
  const performance = { backend: r.oneOf(perf, 'backend', 'performance', base.performance.backend, BACKENDS) };
  if (r.problems.length) throw new ConfigError(r.problems);
  return { version: CONFIG_VERSION, models, dataset, transform, train, performance };
}

/** readConfig over JSON text; a syntax error is reported as one problem, with where it is. */
export function parseConfigText(text: string, zoo: Zoo): StudioConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // JSON.parse says where by character offset; people read lines.
    const message = (err as Error).message;
    const at = /line \d+/.test(message) ? null : /position (\d+)/.exec(message);
    const before = at ? text.slice(0, Number(at[1])).split('\n') : null;
    throw new ConfigError([`the file is not valid JSON: ${message}${before ? ` (line ${before.length}, column ${before.at(-1)!.length + 1})` : ''}`]);
  }
  return readConfig(value, zoo);
}

/**
 * The settings a config means. Null lr, batch size and optimiser take the `models` table's values; an optimiser is
 * left to the engine (which picks by strategy, e.g. Adamax to fine-tune) unless the table changed the zoo's.
 */
export function settingsFromConfig(c: StudioConfig, zoo: Zoo): StudioSettings {
  const { train: t } = c;
  const own = zoo.entry(t.model).defaults;
  const defaults = c.models[t.model] ?? own;
  const optimizer = t.optimizer ?? (defaults.optimizer !== own.optimizer ? defaults.optimizer : undefined);
  return {
    models: structuredClone(c.models),
    dataset: structuredClone(c.dataset),
    augment: structuredClone(c.transform.augment),
    train: {
      model: t.model,
      ...(t.strategy === null ? {} : { strategy: t.strategy }),
      trainableBlocks: t.trainableBlocks,
      probeEpochs: t.probeEpochs,
      ...(optimizer === undefined ? {} : { optimizer }),
      epochs: t.epochs,
      batchSize: t.batchSize ?? defaults.batchSize,
      learningRate: t.learningRate ?? defaults.learningRate,
      lrSchedule: structuredClone(t.lrSchedule),
      seed: t.seed,
      classWeights: t.classWeights,
      labelSmoothing: t.labelSmoothing,
      clipNorm: t.clipNorm,
      earlyStopping: t.earlyStopping && { ...t.earlyStopping },
      saveEveryEpochs: t.saveEveryEpochs,
      keepEpoch: t.keepEpoch,
      tta: t.tta,
      mirrorTraining: t.mirrorTraining,
    },
    backend: c.performance.backend,
  };
}

/** The file for a set of settings (export); settingsFromConfig(configFromSettings(s)) gives `s` back. */
export function configFromSettings(s: StudioSettings): StudioConfig {
  const t = s.train;
  return {
    version: CONFIG_VERSION,
    models: structuredClone(s.models),
    dataset: structuredClone(s.dataset),
    transform: { augment: structuredClone(s.augment), normalization: 'model' },
    train: {
      model: t.model,
      strategy: t.strategy ?? null,
      trainableBlocks: t.trainableBlocks,
      probeEpochs: t.probeEpochs,
      optimizer: t.optimizer ?? null,
      learningRate: t.learningRate,
      lrSchedule: structuredClone(t.lrSchedule),
      epochs: t.epochs,
      batchSize: t.batchSize,
      earlyStopping: t.earlyStopping && { ...t.earlyStopping },
      labelSmoothing: t.labelSmoothing,
      classWeights: t.classWeights,
      clipNorm: t.clipNorm,
      saveEveryEpochs: t.saveEveryEpochs,
      keepEpoch: t.keepEpoch,
      tta: t.tta,
      mirrorTraining: t.mirrorTraining,
      seed: t.seed,
    },
    performance: { backend: s.backend },
  };
}

/** Checks settings that came from a form (not a file) the same way, so an export always re-imports. */
export function checkSettings(s: StudioSettings, zoo: Zoo): StudioSettings {
  return settingsFromConfig(readConfig(configFromSettings(s), zoo), zoo);
}

/** The import options a folder is imported with under these settings. */
export function importOptionsOf(d: DatasetSettings): ImportOptions {
  return { imageSize: d.imageSize, channels: d.channels, ...(d.classes ? { classes: [...d.classes] } : {}), split: { ...d.split }, seed: d.seed, ...(d.groupPattern ? { groupPattern: d.groupPattern } : {}), dedupe: d.dedupe, nearThreshold: d.nearThreshold };
}

/** The built-in demo dataset under these settings (its images are RGB whatever `channels` says). */
export function demoDatasetOf(d: DatasetSettings): DemoDatasetConfig {
  return { kind: 'demo', seed: d.seed, imageSize: d.imageSize, perClass: d.perClass, split: { ...d.split } };
}

/** The config of a recommended recipe (src/core/train/recommend.ts): `base` (e.g. defaultConfig) with the recipe's choices. */
export function recommendedConfig(s: RecommendedSettings, base: StudioConfig): StudioConfig {
  const c = structuredClone(base);
  c.dataset = { ...c.dataset, imageSize: s.imageSize, channels: s.channels, split: { ...s.split } };
  c.transform = { ...c.transform, augment: { ...c.transform.augment, enabled: s.augment } };
  c.train = {
    ...c.train,
    model: s.model,
    strategy: s.strategy,
    trainableBlocks: 'all',
    probeEpochs: 0,
    optimizer: s.optimizer,
    learningRate: s.learningRate,
    lrSchedule: { kind: 'constant' },
    epochs: s.epochs,
    batchSize: s.batchSize,
    earlyStopping: s.earlyStopping,
    labelSmoothing: s.labelSmoothing,
    classWeights: s.classWeights,
    clipNorm: s.clipNorm,
    keepEpoch: s.keepEpoch,
    tta: s.tta,
    mirrorTraining: s.mirrorTraining,
  };
  return c;
}

export interface ConfigTemplate {
  id: 'recommended' | 'defaults' | 'small-dataset' | 'large-dataset' | 'multi-class' | 'xception-medical';
  name: string;
  /** When to pick it, in a sentence. */
  description: string;
  config: StudioConfig;
}

const TRANSFER_MODEL = 'mobilenet_v2_0.35_224';

/**
 * The seed's three recipes, plus the studio's defaults. Each is a complete file (readConfig accepts it as is);
 * batch sizes and rates stay those of the models table unless the recipe is about them.
 */
export function configTemplates(zoo: Zoo): ConfigTemplate[] {
  const base = defaultConfig(zoo);
  const small = defaultConfig(zoo);
  // Few hundred images: keep the pretrained features (the Medical CNN head), augment hard, wait long for progress,
  // and cut the rate when validation loss stalls rather than on a fixed timetable.
  small.train = { ...small.train, model: TRANSFER_MODEL, strategy: 'medical', epochs: 60, batchSize: 16, lrSchedule: { kind: 'plateau', monitor: 'valLoss', patience: 5, factor: 0.5 }, earlyStopping: { ...DEFAULT_EARLY_STOPPING } };
  small.dataset = { ...small.dataset, imageSize: 224 };
  small.transform = { ...small.transform, augment: { ...augmentDefault, enabled: true, randomResizedCrop: true } };
  const large = defaultConfig(zoo);
  // Thousands of images: enough data to move every weight. A short linear probe first, so the new head does not
  // send large random gradients into the pretrained features; bigger batches; cosine decay after a warm-up epoch.
  large.train = { ...large.train, model: TRANSFER_MODEL, strategy: 'finetune', trainableBlocks: 'all', probeEpochs: 2, optimizer: 'adamax', epochs: 30, batchSize: 64, lrSchedule: { kind: 'cosine', warmup: 1, unit: 'epoch' }, earlyStopping: { patience: 8, minDelta: DEFAULT_EARLY_STOPPING.minDelta } };
  large.dataset = { ...large.dataset, imageSize: 224, split: { train: 0.8, val: 0.1, test: 0.1 } };
  large.transform = { ...large.transform, augment: { ...augmentDefault, enabled: true } };
  const multi = defaultConfig(zoo);
  // Many classes: label smoothing, which keeps the model from being certain between look-alike classes (the seed's
  // 0.1). No class weights, even for uneven classes: see the default's reason in defaultConfig.
  multi.train = { ...multi.train, model: TRANSFER_MODEL, strategy: 'medical', epochs: 40, classWeights: 'off', labelSmoothing: 0.1, lrSchedule: { kind: 'cosine', warmup: 2, unit: 'epoch' } };
  multi.dataset = { ...multi.dataset, imageSize: 224 };
  multi.transform = { ...multi.transform, augment: { ...augmentDefault, enabled: true } };
  const xception = defaultConfig(zoo);
  // The seed's strongest recipe, Xception-Medical: ImageNet Xception fine-tuned whole at its 299 px, Adamax at lr 1e-3.
  xception.train = { ...xception.train, model: 'xception', strategy: 'finetune', trainableBlocks: 'all', optimizer: 'adamax', learningRate: 1e-3, epochs: 30 };
  xception.dataset = { ...xception.dataset, imageSize: 299 };
  xception.transform = { ...xception.transform, augment: { ...augmentDefault, enabled: true } };
  // The recommended recipe before any device is measured: its full 50 epochs, and a test split carved (no test folder known).
  const recommended = recommendedConfig({ model: RECOMMENDED_MODEL, ...RECOMMENDED_HEAD, earlyStopping: null, keepEpoch: 'last', tta: 'flip', mirrorTraining: true, classWeights: 'off', clipNorm: 0, labelSmoothing: 0, imageSize: 224, channels: 3, split: { train: 0.7, val: 0.15, test: 0.15 }, augment: false }, defaultConfig(zoo));
  return [
    { id: 'defaults', name: 'Studio defaults', description: 'The simple CNN from scratch, no augmentation: a quick first run.', config: base },
    { id: 'recommended', name: 'Recommended', description: 'Frozen MobileNetV2-0.35 features, Dense 100 ReLU head, Adam 1e-3, batch 16, 50 epochs, no class weights, no early stopping, the last epoch kept, every training image also trained mirrored and each image answered with its mirror too, 224 px (issue 14\'s plain recipe; docs/quality.md). The train panel adapts it to your folder and device.', config: recommended },
    { id: 'small-dataset', name: 'Small dataset', description: 'A few hundred images: frozen MobileNetV2 with the Medical CNN head, strong augmentation, patient early stopping.', config: small },
    { id: 'large-dataset', name: 'Large dataset', description: 'Thousands of images: fine-tune the whole MobileNetV2 after a 2-epoch probe, batch 64, cosine schedule.', config: large },
    { id: 'multi-class', name: 'Multi-class', description: 'Several uneven classes: label smoothing 0.1, cosine schedule, no class weights (see docs/quality.md).', config: multi },
    { id: 'xception-medical', name: 'Xception-Medical', description: "The seed's best recipe: ImageNet Xception fine-tuned whole at 299 px with Adamax, lr 1e-3 (slow without a GPU).", config: xception },
  ];
}
