/**
 * The one interface between the UI (or the CLI, through the page) and the training engine that lives in a
 * Web Worker. Only plain data and comlink-proxied callbacks cross it; the main thread never holds a tensor.
 */

import type { DataCheck, LabelConflict } from '../core/dataset/checks';
import type { DecodeOptions, DuplicateSummary, ImportEvent, ImportOptions, SplitCountsByClass, SplitOptions } from '../core/dataset/importer';
import type { SkippedFile } from '../core/dataset/layout';
import type { ChannelStats, StatsCheck } from '../core/dataset/stats';
import type { EvaluationRecord } from '../core/metrics/evaluation';
import type { MedicalThresholds } from '../core/metrics/medical';
import type { ConfigTemplate, StudioConfig, StudioSettings } from '../core/config';
import type { AugmentConfig } from '../core/settings/augment';
import type { MemoryEstimate } from '../core/models/memory';
import type { OptimizerName } from '../core/train/optimizers';
import type { AdapterInfo, BackendName, CompiledAhead, EpochMetrics, RunRecord, SplitCounts, TrainConfig } from '../core/train/types';
import type { ModelVersion, RegistrationReview } from '../core/registry/registry';
import type { StorageGroupUsage } from '../core/store/usage';
import type { AuditEntry } from '../core/store/audit';
import type { PredictResult } from '../core/inference/predictions';
import type { BackendMeasurement, Routing } from '../core/routing';
import type { RunComparison } from '../core/metrics/compare';
import type { Recommendation } from '../core/train/recommend';
import type { RecipeFile } from '../core/recipe/recipe';

export type { AdapterInfo, BackendName, ClusterProvenance, CompiledAhead, CrossValidationFold, DatasetConfig, DemoDatasetConfig, EpochMetrics, FeatureCacheInfo, FolderDatasetConfig, PhaseName, RunPhase, RunRecord, RunStatus, SplitCounts, Strategy, TrainConfig } from '../core/train/types';
export type { LrScheduleConfig } from '../core/train/schedules';
export type { OptimizerName } from '../core/train/optimizers';
export type { EvaluatedImage, EvaluationMetrics, EvaluationRecord, Robustness, RobustnessRow } from '../core/metrics/evaluation';
export type { MedicalThresholds, MedicalValidation } from '../core/metrics/medical';
export type { MemoryBudget, MemoryEstimate } from '../core/models/memory';
export type { BackendMeasurement, MeasuredBackend, Routing } from '../core/routing';
export type { DeviceSpeed, Recommendation, RecommendedSettings, StageEstimate } from '../core/train/recommend';
export type { AugmentConfig } from '../core/settings/augment';
export type { SplitFractions, SplitName } from '../core/dataset/split';
export type { DecodeOptions, DedupeMode, DuplicateSummary, ImportEvent, ImportOptions, SplitCountsByClass, SplitOptions } from '../core/dataset/importer';
export type { DataCheck, LabelConflict, LabelConflictMode } from '../core/dataset/checks';
export type { SkippedFile } from '../core/dataset/layout';
export type { ChannelStats, StatsCheck } from '../core/dataset/stats';
export type { ModelVersion, RegistrationProblem, RegistrationReview } from '../core/registry/registry';
export type { StorageGroup, StorageGroupUsage } from '../core/store/usage';
export type { RunComparison } from '../core/metrics/compare';
export type { ModelMetadata } from '../core/export/metadata';
export type { AuditEntry } from '../core/store/audit';
export type { ImagePrediction, PredictResult } from '../core/inference/predictions';
export type { ConfigTemplate, DatasetSettings, ModelDefaults, StudioConfig, StudioSettings } from '../core/config';
export type { RecipeFile } from '../core/recipe/recipe';

import type { NetworkRequest } from './network';

export type { NetworkRequest, NetworkSummary, HostTraffic } from './network';

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
  /**
   * Auto mode: backends that could not run a run of this page (WebGL that could not build a model's shaders), with
   * why. No work is routed to them until the backend is chosen again.
   */
  refused?: { name: BackendName; reason: string }[];
  tfjsVersion: string;
  /** Where WASM started: the threads its convolutions and products run on (1 unless the page is cross-origin isolated). */
  wasmThreads?: number;
}

