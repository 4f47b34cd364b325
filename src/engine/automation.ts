/**
 * What the page exposes to a headless driver (the CLI, tests, benchmarks): `window.studio`. It is the page's own
 * engine, the one its buttons use (same worker, same runs), plus what a driver cannot do from outside the page: wait
 * for the engine to start, hear events, and turn files the driver serves into the `File`s the engine reads.
 */
import type { Remote } from 'comlink';
import type { BackendInfo, BackendName, CrossValidationEvent, Engine, EvaluateEvent, FolderInput, FolderScan, ImportEvent, PredictOptions, RunRecord, TrainConfig, TrainEvent } from './types';

/** Every event the engine's callbacks carry, as the driver's `onStudioEvent` hears it. */
export type StudioEvent = TrainEvent | ImportEvent | EvaluateEvent | CrossValidationEvent;

/**
 * A folder the driver serves read-only (cli/serve.ts: `share`): GET on its URL answers this listing, and each file is
 * under the URL at its path.
 */
export interface SharedFolderListing {
  /** The folder's own name: the first segment of every path a folder pick gives (`name/class/image.jpg`). */
  name: string;
  /** Paths of its files, relative to the folder, with `/` separators. */
  paths: string[];
}

/**
 * The page's UI state (src/ui/studio.svelte.ts) for a driver that checks what the page shows: a run started here is
 * followed on the dashboard as a click's would be. Only the calls the drivers use are named.
 */
export interface StudioUi {
  train(cfg: TrainConfig, onEvent?: (e: TrainEvent) => void): Promise<RunRecord>;
  selectBackend(choice: BackendName | 'auto'): Promise<void>;
  /** Null when the folder cannot be imported: the page shows why. */
  scanFolder(input: FolderInput): Promise<FolderScan | null>;
  /** The inference panel's audit setting (remembered in this profile), which the panel's predictions follow. */
  readonly inference: { readonly audit: NonNullable<PredictOptions['audit']> };
}

export interface StudioAutomation {
  /**
   * The page's engine. A rejection's message starts with its code ("E_NOT_FOUND: there is no run …"), as the UI shows
   * it, since a driver reads only the message; the code also stays on the error for a caller inside the page.
   */
  engine: Remote<Engine>;
  ui: StudioUi;
  /** The backend the page started its engine on (`?backend=`), once it has; rejects with the page's error. */
  ready(): Promise<BackendInfo>;
  /** An event callback for any engine call that takes one: it hands each event to `window.onStudioEvent`. */
  events: (e: StudioEvent) => void;
  /** A folder the driver shares, read into files as a folder pick gives them (see SharedFolderListing). */
  folder(url: string): Promise<FolderInput & { kind: 'files' }>;
  /** One file the driver shares, named as the last segment of its URL. */
  file(url: string): Promise<File>;
}

declare global {
  interface Window {
    studio?: StudioAutomation;
    /** Exposed by the driver (Playwright's exposeFunction) to receive progress events. */
    onStudioEvent?: (e: StudioEvent) => void;
  }
}
