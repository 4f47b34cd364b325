/**
 * The headless studio: serves the built app on loopback, opens it in Chromium through Playwright and drives the
 * same engine, in the same worker, as the UI. There is no separate Node training path.
 *
 *   npm run studio -- train --demo --epochs N [--backend webgpu|webgl|wasm|cpu] [--seed N] --out FILE.json
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type {} from '../src/engine/automation';
import { selectClasses, type DatasetLayout } from '../src/core/dataset/layout';
import { compileGroupPattern } from '../src/core/dataset/split';
import { nameProblem, reviewRegistration } from '../src/core/registry/registry';
import { DEFAULT_LABEL_CONFLICTS, LABEL_CONFLICT_MODES } from '../src/core/dataset/checks';
import { EVALUATION_IMPORT } from '../src/engine/types';
import { TTA_KINDS } from '../src/core/train/types';
import { operatingPointSummary } from '../src/core/metrics/files';
import { ConfigError, parseConfigText, settingsFromConfig } from '../src/core/config';
import { BUILTIN_ZOO } from '../src/core/models/zoo';
import { BOUNDS, CHOICES, DEFAULTS, SCHEDULE_DEFAULTS, DEFAULT_EARLY_STOPPING, flagProblem, inRange, settingFlag, type Range, type SettingFlag } from '../src/core/settings/schema';
import { settingsUsage } from '../src/core/settings/docs';
import type { BackendInfo, ModelVersion, CrossValidationEvent, CrossValidationResult, DatasetSummary, EvaluateEvent, EvaluateRequest, EvaluationRecord, ImportEvent, ImportOptions, LrScheduleConfig, RunRecord, SplitFractions, StudioSettings, TrainConfig, TrainEvent, ZooModel, RegisterModelRequest, ExportedFile, ReportFile, ReportOptions, RecommendedRecipe } from '../src/engine/types';
import type { Page } from 'playwright';
import { launchStudioBrowser } from './browser';
import { checkDataFolder } from './folder-check';
import { serveStatic } from './serve';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** A forced backend: 'auto' is what leaving --backend out means. */
const BACKENDS = CHOICES.backend.filter((b): b is Exclude<typeof b, 'auto'> => b !== 'auto');

const USAGE = `usage: npm run studio -- <command> [options]
  train (--demo | --data DIR) --epochs N [--backend webgpu|webgl|wasm|cpu] [--seed N] --out FILE.json
  train --data DIR --recommended --out FILE.json  the recommended recipe for the folder and this machine (model, head,
        split, epochs; see docs/quality.md), printed with its reasons and estimated time; data flags (--classes,
        --group-pattern, --dedupe, --near-threshold) and --seed still apply, training flags are the recipe's
        [--model ID (simple_cnn)] [--strategy frozen|medical|mlp|finetune]
        finetune: [--trainable-blocks N|all] [--probe-epochs N: the head alone first, then the blocks at lr/10]
        [--optimizer adamw|adam|adamax|sgd] [--augment on|off (off)] [--lr X] [--batch-size N] (model defaults)
        [--schedule constant|step:EVERY:GAMMA|cosine:WARMUP|plateau:PATIENCE:FACTOR (constant)]
                (per phase; e.g. step:10:0.5, cosine:2 (epochs of warm-up), plateau:5:0.1 (on val loss))
        [--patience N | --no-early-stopping] [--save-every N] [--keep-epoch best|last (best: by validation accuracy)]
        [--tta none|flip (none; flip: each image answered with its left–right mirror too, in validation, evaluation, prediction, export)]
        [--mirror-training on|off (off; on: every training image also trains mirrored, each epoch)] [--models-dir DIR]
        [--weights FILE]  the model's pretrained weights from a file (a torchvision model's .pth / .safetensors, Xception's Keras .h5), cached in the profile
        [--class-weights off|auto (off; auto: inverse frequency when imbalanced)] [--label-smoothing X]
        [--measure-backends auto|on|off (auto)]  auto backend only: a model's first run on this adapter times a few
                training steps on WebGPU, WebGL and WASM and trains on the fastest (auto: on a real GPU; on: on a
                software adapter or without a GPU too; off: the fixed order); later runs follow the stored figures
        [--config FILE.json]  settings from a config file (exported by the studio); flags given here override it
        demo:   [--image-size N] [--per-class N]
        folder: [--classes a,b,c] [--split 70/15/15] [--group-pattern REGEX] [--dedupe keep-together|drop|off]
                [--label-conflicts drop-all|keep-first|keep-all (drop-all)]: the same image (identical bytes) under
                two or more classes: drop every copy, keep the copies in the class of the first by path, or keep all
                [--near-threshold BITS] [--image-size N] [--channels 1|3]
        the settings' ranges (defaults), from src/core/settings/schema.ts:
${settingsUsage()}
  resume --run ID [--out FILE.json]  continue a stopped run from its last checkpoint (same --profile and --port)
  evaluate (--run ID [--data DIR | --external DIR] | --model DIR --data DIR) --out DIR [--checkpoint best|last] [--latency-samples N (100)]
        [--min-sensitivity X (0.85)] [--min-accuracy X (0.85)] [--max-p95-ms N (100)] [--tumour-classes a,b]
        [--target-sensitivity X (0.95)]  screening operating point: per-class thresholds fitted on the run's validation
                                         split so each tumour class reaches X; its figures are shown beside the argmax's
        [--include-file-names]  name images by their file paths in the report (default: neutral ids)
        [--robustness]  also test accuracy under noise, blur, brightness and rotation (3 severities each)
        the run's test split; a folder run needs --data DIR unless this profile trained it with --data
        --external DIR: another folder with the same class names, every image evaluated (a folder named Testing, Training
                        or val included; of X/ holding Training/ and Testing/, the Testing images); unknown class folders
                        listed; temperature and operating point from the run's own validation split
        --model DIR: an exported TF.js model folder (model.json, shards, metadata.json) evaluated on every image of --data
  crossval (--demo | --data DIR) [--folds K (5)] --out FILE.json [train's options]
        k-fold cross-validation of that training config: stratified, group-aware with --group-pattern; one run per
        fold (tagged cv:ID), each scored on its held-out fold; prints and writes mean ± std of accuracy and macro-F1
  runs  [--out FILE.json]          list the runs kept in the profile
  measurements [--out FILE.json]  the backend measurements kept in the profile: seconds per training step on each
        backend for a model, strategy, input and batch on an adapter, and the backend its runs go to
  register --run ID --name NAME --version X.Y.Z [--alias A ...] [--description TEXT] [--tag KEY=VALUE ...]
        [--override-reason TEXT]  the run's best model into the registry; below 85 % validation accuracy only with a reason
  import-cluster --run ID --dir DIR (--name NAME --version X.Y.Z [register's options] | --no-register) [--data DIR] [--out FILE.json]
        bring back the model that run ID's exported recipe trained with PyTorch: DIR is train.py's --out (model.pth,
        metrics.json); it becomes a new run (tag cluster) beside run ID, is evaluated on the run's test split and
        registered as NAME@X.Y.Z with its provenance in the model card; --out writes the new run id, test metrics, version
  export --model NAME@VERSION|NAME@ALIAS --format tfjs|onnx --out DIR
        the model's files, its metadata and model card; ONNX is checked against the studio in onnxruntime-web
  export-recipe --run ID --out DIR [--file-names]
        "train at scale": the run as a PyTorch DDP project (train.py, config.json, split.csv, requirements.txt,
        README.md, slurm.sh) for torchrun on GPUs; split.csv names images by SHA-256 of their bytes unless
        --file-names (your consent to their paths leaving the browser); see the folder's README.md
  predict --model NAME@VERSION|NAME@ALIAS --images DIR --out predictions.csv
        every file under DIR: a CSV row each (file, top class, the operating point's class when the model has one,
        probability per class, latency ms, error)
  import-onnx --file MODEL.onnx --id ID [--name NAME] [--normalization imagenet|[-1,1] (imagenet)] [--out FILE.json]
        an ONNX CNN up to its global pool as backbone ID (then: train --model ID --strategy frozen|medical|mlp|finetune);
        shows its operators and the largest difference to onnxruntime-web (same --profile and --port as training)
  common: --browser PATH (/usr/bin/chromium)  --profile DIR (~/.local/share/mri-studio/profile)  --port N (5199)  --verbose`;

/** A failure the user can fix: printed as one line, exit code 2. */
class UsageError extends Error {}

