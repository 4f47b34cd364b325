/** How the CLI, the tests and the benchmarks launch Chromium: real WebGPU headless, no background traffic. */
import { existsSync } from 'node:fs';
import { chromium, type BrowserContext } from 'playwright';

export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

export function resolveBrowser(path?: string): string {
  const exe = path ?? DEFAULT_CHROMIUM;
  if (!existsSync(exe)) {
    throw new Error(`no browser at ${exe}: install Chromium (Debian: apt-get install chromium) or pass --browser PATH`);
  }
  return exe;
}

/** A persistent profile keeps IndexedDB (runs, checkpoints, registry) between invocations, as in the app. */
export async function launchStudioBrowser(opts: { browser?: string; profile?: string; extraArgs?: string[] }): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const executablePath = resolveBrowser(opts.browser);
  const args = [...CHROMIUM_FLAGS, ...(opts.extraArgs ?? [])];
  if (opts.profile) {
    const context = await chromium.launchPersistentContext(opts.profile, { executablePath, headless: true, args });
    return { context, close: () => context.close() };
  }
  const browser = await chromium.launch({ executablePath, headless: true, args });
  return { context: await browser.newContext(), close: () => browser.close() };
}