export type TrainEvent =
  | { type: 'start'; runId: string; classes: string[]; split: SplitCounts; totalBatches: number; backend: BackendInfo; /** Where this run's work runs (see RunRecord.routing). */ routing: Routing; /** The checkpoint epoch a resumed run continues from. */ resumedFrom: number | null }
  /** Auto mode, the model's first run on this adapter: its training steps being timed on `backend`, the index-th of `of` (workers/measure.ts). */
  | ({ type: 'measure' } & MeasureProgress)
  | { type: 'batch'; epoch: number; batch: number; batchesPerEpoch: number; loss: number }
  /** A frozen backbone's activations being cached before the first epoch of a phase: images done, of total. */
  | { type: 'features'; done: number; total: number }
  | { type: 'epoch'; metrics: EpochMetrics; numTensors: number; /** tf.memory().numBytes: bytes the backend holds in tensors. */ numBytes: number; /** A few validation images with this epoch's predictions (class indices). */ samples?: ValidationSample[] }
  /** The loop stopped between batches on `pause` (true), or went on after `unpause` or a cancel (false). */
  | { type: 'paused'; paused: boolean }
  /**
   * WebGPU compiling a phase's first step ahead (TrainConfig.compileAhead): `compiled` null while it compiles, then the
   * shaders it compiled and the seconds.
   */
  | { type: 'compile'; compiled: CompiledAhead | null }
  /** Pretrained weights being downloaded before the first epoch: bytes so far, and in all when the server says. */
  | { type: 'weights'; model: string; loaded: number; total: number | null }
  | { type: 'done'; run: RunRecord };

export interface EvaluateRequest {
  runId: string;
  /** 'best' by default: the epoch with the best validation accuracy. */
  checkpoint?: 'best' | 'last';
  /** Medical-validation thresholds; the defaults are sensitivity ≥ 85 % per tumour class, accuracy ≥ 85 %, p95 < 100 ms. */
  thresholds?: Partial<MedicalThresholds>;
  /** Inference batch size (the run's own by default). */
  batchSize?: number;
  /** Test images timed one at a time for the latency figures (100 by default). */
  latencySamples?: number;
  /**
   * Evaluate on another folder instead of the run's test split: the folder imported in this session with this
   * fingerprint (at the run's input size), every image of a class the run knows; unknown class folders are reported.
   */
  external?: { fingerprint: string };
  /** Also measure test accuracy under noise, blur, brightness and rotation at three severities each. */
  robustness?: boolean;
  /** The sensitivity each tumour class's screening threshold is fitted to reach on validation (0.95 by default). */
  targetSensitivity?: number;
}

/**
 * The import settings for a folder imported only to be evaluated (an external test set, or the data for a model
 * folder): a dataset without a split, every image in the test split (whatever its folder is called: `Testing`,
 * `Training`, `val`), none dropped as a duplicate or a label conflict (the summary still warns of those). See
 * ImportOptions.purpose.
 */
export const EVALUATION_IMPORT = { split: { train: 0, val: 0, test: 1 }, dedupe: 'off', purpose: 'evaluation', labelConflicts: 'keep-all' } as const satisfies Pick<ImportOptions, 'split' | 'dedupe' | 'purpose' | 'labelConflicts'>;

/** An exported TF.js model folder evaluated on an imported folder (see Engine.evaluateModel). */
export interface ModelEvaluateRequest extends Pick<EvaluateRequest, 'thresholds' | 'batchSize' | 'latencySamples' | 'robustness' | 'targetSensitivity'> {
  /** model.json, its weight shards and metadata.json (labels, input size, normalisation), or one zip of them. */
  files: ExportedFile[];
  /** The folder imported in this session to evaluate on (at the model's input size): every image of a class it knows. */
  fingerprint: string;
}

export type EvaluateEvent =
  /** `runId` is the key the evaluation is stored under; `checkpointEpoch` null for a model folder. */
  | { type: 'start'; runId: string; checkpointEpoch: number | null; test: number; val: number }
  | { type: 'progress'; phase: 'validation' | 'test' | 'latency' | 'robustness'; done: number; total: number }
  | { type: 'done'; evaluation: EvaluationRecord };

/** An image and the network that classified it: a run's evaluated image, or pixels or an image file for a registered model. */
export type GradCamSource = { runId: string; key: string } | { modelRef: string; pixels: Uint8Array } | { modelRef: string; file: Blob };