function int(name: string, v: string | undefined, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max} (got "${v}")`);
  return n;
}

/** A settings flag's value, checked against the settings schema (`range` narrows it, e.g. probe epochs ≤ epochs). */
function setting(flag: string, v: string | undefined, fallback: number, only?: SettingFlag['only'], range?: Range): number {
  if (v === undefined) return fallback;
  const problem = flagProblem(settingFlag(flag, only), v, range);
  if (problem) throw new UsageError(problem);
  return Number(v);
}

function defaultProfile(): string {
  const dataHome = process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(dataHome, 'mri-studio', 'profile');
}

const COMMON_OPTIONS = {
  backend: { type: 'string' },
  browser: { type: 'string' },
  profile: { type: 'string' },
  port: { type: 'string' },
  out: { type: 'string' },
  verbose: { type: 'boolean' },
} as const;

const TRAIN_OPTIONS = {
  ...COMMON_OPTIONS,
  demo: { type: 'boolean' },
  data: { type: 'string' },
  classes: { type: 'string' },
  split: { type: 'string' },
  'group-pattern': { type: 'string' },
  dedupe: { type: 'string' },
  'near-threshold': { type: 'string' },
  channels: { type: 'string' },
  epochs: { type: 'string' },
  seed: { type: 'string' },
  'image-size': { type: 'string' },
  'per-class': { type: 'string' },
  'batch-size': { type: 'string' },
  lr: { type: 'string' },
  model: { type: 'string' },
  strategy: { type: 'string' },
  'trainable-blocks': { type: 'string' },
  'probe-epochs': { type: 'string' },
  schedule: { type: 'string' },
  optimizer: { type: 'string' },
  augment: { type: 'string' },
  patience: { type: 'string' },
  'no-early-stopping': { type: 'boolean' },
  'keep-epoch': { type: 'string' },
  tta: { type: 'string' },
  'mirror-training': { type: 'string' },
  'save-every': { type: 'string' },
  'models-dir': { type: 'string' },
  weights: { type: 'string' },
  'class-weights': { type: 'string' },
  'label-smoothing': { type: 'string' },
  'label-conflicts': { type: 'string' },
  'measure-backends': { type: 'string' },
  config: { type: 'string' },
  recommended: { type: 'boolean' },
} as const;

type Values<O> = { [K in keyof O]?: O[K] extends { type: 'boolean' } ? boolean : O[K] extends { multiple: true } ? string[] : string };

/**
 * `--epochs -3`: a value that is a negative number is the option's value (node's parser would take it for an option
 * and say "ambiguous"); joined as `--epochs=-3`, it reaches the range check and its message.
 */
function negativeValuesJoined(argv: string[], options: Record<string, { type: 'string' | 'boolean' }>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2) : undefined;
    if (name !== undefined && options[name]?.type === 'string' && /^-(\d|\.\d|Infinity)/.test(argv[i + 1] ?? '')) out.push(`${argv[i]}=${argv[++i]}`);
    else out.push(argv[i]);
  }
  return out;
}

function parse<O extends Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>>(argv: string[], options: O): Values<O> {
  try {
    return parseArgs({ args: negativeValuesJoined(argv, options), options, strict: true, allowPositionals: false }).values as Values<O>;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export interface SessionArgs {
  backend: (typeof BACKENDS)[number] | 'auto';
  out?: string;
  browser?: string;
  profile: string;
  port: number;
  verbose: boolean;
}

export interface TrainArgs extends SessionArgs {
  /** learningRate and batchSize are NaN when not given: the model's defaults fill them in the page. */
  cfg: TrainConfig;
  out: string;
  modelsDir?: string;
  /** A weights file to hand to the train panel's "Choose weights file…" before training. */
  weights?: string;
  /** A folder to import through the page's folder input before training (cfg.dataset then names it). */
  folder?: { dir: string; options: ImportOptions };
  /** --recommended: the recipe (training settings, image size, split) comes from the page's recommendation. */
  recommended?: boolean;
}

/** Flags that set what --recommended decides. */
const RECIPE_FLAGS = ['demo', 'epochs', 'image-size', 'channels', 'per-class', 'batch-size', 'lr', 'model', 'strategy', 'trainable-blocks', 'probe-epochs', 'schedule', 'optimizer', 'augment', 'patience', 'no-early-stopping', 'save-every', 'keep-epoch', 'tta', 'mirror-training', 'class-weights', 'label-smoothing', 'config', 'split'] as const;

/** 'scratch' is the simple CNN's own strategy, never asked for. */
const STRATEGIES = CHOICES.strategy.filter((s): s is Exclude<typeof s, 'scratch'> => s !== 'scratch');

function oneOf<T extends string>(name: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')} (got "${v}")`);
  return v as T;
}

const SCHEDULE_FORMS = 'constant, step:EVERY:GAMMA, cosine:WARMUP or plateau:PATIENCE:FACTOR';

/** `--schedule`: the learning-rate schedule, its numbers checked here so that a typo costs no browser start. */
function parseSchedule(v: string | undefined, epochs: number): LrScheduleConfig | undefined {
  if (v === undefined) return undefined;
  const [kind, ...args] = v.split(':');
  const arity: Record<string, number> = { constant: 0, step: 2, cosine: 1, plateau: 2 };
  if (!Object.hasOwn(arity, kind) || args.length > arity[kind] || (kind === 'step' && args.length < 2)) throw new UsageError(`--schedule must be ${SCHEDULE_FORMS} (got "${v}")`);
  /** A factor in the schema's range: (0, 1] for step's GAMMA, (0, 1) for plateau's FACTOR. */
  const factor = (what: string, s: string | undefined, fallback: number, r: Range): number => {
    const x = s === undefined ? fallback : Number(s);
    if (!inRange(r, x)) throw new UsageError(`--schedule ${kind}: ${what} must be above ${r.above} and ${r.below !== undefined ? `below ${r.below}` : `at most ${r.max}`} (got "${s}")`);
    return x;
  };
  switch (kind) {
    case 'step':
      return { kind, everyEpochs: int('schedule step EVERY', args[0], 0, BOUNDS.stepEveryEpochs.min, BOUNDS.stepEveryEpochs.max), gamma: factor('GAMMA', args[1], 0, BOUNDS.stepGamma) };
    case 'cosine':
      return { kind, warmup: int('schedule cosine WARMUP', args[0], SCHEDULE_DEFAULTS.warmup, BOUNDS.warmup.min, epochs - 1), unit: 'epoch' };
    case 'plateau':
      return { kind, patience: int('schedule plateau PATIENCE', args[0], SCHEDULE_DEFAULTS.patience, BOUNDS.schedulePatience.min, BOUNDS.schedulePatience.max), factor: factor('FACTOR', args[1], SCHEDULE_DEFAULTS.factor, BOUNDS.plateauFactor) };
    default:
      return { kind: 'constant' };
  }
}

function parseSplit(v: string | undefined, fallback: SplitFractions = { train: 0.7, val: 0.15, test: 0.15 }): SplitFractions {
  if (v === undefined) return fallback;
  const parts = v.split('/').map(Number);
  if (parts.length !== 3 || parts.some((p) => !Number.isFinite(p) || p < 0) || parts.reduce((a, b) => a + b, 0) !== 100 || parts[0] === 0 || parts[1] === 0) {
    throw new UsageError(`--split must be three percentages TRAIN/VAL/TEST adding up to 100, with TRAIN and VAL above 0 (got "${v}")`);
  }
  return { train: parts[0] / 100, val: parts[1] / 100, test: parts[2] / 100 };
}

function sessionArgs(v: Values<typeof COMMON_OPTIONS>): SessionArgs {
  const backend = v.backend ?? 'auto';
  if (backend !== 'auto' && !(BACKENDS as readonly string[]).includes(backend)) throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')} (got "${backend}")`);
  return {
    backend: backend as SessionArgs['backend'],
    out: v.out === undefined ? undefined : resolve(v.out),
    browser: v.browser,
    profile: resolve(v.profile ?? defaultProfile()),
    port: int('port', v.port, 5199, 0, 65535),
    verbose: v.verbose ?? false,
  };
}

/**
 * --config FILE: the settings it holds, checked in full before any browser starts; except that a file naming a
 * model Node does not know, perhaps an ONNX backbone imported into the profile, is checked by the page, which knows
 * the profile's imported backbones (and lists them when the id is not one of them either).
 */
async function readConfigFile(file: string, session: SessionArgs): Promise<StudioSettings> {
  if (!existsSync(file) || !statSync(file).isFile()) throw new UsageError(`--config ${file}: no such file`);
  const text = readFileSync(file, 'utf8');
  try {
    // Node has no profile, so its zoo is the built-in models; the page's holds the profile's imported backbones.
    return settingsFromConfig(parseConfigText(text, BUILTIN_ZOO), BUILTIN_ZOO);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    if (!(await namesUnknownModel(text))) throw new UsageError(`--config ${file}: ${err.message}`);
  }
  try {
    return await withStudio(session, (page) => page.evaluate((t) => window.studio!.readConfig(t), text));
  } catch (err) {
    throw new UsageError(`--config ${file}: ${oneLine(err)}`);
  }
}

/** Whether a config's train.model or its models table names an id that is not a built-in model. */
async function namesUnknownModel(text: string): Promise<boolean> {
  let value: { train?: { model?: unknown }; models?: unknown };
  try {
    value = JSON.parse(text);
  } catch {
    return false;
  }
  const ids = [value?.train?.model, ...Object.keys(typeof value?.models === 'object' && value.models ? value.models : {})];
  return ids.some((id) => typeof id === 'string' && !BUILTIN_ZOO.has(id));
}

