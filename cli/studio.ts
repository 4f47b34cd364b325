/**
 * The headless studio: serves the built app on loopback, opens it in Chromium through Playwright and drives the
 * same engine, in the same worker, as the UI. There is no separate Node training path.
 *
 *   npm run studio -- train --demo --epochs N [--backend webgpu|webgl|wasm|cpu] [--seed N] --out FILE.json
 */
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type {} from '../src/engine/automation';
import type { BackendInfo, DatasetSummary, ImportEvent, ImportOptions, RunRecord, SplitFractions, TrainConfig, TrainEvent } from '../src/engine/types';
import type { Page } from 'playwright';
import { launchStudioBrowser } from './browser';
import { serveStatic } from './serve';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;

const USAGE = `usage: npm run studio -- <command> [options]
  train (--demo | --data DIR) --epochs N [--backend webgpu|webgl|wasm|cpu] [--seed N] --out FILE.json
        [--model ID (simple_cnn)] [--strategy frozen|medical|finetune] [--trainable-blocks N]
        [--optimizer adamw|adam|adamax|sgd] [--augment on|off (off)] [--lr X] [--batch-size N] (model defaults)
        [--patience N (15) | --no-early-stopping] [--save-every N (0)] [--models-dir DIR]
        [--class-weights auto|off (auto: inverse frequency when imbalanced)] [--label-smoothing X (0)]
        demo:   [--image-size N (32)] [--per-class N (60)]
        folder: [--classes a,b,c] [--split 70/15/15] [--group-pattern REGEX] [--dedupe keep-together|drop|off]
                [--image-size N (64)] [--channels 1|3]
  resume --run ID [--out FILE.json]  continue a stopped run from its last checkpoint (same --profile and --port)
  runs  [--out FILE.json]          list the runs kept in the profile
  common: --browser PATH (/usr/bin/chromium)  --profile DIR (~/.local/share/mri-studio/profile)  --port N (5199)  --verbose`;

/** A failure the user can fix: printed as one line, exit code 2. */
class UsageError extends Error {}

function int(name: string, v: string | undefined, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max} (got "${v}")`);
  return n;
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
  optimizer: { type: 'string' },
  augment: { type: 'string' },
  patience: { type: 'string' },
  'no-early-stopping': { type: 'boolean' },
  'save-every': { type: 'string' },
  'models-dir': { type: 'string' },
  'class-weights': { type: 'string' },
  'label-smoothing': { type: 'string' },
} as const;

type Values<O> = { [K in keyof O]?: O[K] extends { type: 'boolean' } ? boolean : string };

function parse<O extends Record<string, { type: 'string' | 'boolean' }>>(argv: string[], options: O): Values<O> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Values<O>;
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
  /** A folder to import through the page's folder input before training (cfg.dataset then names it). */
  folder?: { dir: string; options: ImportOptions };
}

const DEDUPE = ['keep-together', 'drop', 'off'] as const;
const STRATEGIES = ['frozen', 'medical', 'finetune'] as const;
const OPTIMIZERS = ['adamw', 'adam', 'adamax', 'sgd'] as const;

function oneOf<T extends string>(name: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')} (got "${v}")`);
  return v as T;
}