/**
 * What Grad-CAM explains: an image a run was evaluated on (its key in the run's dataset; the checkpoint its stored
 * evaluation used, else the best), or raw pixels given to a registered model (NAME@VERSION, NAME@ALIAS or NAME),
 * uint8 NHWC at the model's input size and channels.
 */
export type GradCamRequest = GradCamSource & {
  /** The class whose score is explained; the predicted class by default. */
  classIndex?: number;
};

export interface GradCam {
  /** height × width (the model's input size), row-major, in [0, 1]. */
  heatmap: Float32Array;
  height: number;
  width: number;
  /** The class the map explains, and the model's class probabilities for the image. */
  classIndex: number;
  classes: string[];
  probabilities: number[];
  /** The feature map the gradients were taken at, and its size (1 × 1 cannot localise). */
  layer: string;
  featureSize: [number, number];
  /** Where the gradients were computed (TF.js's WASM backend has no convolution gradients). */
  backend: BackendName;
}

/** One file of an evaluation report: JSON, Markdown and CSV as text, the PNG charts as bytes. */
export type ReportFile = { name: string; text: string; bytes?: undefined } | { name: string; bytes: Uint8Array; text?: undefined };

export interface ReportOptions {
  /** Name images by their paths in the dataset (patient file names) instead of neutral ids; off by default. */
  includeFileNames?: boolean;
}

/** A folder the user picked: a File System Access handle (read in the worker), or the files an input/drop gave. */
export type FolderInput =
  | { kind: 'handle'; handle: FileSystemDirectoryHandle }
  | { kind: 'files'; name: string; files: File[]; /** relative paths, parallel to files */ paths: string[] };

/** What a folder holds, before anything is decoded. */
export interface FolderScan {
  /** The scan's id, for `Engine.decode`: the latest scan is the one the engine keeps. */
  folderId: string;
  name: string;
  layout: 'flat' | 'presplit';
  classes: { name: string; count: number }[];
  emptyClasses: string[];
  files: number;
  skipped: SkippedFile[];
  /** What the studio warns about in this folder before any import (e.g. images outside the class folders). */
  checks: DataCheck[];
}

/** A folder decoded at one size and channel count, held to be split (see Engine.decode). */
export interface DecodedSummary {
  /** The decoded images' id, for `Engine.split`. */
  datasetId: string;
  /** The scan it was decoded from. */
  folderId: string;
  name: string;
  fingerprint: string;
  layout: 'flat' | 'presplit';
  classes: string[];
  emptyClasses: string[];
  imageSize: number;
  channels: 1 | 3;
  /** Images decoded, and the files left out (not images, unreadable, …). */
  images: number;
  skipped: SkippedFile[];
  /** Bytes of decoded pixels held. */
  bytesHeld: number;
  /** Without a split: decoded to be evaluated on (an external test folder, see DecodeOptions.purpose). */
  evaluationOnly: boolean;
  seconds: number;
  imagesPerSecond: number;
}

/** A decoded folder split: the decoding's figures (its datasetId, images, skipped files, timing) and the split's. */
export interface DatasetSummary extends DecodedSummary {
  /** Key of this split's statistics in storage: fingerprint plus everything that decides the split. */
  splitId: string;
  /** Images in the split: those a dedupe or a label conflict dropped are not counted. */
  images: number;
  counts: SplitCountsByClass;
  /** A few image keys per class, seeded, for previews. */
  samples: Record<string, string[]>;
  duplicates: DuplicateSummary;
  /** Identical files under two or more classes, and what the import did with them. */
  labelConflicts: LabelConflict[];
  /** The data checks' warnings on this import (label conflicts, classes missing from a split). */
  checks: DataCheck[];
  normalization: ChannelStats;
  imagenet: ChannelStats;
  /** Bytes per pixel-channel held (1.0 means plain uint8, no overhead; a split that dropped images holds a copy). */
  bytesPerPixelChannel: number;
}

/** A backend measurement under way: `backend`, the index-th (from 1) of `of` being timed. */
export interface MeasureProgress {
  backend: BackendName;
  index: number;
  of: number;
}

/** Measured passes (workers/speed.ts): the model cards turn them into an estimated time per epoch. */
export interface SpeedProbe {
  backend: string;
  batchSize: number;
  imageSize: number;
  /** A forward pass of the batch (inference: validation). */
  secondsPerBatch: number;
  forwardSecondsPerImage: number;
  /** A training step on the batch: forward and backward through the trainable weights. */
  stepSecondsPerBatch: number;
}