/** Flags win over the config file, which wins over the CLI's defaults. */
export async function parseTrainArgs(argv: string[], command = 'train'): Promise<TrainArgs> {
  const v = parse(argv, TRAIN_OPTIONS);
  if (v.recommended) {
    if (command !== 'train') throw new UsageError(`--recommended applies to train, not ${command}`);
    if (!v.data) throw new UsageError('--recommended needs --data DIR: the recipe is picked for a folder');
    const given = RECIPE_FLAGS.filter((f) => v[f] !== undefined);
    if (given.length) throw new UsageError(`--recommended picks the recipe itself; leave out ${given.map((f) => `--${f}`).join(', ')}`);
  }
  if (!v.demo && !v.data) throw new UsageError(`${command} needs a dataset: pass --demo or --data DIR`);
  if (v.demo && v.data) throw new UsageError('pass either --demo or --data DIR, not both');
  if (!v.out) throw new UsageError(`${command} needs --out FILE.json`);
  const file = v.config === undefined ? null : await readConfigFile(v.config, sessionArgs(v));
  const model = v.model ?? file?.train.model ?? 'simple_cnn';
  // A --model other than the file's takes its own defaults from the file's models table, not the file's lr and batch.
  const fileTrain = file && model === file.train.model ? file.train : null;
  const smoothing = v['label-smoothing'] === undefined ? undefined : setting('label-smoothing', v['label-smoothing'], 0);
  const lr = setting('lr', v.lr, fileTrain?.learningRate ?? file?.models[model]?.learningRate ?? Number.NaN);
  const seed = setting('seed', v.seed, file?.train.seed ?? DEFAULTS.seed);
  const augment = oneOf('augment', v.augment, ['on', 'off'] as const) ?? (file?.augment.enabled ? 'on' : 'off');
  if (v['no-early-stopping'] && v.patience !== undefined) throw new UsageError('pass --patience or --no-early-stopping, not both');
  const blocks = v['trainable-blocks'];
  const fileStopping = file ? file.train.earlyStopping : DEFAULT_EARLY_STOPPING;
  const { enabled: _, ...fileAugment } = file?.augment ?? { enabled: false };
  const epochs = setting('epochs', v.epochs, file?.train.epochs ?? DEFAULTS.epochs);
  const strategy = v.strategy === undefined ? fileTrain?.strategy : oneOf('strategy', v.strategy, STRATEGIES);
  for (const flag of ['trainable-blocks', 'probe-epochs'] as const) if (v[flag] !== undefined && strategy !== 'finetune') throw new UsageError(`--${flag} applies to --strategy finetune`);
  // A file's trainable blocks and probe epochs mean something only to finetune (the engine refuses them elsewhere).
  const finetuneFile = strategy === 'finetune' ? fileTrain : null;
  const probeEpochs = v['probe-epochs'] === undefined ? finetuneFile?.probeEpochs || undefined : setting('probe-epochs', v['probe-epochs'], DEFAULTS.probeEpochs, 'finetune', { ...BOUNDS.probeEpochs, max: epochs });
  // Absent unless a flag or the file sets one, as TrainConfig defines it (absent: constant rate).
  const lrSchedule = v.schedule === undefined ? (fileTrain && fileTrain.lrSchedule.kind !== 'constant' ? fileTrain.lrSchedule : undefined) : parseSchedule(v.schedule, epochs);
  const common = {
    ...(lrSchedule === undefined ? {} : { lrSchedule }),
    ...(probeEpochs === undefined ? {} : { probeEpochs }),
    ...(file ? { clipNorm: file.train.clipNorm } : {}),
    model,
    ...(strategy === undefined ? {} : { strategy }),
    ...(blocks === undefined ? (finetuneFile ? { trainableBlocks: finetuneFile.trainableBlocks } : {}) : { trainableBlocks: blocks === 'all' ? ('all' as const) : setting('trainable-blocks', blocks, 0) }),
    ...(v.optimizer === undefined ? (fileTrain?.optimizer ? { optimizer: fileTrain.optimizer } : {}) : { optimizer: oneOf('optimizer', v.optimizer, CHOICES.optimizer) }),
    ...(augment === 'on' ? { augment: file ? (fileAugment as Exclude<TrainConfig['augment'], undefined>) : ('default' as const) } : {}),
    ...(v['class-weights'] === undefined ? (file ? { classWeights: file.train.classWeights } : {}) : { classWeights: oneOf('class-weights', v['class-weights'], CHOICES.classWeights) }),
    ...(v['label-smoothing'] === undefined ? (file ? { labelSmoothing: file.train.labelSmoothing } : {}) : { labelSmoothing: smoothing }),
    earlyStopping: v['no-early-stopping'] || (v.patience === undefined && fileStopping === null) ? null : { patience: setting('patience', v.patience, (fileStopping ?? DEFAULT_EARLY_STOPPING).patience), minDelta: (fileStopping ?? DEFAULT_EARLY_STOPPING).minDelta },
    saveEveryEpochs: setting('save-every', v['save-every'], file?.train.saveEveryEpochs ?? DEFAULTS.saveEveryEpochs),
    ...(v['keep-epoch'] === undefined ? (file ? { keepEpoch: file.train.keepEpoch } : {}) : { keepEpoch: oneOf('keep-epoch', v['keep-epoch'], CHOICES.keepEpoch) }),
    ...(v.tta === undefined ? (file ? { tta: file.train.tta } : {}) : { tta: oneOf('tta', v.tta, TTA_KINDS) }),
    ...(v['mirror-training'] === undefined ? (file ? { mirrorTraining: file.train.mirrorTraining } : {}) : { mirrorTraining: oneOf('mirror-training', v['mirror-training'], ['on', 'off'] as const) === 'on' }),
    ...(v['measure-backends'] === undefined ? {} : { measureBackends: oneOf('measure-backends', v['measure-backends'], CHOICES.measureBackends) }),
    epochs,
    batchSize: v['batch-size'] === undefined ? (fileTrain?.batchSize ?? file?.models[model]?.batchSize ?? Number.NaN) : setting('batch-size', v['batch-size'], Number.NaN),
    learningRate: lr,
    seed,
  };
  const d = file?.dataset;
  const session = { ...sessionArgs(v), ...(v.backend === undefined && file ? { backend: file.backend } : {}) };
  const modelsDir = v['models-dir'] === undefined ? undefined : resolve(v['models-dir']);
  if (modelsDir && !existsSync(modelsDir)) throw new UsageError(`--models-dir ${v['models-dir']}: no such folder`);
  const weights = v.weights === undefined ? {} : { weights: resolve(v.weights) };
  if (weights.weights && !(existsSync(weights.weights) && statSync(weights.weights).isFile())) throw new UsageError(`--weights ${v.weights}: no such file`);
  if (v.demo) {
    for (const flag of ['classes', 'group-pattern', 'dedupe', 'near-threshold', 'channels', 'label-conflicts'] as const) if (v[flag] !== undefined) throw new UsageError(`--${flag} applies to --data, not --demo`);
    return {
      ...session,
      out: resolve(v.out),
      modelsDir,
      ...weights,
      cfg: { ...common, dataset: { kind: 'demo', seed: v.seed === undefined ? (d?.seed ?? seed) : seed, imageSize: setting('image-size', v['image-size'], d?.imageSize ?? DEFAULTS.demoImageSize, 'demo'), perClass: setting('per-class', v['per-class'], d?.perClass ?? DEFAULTS.perClass), split: parseSplit(v.split, d?.split) } },
    };
  }
  if (v['per-class'] !== undefined) throw new UsageError('--per-class applies to --demo, not --data');
  const dir = resolve(v.data!);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--data ${v.data}: no such folder`);
  const layout = dataFolderWarnings('data', dir);
  const labelConflicts = oneOf('label-conflicts', v['label-conflicts'], LABEL_CONFLICT_MODES) ?? DEFAULT_LABEL_CONFLICTS;
  const dedupe = v.dedupe ?? d?.dedupe ?? 'keep-together';
  if (!(CHOICES.dedupe as readonly string[]).includes(dedupe)) throw new UsageError(`--dedupe must be one of ${CHOICES.dedupe.join(', ')} (got "${dedupe}")`);
  const channels = int('channels', v.channels, d?.channels ?? 3, 1, 3);
  if (channels === 2) throw new UsageError('--channels must be 1 or 3 (got "2")');
  const classes = v.classes?.split(',').map((c) => c.trim()).filter(Boolean) ?? d?.classes ?? undefined;
  try {
    selectClasses(layout, classes);
  } catch (err) {
    throw new UsageError(`${v.classes !== undefined ? '--classes' : d?.classes ? `--config ${v.config}` : `--data ${v.data}`}: ${(err as Error).message}`);
  }
  const groupPattern = v['group-pattern'] ?? d?.groupPattern ?? undefined;
  if (groupPattern !== undefined) {
    try {
      compileGroupPattern(groupPattern);
    } catch (err) {
      throw new UsageError(`--group-pattern: ${(err as Error).message}`);
    }
  }
  return {
    ...session,
    out: resolve(v.out),
    modelsDir,
    ...weights,
    ...(v.recommended ? { recommended: true } : {}),
    // The fingerprint is known only after the import; train() fills it in.
    cfg: { ...common, dataset: { kind: 'folder', fingerprint: '' } },
    folder: {
      dir,
      options: {
        imageSize: setting('image-size', v['image-size'], d?.imageSize ?? DEFAULTS.imageSize, 'folder'),
        channels: channels as 1 | 3,
        classes,
        split: parseSplit(v.split, d?.split),
        seed: v.seed === undefined ? (d?.seed ?? seed) : seed,
        groupPattern,
        dedupe: dedupe as ImportOptions['dedupe'],
        labelConflicts,
        // Left out, the engine's default applies.
        nearThreshold: v['near-threshold'] === undefined ? d?.nearThreshold : setting('near-threshold', v['near-threshold'], 0),
      },
    },
  };
}

/** Refuses a --data/--external folder the page would refuse (empty, loose images, no images); prints its warnings. */
function dataFolderWarnings(flag: string, dir: string): DatasetLayout {
  const { layout, refusal, warnings } = checkDataFolder(dir);
  if (refusal) throw new UsageError(`--${flag} ${dir}: ${refusal}`);
  for (const w of warnings) console.log(`warning: ${w.message}`);
  return layout;
}

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}

/** Builds the app when dist/ is missing or older than its sources, so the CLI never drives a stale studio. */
async function ensureBuilt(): Promise<string> {
  const dist = join(ROOT, 'dist');
  const built = join(dist, 'index.html');
  const sources = ['src', 'workers', 'public', 'index.html', 'vite.config.ts'].map((p) => join(ROOT, p)).filter(existsSync);
  if (!existsSync(built) || Math.max(...sources.map(newestMtime)) > statSync(built).mtimeMs) {
    console.error('studio: building the app…');
    const { build } = await import('vite');
    await build({ root: ROOT, logLevel: 'warn' });
  }
  return dist;
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

function importLine(d: DatasetSummary): string {
  const counts = d.classes.map((c) => `${c} ${d.counts.train[c]}/${d.counts.val[c]}/${d.counts.test[c]}`).join(', ');
  return `imported ${d.images} images in ${d.seconds.toFixed(1)} s (${d.imagesPerSecond.toFixed(0)} images/s); train/val/test: ${counts}; skipped ${d.skipped.length}; duplicates: ${d.duplicates.exactGroups.length} exact groups, ${d.duplicates.nearGroups.length} near groups, ${d.duplicates.crossSplit.length} across splits`;
}

type StudioEvent = TrainEvent | ImportEvent | EvaluateEvent | CrossValidationEvent;

/** @param epochs the run's epoch count, NaN when unknown (a resumed run). */
function printProgress(e: StudioEvent, epochs: number): void {
  const line = progressLine(e, epochs);
  if (line) console.log(line);
}

let lastImportDecile = -1;
let lastFeatureDecile = -1;

function progressLine(e: StudioEvent, epochs: number): string | null {
  // Cross-validation events wrap a fold's own training and evaluation events.
  if ('event' in e || 'result' in e || 'folds' in e) return crossvalLine(e, epochs);
  if ('checkpointEpoch' in e) return e.checkpointEpoch === null ? `evaluating ${e.runId} on ${e.test} images` : `evaluating run ${e.runId} (checkpoint of epoch ${e.checkpointEpoch}) on ${e.test} test images; temperature on ${e.val} validation images`;
  if ('phase' in e) return e.done === e.total ? `  ${e.phase}: ${e.total} ${e.phase === 'robustness' ? 'corrupted passes over the test split' : 'images'}` : null;
  switch (e.type) {
    case 'scanned':
      return `importing ${e.files} images of ${e.classes.join(', ')} (${e.skipped} files skipped)`;
    case 'progress': {
      const decile = Math.floor((e.done / e.total) * 10);
      if (decile === lastImportDecile) return null;
      lastImportDecile = decile;
      return `  ${e.done}/${e.total} decoded · ${e.imagesPerSecond.toFixed(0)} images/s · ETA ${Math.ceil(e.etaSeconds)} s`;
    }
    case 'weights': {
      const decile = e.total ? Math.floor((e.loaded / e.total) * 10) : -1;
      if (decile === lastImportDecile) return null;
      lastImportDecile = decile;
      return `  downloading ${e.model} weights: ${(e.loaded / 1e6).toFixed(0)}${e.total ? ` of ${(e.total / 1e6).toFixed(0)}` : ''} MB`;
    }
    case 'start':
      return `run ${e.runId} on ${e.backend.name}${e.backend.adapter ? ` (${e.backend.adapter.vendor} ${e.backend.adapter.architecture}${e.backend.adapter.isSoftware ? ', software adapter' : ''})` : ''}: classes ${e.classes.join(', ')}; split ${e.split.train}/${e.split.val}/${e.split.test}${e.resumedFrom ? `; resumed after epoch ${e.resumedFrom}` : ''}\nrouting: ${e.routing.reason}`;
    case 'measure':
      return `  measuring the backends for this model: ${e.backend} (${e.index} of ${e.of})`;
    case 'features': {
      // Caching a frozen backbone's activations takes minutes on a large folder before epoch 1: a line per tenth.
      const decile = Math.floor((e.done / e.total) * 10);
      if (decile === lastFeatureDecile) return null;
      lastFeatureDecile = e.done === e.total ? -1 : decile;
      return `  caching the frozen backbone's features: ${e.done}/${e.total} images`;
    }
    case 'epoch': {
      const m = e.metrics;
      return `epoch ${m.epoch}${Number.isNaN(epochs) ? '' : `/${epochs}`}${m.phase ? ` [${m.phase}, lr ${m.learningRate?.toPrecision(3)}]` : ''}: train loss ${m.trainLoss.toFixed(4)} acc ${pct(m.trainAccuracy)} · val loss ${m.valLoss.toFixed(4)} acc ${pct(m.valAccuracy)} · ${m.seconds.toFixed(1)} s, ${m.imagesPerSecond.toFixed(1)} img/s · tensors ${e.numTensors}`;
    }
    default:
      return null;
  }
}