function parseSplit(v: string | undefined): SplitFractions {
  if (v === undefined) return { train: 0.7, val: 0.15, test: 0.15 };
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

export function parseTrainArgs(argv: string[]): TrainArgs {
  const v = parse(argv, TRAIN_OPTIONS);
  if (!v.demo && !v.data) throw new UsageError('train needs a dataset: pass --demo or --data DIR');
  if (v.demo && v.data) throw new UsageError('pass either --demo or --data DIR, not both');
  if (!v.out) throw new UsageError('train needs --out FILE.json');
  const lr = v.lr === undefined ? Number.NaN : Number(v.lr);
  if (v.lr !== undefined && !(lr > 0 && lr < 10)) throw new UsageError(`--lr must be a positive number below 10 (got "${v.lr}")`);
  const seed = int('seed', v.seed, 42, 0, 2 ** 31 - 1);
  const augment = oneOf('augment', v.augment, ['on', 'off'] as const);
  if (v['no-early-stopping'] && v.patience !== undefined) throw new UsageError('pass --patience or --no-early-stopping, not both');
  const blocks = v['trainable-blocks'];
  const common = {
    model: v.model ?? 'simple_cnn',
    ...(v.strategy === undefined ? {} : { strategy: oneOf('strategy', v.strategy, STRATEGIES) }),
    ...(blocks === undefined ? {} : { trainableBlocks: blocks === 'all' ? ('all' as const) : int('trainable-blocks', blocks, 0, 0, 1000) }),
    ...(v.optimizer === undefined ? {} : { optimizer: oneOf('optimizer', v.optimizer, OPTIMIZERS) }),
    ...(augment === 'on' ? { augment: 'default' as const } : {}),
    ...(v['class-weights'] === undefined ? {} : { classWeights: oneOf('class-weights', v['class-weights'], ['auto', 'off'] as const) }),
    ...(v['label-smoothing'] === undefined ? {} : { labelSmoothing: Number(v['label-smoothing']) }),
    earlyStopping: v['no-early-stopping'] ? null : { patience: int('patience', v.patience, 15, 1, 10000), minDelta: 0.0005 },
    saveEveryEpochs: int('save-every', v['save-every'], 0, 0, 10000),
    epochs: int('epochs', v.epochs, 5, 1, 10000),
    batchSize: v['batch-size'] === undefined ? Number.NaN : int('batch-size', v['batch-size'], 8, 1, 4096),
    learningRate: lr,
    seed,
  };
  const modelsDir = v['models-dir'] === undefined ? undefined : resolve(v['models-dir']);
  if (modelsDir && !existsSync(modelsDir)) throw new UsageError(`--models-dir ${v['models-dir']}: no such folder`);
  if (v.demo) {
    for (const flag of ['classes', 'group-pattern', 'dedupe', 'channels'] as const) if (v[flag] !== undefined) throw new UsageError(`--${flag} applies to --data, not --demo`);
    return {
      ...sessionArgs(v),
      out: resolve(v.out),
      modelsDir,
      cfg: { ...common, dataset: { kind: 'demo', seed, imageSize: int('image-size', v['image-size'], 32, 8, 512), perClass: int('per-class', v['per-class'], 60, 3, 100000), split: parseSplit(v.split) } },
    };
  }
  if (v['per-class'] !== undefined) throw new UsageError('--per-class applies to --demo, not --data');
  const dir = resolve(v.data!);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--data ${v.data}: no such folder`);
  const dedupe = v.dedupe ?? 'keep-together';
  if (!(DEDUPE as readonly string[]).includes(dedupe)) throw new UsageError(`--dedupe must be one of ${DEDUPE.join(', ')} (got "${dedupe}")`);
  const channels = int('channels', v.channels, 3, 1, 3);
  if (channels === 2) throw new UsageError('--channels must be 1 or 3 (got "2")');
  const classes = v.classes?.split(',').map((c) => c.trim()).filter(Boolean);
  return {
    ...sessionArgs(v),
    out: resolve(v.out),
    modelsDir,
    // The fingerprint is known only after the import; train() fills it in.
    cfg: { ...common, dataset: { kind: 'folder', fingerprint: '' } },
    folder: {
      dir,
      options: {
        imageSize: int('image-size', v['image-size'], 64, 8, 1024),
        channels: channels as 1 | 3,
        classes,
        split: parseSplit(v.split),
        seed,
        groupPattern: v['group-pattern'],
        dedupe: dedupe as ImportOptions['dedupe'],
      },
    },
  };
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

/** @param epochs the run's epoch count, NaN when unknown (a resumed run). */
function printProgress(e: TrainEvent | ImportEvent, epochs: number): void {
  const line = progressLine(e, epochs);
  if (line) console.log(line);
}

let lastImportDecile = -1;

function progressLine(e: TrainEvent | ImportEvent, epochs: number): string | null {
  switch (e.type) {
    case 'scanned':
      return `importing ${e.files} images of ${e.classes.join(', ')} (${e.skipped} files skipped)`;
    case 'progress': {
      const decile = Math.floor((e.done / e.total) * 10);
      if (decile === lastImportDecile) return null;
      lastImportDecile = decile;
      return `  ${e.done}/${e.total} decoded · ${e.imagesPerSecond.toFixed(0)} images/s · ETA ${Math.ceil(e.etaSeconds)} s`;
    }
    case 'start':
      return `run ${e.runId} on ${e.backend.name}${e.backend.adapter ? ` (${e.backend.adapter.vendor} ${e.backend.adapter.architecture}${e.backend.adapter.isSoftware ? ', software adapter' : ''})` : ''}: classes ${e.classes.join(', ')}; split ${e.split.train}/${e.split.val}/${e.split.test}${e.resumedFrom ? `; resumed after epoch ${e.resumedFrom}` : ''}\nrouting: ${e.routing.reason}`;
    case 'epoch': {
      const m = e.metrics;
      return `epoch ${m.epoch}${Number.isNaN(epochs) ? '' : `/${epochs}`}: train loss ${m.trainLoss.toFixed(4)} acc ${pct(m.trainAccuracy)} · val loss ${m.valLoss.toFixed(4)} acc ${pct(m.valAccuracy)} · ${m.seconds.toFixed(1)} s, ${m.imagesPerSecond.toFixed(1)} img/s · tensors ${e.numTensors}`;
    }
    default:
      return null;
  }
}

interface SessionOptions extends SessionArgs {
  modelsDir?: string;
  onEvent?: (e: TrainEvent | ImportEvent) => void;
}

/**
 * Opens the built studio in Chromium on a persistent profile and waits for its engine. IndexedDB belongs to the
 * page's origin, port included: the same --profile and --port see the same runs.
 */
async function withStudio<T>(opts: SessionOptions, work: (page: Page, backend: BackendInfo) => Promise<T>): Promise<T> {
  const dist = await ensureBuilt();
  // --models-dir stands in for the app's public/models/: the worker looks there before any official URL.
  const server = await serveStatic(dist, opts.port, '127.0.0.1', opts.modelsDir ? { '/models/': opts.modelsDir } : {});
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

export function train(args: TrainArgs): Promise<RunRecord> {
  return withStudio({ ...args, onEvent: (e) => printProgress(e, args.cfg.epochs) }, async (page, backend) => {
    if (args.backend !== 'auto' && backend.name !== args.backend) throw new Error(`backend ${args.backend} is not available`);
    const model = (await page.evaluate(() => window.studio!.zoo())).find((m) => m.id === args.cfg.model);
    if (!model) throw new UsageError(`--model ${args.cfg.model} is not in the zoo; choose one of ${(await page.evaluate(() => window.studio!.zoo())).map((m) => m.id).join(", ")}`);
    let cfg: TrainConfig = {
      ...args.cfg,
      learningRate: Number.isNaN(args.cfg.learningRate) ? model.defaults.learningRate : args.cfg.learningRate,
      batchSize: Number.isNaN(args.cfg.batchSize) ? model.defaults.batchSize : args.cfg.batchSize,
    };
    if (args.folder) {
      // The same path as a user's folder pick: the page's <input webkitdirectory> receives the folder.
      await page.setInputFiles('[data-testid="folder-input"]', args.folder.dir);
      const dataset = await page.evaluate((opts) => window.studio!.importFolder(opts), args.folder.options);
      console.log(importLine(dataset));
      cfg = { ...cfg, dataset: { kind: 'folder', fingerprint: dataset.fingerprint } };
    }
    return page.evaluate((c) => window.studio!.train(c), cfg);
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
    classes: run.classes,
    split: run.split,
    epochs: run.epochs,
    best: run.best,
    ...(run.bestValidation ? { bestValidation: run.bestValidation } : {}),
    ...(run.dataset ? { dataset: run.dataset } : {}),
  };
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
      const args = parseTrainArgs(rest);
      const run = await train(args);
      writeJson(args.out, runSummary(run));
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
    if (command === 'runs') {
      const args = sessionArgs(parse(rest, COMMON_OPTIONS));
      const runs = await withStudio(args, (page) => page.evaluate(() => window.studio!.runs()));
      for (const r of runs) console.log(`${r.runId}  ${r.status.padEnd(9)}  ${r.backend.padEnd(6)}  ${r.model}  ${r.epochs.length} epochs  best ${r.best ? pct(r.best.valAccuracy) : '-'}`);
      if (runs.length === 0) console.log(`no runs in profile ${args.profile} (port ${args.port})`);
      if (args.out) writeJson(args.out, runs.map(runSummary));
      return 0;
    }
    throw new UsageError(`unknown command "${command}"`);
  } catch (err) {
    console.error(`studio: ${oneLine(err)}`);
    if (err instanceof UsageError) console.error(USAGE);
    return err instanceof UsageError ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