/** A validation image with its true and predicted class (indices into the run's classes). */
export interface ValidationSample {
  thumb: Thumbnail;
  truth: number;
  predicted: number;
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
  /** Set when the weights come as one file the user may pick ("Choose weights file…"): its type and official URL. */
  weightsFile?: { extension: string; url: string };
}

/** Registers a run's best checkpoint (see src/core/registry/registry.ts for the rules and the gate). */
export interface RegisterModelRequest {
  runId: string;
  name: string;
  /** Semantic version, e.g. 1.0.0. */
  version: string;
  description?: string;
  /** `key=value` strings. */
  tags?: string[];
  /** E.g. `champion`, `candidate`; moved from the version of the same name that held them. */
  aliases?: string[];
  /** The seed's MLflow stage (None, Staging, Production, Archived): Production adds `champion`, Staging `candidate`. */
  stage?: string;
  /** Registers below the accuracy threshold; recorded on the version and in its card. */
  overrideReason?: string;
  /** Validation accuracy required, 0..1 (0.85 by default). */
  threshold?: number;
}

export interface ExportedFile {
  name: string;
  bytes: Uint8Array;
}

/** The ONNX file run in onnxruntime-web on sample images, against the studio's own probabilities. */
export interface OnnxParity {
  images: number;
  /**
   * `dataset`: held-out images (test split first) of the imported dataset, or of a demo run's own phantoms;
   * `synthetic`: seeded random pixels (syntheticPixels), when none fit the model's input.
   */
  source: 'dataset' | 'synthetic';
  maxDifference: number;
  tolerance: number;
  passed: boolean;
  runtime: string;
  /** The studio's probabilities on the sample, one row per image (synthetic pixels: parity.ts's syntheticPixels). */
  probabilities: number[][];
}

export interface ModelExport {
  id: string;
  format: 'tfjs' | 'onnx';
  /** The model's files plus MODEL_CARD.md, or one zip of them. */
  files: ExportedFile[];
  parity?: OnnxParity;
}

/** An image to classify: a picked, dropped or pasted file. `name` is what the results and the CSV call it. */
export interface PredictImage {
  name: string;
  file: Blob;
}

export interface PredictOptions {
  /** Append each prediction to the local audit log: with file hashes only, or with file names too. Off by default. */
  audit?: 'off' | 'hashes' | 'names';
}

export interface PredictProgress {
  done: number;
  total: number;
}

export interface AugmentPreviewRequest {
  /** How many training images (at most 12), drawn with `seed`. */
  images: number;
  /** Augmented variants of each (at most 8). */
  variants: number;
  augment: AugmentConfig;
  seed: number;
  /** Thumbnail side in pixels. */
  size: number;
}

export interface AugmentPreview {
  key: string;
  original: Thumbnail;
  variants: Thumbnail[];
}

/** A backbone folder that was checked and put in the backbone cache. */
export interface BackboneImport {
  id: string;
  name: string;
  /** The picked folder's name. */
  folder: string;
  params: number;
  /** model.json and the weight files. */
  files: number;
  /** Bytes of weights. */
  bytes: number;
}

/** k-fold cross-validation of one training config (see src/core/metrics/kfold.ts). */
export interface CrossValidationRequest {
  /** Trained once per fold; its dataset's test split stays out of every fold. */
  config: TrainConfig;
  /** 5 by default, 2 to 20. */
  folds?: number;
}

export interface FoldResult {
  fold: number;
  runId: string;
  split: SplitCounts;
  bestEpoch: number | null;
  bestValAccuracy: number | null;
  /** On the held-out fold, with the best checkpoint. */
  accuracy: number;
  macroF1: number;
}

export interface CrossValidationResult {
  id: string;
  folds: number;
  status: 'completed' | 'cancelled';
  model: string;
  /** The folds that finished, in order. */
  results: FoldResult[];
  /** Mean and population standard deviation over `results`. */
  accuracy: { mean: number; std: number } | null;
  macroF1: { mean: number; std: number } | null;
}

export type CrossValidationEvent =
  | { type: 'start'; id: string; folds: number }
  /** A fold's training (its per-batch events left out) and evaluation events. */
  | { type: 'train'; fold: number; event: Exclude<TrainEvent, { type: 'batch' }> }
  | { type: 'evaluate'; fold: number; event: EvaluateEvent }
  | { type: 'fold'; result: FoldResult }
  | { type: 'done'; result: CrossValidationResult };