interface SessionOptions extends SessionArgs {
  modelsDir?: string;
  /** More folders served with the app (URL prefix → folder), for files the page reads itself. */
  mounts?: Record<string, string>;
  onEvent?: (e: StudioEvent) => void;
}

/**
 * Opens the built studio in Chromium on a persistent profile and waits for its engine. IndexedDB belongs to the
 * page's origin, port included: the same --profile and --port see the same runs.
 */
async function withStudio<T>(opts: SessionOptions, work: (page: Page, backend: BackendInfo) => Promise<T>): Promise<T> {
  const dist = await ensureBuilt();
  // --models-dir stands in for the app's public/models/: the worker looks there before any official URL.
  const mounts: Record<string, string> = { ...opts.mounts, ...(opts.modelsDir ? { '/models/': opts.modelsDir } : {}) };
  const server = await serveStatic(dist, opts.port, '127.0.0.1', mounts);
  mkdirSync(opts.profile, { recursive: true });
  try {
    const browser = await launchStudioBrowser({ browser: opts.browser, profile: opts.profile });
    try {
      const page = await browser.context.newPage();
      let pageError: string | null = null;
      page.on('pageerror', (err) => {
        pageError = err.message;
        if (opts.verbose) console.error(`page error: ${err.message}`);
      });
      if (opts.verbose) page.on('console', (m) => console.error(`page: ${m.text()}`));
      if (opts.onEvent) await page.exposeFunction('onStudioEvent', opts.onEvent);
      await page.goto(`${server.url}?backend=${opts.backend}`);
      await page.waitForFunction(() => window.studio !== undefined, undefined, { timeout: 60_000 }).catch(() => {
        throw new Error(`the studio page did not start${pageError ? `: ${pageError}` : ''}`);
      });
      const backend = await page.evaluate(() => window.studio!.ready());
      return await work(page, backend);
    } finally {
      await browser.close();
    }
  } finally {
    await server.close();
  }
}

/** @param onRecommendation hears the recipe --recommended trained (before training starts). */
export function train(args: TrainArgs, onRecommendation?: (r: RecommendedRecipe) => void): Promise<RunRecord> {
  let epochs = args.cfg.epochs;
  return withStudio({ ...args, onEvent: (e) => printProgress(e, epochs) }, async (page, backend) => {
    const cfg = await trainConfig(page, backend, args, onRecommendation);
    epochs = cfg.epochs;
    return page.evaluate((c) => window.studio!.train(c), cfg);
  });
}

/**
 * --recommended: scans the folder through the page's folder input, asks the page for its recipe (which times this
 * machine), prints it, and returns the training config and import options it sets.
 */
async function recommendedSetup(page: Page, args: TrainArgs & { folder: NonNullable<TrainArgs['folder']> }): Promise<{ cfg: TrainConfig; options: ImportOptions; recipe: RecommendedRecipe }> {
  await page.setInputFiles('[data-testid="folder-input"]', args.folder.dir);
  console.log('measuring this machine for the recommended recipe…');
  const recipe = await page.evaluate(() => window.studio!.recommendRecipe());
  const s = recipe.settings;
  const split = `${Math.round(s.split.train * 100)}/${Math.round(s.split.val * 100)}/${Math.round(s.split.test * 100)}`;
  console.log(`recommended recipe: ${s.model} ${s.strategy} (Dense 100 ReLU head), ${s.optimizer} lr ${s.learningRate}, batch ${s.batchSize}, ${s.epochs} epochs, split ${split}, class weights ${s.classWeights}, no early stopping, ${s.keepEpoch} epoch kept, ${s.mirrorTraining ? 'mirrored training' : 'no mirrored training'}, test-time ${s.tta === 'flip' ? 'mirroring' : 'views: none'}, ${s.imageSize} px`);
  for (const r of recipe.reasons) console.log(`  - ${r}`);
  const time = (x: number | null) => (x === null ? 'not measured yet' : `${Math.round(x)} s`);
  console.log(`estimated time: ${Math.round(recipe.estimate.seconds)} s (${recipe.estimate.stages.map((st) => `${st.stage} ${time(st.seconds)}`).join(', ')})`);
  const cfg: TrainConfig = { ...args.cfg, model: s.model, strategy: s.strategy, optimizer: s.optimizer, learningRate: s.learningRate, batchSize: s.batchSize, epochs: s.epochs, earlyStopping: s.earlyStopping, keepEpoch: s.keepEpoch, tta: s.tta, mirrorTraining: s.mirrorTraining, classWeights: s.classWeights, clipNorm: s.clipNorm, labelSmoothing: s.labelSmoothing };
  return { cfg, options: { ...args.folder.options, imageSize: s.imageSize, channels: s.channels, split: { ...s.split } }, recipe };
}

