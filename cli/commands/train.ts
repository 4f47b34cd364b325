/** `train`: its flags (merged over a --config file, checked against the settings schema) and the training in the page. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { selectClasses } from '../../src/core/dataset/layout';
import { compileGroupPattern } from '../../src/core/dataset/split';
import { DEFAULT_LABEL_CONFLICTS, LABEL_CONFLICT_MODES } from '../../src/core/dataset/checks';
import { TTA_KINDS } from '../../src/core/train/types';
import { ConfigError, parseConfigText, settingsFromConfig } from '../../src/core/config';
import { BUILTIN_ZOO } from '../../src/core/models/zoo';
import { BOUNDS, CHOICES, DEFAULTS, SCHEDULE_DEFAULTS, DEFAULT_EARLY_STOPPING, inRange, type Range } from '../../src/core/settings/schema';
import type { BackendInfo, ImportOptions, LrScheduleConfig, RecommendedRecipe, RunRecord, SplitFractions, StudioSettings, TrainConfig, ZooModel } from '../../src/engine/types';
import { COMMON_OPTIONS, UsageError, dataFolderWarnings, int, oneOf, parse, sessionArgs, setting, type SessionArgs } from '../args';
import { oneLine, pct, runSummary, writeJson } from '../output';
import { importLine, progressPrinter } from '../progress';
import { importFolder, type StudioSession } from '../session';
import { openStudio, recordDataFolder } from '../studio-page';

export const TRAIN_OPTIONS = {
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
  'compile-ahead': { type: 'string' },
  config: { type: 'string' },
  recommended: { type: 'boolean' },
} as const;


export interface TrainArgs extends SessionArgs {
  /** learningRate and batchSize are NaN when not given: the model's defaults fill them in the page. */
  cfg: TrainConfig;
  out: string;
  modelsDir?: string;
  /** A weights file to hand to the train panel's "Choose weights file…" before training. */
  weights?: string;
  /** A folder to import into the page's engine before training (cfg.dataset then names it). */
  folder?: { dir: string; options: ImportOptions };
  /** --recommended: the recipe (training settings, image size, split) comes from the page's recommendation. */
  recommended?: boolean;
}

/** Flags that set what --recommended decides. */
const RECIPE_FLAGS = ['demo', 'epochs', 'image-size', 'channels', 'per-class', 'batch-size', 'lr', 'model', 'strategy', 'trainable-blocks', 'probe-epochs', 'schedule', 'optimizer', 'augment', 'patience', 'no-early-stopping', 'save-every', 'keep-epoch', 'tta', 'mirror-training', 'class-weights', 'label-smoothing', 'config', 'split'] as const;

/** 'scratch' is the simple CNN's own strategy, never asked for. */
const STRATEGIES = CHOICES.strategy.filter((s): s is Exclude<typeof s, 'scratch'> => s !== 'scratch');


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
    return await openStudio(session, ({ page }) => page.evaluate((t) => window.studio!.engine.readConfig(t), text));
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
    ...(v['compile-ahead'] === undefined ? {} : { compileAhead: oneOf('compile-ahead', v['compile-ahead'], CHOICES.compileAhead) }),
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

/** @param onRecommendation hears the recipe --recommended trained (before training starts). */
export function train(args: TrainArgs, onRecommendation?: (r: RecommendedRecipe) => void): Promise<RunRecord> {
  let epochs = args.cfg.epochs;
  return openStudio({ ...args, onEvent: progressPrinter(() => epochs) }, async (session, backend) => {
    const cfg = await trainConfig(session, backend, args, onRecommendation);
    epochs = cfg.epochs;
    return session.page.evaluate((c) => window.studio!.engine.train(c, window.studio!.events), cfg);
  });
}

/**
 * --recommended: scans the folder in the page's engine, asks it for its recipe (which times this machine), prints
 * it, and returns the training config and import options it sets.
 */