/** A weights file the user picked for a zoo model, checked against its network and cached (see Engine.importWeightsFile). */
export interface WeightsFileImport {
  id: string;
  name: string;
  file: string;
  bytes: number;
  /** How many weights the file gave the network, and in how many layers when the reader counts them (Keras .h5). */
  weights: number;
  layers?: number;
}

/** An .onnx file to import as a backbone under a new zoo id. */
export interface OnnxBackboneRequest {
  id: string;
  /** Shown in the zoo; `<id> (ONNX)` by default. */
  name?: string;
  file: { name: string; bytes: Uint8Array };
  /**
   * The normalisation the network was trained with, when the file does not apply one itself: `imagenet`
   * (torchvision's mean/std) or `[-1,1]`. A normalisation baked into the graph (the studio's export) wins.
   */
  normalization: 'imagenet' | '[-1,1]';
}

/** An ONNX backbone that was imported, compared with onnxruntime-web and kept in the backbone cache. */
export interface OnnxBackboneImport {
  id: string;
  name: string;
  file: string;
  producer: string;
  opset: number;
  /** Nodes per operator in the file. */
  ops: Record<string, number>;
  params: number;
  inputSize: number;
  inputLayout: 'NCHW' | 'NHWC';
  /** Height, width, channels of the backbone's output (the global pool's input). */
  features: [number, number, number];
  normalization: { mean: number[]; std: number[]; source: 'file' | 'imagenet' | '[-1,1]' };
  /** Why the classifier after the pool could not be imported (then only the features are compared), or null. */
  classifier: string | null;
  /** The same seeded input through onnxruntime-web and the imported model: largest differences. */
  parity: { images: number; featureDifference: number; outputDifference: number | null; tolerance: number; runtime: string; backend: string };
}

/** What a cluster run sends back (RECIPE-CONTRACT.md): its `model.pth` and its `metrics.json`. */
export interface ClusterRunFiles {
  model: Uint8Array | Blob;
  metrics: Uint8Array | Blob | string;
}