/** The config to train in the page: the model's defaults filled in and, with --data, the folder imported first. */
async function trainConfig(page: Page, backend: BackendInfo, args: TrainArgs, onRecommendation?: (r: RecommendedRecipe) => void): Promise<TrainConfig> {
  if (args.backend !== 'auto' && backend.name !== args.backend) throw new Error(`backend ${args.backend} is not available`);
  if (args.recommended && args.folder) {
    const { cfg, options, recipe } = await recommendedSetup(page, { ...args, folder: args.folder });
    onRecommendation?.(recipe);
    // The folder input already holds the folder: the import reads the scan the recommendation was made for.
    const dataset = await page.evaluate((opts) => window.studio!.importFolder(opts), options);
    console.log(importLine(dataset));
    return { ...cfg, dataset: { kind: 'folder', fingerprint: dataset.fingerprint } };
  }
  const model = (await page.evaluate(() => window.studio!.zoo())).find((m) => m.id === args.cfg.model);
  if (!model) throw new UsageError(`--model ${args.cfg.model} is not in the zoo; choose one of ${(await page.evaluate(() => window.studio!.zoo())).map((m) => m.id).join(", ")}`);
  let cfg: TrainConfig = {
    ...args.cfg,
    learningRate: Number.isNaN(args.cfg.learningRate) ? model.defaults.learningRate : args.cfg.learningRate,
    batchSize: Number.isNaN(args.cfg.batchSize) ? model.defaults.batchSize : args.cfg.batchSize,
  };
  if (args.weights) await pickWeightsFile(page, model, args.weights);
  if (args.folder) {
    // The same path as a user's folder pick: the page's <input webkitdirectory> receives the folder.
    await page.setInputFiles('[data-testid="folder-input"]', args.folder.dir);
    const dataset = await page.evaluate((opts) => window.studio!.importFolder(opts), args.folder.options);
    console.log(importLine(dataset));
    for (const check of dataset.checks) console.log(`warning: ${check.message}`);
    cfg = { ...cfg, dataset: { kind: 'folder', fingerprint: dataset.fingerprint } };
  }
  return cfg;
}

/** --weights: the train panel's "Choose weights file…" with the file, as a user picks it; the page checks and caches it. */
async function pickWeightsFile(page: Page, model: ZooModel, file: string): Promise<void> {
  if (!model.weightsFile) {
    const takers = (await page.evaluate(() => window.studio!.zoo())).filter((m) => m.weightsFile).map((m) => m.id);
    throw new UsageError(`--weights: ${model.id} does not take a weights file (${takers.join(', ')} do)`);
  }
  // The picker lives on the Model step, the screen a user picks it on.
  await page.evaluate(() => (location.hash = '#/model'));
  const panel = page.getByTestId('weights-file');
  await panel.evaluate((d) => ((d as HTMLDetailsElement).open = true));
  await panel.getByTestId('weights-model').selectOption(model.id);
  await page.setInputFiles('[data-testid="weights-file-input"]', file);
  const done = panel.locator(`[data-testid="weights-status"][data-id="${model.id}"], [data-testid="weights-error"]`);
  await done.waitFor({ timeout: 10 * 60_000 });
  const text = (await done.innerText()).replace(/\s+/g, ' ').trim();
  if ((await done.getAttribute('data-testid')) === 'weights-error') throw new UsageError(`--weights ${basename(file)}: ${text}`);
  console.log(text);
}

export interface CrossvalArgs extends TrainArgs {
  folds: number;
}

/** crossval takes train's options plus --folds K. */
export async function parseCrossvalArgs(argv: string[]): Promise<CrossvalArgs> {
  const at = argv.findIndex((a) => a === '--folds' || a.startsWith('--folds='));
  const inline = at >= 0 && argv[at].includes('=');
  const value = at < 0 ? undefined : inline ? argv[at].slice('--folds='.length) : argv[at + 1];
  const rest = at < 0 ? argv : [...argv.slice(0, at), ...argv.slice(at + (inline ? 1 : 2))];
  return { ...(await parseTrainArgs(rest, 'crossval')), folds: int('folds', value, 5, 2, 20) };
}

function crossvalLine(e: CrossValidationEvent, epochs: number): string | null {
  switch (e.type) {
    case 'start':
      return `cross-validation ${e.id}: ${e.folds} folds`;
    case 'train':
    case 'evaluate': {
      const line = progressLine(e.event, epochs);
      return line && `fold ${e.fold}: ${line}`;
    }
    case 'fold':
      return `fold ${e.result.fold}: accuracy ${pct(e.result.accuracy)}, macro F1 ${e.result.macroF1.toFixed(3)} on ${e.result.split.test} held-out images (run ${e.result.runId})`;
    default:
      return null;
  }
}

export function crossValidate(args: CrossvalArgs): Promise<CrossValidationResult> {
  return withStudio({ ...args, onEvent: (e) => printProgress(e, args.cfg.epochs) }, async (page, backend) => {
    const config = await trainConfig(page, backend, args);
    return page.evaluate((req) => window.studio!.crossValidate(req), { config, folds: args.folds });
  });
}

/** The run as the CLI contract promises it (see README: "CLI"). */
export function runSummary(run: RunRecord) {
  return {
    runId: run.runId,
    status: run.status,
    backend: run.backend,
    adapter: run.adapter,
    model: run.model,
    strategy: run.strategy,
    optimizer: run.optimizer,
    checkpoint: run.checkpoint,
    ...(run.routing ? { routing: run.routing } : {}),
    ...(run.classWeights ? { classWeights: run.classWeights } : {}),
    ...(run.phases ? { phases: run.phases } : {}),
    ...(run.featureCache ? { featureCache: run.featureCache } : {}),
    classes: run.classes,
    split: run.split,
    epochs: run.epochs,
    best: run.best,
    // The validation labels and logits stay in the profile (evaluate --external fits on them); the fit is shown.
    ...(run.bestValidation ? { bestValidation: (({ labels: _l, logits: _z, ...shown }) => shown)(run.bestValidation) } : {}),
    ...(run.dataset ? { dataset: { fingerprint: run.dataset.fingerprint, classes: run.dataset.classes, counts: run.dataset.counts, skipped: run.dataset.skipped, duplicates: run.dataset.duplicates, normalization: run.dataset.normalization } } : {}),
  };
}

/** Where `train --data` found each run's folder, kept beside the profile's IndexedDB so `evaluate` can find it again. */
function dataFoldersFile(profile: string): string {
  return join(profile, 'mri-studio-data-folders.json');
}

function recordedDataFolder(profile: string, runId: string): string | undefined {
  const file = dataFoldersFile(profile);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>)[runId] : undefined;
}

function recordDataFolder(profile: string, runId: string, dir: string): void {
  const file = dataFoldersFile(profile);
  const known = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>) : {};
  writeJson(file, { ...known, [runId]: dir });
}

export interface EvaluateArgs extends SessionArgs {
  /** A run in the profile, or (`model`) an exported TF.js model folder evaluated on `data`. */
  runId?: string;
  model?: string;
  out: string;
  data?: string;
  /** Another folder to evaluate on (an external test set) instead of the run's own test split. */
  external?: string;
  request: Omit<EvaluateRequest, 'runId'>;
  report: ReportOptions;
}

function fraction(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!(x >= 0 && x <= 1)) throw new UsageError(`--${name} must be a fraction from 0 to 1 (got "${v}")`);
  return x;
}

export function parseEvaluateArgs(argv: string[]): EvaluateArgs {
  const v = parse(argv, {
    ...COMMON_OPTIONS,
    run: { type: 'string' },
    model: { type: 'string' },
    data: { type: 'string' },
    external: { type: 'string' },
    checkpoint: { type: 'string' },
    'latency-samples': { type: 'string' },
    'min-sensitivity': { type: 'string' },
    'min-accuracy': { type: 'string' },
    'max-p95-ms': { type: 'string' },
    'tumour-classes': { type: 'string' },
    'target-sensitivity': { type: 'string' },
    'include-file-names': { type: 'boolean' },
    robustness: { type: 'boolean' },
  });
  if (!v.run === !v.model) throw new UsageError('evaluate needs --run ID (see "runs") or --model DIR (an exported TF.js model folder), one of them');
  const model = v.model === undefined ? undefined : resolve(v.model);
  if (model && !existsSync(join(model, 'model.json'))) throw new UsageError(`--model ${v.model}: no model.json there (expected a TF.js model folder exported by the studio)`);
  if (model && !v.data) throw new UsageError('--model DIR needs --data DIR, the folder to evaluate it on');
  for (const flag of ['external', 'checkpoint', 'target-sensitivity'] as const) if (model && v[flag] !== undefined) throw new UsageError(`--${flag} applies to --run, not --model${flag === 'target-sensitivity' ? ' (a model folder\'s thresholds are fixed in its metadata.json)' : ''}`);
  const target = v['target-sensitivity'] === undefined ? undefined : Number(v['target-sensitivity']);
  if (target !== undefined && !(target > 0 && target <= 1)) throw new UsageError(`--target-sensitivity must be a fraction above 0 and at most 1, e.g. 0.95 (got "${v['target-sensitivity']}")`);
  if (!v.out) throw new UsageError('evaluate needs --out DIR, the folder the report files go to');
  const data = v.data === undefined ? undefined : resolve(v.data);
  if (data && (!existsSync(data) || !statSync(data).isDirectory())) throw new UsageError(`--data ${v.data}: no such folder`);
  if (data) dataFolderWarnings('data', data);
  if (data && v.external) throw new UsageError('pass --data DIR (the run\'s own folder, evaluated on its test split) or --external DIR (another folder), not both');
  const external = v.external === undefined ? undefined : resolve(v.external);
  if (external && (!existsSync(external) || !statSync(external).isDirectory())) throw new UsageError(`--external ${v.external}: no such folder`);
  if (external) dataFolderWarnings('external', external);
  const thresholds = {
    ...(v['min-sensitivity'] === undefined ? {} : { minSensitivity: fraction('min-sensitivity', v['min-sensitivity']) }),
    ...(v['min-accuracy'] === undefined ? {} : { minAccuracy: fraction('min-accuracy', v['min-accuracy']) }),
    ...(v['max-p95-ms'] === undefined ? {} : { maxP95LatencyMs: int('max-p95-ms', v['max-p95-ms'], 100, 1, 600_000) }),
    ...(v['tumour-classes'] === undefined ? {} : { tumourClasses: v['tumour-classes'].split(',').map((c) => c.trim()).filter(Boolean) }),
  };
  return {
    ...sessionArgs(v),
    runId: v.run,
    model,
    out: resolve(v.out),
    data,
    external,
    request: {
      checkpoint: oneOf('checkpoint', v.checkpoint, ['best', 'last'] as const),
      latencySamples: int('latency-samples', v['latency-samples'], 100, 1, 100_000),
      thresholds,
      ...(v.robustness ? { robustness: true } : {}),
      ...(target === undefined ? {} : { targetSensitivity: target }),
    },
    report: { includeFileNames: v['include-file-names'] ?? false },
  };
}