async function recommendedSetup(session: StudioSession, args: TrainArgs & { folder: NonNullable<TrainArgs['folder']> }): Promise<{ cfg: TrainConfig; options: ImportOptions; recipe: RecommendedRecipe }> {
  const url = session.share(args.folder.dir);
  await session.page.evaluate(async (u) => void (await window.studio!.engine.scanFolder(await window.studio!.folder(u))), url);
  console.log('measuring this machine for the recommended recipe…');
  const recipe = await session.page.evaluate(() => window.studio!.engine.recommendRecipe());
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
export async function trainConfig(session: StudioSession, backend: BackendInfo, args: TrainArgs, onRecommendation?: (r: RecommendedRecipe) => void): Promise<TrainConfig> {
  const { page } = session;
  if (args.backend !== 'auto' && backend.name !== args.backend) throw new Error(`backend ${args.backend} is not available`);
  if (args.recommended && args.folder) {
    const { cfg, options, recipe } = await recommendedSetup(session, { ...args, folder: args.folder });
    onRecommendation?.(recipe);
    // The engine holds the scan the recommendation was made for: the import reads it.
    const dataset = await page.evaluate((opts) => window.studio!.engine.importDataset(opts, window.studio!.events), options);
    console.log(importLine(dataset));
    return { ...cfg, dataset: { kind: 'folder', fingerprint: dataset.fingerprint } };
  }
  const zoo = await page.evaluate(() => window.studio!.engine.zoo());
  const model = zoo.find((m) => m.id === args.cfg.model);
  if (!model) throw new UsageError(`--model ${args.cfg.model} is not in the zoo; choose one of ${zoo.map((m) => m.id).join(', ')}`);
  let cfg: TrainConfig = {
    ...args.cfg,
    learningRate: Number.isNaN(args.cfg.learningRate) ? model.defaults.learningRate : args.cfg.learningRate,
    batchSize: Number.isNaN(args.cfg.batchSize) ? model.defaults.batchSize : args.cfg.batchSize,
  };
  if (args.weights) await importWeightsFile(session, model, zoo, args.weights);
  if (args.folder) {
    const dataset = await importFolder(session, args.folder.dir, args.folder.options);
    console.log(importLine(dataset));
    for (const check of dataset.checks) console.log(`warning: ${check.message}`);
    cfg = { ...cfg, dataset: { kind: 'folder', fingerprint: dataset.fingerprint } };
  }
  return cfg;
}

/** --weights: the file the train panel's "Choose weights file…" would take, checked and cached by the page's engine. */
async function importWeightsFile(session: StudioSession, model: ZooModel, zoo: ZooModel[], file: string): Promise<void> {
  if (!model.weightsFile) throw new UsageError(`--weights: ${model.id} does not take a weights file (${zoo.filter((m) => m.weightsFile).map((m) => m.id).join(', ')} do)`);
  const done = await session.page
    .evaluate(async ({ id, url }) => window.studio!.engine.importWeightsFile(id, await window.studio!.file(url)), { id: model.id, url: session.share(file) })
    .catch((err: unknown) => {
      // The panel's words: the message without its code.
      throw new UsageError(`--weights ${basename(file)}: ${oneLine(err).replace(/^E_[A-Z_]+: /, '')}`);
    });
  console.log(`${done.name}: ${done.file} loaded, ${done.weights.toLocaleString('en')} weights${done.layers ? ` in ${done.layers} layers` : ''} (${(done.bytes / 1e6).toFixed(1)} MB). Training it now uses these weights.`);
}

/** `train`: trains in the page, records a --data run's folder for `evaluate`, writes the run summary. */
export async function trainCommand(argv: string[]): Promise<number> {
  const args = await parseTrainArgs(argv);
  let recipe: RecommendedRecipe | undefined;
  const run = await train(args, (r) => (recipe = r));
  if (args.folder) recordDataFolder(args.profile, run.runId, args.folder.dir);
  writeJson(args.out, recipe ? { ...runSummary(run), recommendation: { settings: recipe.settings, reasons: recipe.reasons, estimate: recipe.estimate } } : runSummary(run));
  console.log(`${run.status}: best val accuracy ${run.best ? pct(run.best.valAccuracy) : 'n/a'} at epoch ${run.best?.epoch ?? '-'}; wrote ${args.out}`);
  return run.status === 'completed' ? 0 : 1;
}
