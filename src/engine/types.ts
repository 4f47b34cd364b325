/**
 * The one interface between the UI (or the CLI, through the page) and the training engine that lives in a
 * Web Worker. Only plain data and comlink-proxied callbacks cross it; the main thread never holds a tensor.
 */

import type { DuplicateSummary, ImportEvent, ImportOptions, SplitCountsByClass } from '../core/dataset/importer';
import type { SkippedFile } from '../core/dataset/layout';
import type { ChannelStats, StatsCheck } from '../core/dataset/stats';
import type { OptimizerName } from '../core/train/optimizers';
import type { AdapterInfo, BackendName, EpochMetrics, RunRecord, SplitCounts, TrainConfig } from '../core/train/types';
import type { Routing } from '../core/routing';

export type { AdapterInfo, BackendName, DatasetConfig, DemoDatasetConfig, EpochMetrics, FolderDatasetConfig, RunRecord, RunStatus, SplitCounts, Strategy, TrainConfig } from '../core/train/types';
export type { OptimizerName } from '../core/train/optimizers';
export type { Routing } from '../core/routing';
export type { AugmentConfig } from '../core/image/augment';
export type { SplitFractions, SplitName } from '../core/dataset/split';
export type { DedupeMode, DuplicateSummary, ImportEvent, ImportOptions, SplitCountsByClass } from '../core/dataset/importer';
export type { SkippedFile } from '../core/dataset/layout';
export type { ChannelStats, StatsCheck } from '../core/dataset/stats';

export const BACKEND_ORDER: readonly BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

export interface BackendInfo {
  name: BackendName;
  /** The backend that was asked for ('auto' lets the engine pick the first that initialises). */
  requested: BackendName | 'auto';
  /** Backends tried before `name` that failed, with why: shown to the user, never silent. */
  failed: { name: BackendName; reason: string }[];
  adapter: AdapterInfo | null;
  /** Auto mode: every backend that initialised and passed its self-test, `name` included (routing picks among them). Forced: just `name`. */
  available: BackendName[];
  tfjsVersion: string;
}

export type TrainEvent =
  | { type: 'start'; runId: string; classes: string[]; split: SplitCounts; totalBatches: number; backend: BackendInfo; /** Where this run's work runs (see RunRecord.routing). */ routing: Routing; /** The checkpoint epoch a resumed run continues from. */ resumedFrom: number | null }
  | { type: 'batch'; epoch: number; batch: number; batchesPerEpoch: number; loss: number }
  | { type: 'epoch'; metrics: EpochMetrics; numTensors: number }
  | { type: 'done'; run: RunRecord };

/** A folder the user picked: a File System Access handle (read in the worker), or the files an input/drop gave. */
export type FolderInput =
  | { kind: 'handle'; handle: FileSystemDirectoryHandle }
  | { kind: 'files'; name: string; files: File[]; /** relative paths, parallel to files */ paths: string[] };

/** What a folder holds, before anything is decoded. */
export interface FolderScan {
  name: string;
  layout: 'flat' | 'presplit';
  classes: { name: string; count: number }[];
  emptyClasses: string[];
  files: number;
  skipped: SkippedFile[];
}

export interface DatasetSummary {
  name: string;
  fingerprint: string;
  /** Key of this split's statistics in storage: fingerprint plus everything that decides the split. */
  splitId: string;
  layout: 'flat' | 'presplit';
  classes: string[];
  emptyClasses: string[];
  imageSize: number;
  channels: 1 | 3;
  images: number;
  counts: SplitCountsByClass;
  /** A few image keys per class, seeded, for previews. */
  samples: Record<string, string[]>;
  skipped: SkippedFile[];
  duplicates: DuplicateSummary;
  normalization: ChannelStats;
  imagenet: ChannelStats;
  /** Bytes of decoded pixels the engine holds, and per pixel-channel (1.0 means plain uint8, no overhead). */
  bytesHeld: number;
  bytesPerPixelChannel: number;
  seconds: number;
  imagesPerSecond: number;
}

export interface Thumbnail {
  key: string;
  size: number;
  /** RGBA, ready for ImageData. */
  rgba: Uint8ClampedArray;
}

export interface StatsVerification extends StatsCheck {
  stored: ChannelStats;
  recomputed: ChannelStats;
}

/** A model the zoo offers, as the UI lists it. */
export interface ZooModel {
  id: string;
  name: string;
  family: string;
  inputSize: number;
  params: number;
  pretrained: boolean;
  defaults: { learningRate: number; batchSize: number; optimizer: OptimizerName };
}

export interface Engine {
  /** Initialise (or re-initialise) TF.js on the requested backend; 'auto' tries BACKEND_ORDER. */
  init(backend: BackendName | 'auto'): Promise<BackendInfo>;
  backend(): Promise<BackendInfo>;
  train(cfg: TrainConfig, onEvent: (e: TrainEvent) => void): Promise<RunRecord>;
  /** Continues a run that was interrupted (page reload, crash) or cancelled, from its last checkpoint. */
  resume(runId: string, onEvent: (e: TrainEvent) => void): Promise<RunRecord>;
  /** Stops the run after the batch in flight; the promise from `train` resolves with status 'cancelled'. */
  cancel(runId: string): Promise<void>;
  runs(): Promise<RunRecord[]>;
  /** The model zoo: the built-in CNN and the pretrained backbones. */
  zoo(): Promise<ZooModel[]>;

  /** Lists a folder and detects its layout and classes; remembers a handle so a returning user can re-grant it. */
  scanFolder(input: FolderInput): Promise<FolderScan>;
  /** Decodes the last scanned folder at the model's input size, splits it and computes its statistics. */
  importDataset(opts: ImportOptions, onEvent: (e: ImportEvent) => void): Promise<DatasetSummary>;
  cancelImport(): Promise<void>;
  /** Small previews of imported images (the UI never holds every image). */
  thumbnails(keys: string[], size: number): Promise<Thumbnail[]>;
  /** The split manifest (file → split) of the imported dataset. */
  exportManifest(format: 'csv' | 'json'): Promise<string>;
  /** Recomputes the training split's statistics and compares them with the stored ones. */
  verifyStats(): Promise<StatsVerification>;
  recomputeStats(): Promise<ChannelStats>;
  /** The folder handle picked last time, if the browser kept one (permission must be re-granted from the page). */
  rememberedFolder(): Promise<FileSystemDirectoryHandle | null>;
}