/** Evaluates a run in the page and returns its record and report files; a folder run's folder is imported first. */
/** An exported model folder's files, and the input size and channels its metadata.json gives (checked in the page). */
function readModelFolder(dir: string): { files: ExportedFile[]; imageSize: number; channels: 1 | 3 } {
  const files = readdirSync(dir)
    .filter((name) => statSync(join(dir, name)).isFile())
    .map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(dir, name))) }));
  const meta = files.find((f) => f.name === 'metadata.json');
  if (!meta) throw new UsageError(`--model ${dir}: metadata.json is missing (the studio writes it beside model.json: labels, input size, normalisation)`);
  let parsed: { inputSize?: unknown; channels?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(meta.bytes).toString('utf8'));
  } catch (err) {
    throw new UsageError(`--model ${dir}: metadata.json is not valid JSON: ${(err as Error).message}`);
  }
  const { inputSize, channels } = parsed;
  if (!Number.isInteger(inputSize) || (channels !== 1 && channels !== 3)) throw new UsageError(`--model ${dir}: metadata.json gives no inputSize and channels (1 or 3)`);
  return { files, imageSize: inputSize as number, channels };
}

/** An exported TF.js model folder on --data: the folder imported at the model's input size, then evaluated whole. */
function evaluateModelFolder(args: EvaluateArgs & { model: string; data: string }): Promise<{ evaluation: EvaluationRecord; files: ReportFile[] }> {
  const { files, imageSize, channels } = readModelFolder(args.model);
  return withStudio({ ...args, onEvent: (e) => printProgress(e, Number.NaN) }, async (page) => {
    await page.setInputFiles('[data-testid="folder-input"]', args.data);
    const dataset = await page.evaluate((opts) => window.studio!.importFolder(opts), { imageSize, channels, seed: 42, ...EVALUATION_IMPORT } satisfies ImportOptions);
    const { thresholds, latencySamples } = args.request;
    const evaluation = await page.evaluate((req) => window.studio!.evaluateModel(req), { files, fingerprint: dataset.fingerprint, thresholds, latencySamples });
    const report = await page.evaluate(([id, opts]) => window.studio!.evaluationReport(id, opts), [evaluation.runId, args.report] as const);
    return { evaluation, files: report };
  });
}

/** A folder run's dataset imported again with its recorded settings (its split rebuilt), checked to be the same files; returns the folder. */
async function importRunFolder(page: Page, args: SessionArgs & { data?: string }, run: RunRecord): Promise<string> {
  const dir = args.data ?? recordedDataFolder(args.profile, run.runId);
  if (!dir) throw new UsageError(`run ${run.runId} was trained on a folder this profile has no path for: pass --data DIR, the folder it was trained on`);
  if (!existsSync(dir)) throw new UsageError(`run ${run.runId} was trained on ${dir}, which is gone: pass --data DIR`);
  // A run recorded before the label-conflict check kept every copy: its split is rebuilt as it was trained.
  const recorded = run.dataset?.importOptions;
  const options = recorded && { labelConflicts: 'keep-all' as const, ...recorded };
  if (!run.dataset || !options) throw new UsageError(`run ${run.runId} predates recorded import settings, so its split cannot be rebuilt; train it again`);
  await page.setInputFiles('[data-testid="folder-input"]', dir);
  const dataset = await page.evaluate((opts) => window.studio!.importFolder(opts), options);
  if (dataset.fingerprint !== run.dataset.fingerprint) {
    throw new UsageError(`${dir} is not the dataset run ${run.runId} was trained on (fingerprint ${dataset.fingerprint.slice(0, 12)}… instead of ${run.dataset.fingerprint.slice(0, 12)}…): files were added, removed or changed`);
  }
  return dir;
}

export function evaluateRun(args: EvaluateArgs): Promise<{ evaluation: EvaluationRecord; files: ReportFile[] }> {
  if (args.model) return evaluateModelFolder({ ...args, model: args.model, data: args.data! });
  return withStudio({ ...args, onEvent: (e) => printProgress(e, Number.NaN) }, async (page) => {
    const run = (await page.evaluate(() => window.studio!.runs())).find((r) => r.runId === args.runId);
    if (!run) throw new UsageError(`there is no run ${args.runId} in profile ${args.profile} on port ${args.port} (IndexedDB belongs to the port: use the one the run was trained with)`);
    if (args.external) {
      // The same path as a user's pick of another folder: the page's folder input, then the run's input settings.
      await page.setInputFiles('[data-testid="folder-input"]', args.external);
    } else if (run.config.dataset.kind === 'folder') {
      await importRunFolder(page, args, run);
    }
    const evaluation = args.external
      ? await page.evaluate(([id, req]) => window.studio!.evaluateExternal(id, req), [run.runId, args.request] as const)
      : await page.evaluate((req) => window.studio!.evaluate(req), { runId: run.runId, ...args.request });
    const files = await page.evaluate(([id, report]) => window.studio!.evaluationReport(id, report), [run.runId, args.report] as const);
    return { evaluation, files };
  });
}

const REGISTER_OPTIONS = {
  name: { type: 'string' },
  version: { type: 'string' },
  alias: { type: 'string', multiple: true },
  description: { type: 'string' },
  tag: { type: 'string', multiple: true },
  'override-reason': { type: 'string' },
} as const;

export function parseRegisterArgs(argv: string[]): SessionArgs & { request: RegisterModelRequest } {
  const v = parse(argv, { ...COMMON_OPTIONS, run: { type: 'string' }, ...REGISTER_OPTIONS });
  if (!v.run) throw new UsageError('register needs --run ID (see "runs")');
  return { ...sessionArgs(v), request: registerRequest(v, v.run, 'register') };
}

/** --name, --version, --alias, --tag, --description and --override-reason as a registration of run `runId`. */
function registerRequest(v: Values<typeof REGISTER_OPTIONS>, runId: string, command: string): RegisterModelRequest {
  if (!v.name) throw new UsageError(`${command} needs --name NAME`);
  if (!v.version) throw new UsageError(`${command} needs --version X.Y.Z`);
  const reason = v['override-reason']?.trim();
  if (v['override-reason'] !== undefined && !reason) throw new UsageError('--override-reason needs a reason, in words');
  // The name, version, aliases and tags are checked here, as the registry will check them; the gate needs the run.
  const form = reviewRegistration({ name: v.name, version: v.version, tags: v.tag, aliases: v.alias }, {}).problems.find((p) => p.field !== 'gate');
  if (form) throw new UsageError(`--${{ name: 'name', version: 'version', aliases: 'alias', tags: 'tag' }[form.field as string] ?? form.field}: ${form.message}`);
  return {
    runId,
    name: v.name,
    version: v.version,
    ...(v.description === undefined ? {} : { description: v.description }),
    ...(v.tag ? { tags: v.tag } : {}),
    ...(v.alias ? { aliases: v.alias } : {}),
    ...(reason ? { overrideReason: reason } : {}),
  };
}

export interface ImportClusterArgs extends SessionArgs {
  sourceRunId: string;
  /** train.py's --out folder: model.pth and metrics.json. */
  dir: string;
  data?: string;
  /** The registration of the new run (its runId filled in once imported); null with --no-register. */
  register: RegisterModelRequest | null;
  latencySamples: number;
}

