/**
 * A studio session: the built app served on loopback, opened in headless Chromium, its engine started. The CLI's
 * commands and the benchmarks (bench/studio-page.ts) all drive the page through it, so they exercise exactly what a
 * user's browser loads, and hand it their files through the server (`share`), never through the page's inputs.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright';
import type { StudioEvent } from '../src/engine/automation';
import type { BackendInfo, DatasetSummary, ImportOptions } from '../src/engine/types';
import { launchStudioBrowser } from './browser';
import { serveStatic } from './serve';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface SessionOptions {
  /** The built app (dist/). */
  dist: string;
  /** The server's port (0: any free one). IndexedDB belongs to the page's origin, port included. */
  port: number;
  /** A persistent browser profile (runs, checkpoints and the registry live in its IndexedDB); none: a throwaway one. */
  profile?: string;
  browser?: string;
  backend: string;
  /** URL prefix → folder served with the app (`/models/` stands in for the app's public/models/). */
  mounts?: Record<string, string>;
  /** Serve the app without cross-origin isolation (only to measure what isolation buys). */
  isolated?: boolean;
  extraBrowserArgs?: string[];
  onEvent?: (e: StudioEvent) => void;
  verbose?: boolean;
}

export interface StudioSession {
  page: Page;
  /** The backend the page's engine started on. */
  backend: BackendInfo;
  /** A folder or file served read-only to the page: its URL path, for `window.studio.folder` / `.file`. */
  share(path: string): string;
}

/** Scans `dir` in the page's engine, as a user's pick of it would, and imports it with `options`. */
export function importFolder(session: StudioSession, dir: string, options: ImportOptions): Promise<DatasetSummary> {
  return session.page.evaluate(
    async ({ url, options }) => {
      const s = window.studio!;
      await s.engine.scanFolder(await s.folder(url));
      return s.engine.importDataset(options, s.events);
    },
    { url: session.share(dir), options },
  );
}

/** Opens the studio, waits for its engine, runs `work`, and closes the browser and the server whatever happens. */
export async function withStudio<T>(opts: SessionOptions, work: (session: StudioSession) => Promise<T>): Promise<T> {
  const server = await serveStatic(opts.dist, opts.port, '127.0.0.1', opts.mounts ?? {}, { isolated: opts.isolated ?? true });
  try {
    if (opts.profile) mkdirSync(opts.profile, { recursive: true });
    const browser = await launchStudioBrowser({ browser: opts.browser, profile: opts.profile, extraArgs: opts.extraBrowserArgs });
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
      return await work({ page, backend, share: server.share });
    } finally {
      await browser.close();
    }
  } finally {
    await server.close();
  }
}

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}

/** Builds the app when dist/ is missing or older than its sources, so the CLI never drives a stale studio. */
export async function ensureBuilt(): Promise<string> {
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
