import type { SplitCountsByClass } from '../dataset/importer';
import type { SkippedFile } from '../dataset/layout';
import type { SplitFractions, SplitName } from '../dataset/split';
import type { ChannelStats } from '../dataset/stats';

export type BackendName = 'webgpu' | 'webgl' | 'wasm' | 'cpu';

export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for a software/fallback adapter (SwiftShader, llvmpipe, WARP): a CPU pretending to be a GPU. */
  isSoftware: boolean;
}

export interface DemoDatasetConfig {
  kind: 'demo';
  seed: number;
  imageSize: number;
  /** Images per class. */
  perClass: number;
  split: SplitFractions;
}

/** A folder imported in this engine session (its split and statistics were fixed at import). */
export interface FolderDatasetConfig {
  kind: 'folder';
  fingerprint: string;
}

export type DatasetConfig = DemoDatasetConfig | FolderDatasetConfig;

export interface TrainConfig {
  dataset: DatasetConfig;
  model: 'simple_cnn';
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
}

export interface EpochMetrics {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss: number;
  valAccuracy: number;
  seconds: number;
  imagesPerSecond: number;
  /** The optimiser's rate at the epoch's last step (a schedule may change it every step). */
  learningRate?: number;
}

export type RunStatus = 'running' | 'completed' | 'cancelled' | 'failed';

export interface SplitCounts {
  train: number;
  val: number;
  test: number;
}

export interface RunRecord {
  runId: string;
  status: RunStatus;
  startedAt: string;
  endedAt: string | null;
  config: TrainConfig;
  backend: BackendName;
  adapter: AdapterInfo | null;
  model: string;
  classes: string[];
  split: SplitCounts;
  epochs: EpochMetrics[];
  best: { epoch: number; valAccuracy: number } | null;
  /** For a folder dataset: what the run was trained on, as the import reported it. */
  dataset?: RunDatasetInfo;
  /** Why a failed run failed, in words a person can act on. */
  error?: string;
}

export interface RunDatasetInfo {
  fingerprint: string;
  classes: string[];
  counts: SplitCountsByClass;
  skipped: SkippedFile[];
  duplicates: { exactGroups: string[][]; nearGroups: string[][]; crossSplit: { kind: 'exact' | 'near'; members: string[]; splits: SplitName[] }[] };
  normalization: ChannelStats;
}