export function parseImportClusterArgs(argv: string[]): ImportClusterArgs {
  const v = parse(argv, { ...COMMON_OPTIONS, run: { type: 'string' }, dir: { type: 'string' }, data: { type: 'string' }, 'no-register': { type: 'boolean' }, 'latency-samples': { type: 'string' }, ...REGISTER_OPTIONS });
  if (!v.run) throw new UsageError('import-cluster needs --run ID, the browser run whose recipe trained on the cluster (see "runs")');
  if (!v.dir) throw new UsageError('import-cluster needs --dir DIR, the folder train.py wrote (its --out)');
  const dir = resolve(v.dir);
  const lacking = ['model.pth', 'metrics.json'].filter((f) => !existsSync(join(dir, f)));
  if (lacking.length) throw new UsageError(`--dir ${dir}: ${lacking.join(' and ')} ${lacking.length > 1 ? 'are' : 'is'} missing (train.py writes both into its --out folder when it finishes)`);
  if (v['no-register'] && (v.name || v.version)) throw new UsageError('pass --name and --version to register the imported run, or --no-register, not both');
  return {
    ...sessionArgs(v),
    sourceRunId: v.run,
    dir,
    ...(v.data === undefined ? {} : { data: resolve(v.data) }),
    register: v['no-register'] ? null : registerRequest(v, '', 'import-cluster (or --no-register)'),
    latencySamples: int('latency-samples', v['latency-samples'], 100, 1, 10000),
  };
}

/**
 * import-cluster: model.pth and metrics.json become a new run beside the browser run (Engine.importClusterRun), which
 * is then evaluated on the run's test split and, unless --no-register, registered; one studio session for all three.
 * Each step's result is handed to `onStep` as it comes, so an import that a later step cannot finish is still shown.
 */
export function importCluster(args: ImportClusterArgs, onStep: (step: { run: RunRecord } | { evaluation: EvaluationRecord } | { version: ModelVersion }) => void): Promise<void> {
  // The page fetches the two files from the CLI's own server: a state_dict of hundreds of MB (ViT-B/16) would not
  // pass as a JSON argument.
  return withStudio({ ...args, mounts: { '/cluster-run/': args.dir }, onEvent: (e) => printProgress(e, Number.NaN) }, async (page) => {
    const source = (await page.evaluate(() => window.studio!.runs())).find((r) => r.runId === args.sourceRunId);
    if (!source) throw new UsageError(`there is no run ${args.sourceRunId} in profile ${args.profile} on port ${args.port} (IndexedDB belongs to the port: use the one the run was trained with)`);
    const run = await page.evaluate(async (id) => {
      // No named helper here: tsx would wrap it in a __name() call the page does not have.
      const [model, metrics] = await Promise.all(
        ['model.pth', 'metrics.json'].map(async (name) => {
          const res = await fetch(`/cluster-run/${name}`);
          if (!res.ok) throw new Error(`E_NOT_FOUND: ${name} could not be read (HTTP ${res.status})`);
          return res.blob();
        }),
      );
      return window.studio!.importClusterRun(id, { model, metrics });
    }, source.runId);
    onStep({ run });
    if (source.config.dataset.kind === 'folder') recordDataFolder(args.profile, run.runId, await importRunFolder(page, args, source));
    onStep({ evaluation: await page.evaluate((req) => window.studio!.evaluate(req), { runId: run.runId, latencySamples: args.latencySamples }) });
    if (args.register) onStep({ version: await page.evaluate((req) => window.studio!.register(req), { ...args.register, runId: run.runId }) });
  });
}

export function parseExportArgs(argv: string[]): SessionArgs & { model: string; format: 'tfjs' | 'onnx'; out: string } {
  const v = parse(argv, { ...COMMON_OPTIONS, model: { type: 'string' }, format: { type: 'string' } });
  if (!v.model) throw new UsageError('export needs --model NAME@VERSION or NAME@ALIAS');
  modelRef(v.model);
  const format = oneOf('format', v.format, ['tfjs', 'onnx'] as const);
  if (!format) throw new UsageError('export needs --format tfjs|onnx');
  if (!v.out) throw new UsageError('export needs --out DIR, the folder the files go to');
  return { ...sessionArgs(v), model: v.model, format, out: resolve(v.out) };
}

/** A --model NAME@VERSION|NAME@ALIAS whose name the registry could never hold is refused here, in the registry's words. */
function modelRef(ref: string): void {
  const problem = nameProblem(ref.split('@')[0]);
  if (problem) throw new UsageError(`--model ${ref}: ${problem}`);
}

function filesUnder(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? 1 : 0), 0);
}

export function parsePredictArgs(argv: string[]): SessionArgs & { model: string; images: string; out: string } {
  const v = parse(argv, { ...COMMON_OPTIONS, model: { type: 'string' }, images: { type: 'string' } });
  if (!v.model) throw new UsageError('predict needs --model NAME@VERSION or NAME@ALIAS');
  modelRef(v.model);
  if (!v.images) throw new UsageError('predict needs --images DIR');
  if (!v.out) throw new UsageError('predict needs --out FILE.csv');
  const images = resolve(v.images);
  if (!existsSync(images) || !statSync(images).isDirectory()) throw new UsageError(`--images ${v.images}: no such folder`);
  if (filesUnder(images) === 0) throw new UsageError(`--images ${v.images}: the folder holds no files`);
  return { ...sessionArgs(v), model: v.model, images, out: resolve(v.out) };
}

/** Playwright wraps errors thrown in the page as "page.evaluate: Error: CODE: message\n    at …": keep the message. */
function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const first = text.split('\n')[0];
  return first.replace(/^page\.evaluate: (Error: )?/, '').replace(/^EngineError: /, '');
}

