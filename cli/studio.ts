/**
 * The headless studio: serves the built app on loopback, opens it in Chromium through Playwright and drives the
 * same engine, in the same worker, as the UI. There is no separate Node training path.
 *
 *   npm run studio -- train --demo --epochs N [--backend webgpu|webgl|wasm|cpu] [--seed N] --out FILE.json
 */
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { RunRecord, TrainConfig, TrainEvent, BackendInfo } from '../src/engine/types';
import { launchStudioBrowser } from './browser';
import { serveStatic } from './serve';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;

const USAGE = `usage: npm run studio -- train --demo --epochs N [--backend webgpu|webgl|wasm|cpu] [--seed N] --out FILE.json
  options: --image-size N (32)  --per-class N (60)  --batch-size N (8)  --lr X (0.003)
           --browser PATH (${'/usr/bin/chromium'})  --profile DIR (~/.local/share/mri-studio/profile)  --port N (5199)  --verbose`;

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

export interface TrainArgs {
  cfg: TrainConfig;
  backend: (typeof BACKENDS)[number] | 'auto';
  out: string;
  browser?: string;
  profile: string;
  port: number;
  verbose: boolean;
}

export function parseTrainArgs(argv: string[]): TrainArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        demo: { type: 'boolean' },
        epochs: { type: 'string' },
        backend: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        'image-size': { type: 'string' },
        'per-class': { type: 'string' },
        'batch-size': { type: 'string' },
        lr: { type: 'string' },
        browser: { type: 'string' },
        profile: { type: 'string' },
        port: { type: 'string' },
        verbose: { type: 'boolean' },
      },
      strict: true,
    }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (!parsed.demo) throw new UsageError('train needs a dataset: pass --demo');
  if (!parsed.out) throw new UsageError('train needs --out FILE.json');
  const backend = parsed.backend ?? 'auto';
  if (backend !== 'auto' && !(BACKENDS as readonly string[]).includes(backend)) throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')} (got "${backend}")`);
  const lr = parsed.lr === undefined ? 0.003 : Number(parsed.lr);
  if (!(lr > 0 && lr < 10)) throw new UsageError(`--lr must be a positive number below 10 (got "${parsed.lr}")`);
  const seed = int('seed', parsed.seed, 42, 0, 2 ** 31 - 1);
  return {
    cfg: {
      dataset: { kind: 'demo', seed, imageSize: int('image-size', parsed['image-size'], 32, 8, 512), perClass: int('per-class', parsed['per-class'], 60, 3, 100000) },
      model: 'simple_cnn',
      epochs: int('epochs', parsed.epochs, 5, 1, 10000),
      batchSize: int('batch-size', parsed['batch-size'], 8, 1, 4096),
      learningRate: lr,
      seed,
      split: { train: 0.7, val: 0.15, test: 0.15 },
    },
    backend: backend as TrainArgs['backend'],
    out: resolve(parsed.out),
    browser: parsed.browser,
    profile: resolve(parsed.profile ?? defaultProfile()),
    port: int('port', parsed.port, 5199, 0, 65535),
    verbose: parsed.verbose ?? false,
  };
}

async function ensureBuilt(): Promise<string> {
  const dist = join(ROOT, 'dist');
  if (!existsSync(join(dist, 'index.html'))) {
    console.error('studio: building the app (first run)…');
    const { build } = await import('vite');
    await build({ root: ROOT, logLevel: 'warn' });
  }
  return dist;
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

function progressLine(e: TrainEvent, epochs: number): string | null {
  switch (e.type) {
    case 'start':
      return `run ${e.runId} on ${e.backend.name}${e.backend.adapter ? ` (${e.backend.adapter.vendor} ${e.backend.adapter.architecture}${e.backend.adapter.isSoftware ? ', software adapter' : ''})` : ''}: classes ${e.classes.join(', ')}; split ${e.split.train}/${e.split.val}/${e.split.test}`;
    case 'epoch': {
      const m = e.metrics;
      return `epoch ${m.epoch}/${epochs}: train loss ${m.trainLoss.toFixed(4)} acc ${pct(m.trainAccuracy)} · val loss ${m.valLoss.toFixed(4)} acc ${pct(m.valAccuracy)} · ${m.seconds.toFixed(1)} s, ${m.imagesPerSecond.toFixed(1)} img/s · tensors ${e.numTensors}`;
    }
    default:
      return null;
  }
}

export async function train(args: TrainArgs): Promise<RunRecord> {
  const dist = await ensureBuilt();
  const server = await serveStatic(dist, args.port);
  mkdirSync(args.profile, { recursive: true });
  const browser = await launchStudioBrowser({ browser: args.browser, profile: args.profile });
  try {
    const page = await browser.context.newPage();
    let pageError: string | null = null;
    page.on('pageerror', (err) => {
      pageError = err.message;
      if (args.verbose) console.error(`page error: ${err.message}`);
    });
    if (args.verbose) page.on('console', (m) => console.error(`page: ${m.text()}`));
    await page.exposeFunction('onStudioEvent', (e: TrainEvent) => {
      const line = progressLine(e, args.cfg.epochs);
      if (line) console.log(line);
    });
    await page.goto(`${server.url}?backend=${args.backend}`);
    await page.waitForFunction(() => window.studio !== undefined, undefined, { timeout: 60_000 }).catch(() => {
      throw new Error(`the studio page did not start${pageError ? `: ${pageError}` : ''}`);
    });
    const backend: BackendInfo = await page.evaluate(() => window.studio!.ready());
    if (args.backend !== 'auto' && backend.name !== args.backend) throw new Error(`backend ${args.backend} is not available`);
    return await page.evaluate((cfg) => window.studio!.train(cfg), args.cfg);
  } finally {
    await browser.close();
    await server.close();
  }
}

/** The run as the CLI contract promises it (see README: "CLI"). */
export function runSummary(run: RunRecord) {
  return {
    runId: run.runId,
    status: run.status,
    backend: run.backend,
    adapter: run.adapter,
    model: run.model,
    classes: run.classes,
    split: run.split,
    epochs: run.epochs,
    best: run.best,
  };
}

/** Playwright wraps errors thrown in the page as "page.evaluate: Error: CODE: message\n    at …": keep the message. */
function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const first = text.split('\n')[0];
  return first.replace(/^page\.evaluate: (Error: )?/, '').replace(/^EngineError: /, '');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  try {
    if (command !== 'train') throw new UsageError(`unknown command "${command}"`);
    const args = parseTrainArgs(rest);
    const run = await train(args);
    mkdirSync(dirname(args.out), { recursive: true });
    writeFileSync(args.out, JSON.stringify(runSummary(run), null, 2) + '\n');
    console.log(`best val accuracy ${run.best ? pct(run.best.valAccuracy) : 'n/a'} at epoch ${run.best?.epoch ?? '-'}; wrote ${args.out}`);
    return run.status === 'completed' ? 0 : 1;
  } catch (err) {
    console.error(`studio: ${oneLine(err)}`);
    if (err instanceof UsageError) console.error(USAGE);
    return err instanceof UsageError ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
