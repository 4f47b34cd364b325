import type { ImportOptions, SplitCountsByClass } from '../dataset/importer';
import type { SkippedFile } from '../dataset/layout';
import type { SplitFractions, SplitName } from '../dataset/split';
import type { AugmentConfig } from '../settings/augment';
import type { OptimizerName } from './optimizers';
import type { LrScheduleConfig } from './schedules';
import type { ChannelStats } from '../dataset/stats';
import type { OperatingPoint } from '../metrics/operating-point';
import type { DemoLesions } from '../dataset/demo';
import type { ConfusionMatrix } from '../metrics/confusion';

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
  /** `clear`: every lesion obvious (the conference demo); `varied` (faint to obvious) when absent. */
  lesions?: DemoLesions;
}

/** A folder imported in this engine session (its split and statistics were fixed at import). */
export interface FolderDatasetConfig {
  kind: 'folder';
  fingerprint: string;
}

export type DatasetConfig = DemoDatasetConfig | FolderDatasetConfig;

/**
 * `scratch` trains every weight from its initialisation (the built-in simple CNN); the others need a pretrained backbone:
 * `frozen` (linear head), `medical` (the Medical CNN head), `mlp` (Dense 100 ReLU head) and `finetune`.
 */
export type Strategy = 'scratch' | 'frozen' | 'medical' | 'mlp' | 'finetune';

/** `none`: the image alone; `flip`: the image and its left–right mirror, logits averaged (src/core/inference/tta.ts). */
export type TestTimeAugmentation = 'none' | 'flip';
export const TTA_KINDS: readonly TestTimeAugmentation[] = ['none', 'flip'];

export interface TrainConfig {
  dataset: DatasetConfig;
  /** A model zoo id: `simple_cnn`, `mobilenet_v2_0.35_224`, … */
  model: string;
  /** Defaults to `scratch` for the simple CNN and `frozen` for a pretrained backbone. */
  strategy?: Strategy;
  /** `finetune` only: how many of the backbone's last blocks train (all by default). */
  trainableBlocks?: number | 'all';
  /** Defaults to the model's (and strategy's) own: AdamW for transfer, Adamax for full fine-tuning, Adam for the CNN. */
  optimizer?: OptimizerName;
  /** `finetune` only: "linear probe, then fine-tune": the head alone for this many epochs, then `trainableBlocks` at a tenth of the rate (0 by default). */
  probeEpochs?: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Constant when absent; a run in phases runs it afresh in each phase, from the phase's own rate. */
  lrSchedule?: LrScheduleConfig;
  seed: number;
  /** Off when absent: then a frozen backbone's features are computed once and cached for every epoch. */
  /** `default`: the studio's standard set (augmentDefault), so callers need not copy its numbers. */
  augment?: AugmentConfig | 'default';
  /**
   * `auto` (default): with augmentation off, the frozen part's activations are computed once per phase and each
   * epoch runs only the trainable part; `off` runs the frozen layers every epoch (less memory; the benchmark's baseline).
   */
  featureCache?: 'auto' | 'off';
  /**
   * Auto backend mode, a model's first run on this adapter (model, strategy, input and batch): `auto` (default) times
   * a few training steps on each backend that could run it when the adapter is a real GPU, keeps the fastest and runs
   * there (workers/measure.ts); `on` measures on a software adapter or without a GPU too; `off` keeps the fixed order
   * of src/core/routing.ts and leaves stored measurements aside. A forced backend is never measured.
   */
  measureBackends?: 'auto' | 'on' | 'off';
  /**
   * WebGPU only: before a phase's first step, that step's shaders are compiled in parallel (TF.js's
   * WEBGPU_ENGINE_COMPILE_ONLY pass, then one wait for every pipeline) instead of one by one as its kernels first run.
   * `auto` (default): on a real GPU adapter; `on`: on a software adapter too (measured no faster on SwiftShader, see
   * docs/benchmarks.md); `off`: never. Other backends ignore it.
   */
  compileAhead?: 'auto' | 'on' | 'off';
  /** `auto`: inverse-frequency weights when the training split is imbalanced (largest > 1.5 × smallest); off by default. */
  classWeights?: 'auto' | 'off';
  /** Cross-entropy label smoothing ε (0 by default). */
  labelSmoothing?: number;
  /** Gradient clipping by global norm; 1.0 by default, 0 turns it off. */
  clipNorm?: number;
  /** On by default with the seed's patience 15 and min_delta 0.0005 on validation accuracy; null turns it off. */
  earlyStopping?: { patience: number; minDelta: number } | null;
  /** Keep a checkpoint every N epochs besides the best and the last (0: none). */
  saveEveryEpochs?: number;
  /**
   * The epoch the run hands back (its "best" checkpoint, which evaluation, registry and export use): `best` (default)
   * by validation accuracy, ties broken by validation loss; `last`, the final epoch, which the k-fold study of
   * docs/quality.md found ahead on the recommended head, where the best-accuracy pick on a small validation split is
   * partly noise.
   */
  keepEpoch?: 'best' | 'last';
  /**
   * Test-time augmentation (src/core/inference/tta.ts): `flip` answers with the mean logits of each image and its
   * left–right mirror, in validation, evaluation, prediction and the exports; `none` (default) the image alone.
   * Recommended where a mirrored image is as likely as the original (brain slices); not for data with a handedness.
   */
  tta?: TestTimeAugmentation;
  /**
   * Every training image also trains mirrored left to right, each epoch (an epoch takes twice the steps); with a
   * feature cache the mirrored training images' features are cached too. Off by default; like `tta`, not for data
   * with a handedness.
   */
  mirrorTraining?: boolean;
  /**
   * One fold of a k-fold cross-validation (see src/core/metrics/kfold.ts): the run trains on the other folds and its
   * test split is fold `fold` (1-based). Part of the config so that resume and evaluate rebuild the same split.
   */
  crossValidation?: CrossValidationFold;
}

