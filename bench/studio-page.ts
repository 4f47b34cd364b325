/**
 * Shared by the training benchmarks: the built studio served on loopback (with --models, ../shared/pretrained by default, as /models/,
 * as the CLI's --models-dir does), opened in headless Chromium and driven through `window.studio`, and small
 * samples of the real MRI folder copied to a temporary folder.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright';
import type {} from '../src/engine/automation';
import type { DatasetSummary, ImportOptions, RunRecord, TrainConfig, TrainEvent } from '../src/engine/types';
import { launchStudioBrowser } from '../cli/browser';
import { serveStatic } from '../cli/serve';
import { MODELS_DIR } from './options';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const MOBILENET = 'mobilenet_v2_0.35_224';

export const hasMobilenet = (): boolean => existsSync(join(MODELS_DIR, MOBILENET, 'model.json'));

export interface StudioPage {
  page: Page;
  /** Imports `dir` through the page's folder input, as a user's pick would. */
  importFolder(dir: string, options: ImportOptions): Promise<DatasetSummary>;
  /** Trains and returns the run with the number of live tensors after each epoch. */
  train(cfg: TrainConfig): Promise<{ run: RunRecord; numTensors: number[] }>;
}

export async function withStudioPage<T>(backend: string, work: (studio: StudioPage) => Promise<T>): Promise<T> {
  const server = await serveStatic(join(ROOT, 'dist'), 0, '127.0.0.1', { '/models/': MODELS_DIR });
  // A profile on disk, not an in-memory context: its storage quota is a share of the disk, so a large network's
  // checkpoint (ViT-B/16 with Adam state is about 1 GB) is not refused as "storage full".
  const profile = mkdtempSync(join(tmpdir(), 'studio-bench-profile-'));
  const browser = await launchStudioBrowser({ profile });
  try {
    const page = await browser.context.newPage();
    let numTensors: number[] = [];
    await page.exposeFunction('onStudioEvent', (e: TrainEvent) => {
      // Progress on the console: a step at 224 px on an emulated GPU can take minutes.
      if (e.type === 'start') console.log(`  ${e.routing.reason}`);
      if (e.type === 'epoch') {
        numTensors.push(e.numTensors);
        console.log(`  epoch ${e.metrics.epoch}: ${e.metrics.seconds.toFixed(2)} s, val accuracy ${(e.metrics.valAccuracy * 100).toFixed(1)}%`);
      }
    });
    await page.goto(`${server.url}?backend=${backend}`);
    await page.waitForFunction(() => window.studio !== undefined);
    await page.evaluate(() => window.studio!.ready());
    return await work({
      page,
      async importFolder(dir, options) {
        await page.setInputFiles('[data-testid="folder-input"]', dir);
        return page.evaluate((o) => window.studio!.importFolder(o), options);
      },
      async train(cfg) {
        numTensors = [];
        const run = await page.evaluate((c) => window.studio!.train(c), cfg);
        return { run, numTensors };
      },
    });
  } finally {
    await browser.close();
    await server.close();
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
