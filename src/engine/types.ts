/**
 * The one interface between the UI (or the CLI, through the page) and the training engine that lives in a
 * Web Worker. Only plain data and comlink-proxied callbacks cross it; the main thread never holds a tensor.
 */

import type { AdapterInfo, BackendName, EpochMetrics, RunRecord, SplitCounts, TrainConfig } from '../core/train/types';

export type { AdapterInfo, BackendName, DatasetConfig, DemoDatasetConfig, EpochMetrics, RunRecord, RunStatus, SplitCounts, TrainConfig } from '../core/train/types';
export type { SplitFractions } from '../core/dataset/split';

export const BACKEND_ORDER: readonly BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

export interface BackendInfo {
  name: BackendName;
  /** The backend that was asked for ('auto' lets the engine pick the first that initialises). */
  requested: BackendName | 'auto';
  /** Backends tried before `name` that failed, with why: shown to the user, never silent. */
  failed: { name: BackendName; reason: string }[];
  adapter: AdapterInfo | null;
  tfjsVersion: string;
}

export type TrainEvent =
  | { type: 'start'; runId: string; classes: string[]; split: SplitCounts; totalBatches: number; backend: BackendInfo }
  | { type: 'batch'; epoch: number; batch: number; batchesPerEpoch: number; loss: number }
  | { type: 'epoch'; metrics: EpochMetrics; numTensors: number }
  | { type: 'done'; run: RunRecord };

export interface Engine {
  /** Initialise (or re-initialise) TF.js on the requested backend; 'auto' tries BACKEND_ORDER. */
  init(backend: BackendName | 'auto'): Promise<BackendInfo>;
  backend(): Promise<BackendInfo>;
  train(cfg: TrainConfig, onEvent: (e: TrainEvent) => void): Promise<RunRecord>;
  /** Stops the run after the batch in flight; the promise from `train` resolves with status 'cancelled'. */
  cancel(runId: string): Promise<void>;
  runs(): Promise<RunRecord[]>;
}