export interface CrossValidationFold {
  /** Shared by the k runs of one cross-validation. */
  id: string;
  folds: number;
  fold: number;
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
  /** `finetune` runs: the training phase the epoch belongs to. */
  phase?: PhaseName;
}

/** `probe`: the head alone ("linear probe, then fine-tune"); `finetune`: the configured blocks and the head. */
export type PhaseName = 'probe' | 'finetune';

/** Shaders compiled in parallel before a first training step, and the seconds that took (the trace included). */
export interface CompiledAhead {
  programs: number;
  seconds: number;
}

/** Where a phase kept the frozen part's activations, and what computing them cost. */
export interface FeatureCacheInfo {
  /** Rows cached: the training and validation images, and with test-time mirroring the validation images mirrored. */
  images: number;
  seconds: number;
  /** `backend`: one tensor on the GPU; `cpu`: worker memory, uploaded one batch at a time. */
  keep: 'backend' | 'cpu';
  bytes: number;
  /** The layer whose output was cached (the last frozen one). */
  boundary: string;
  /** One image's activations there. */
  featureShape: number[];
}

/** One phase of a `finetune` run, as it was trained. */
export interface RunPhase {
  name: PhaseName;
  /** 1-based, inclusive. */
  fromEpoch: number;
  toEpoch: number;
  trainableBlocks: number | 'all';
  /** The phase's base rate (a schedule starts from it). */
  learningRate: number;
  /** Set when the frozen part's activations were cached for the phase (augmentation off, and small enough). */
  featureCache?: FeatureCacheInfo;
}

/**
 * `paused`: waiting between batches until continued (or cancelled). `interrupted`: it was `running` or `paused` when
 * the worker training it went away (a reload, a crash, a dead worker), found so when no worker holds its lock.
 */
export type RunStatus = 'running' | 'paused' | 'completed' | 'cancelled' | 'failed' | 'interrupted';

export interface SplitCounts {
  train: number;
  val: number;
  test: number;
}

/** Which backend ran a run's work and why (src/core/routing.ts decides it). */
export interface Routing {
  /** Forward-only work: feature extraction, validation, evaluation, prediction. */
  forward: BackendName;
  /** Optimiser steps. */
  train: BackendName;
  /** True when work left the selected backend. */
  routed: boolean;
  /** What runs where and why, for the UI and the CLI. */
  reason: string;
  /** The measurement the route follows, when one decided it. */
  measured?: BackendMeasurement;
}

/** What one backend did in a measurement: its first training step (kernels compiled then) and the mean of the next. */
export interface MeasuredBackend {
  backend: BackendName;
  firstStepSeconds: number;
  secondsPerStep: number;
}

