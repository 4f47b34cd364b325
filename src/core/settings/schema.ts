/**
 * The settings schema: the one place that says what a training setting may be (its bounds, as valibot pipelines),
 * what it is when left out (its default) and how a bad value is reported. The config file reader
 * (src/core/config.ts), the worker's checks (workers/engine.ts), the CLI's flags (cli/studio.ts) and the forms'
 * min/max read it, and the settings part of docs/cli.md and of the CLI's usage text is generated from it
 * (scripts/docs-cli.ts).
 *
 * Pure TypeScript without TF.js: the page and the CLI load it.
 */
import * as v from 'valibot';

/** A number's allowed values: inclusive (min, max) or exclusive (above, below) bounds, whole numbers or not. */
export interface Range {
  readonly min?: number;
  readonly max?: number;
  readonly above?: number;
  readonly below?: number;
  readonly integer?: boolean;
}

export const MAX_SEED = 2 ** 31 - 1;

/** Every bounded number of the settings, by name. */
export const BOUNDS = {
  epochs: { min: 1, max: 10000, integer: true },
  probeEpochs: { min: 0, max: 10000, integer: true },
  batchSize: { min: 1, max: 4096, integer: true },
  learningRate: { above: 0, below: 10 },
  labelSmoothing: { min: 0, below: 1 },
  clipNorm: { min: 0 },
  patience: { min: 1, max: 10000, integer: true },
  minDelta: { min: 0, below: 1 },
  saveEveryEpochs: { min: 0, max: 10000, integer: true },
  trainableBlocks: { min: 0, max: 1000, integer: true },
  seed: { min: 0, max: MAX_SEED, integer: true },
  imageSize: { min: 8, max: 1024, integer: true },
  /** The demo's phantoms are drawn in JavaScript: larger ones only cost time. */
  demoImageSize: { min: 8, max: 512, integer: true },
  perClass: { min: 3, max: 100_000, integer: true },
  nearThreshold: { min: 0, max: 64, integer: true },
  splitFraction: { min: 0, max: 1 },
  rotationDeg: { min: 0, max: 180 },
  brightness: { min: 0, below: 1 },
  contrast: { min: 0, below: 1 },
  /** Random resized crop: the fraction of the image's area kept, each end of [min, max]. */
  cropScale: { above: 0, max: 1 },
  stepEveryEpochs: { min: 1, max: 10000, integer: true },
  stepGamma: { above: 0, max: 1 },
  warmup: { min: 0, integer: true },
  schedulePatience: { min: 1, max: 10000, integer: true },
  plateauFactor: { above: 0, below: 1 },
  minLr: { min: 0, below: 10 },
  plateauMinDelta: { min: 0 },
} as const satisfies Record<string, Range>;

export type BoundName = keyof typeof BOUNDS;

/**
 * The settings that are one of a list of words, and the lists (their types are the core's: src/core/config.ts
 * assigns each list to its typed constant, so a word the core does not know fails to compile).
 */
export const CHOICES = {
  optimizer: ['adamw', 'adam', 'adamax', 'sgd'],
  strategy: ['scratch', 'frozen', 'medical', 'mlp', 'finetune'],
  backend: ['auto', 'webgpu', 'webgl', 'wasm', 'cpu'],
  dedupe: ['keep-together', 'drop', 'off'],
  monitor: ['valAccuracy', 'valLoss', 'trainAccuracy', 'trainLoss'],
  classWeights: ['auto', 'off'],
  keepEpoch: ['best', 'last'],
  measureBackends: ['auto', 'on', 'off'],
  compileAhead: ['auto', 'on', 'off'],
} as const;

/** The numbers a setting takes when neither a form, a flag nor a config file gives one (src/core/config.ts#defaultConfig). */
export const DEFAULTS = {
  epochs: 5,
  seed: 42,
  imageSize: 64,
  /** The CLI's demo runs are quick checks: smaller phantoms than a folder's images. */
  demoImageSize: 32,
  perClass: 60,
  /** Of 64 bits: resized or re-encoded copies of one slice link, and neighbouring slices of a scan mostly do not. */
  nearThreshold: 5,
  probeEpochs: 0,
  saveEveryEpochs: 0,
  labelSmoothing: 0,
  clipNorm: 1,
} as const;

/** A learning-rate schedule's numbers where a file, a flag or the form leaves one out. */
export const SCHEDULE_DEFAULTS = { everyEpochs: 10, gamma: 0.1, warmup: 0, patience: 5, factor: 0.1 } as const;

/** The seed's early stopping: patience 15, min_delta 0.0005 on validation accuracy. */
export const DEFAULT_EARLY_STOPPING: { readonly patience: number; readonly minDelta: number } = { patience: 15, minDelta: 0.0005 };

const schemas = new WeakMap<Range, v.GenericSchema<unknown, number>>();

/** The valibot schema of a range (one per range, built on first use). */
export function rangeSchema(r: Range): v.GenericSchema<unknown, number> {
  let s = schemas.get(r);
  if (!s) {
    const checks: v.PipeItem<number, number, v.BaseIssue<unknown>>[] = [v.finite()];
    if (r.integer) checks.push(v.integer());
    if (r.min !== undefined) checks.push(v.minValue(r.min));
    if (r.max !== undefined) checks.push(v.maxValue(r.max));
    if (r.above !== undefined) checks.push(v.gtValue(r.above));
    if (r.below !== undefined) checks.push(v.ltValue(r.below));
    s = v.pipe(v.number(), ...checks);
    schemas.set(r, s);
  }
  return s;
}