/** A recommended recipe with the form settings that apply it (the studio's defaults for everything it leaves). */
export interface RecommendedRecipe extends Recommendation {
  form: StudioSettings;
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
  /** Holds the run after the batch in flight until `unpause` (cancel still works); it shows as 'paused' meanwhile. */
  pause(runId: string): Promise<void>;
  unpause(runId: string): Promise<void>;
  runs(): Promise<RunRecord[]>;
  /**
   * Deletes a run, its checkpoints and its evaluation in one transaction (a training run cannot be deleted).
   * Registered model versions keep their own copy of the model and stay.
   */
  deleteRun(runId: string): Promise<void>;
  /** The run as one zip file: record, checkpoints (weights and optimiser state), evaluation, split manifest. */
  exportRun(runId: string): Promise<ExportedFile>;
  /** Imports a run file; a run with the same id is refused (E_CONFIG, detail E_EXISTS) unless `onClash: 'rename'`. */
  importRun(bytes: Uint8Array, opts?: { onClash?: 'refuse' | 'rename'; name?: string }): Promise<RunRecord>;
  /**
   * Brings back a model trained on a cluster by run `sourceRunId`'s exported recipe: a new completed run (tag
   * `cluster`, field `cluster`) with the source run's config, classes, split and input, the cluster's epochs, and
   * model.pth's weights as its best checkpoint, so evaluate, compareRuns and register take it as any run. Refused
   * (E_CONFIG, every problem named) when the files do not fit the run: another run's metrics, another architecture or
   * head, other classes, missing, extra or misshapen keys.
   */
  importClusterRun(sourceRunId: string, files: ClusterRunFiles): Promise<RunRecord>;
  /** Per run: best val accuracy, epochs, parameters and size, and its stored evaluation's figures. */
  compareRuns(runIds: string[]): Promise<RunComparison[]>;
  /** Trains and evaluates one run per fold (tagged `cv:<id>`); `cancel(id)` stops after the batch in flight. */
  crossValidate(req: CrossValidationRequest, onEvent: (e: CrossValidationEvent) => void): Promise<CrossValidationResult>;
  /**
   * Evaluates a run's checkpoint on the test split of its dataset (a folder run needs its folder imported with the
   * run's settings); the validation split fits the temperature. Stored with the run; `cancel(runId)` stops it.
   */
  evaluate(req: EvaluateRequest, onEvent: (e: EvaluateEvent) => void): Promise<EvaluationRecord>;
  /**
   * Evaluates an exported TF.js model folder on the folder imported with `req.fingerprint`; stored under
   * `model:NAME@VERSION` (or `model:MODEL_ID`), the id `evaluation` and `evaluationReport` take.
   */
  evaluateModel(req: ModelEvaluateRequest, onEvent: (e: EvaluateEvent) => void): Promise<EvaluationRecord>;
  /** The run's latest stored evaluation. */
  evaluation(runId: string): Promise<EvaluationRecord | null>;
  /** Thumbnails of images a run was evaluated on (keys from its predictions), for a confusion cell's gallery. */
  evaluationThumbnails(runId: string, keys: string[], size: number): Promise<Thumbnail[]>;
  /** A Grad-CAM heat-map of one image for one class, with the model's probabilities (see GradCamRequest). */
  gradcam(req: GradCamRequest): Promise<GradCam>;
  /** The report files of the run's stored evaluation, charts included; image file names only with `includeFileNames`. */
  evaluationReport(runId: string, opts?: ReportOptions): Promise<ReportFile[]>;
  /** The model zoo: the built-in CNN and the pretrained backbones. */
  zoo(): Promise<ZooModel[]>;
  /** Memory a run of `cfg` needs (weights, gradients, optimiser state, a batch's activations) against the device's. */
  estimateMemory(cfg: TrainConfig): Promise<MemoryEstimate>;
  /** Times a forward pass and a gradient step of a batch of `cfg`'s model on the backend its training would run on (see SpeedProbe). */
  probeSpeed(cfg: TrainConfig): Promise<SpeedProbe>;
  /**
   * Auto mode: times a few training steps of `cfg`'s model on each backend that could train it here and keeps the
   * fastest for this adapter, model, strategy, input and batch (runs go there from then on); `{ key }` re-measures a
   * stored measurement. `onProgress` hears each backend before it is timed.
   */
  measureBackends(target: TrainConfig | { key: string }, onProgress?: (p: MeasureProgress) => void): Promise<BackendMeasurement>;
  /** The stored backend measurements, newest first. */
  backendMeasurements(): Promise<BackendMeasurement[]>;

  /** Lists a folder and detects its layout and classes; remembers a handle so a returning user can re-grant it. */
  scanFolder(input: FolderInput): Promise<FolderScan>;
  /**
   * The recommended recipe for the last scanned folder on this device: picked from the folder's classes, size,
   * imbalance and test folder and from a short timed probe of the backbone and head here (src/core/train/recommend.ts).
   */
  recommendRecipe(): Promise<RecommendedRecipe>;
  /** Decodes the last scanned folder at the model's input size, splits it and computes its statistics: `decode` then `split`. */
  importDataset(opts: ImportOptions, onEvent: (e: ImportEvent) => void): Promise<DatasetSummary>;
  /**
   * Reads and decodes every image of a scanned folder (its chosen classes) at one size and channel count, the only
   * pass over the pixels. The engine holds the latest decoded folder only (decoded images are large): decoding
   * another releases the previous one once nothing split from it is in use.
   */
  decode(folderId: string, opts: DecodeOptions, onEvent: (e: ImportEvent) => void): Promise<DecodedSummary>;
  /**
   * Splits decoded images (seed, fractions, groups, duplicates, label conflicts) without decoding any again: the
   * split, the training split's statistics, the duplicates' cross-split report and the manifest, stored like an
   * import's; it becomes the imported dataset. The same options give the same splitId as a fresh import. Refused
   * (E_DATASET) for a folder decoded to be evaluated on, which has no split.
   */
  split(datasetId: string, opts: SplitOptions): Promise<DatasetSummary>;
  cancelImport(): Promise<void>;
  /** Small previews of imported images (the UI never holds every image). */
  thumbnails(keys: string[], size: number): Promise<Thumbnail[]>;
  /** The split manifest (file → split) of the imported dataset. */
  exportManifest(format: 'csv' | 'json'): Promise<string>;
  /**
   * "Train at scale": the run as a PyTorch DDP recipe folder (train.py, config.json, split.csv, requirements.txt,
   * README.md, slurm.sh; src/core/recipe). split.csv names images by path only with `fileNames` (the user's consent),
   * else by SHA-256. E_CONFIG for a model without a torchvision twin (named, with the ones that have one), a demo run
   * or a cross-validation fold.
   */
  exportRecipe(runId: string, opts: { fileNames: boolean }): Promise<RecipeFile[]>;
  /** Recomputes the training split's statistics and compares them with the stored ones. */
  verifyStats(): Promise<StatsVerification>;
  recomputeStats(): Promise<ChannelStats>;
  /** The folder handle picked last time, if the browser kept one (permission must be re-granted from the page). */
  rememberedFolder(): Promise<FileSystemDirectoryHandle | null>;