function writeJson(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  try {
    if (command === 'train') {
      const args = await parseTrainArgs(rest);
      let recipe: RecommendedRecipe | undefined;
      const run = await train(args, (r) => (recipe = r));
      if (args.folder) recordDataFolder(args.profile, run.runId, args.folder.dir);
      writeJson(args.out, recipe ? { ...runSummary(run), recommendation: { settings: recipe.settings, reasons: recipe.reasons, estimate: recipe.estimate } } : runSummary(run));
      console.log(`${run.status}: best val accuracy ${run.best ? pct(run.best.valAccuracy) : 'n/a'} at epoch ${run.best?.epoch ?? '-'}; wrote ${args.out}`);
      return run.status === 'completed' ? 0 : 1;
    }
    if (command === 'resume') {
      const v = parse(rest, { ...COMMON_OPTIONS, run: { type: 'string' } });
      if (!v.run) throw new UsageError('resume needs --run ID (see "runs")');
      const args = sessionArgs(v);
      const run = await withStudio({ ...args, onEvent: (e) => printProgress(e, Number.NaN) }, (page) => page.evaluate((id) => window.studio!.resume(id), v.run!));
      if (args.out) writeJson(args.out, runSummary(run));
      console.log(`${run.status}: best val accuracy ${run.best ? pct(run.best.valAccuracy) : 'n/a'} at epoch ${run.best?.epoch ?? '-'}`);
      return run.status === 'completed' ? 0 : 1;
    }
    if (command === 'evaluate') {
      const args = parseEvaluateArgs(rest);
      const { evaluation: ev, files } = await evaluateRun(args);
      mkdirSync(args.out, { recursive: true });
      for (const f of files) writeFileSync(join(args.out, f.name), f.bytes ?? f.text);
      const m = ev.metrics;
      console.log(`${ev.medical.verdict}: accuracy ${pct(m.report.accuracy)} (95% CI ${m.ci95.accuracy ? `${pct(m.ci95.accuracy.low)}–${pct(m.ci95.accuracy.high)}` : 'n/a'}), macro F1 ${m.report.macro.f1.toFixed(3)}, macro AUC ${m.roc.macroAuc?.toFixed(3) ?? 'n/a'}, ECE ${m.calibration.ece.toFixed(3)} → ${m.calibrationAfterTemperature?.ece.toFixed(3) ?? 'n/a'}, latency p50 ${m.latencyMs.p50.toFixed(1)} ms p95 ${m.latencyMs.p95.toFixed(1)} ms`);
      console.log(operatingPointSummary(m) ?? `operating point: n/a (${ev.checkpoint?.kind === 'last' ? 'the run keeps the validation outputs of its best checkpoint only' : 'no validation outputs were stored with this run: train it again to have them'})`);
      if (ev.medical.leakageWarning) console.log(`warning: ${ev.medical.leakageWarning}`);
      if (ev.data.unknownClasses?.length) console.log(`not evaluated: class folders the model was not trained on: ${ev.data.unknownClasses.map((c) => `${c.name} (${c.images} images)`).join(', ')}`);
      if (ev.robustness) {
        const accuracies = (kind: string) => ev.robustness!.rows.filter((r) => r.kind === kind).map((r) => pct(r.accuracy)).join(' / ');
        console.log(`robustness (accuracy at severity 1 / 2 / 3; clean ${pct(ev.robustness.baseline)}): ${[...new Set(ev.robustness.rows.map((r) => r.kind))].map((k) => `${k} ${accuracies(k)}`).join(', ')}`);
      }
      console.log(`wrote ${files.map((f) => f.name).join(', ')} to ${args.out}`);
      return 0;
    }
    if (command === 'crossval') {
      const args = await parseCrossvalArgs(rest);
      const result = await crossValidate(args);
      writeJson(args.out, result);
      const ms = (s: { mean: number; std: number } | null, f: (x: number) => string) => (s ? `${f(s.mean)} ± ${f(s.std)}` : 'n/a');
      console.log(`${result.status}: ${result.results.length} of ${result.folds} folds; accuracy ${ms(result.accuracy, pct)}, macro F1 ${ms(result.macroF1, (x) => x.toFixed(3))} (mean ± std); wrote ${args.out}`);
      return result.status === 'completed' ? 0 : 1;
    }
    if (command === 'import-onnx') {
      const v = parse(rest, { ...COMMON_OPTIONS, file: { type: 'string' }, id: { type: 'string' }, name: { type: 'string' }, normalization: { type: 'string' } });
      if (!v.file || !v.id) throw new UsageError('import-onnx needs --file MODEL.onnx and --id ID');
      if (!existsSync(v.file)) throw new UsageError(`--file ${v.file} does not exist`);
      const normalization = oneOf('normalization', v.normalization, ['imagenet', '[-1,1]'] as const) ?? 'imagenet';
      // Base64 through the page boundary: the driver's arguments are JSON.
      const req = { id: v.id, ...(v.name ? { name: v.name } : {}), normalization, file: { name: basename(v.file), base64: readFileSync(v.file).toString('base64') } };
      const args = sessionArgs(v);
      const done = await withStudio(args, (page) =>
        page.evaluate(({ file, ...r }) => window.studio!.importOnnxBackbone({ ...r, file: { name: file.name, bytes: Uint8Array.from(atob(file.base64), (c) => c.charCodeAt(0)) } }), req),
      );
      const p = done.parity;
      console.log(`${done.id}: ${done.params.toLocaleString('en')} parameters, ${done.inputSize} px ${done.inputLayout}, features ${done.features.join('×')}`);
      console.log(`operators: ${Object.entries(done.ops).map(([op, n]) => `${op} ×${n}`).join(', ')}`);
      console.log(`parity with ${p.runtime} (${p.backend}, ${p.images} images): ${p.outputDifference === null ? '' : `largest logit difference ${p.outputDifference.toExponential(2)}, `}largest feature difference ${p.featureDifference.toExponential(2)} (≤ ${p.tolerance})`);
      if (done.classifier) console.log(`the classifier after the pool was left out: ${done.classifier}`);
      if (args.out) writeJson(args.out, done);
      return 0;
    }
    if (command === 'import-cluster') {
      const args = parseImportClusterArgs(rest);
      const result: { runId?: string; sourceRunId: string; cluster?: RunRecord['cluster']; best?: RunRecord['best']; epochs?: number; test?: object; version?: string | null } = { sourceRunId: args.sourceRunId, version: null };
      try {
        await importCluster(args, (step) => {
          if ('run' in step) {
            const { run } = step;
            const c = run.cluster!;
            Object.assign(result, { runId: run.runId, cluster: c, best: run.best, epochs: run.epochs.length });
            console.log(`imported run ${run.runId} from run ${args.sourceRunId}'s cluster training (PyTorch DDP on ${c.worldSize} × ${c.device}, torch ${c.torch}, AMP ${c.amp ? 'on' : 'off'}): ${run.epochs.length} epochs, best val accuracy ${run.best ? pct(run.best.valAccuracy) : 'n/a'} at epoch ${run.best?.epoch ?? '-'}`);
          } else if ('evaluation' in step) {
            const m = step.evaluation.metrics;
            result.test = { images: step.evaluation.data.images, accuracy: m.report.accuracy, macroF1: m.report.macro.f1, macroAuc: m.roc.macroAuc, ece: m.calibration.ece, verdict: step.evaluation.medical.verdict };
            console.log(`test split (${step.evaluation.data.images} images): accuracy ${pct(m.report.accuracy)}, macro F1 ${m.report.macro.f1.toFixed(3)}, macro AUC ${m.roc.macroAuc?.toFixed(3) ?? 'n/a'}; ${step.evaluation.medical.verdict}`);
          } else {
            result.version = step.version.id;
            console.log(`registered ${step.version.id}${step.version.aliases.length ? ` (${step.version.aliases.join(', ')})` : ''} from run ${step.version.runId}; gate ${pct(step.version.gate.threshold)} ${step.version.gate.passed ? 'passed' : `overridden: ${step.version.gate.override?.reason}`}`);
          }
        });
      } finally {
        // What was done is written even when a later step failed (the run stays imported).
        if (args.out && result.runId) writeJson(args.out, result);
      }
      return 0;
    }
    if (command === 'runs') {
      const args = sessionArgs(parse(rest, COMMON_OPTIONS));
      const runs = await withStudio(args, (page) => page.evaluate(() => window.studio!.runs()));
      for (const r of runs) console.log(`${r.runId}  ${r.status.padEnd(9)}  ${r.backend.padEnd(6)}  ${r.model}  ${r.epochs.length} epochs  best ${r.best ? pct(r.best.valAccuracy) : '-'}`);
      if (runs.length === 0) console.log(`no runs in profile ${args.profile} (port ${args.port})`);
      if (args.out) writeJson(args.out, runs.map(runSummary));
      return 0;
    }
    if (command === 'measurements') {
      const args = sessionArgs(parse(rest, COMMON_OPTIONS));
      const all = await withStudio(args, (page) => page.evaluate(() => window.studio!.backendMeasurements()));
      for (const m of all) console.log(`${m.measuredAt}  ${m.model} (${m.strategy}, ${m.imageSize} px, batch ${m.batchSize}) on ${m.adapter ? [m.adapter.vendor, m.adapter.architecture, m.adapter.description].filter(Boolean).join(' ') : 'no GPU adapter'}: ${[...m.figures.map((f) => `${f.backend} ${f.secondsPerStep.toFixed(3)} s/step (first ${f.firstStepSeconds.toFixed(1)} s)`), ...m.failed.map((f) => `${f.backend} failed: ${f.reason}`)].join(', ')} → ${m.fastest}`);
      if (all.length === 0) console.log(`no backend measurements in profile ${args.profile} (port ${args.port})`);
      if (args.out) writeJson(args.out, all);
      return 0;
    }
    if (command === 'register') {
      const args = parseRegisterArgs(rest);
      const v = await withStudio(args, (page) => page.evaluate((req) => window.studio!.register(req), args.request));
      const acc = v.validation ? `validation accuracy ${pct(v.validation.accuracy)} on ${v.validation.n} images` : 'no validation accuracy';
      console.log(`registered ${v.id}${v.aliases.length ? ` (${v.aliases.join(', ')})` : ''} from run ${v.runId}: ${acc}; gate ${pct(v.gate.threshold)} ${v.gate.passed ? 'passed' : `overridden: ${v.gate.override?.reason}`}`);
      return 0;
    }
    if (command === 'export') {
      const args = parseExportArgs(rest);
      const exported = await withStudio(args, (page) => page.evaluate(({ model, format }) => window.studio!.exportModel(model, format), { model: args.model, format: args.format }));
      mkdirSync(args.out, { recursive: true });
      for (const f of exported.files) writeFileSync(join(args.out, f.name), f.bytes);
      console.log(`exported ${exported.id} as ${exported.format}: ${exported.files.map((f) => f.name).join(', ')} to ${args.out}`);
      const p = exported.parity;
      if (p) console.log(`ONNX parity: largest probability difference ${p.maxDifference.toExponential(2)} on ${p.images} ${p.source} images (${p.runtime}), tolerance ${p.tolerance}: ${p.passed ? 'passed' : 'FAILED'}`);
      return p && !p.passed ? 1 : 0;
    }
    if (command === 'export-recipe') {
      const v = parse(rest, { ...COMMON_OPTIONS, run: { type: 'string' }, 'file-names': { type: 'boolean' } });
      if (!v.run) throw new UsageError('export-recipe needs --run ID (see "runs")');
      if (!v.out) throw new UsageError('export-recipe needs --out DIR, the folder the recipe goes to');
      const out = resolve(v.out);
      const req = { runId: v.run, fileNames: v['file-names'] ?? false };
      const files = await withStudio(sessionArgs(v), (page) => page.evaluate(({ runId, fileNames }) => window.studio!.exportRecipe(runId, { fileNames }), req));
      mkdirSync(out, { recursive: true });
      // The scripts are run directly (./slurm.sh, ./train.py) as well as through python and sbatch.
      for (const f of files) writeFileSync(join(out, f.name), f.text, { mode: f.name.endsWith('.py') || f.name.endsWith('.sh') ? 0o755 : 0o644 });
      console.log(`wrote ${files.map((f) => f.name).join(', ')} to ${out} (split.csv keys: ${req.fileNames ? 'file paths' : 'SHA-256 of each file'}); next: see ${join(out, 'README.md')}`);
      return 0;
    }
    if (command === 'predict') {
      const args = parsePredictArgs(rest);
      const { result, csv } = await withStudio(args, async (page) => {
        // The same path as a user's folder pick: the inference panel's folder input receives the folder.
        await page.setInputFiles('[data-testid="predict-folder"]', args.images);
        return page.evaluate((ref) => window.studio!.predictPicked(ref), args.model);
      });
      mkdirSync(dirname(args.out), { recursive: true });
      writeFileSync(args.out, csv);
      const failed = result.predictions.filter((p) => !p.ok);
      for (const p of failed) if (!p.ok) console.log(`  ${p.name}: ${p.error}`);
      const latencies = result.predictions.flatMap((p) => (p.ok ? [p.latencyMs] : [])).sort((a, b) => a - b);
      const median = latencies.length ? `; median latency ${latencies[Math.floor(latencies.length / 2)].toFixed(1)} ms` : '';
      console.log(`classified ${latencies.length} of ${result.predictions.length} images with ${result.model} on ${result.backend}${median}${failed.length ? `; ${failed.length} could not be read` : ''}; wrote ${args.out}`);
      return latencies.length > 0 ? 0 : 1;
    }
    throw new UsageError(`unknown command "${command}"`);
  } catch (err) {
    console.error(`studio: ${oneLine(err)}`);
    if (err instanceof UsageError) console.error(USAGE);
    return err instanceof UsageError ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