export function inRange(r: Range, value: unknown): value is number {
  return v.is(rangeSchema(r), value);
}

/** `a whole number from 1 to 10000`, `a number above 0 and below 10`: what a message says a value must be. */
export function describeRange(r: Range): string {
  const kind = r.integer ? 'a whole number' : 'a number';
  if (r.min !== undefined && r.max !== undefined) return `${kind} from ${r.min} to ${r.max}`;
  const lo = r.min !== undefined ? `at least ${r.min}` : r.above !== undefined ? `above ${r.above}` : null;
  const hi = r.max !== undefined ? `at most ${r.max}` : r.below !== undefined ? `below ${r.below}` : null;
  return [kind, [lo, hi].filter(Boolean).join(' and ')].filter(Boolean).join(' ');
}

/**
 * A range as an `<input type="number">`'s min and max; an exclusive bound becomes the value `gap` inside it (the
 * forms' own step), since the attributes are inclusive.
 */
export function inputBounds(r: Range, gap = 0.01): { min?: number; max?: number } {
  const min = r.min ?? (r.above === undefined ? undefined : r.above + gap);
  const max = r.max ?? (r.below === undefined ? undefined : Number((r.below - gap).toFixed(10)));
  return { ...(min === undefined ? {} : { min }), ...(max === undefined ? {} : { max }) };
}

/** `${name} must be … (got …)` when the value is outside the range; null when it is inside. */
export function rangeProblem(name: string, r: Range, value: unknown, shown: string = String(value)): string | null {
  return inRange(r, value) ? null : `${name} must be ${describeRange(r)} (got ${shown})`;
}

/** A setting the CLI takes as a flag: its name, range, default as the usage shows it, and what it means. */
export interface SettingFlag {
  flag: string;
  bound: BoundName;
  /** What `--flag` means, for the usage text and docs/cli.md. */
  doc: string;
  /** The default when neither the flag nor a config file gives it (text where it is not one number). */
  fallback: number | string;
  /** How the flag's message words the range where it predates the schema's wording (kept: scripts assert it). */
  phrase?: string;
  /** Which of train's datasets the flag applies to, when not both. */
  only?: 'demo' | 'folder' | 'finetune';
}

/** The numeric settings flags of `train` and `crossval`, in the order the usage lists them. */
export const SETTING_FLAGS: readonly SettingFlag[] = [
  { flag: 'epochs', bound: 'epochs', doc: 'training epochs', fallback: DEFAULTS.epochs },
  { flag: 'batch-size', bound: 'batchSize', doc: 'images per step', fallback: "the model's" },
  { flag: 'lr', bound: 'learningRate', doc: 'learning rate', fallback: "the model's", phrase: 'a positive number below 10' },
  { flag: 'seed', bound: 'seed', doc: 'seeds the split, initialisation, batch order and augmentation', fallback: DEFAULTS.seed },
  { flag: 'patience', bound: 'patience', doc: `early stopping: epochs without a better validation accuracy (min Δ ${DEFAULT_EARLY_STOPPING.minDelta})`, fallback: DEFAULT_EARLY_STOPPING.patience },
  { flag: 'save-every', bound: 'saveEveryEpochs', doc: 'a checkpoint every N epochs besides the best and the last (0: none)', fallback: DEFAULTS.saveEveryEpochs },
  { flag: 'label-smoothing', bound: 'labelSmoothing', doc: 'cross-entropy label smoothing', fallback: DEFAULTS.labelSmoothing, phrase: 'a number from 0 up to (not including) 1' },
  { flag: 'trainable-blocks', bound: 'trainableBlocks', doc: 'blocks of the backbone trained (or all)', fallback: 'all', only: 'finetune' },
  { flag: 'probe-epochs', bound: 'probeEpochs', doc: 'epochs of the head alone first (at most --epochs)', fallback: DEFAULTS.probeEpochs, only: 'finetune' },
  { flag: 'image-size', bound: 'demoImageSize', doc: 'side of the square phantoms, px', fallback: DEFAULTS.demoImageSize, only: 'demo' },
  { flag: 'per-class', bound: 'perClass', doc: 'phantoms per class', fallback: DEFAULTS.perClass, only: 'demo' },
  { flag: 'image-size', bound: 'imageSize', doc: 'side of the square images the folder is decoded to, px', fallback: DEFAULTS.imageSize, only: 'folder' },
  { flag: 'near-threshold', bound: 'nearThreshold', doc: 'perceptual-hash distance, of 64 bits, for near duplicates', fallback: DEFAULTS.nearThreshold, only: 'folder' },
];

/** The flag's entry (for `image-size`, the one of the dataset kind given). */
export function settingFlag(flag: string, only?: SettingFlag['only']): SettingFlag {
  const found = SETTING_FLAGS.find((f) => f.flag === flag && (only === undefined || f.only === undefined || f.only === only));
  if (!found) throw new Error(`no settings flag --${flag}`);
  return found;
}

/** The message a flag's bad value gets: `--epochs must be a whole number from 1 to 10000 (got "-3")`. */
export function flagProblem(f: SettingFlag, text: string, r: Range = BOUNDS[f.bound]): string | null {
  if (inRange(r, Number(text))) return null;
  return `--${f.flag} must be ${f.phrase ?? describeRange(r)} (got "${text}")`;
}
