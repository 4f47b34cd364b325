/** The CLI's studio session (built app, --profile, --port, --models-dir) and the page steps several commands share. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StudioEvent } from '../src/engine/automation';
import type { BackendInfo, RunRecord } from '../src/engine/types';
import { UsageError, type SessionArgs } from './args';
import { writeJson } from './output';
import { ensureBuilt, importFolder, withStudio, type StudioSession } from './session';

export interface CliSessionOptions extends SessionArgs {
  modelsDir?: string;
  onEvent?: (e: StudioEvent) => void;
}

/**
 * Opens the built studio (built first when stale) in Chromium on the persistent profile and waits for its engine.
 * IndexedDB belongs to the page's origin, port included: the same --profile and --port see the same runs.
 */
export async function openStudio<T>(opts: CliSessionOptions, work: (session: StudioSession, backend: BackendInfo) => Promise<T>): Promise<T> {
  const dist = await ensureBuilt();
  // --models-dir stands in for the app's public/models/: the worker looks there before any official URL.
  const mounts: Record<string, string> = opts.modelsDir ? { '/models/': opts.modelsDir } : {};
  return withStudio({ dist, port: opts.port, profile: opts.profile, browser: opts.browser, backend: opts.backend, mounts, onEvent: opts.onEvent, verbose: opts.verbose }, (session) => work(session, session.backend));
}

/** The run `runId` of the profile, or a UsageError that says where it was looked for. */
export async function findRun(session: StudioSession, args: SessionArgs, runId: string): Promise<RunRecord> {
  const run = (await session.page.evaluate(() => window.studio!.engine.runs())).find((r) => r.runId === runId);
  if (!run) throw new UsageError(`there is no run ${runId} in profile ${args.profile} on port ${args.port} (IndexedDB belongs to the port: use the one the run was trained with)`);
  return run;
}

/** Where `train --data` found each run's folder, kept beside the profile's IndexedDB so `evaluate` can find it again. */
function dataFoldersFile(profile: string): string {
  return join(profile, 'mri-studio-data-folders.json');
}

function recordedDataFolder(profile: string, runId: string): string | undefined {
  const file = dataFoldersFile(profile);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>)[runId] : undefined;
}

export function recordDataFolder(profile: string, runId: string, dir: string): void {
  const file = dataFoldersFile(profile);
  const known = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>) : {};
  writeJson(file, { ...known, [runId]: dir });
}

/** A folder run's dataset imported again with its recorded settings (its split rebuilt), checked to be the same files; returns the folder. */
export async function importRunFolder(session: StudioSession, args: SessionArgs & { data?: string }, run: RunRecord): Promise<string> {
  const dir = args.data ?? recordedDataFolder(args.profile, run.runId);
  if (!dir) throw new UsageError(`run ${run.runId} was trained on a folder this profile has no path for: pass --data DIR, the folder it was trained on`);
  if (!existsSync(dir)) throw new UsageError(`run ${run.runId} was trained on ${dir}, which is gone: pass --data DIR`);
  // A run recorded before the label-conflict check kept every copy: its split is rebuilt as it was trained.
  const recorded = run.dataset?.importOptions;
  const options = recorded && { labelConflicts: 'keep-all' as const, ...recorded };
  if (!run.dataset || !options) throw new UsageError(`run ${run.runId} predates recorded import settings, so its split cannot be rebuilt; train it again`);
  const dataset = await importFolder(session, dir, options);
  if (dataset.fingerprint !== run.dataset.fingerprint) {
    throw new UsageError(`${dir} is not the dataset run ${run.runId} was trained on (fingerprint ${dataset.fingerprint.slice(0, 12)}… instead of ${run.dataset.fingerprint.slice(0, 12)}…): files were added, removed or changed`);
  }
  return dir;
}