  /** Registers a completed run's best model as NAME@VERSION (gate, aliases, model card). */
  register(req: RegisterModelRequest): Promise<ModelVersion>;
  /** Every registered version, by name, newest first. */
  models(): Promise<ModelVersion[]>;
  /** NAME@VERSION, NAME@ALIAS or NAME as TF.js files or an ONNX file (with its parity check), optionally zipped. */
  exportModel(ref: string, format: 'tfjs' | 'onnx', opts?: { zip?: boolean; parityImages?: number }): Promise<ModelExport>;
  /** Registers a model from TF.js files written by exportModel (a picked folder or an unzipped download). */
  importModel(files: ExportedFile[], req: Omit<RegisterModelRequest, 'runId'>): Promise<ModelVersion>;
  /** Every problem `register(req)` would refuse with (name, version, taken, aliases, tags, run, gate), and the gate. */
  reviewRegistration(req: RegisterModelRequest): Promise<RegistrationReview>;
  /** Points ALIAS at NAME@VERSION (or whatever `ref` resolves to), taking it from the version that held it. */
  setAlias(ref: string, alias: string): Promise<ModelVersion>;
  removeAlias(name: string, alias: string): Promise<void>;
  /** Deletes one registered version and its files (its run, if any, stays). */
  deleteModel(id: string): Promise<void>;
  /** Bytes the studio keeps in IndexedDB, by kind (runs, checkpoints, datasets, models, backbones). */
  storageUsage(): Promise<StorageGroupUsage[]>;

  /**
   * Classifies images with a registered version (NAME@VERSION, NAME@ALIAS or NAME): decoded and resized as an import
   * decodes them, preprocessed as the version's metadata says. The model stays loaded for the next call.
   */
  predict(ref: string, images: PredictImage[], opts?: PredictOptions, onProgress?: (p: PredictProgress) => void): Promise<PredictResult>;
  /** The prediction audit log, oldest first. */
  auditLog(): Promise<AuditEntry[]>;
  clearAuditLog(): Promise<void>;
  /** The batch CSV of a prediction's result (file, top class, probability per class, latency ms, error). */
  predictionsCsv(result: PredictResult): Promise<string>;
  /** The audit log as CSV. */
  auditLogCsv(): Promise<string>;

  /** The config file's templates, the studio's defaults first. */
  configTemplates(): Promise<ConfigTemplate[]>;
  /** A config file (its text, or parsed) as form settings; E_CONFIG names every bad field. */
  readConfig(file: string | object): Promise<StudioSettings>;
  /** The config file for the form's settings, checked as an import will check it. */
  writeConfig(settings: StudioSettings): Promise<StudioConfig>;
  /** A few imported training images with augmented variants, for the current settings and a seed. */
  augmentPreview(req: AugmentPreviewRequest): Promise<AugmentPreview[]>;
  /** Checks a folder holding model `id`'s model.json and weights and caches it, so training needs no download. */
  importBackbone(id: string, input: FolderInput): Promise<BackboneImport>;
  /** Checks a picked weights file (torchvision .pth / .safetensors, Keras .h5 for Xception) against model `id`'s network and caches it for training. */
  importWeightsFile(id: string, file: File): Promise<WeightsFileImport>;
  /** Imports an ONNX CNN up to its global pool as a trainable backbone (zoo id `req.id`), with its parity shown. */
  importOnnxBackbone(req: OnnxBackboneRequest): Promise<OnnxBackboneImport>;
  /** Every request the engine worker has made this session (pretrained weights, its own scripts), as the browser recorded them. */
  network(): Promise<NetworkRequest[]>;
}
