/**
 * Shared by the training benchmarks: the CLI's studio session (cli/session.ts: the built studio served on loopback,
 * with --models, ../shared/pretrained by default, as /models/, as the CLI's --models-dir does, opened in headless
 * Chromium), driven through `window.studio`, and small samples of the real MRI folder copied to a temporary folder.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright';
import type { StudioEvent } from '../src/engine/automation';
import type { BackendInfo, DatasetSummary, ImportOptions, RunRecord, TrainConfig } from '../src/engine/types';
import { importFolder, ROOT, withStudio } from '../cli/session';
import { MODELS_DIR } from './options';

export const MOBILENET = 'mobilenet_v2_0.35_224';

export const hasMobilenet = (): boolean => existsSync(join(MODELS_DIR, MOBILENET, 'model.json'));

export interface StudioPage {
  page: Page;
  /** The backend the page's engine started on. */
  backend: BackendInfo;
  /** A folder or file served read-only to the page (see StudioSession.share). */
  share(path: string): string;
  /** Imports `dir` into the page's engine, as a user's pick of it would. */
  importFolder(dir: string, options: ImportOptions): Promise<DatasetSummary>;
  /** Trains and returns the run with the live tensors (and their bytes) after each epoch. */
  train(cfg: TrainConfig): Promise<{ run: RunRecord; numTensors: number[]; numBytes: number[] }>;
}

export interface StudioPageOptions {
  /** Served as /models/ (default: --models, ../shared/pretrained). */
  modelsDir?: string;
  /** Serve without COOP/COEP (only to measure what isolation buys). */
  isolated?: boolean;
  extraBrowserArgs?: string[];
}

export async function withStudioPage<T>(backend: string, work: (studio: StudioPage) => Promise<T>, opts: StudioPageOptions = {}): Promise<T> {
  // A profile on disk, not an in-memory context: its storage quota is a share of the disk, so a large network's
  // checkpoint (ViT-B/16 with Adam state is about 1 GB) is not refused as "storage full".
  const profile = mkdtempSync(join(tmpdir(), 'studio-bench-profile-'));
  let numTensors: number[] = [];
  let numBytes: number[] = [];
  const onEvent = (e: StudioEvent): void => {
    if (!('type' in e)) return;
    // Progress on the console: a step at 224 px on an emulated GPU can take minutes.
    if (e.type === 'start' && 'routing' in e) console.log(`  ${e.routing.reason}`);
    if (e.type === 'epoch' && 'numTensors' in e) {
      numTensors.push(e.numTensors);
      numBytes.push(e.numBytes);
      console.log(`  epoch ${e.metrics.epoch}: ${e.metrics.seconds.toFixed(2)} s, val accuracy ${(e.metrics.valAccuracy * 100).toFixed(1)}%`);
    }
  };
  try {
    return await withStudio(
      { dist: join(ROOT, 'dist'), port: 0, profile, backend, mounts: { '/models/': opts.modelsDir ?? MODELS_DIR }, isolated: opts.isolated, extraBrowserArgs: opts.extraBrowserArgs, onEvent },
      ({ page, backend: info, share }) =>
        work({
          page,
          backend: info,
          share,
          importFolder: (dir, options) => importFolder({ page, backend: info, share }, dir, options),
          async train(cfg) {
            numTensors = [];
            numBytes = [];
            const run = await page.evaluate((c) => window.studio!.engine.train(c, window.studio!.events), cfg);
            return { run, numTensors, numBytes };
          },
        }),
    );
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** The first `perClass` files (by name) of each class folder of `dir`, copied to a new temporary folder. */
export function sampleFolder(dir: string, perClass: number, classes?: string[]): string {
  const root = join(mkdtempSync(join(tmpdir(), 'studio-bench-')), 'sample');
  for (const c of classes ?? readdirSync(dir).sort()) {
    mkdirSync(join(root, c), { recursive: true });
    for (const f of readdirSync(join(dir, c)).sort().slice(0, perClass)) copyFileSync(join(dir, c, f), join(root, c, f));
  }
  return root;
}

/** `text` from a failure in the page, without Playwright's wrapping and stack. */
export function pageError(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0].replace(/^page\.evaluate: (Error: )?/, '');
}
