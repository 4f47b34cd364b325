import type { SplitFractions } from '../dataset/split';

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
}

export type DatasetConfig = DemoDatasetConfig;

export interface TrainConfig {
  dataset: DatasetConfig;
  model: 'simple_cnn';
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  split: SplitFractions;
}

export interface EpochMetrics {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss: number;
  valAccuracy: number;
  seconds: number;
  imagesPerSecond: number;
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
  /** Why a failed run failed, in words a person can act on. */
  error?: string;
}