/**
 * A timed choice of backend for one kind of training on one adapter (workers/measure.ts times it; src/core/store
 * keeps it): each candidate's steps on a synthetic batch of the run's shape, fastest first.
 */
export interface BackendMeasurement {
  key: string;
  adapter: AdapterInfo | null;
  model: string;
  strategy: Strategy;
  imageSize: number;
  channels: number;
  classes: number;
  batchSize: number;
  /** Fastest first; backends whose steps failed are in `failed`. */
  figures: MeasuredBackend[];
  failed: { backend: BackendName; reason: string }[];
  fastest: BackendName;
  measuredAt: string;
  /** The measurement's own wall time, model builds and disposal included. */
  seconds: number;
  /** The run's settings that build the model (its dataset may be gone): "Re-measure" builds it from them. */
  config: TrainConfig;
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
  strategy: Strategy;
  optimizer: OptimizerName;
  /** Where the best and last checkpoints are (IndexedDB `checkpoints`), by epoch. */
  checkpoint: { best: number | null; last: number | null };
  /** The class weights the loss used (absent: unweighted). */
  classWeights?: number[];
  /**
   * Each time the run was continued from its last checkpoint (after a reload, a crash or a cancel), or moved to another
   * backend (`reason`: WebGL could not build its shaders; from epoch 0 when it had no checkpoint yet).
   */
  resumes?: { at: string; fromEpoch: number; reason?: string }[];
  /** Set when a frozen backbone's features were computed once and cached (augmentation off). */
  featureCache?: FeatureCacheInfo;
  /** Set when shaders were compiled ahead of the first step (TrainConfig.compileAhead): over every phase. */
  compiledAhead?: CompiledAhead;
  /** `finetune` runs: the phases, each with its blocks, base rate and feature cache. */
  phases?: RunPhase[];
  /** Which backend ran the forward work and which the training, and why (auto mode routes around a software GPU). */
  routing?: Routing;
  /**
   * The best epoch's validation predictions: confusion matrix (rows true, columns predicted) and per-class recall;
   * since the operating point, also its labels and logits (row-major, `split.val` order), with the temperature and
   * the screening operating point fitted on them, so another folder can be evaluated (and the model exported) with
   * them when the run's own folder is not at hand.
   */
  bestValidation?: { epoch: number; confusion: ConfusionMatrix; recall: number[]; labels?: number[]; logits?: number[]; temperature?: number; operatingPoint?: OperatingPoint };
  classes: string[];
  split: SplitCounts;
  epochs: EpochMetrics[];
  best: { epoch: number; valAccuracy: number } | null;
  /** What the model takes: image size, channels and the normalisation its graph expects (set once it is built). */
  input?: { imageSize: number; channels: 1 | 3; normalization: ChannelStats };
  /** For a folder dataset: what the run was trained on, as the import reported it. */
  dataset?: RunDatasetInfo;
  /** Why a failed run failed, in words a person can act on. */
  error?: string;
  /** Free labels the runs page filters on (a cross-validation fold gets `cv:<id>` and `fold i/k`). */
  tags?: string[];
  /** Set on a run that came from a run file (see src/core/store/run-file.ts). */
  imported?: { at: string; from: string; originalRunId: string };
  /**
   * Set on a run trained on a cluster by the recipe exported from run `sourceRunId` and brought back (its model.pth and
   * metrics.json, see src/core/models/torch/cluster.ts): config, classes, split and input are the source run's.
   */
  cluster?: ClusterProvenance;
}

export interface ClusterProvenance {
  sourceRunId: string;
  /** PyTorch's version, the DDP processes (world size), their device (`cuda`, `cpu`) and whether AMP was on. */
  torch: string;
  worldSize: number;
  device: string;
  amp: boolean;
  importedAt: string;
  /** SHA-256 of the model.pth that was imported. */
  modelSha256: string;
}

export interface RunDatasetInfo {
  fingerprint: string;
  classes: string[];
  counts: SplitCountsByClass;
  skipped: SkippedFile[];
  duplicates: { exactGroups: string[][]; nearGroups: string[][]; crossSplit: { kind: 'exact' | 'near'; members: string[]; splits: SplitName[] }[] };
  normalization: ChannelStats;
  /** The folder's name, the split's id and the import settings, so the same split can be rebuilt for evaluation. */
  name?: string;
  splitId?: string;
  importOptions?: ImportOptions;
}
