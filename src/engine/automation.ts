/**
 * What the page exposes to a headless driver (the CLI, tests, benchmarks): `window.studio`. It is the same `Studio`
 * object the buttons use, so an automated run goes through the same worker and engine as a click.
 */
import type { BackboneImport, ClusterRunFiles, BackendInfo, BackendMeasurement, BackendName, StudioSettings, CrossValidationEvent, CrossValidationRequest, CrossValidationResult, DatasetSummary, EvaluateEvent, EvaluateRequest, EvaluationRecord, FolderInput, ReportFile, FolderScan, ImportEvent, ZooModel, ImportOptions, RunRecord, TrainConfig, TrainEvent, ModelExport, ModelVersion, PredictResult, RegisterModelRequest, ModelEvaluateRequest, ReportOptions, OnnxBackboneImport, OnnxBackboneRequest, RecipeFile, RecommendedRecipe } from './types';

export interface StudioAutomation {
  ready(): Promise<BackendInfo>;
  selectBackend(choice: BackendName | 'auto'): Promise<BackendInfo>;
  train(cfg: TrainConfig): Promise<RunRecord>;
  /** Continues a stopped run from its last checkpoint (see Engine.resume). */
  resume(runId: string): Promise<RunRecord>;
  /** Scans a folder given as a directory handle or files, as the folder picker would. */
  scanFolder(input: FolderInput): Promise<FolderScan>;
  /** Imports the folder last scanned, or last handed to the page's folder input (the driver sets its files first). */
  importFolder(opts: ImportOptions): Promise<DatasetSummary>;
  /** The recommended recipe for the folder last scanned or handed to the page's folder input (see Engine.recommendRecipe). */
  recommendRecipe(): Promise<RecommendedRecipe>;
  runs(): Promise<RunRecord[]>;
  /** Times the backends for a config, or re-measures a stored measurement (see Engine.measureBackends), shown in the settings. */
  measureBackends(target: TrainConfig | { key: string }): Promise<BackendMeasurement>;
  backendMeasurements(): Promise<BackendMeasurement[]>;
  /** Brings back a cluster run of `sourceRunId` (see Engine.importClusterRun) and lists it in the runs page. */
  importClusterRun(sourceRunId: string, files: ClusterRunFiles): Promise<RunRecord>;
  /** Evaluates a run on its test split (see Engine.evaluate); a folder run needs its folder imported first. */
  evaluate(req: EvaluateRequest): Promise<EvaluationRecord>;
  /** Evaluates a run on the folder last handed to the page's folder input, as an external test set (see Studio.evaluateExternal). */
  evaluateExternal(runId: string, req?: Omit<EvaluateRequest, 'runId' | 'external'>): Promise<EvaluationRecord>;
  /** Evaluates an exported TF.js model folder on the folder last imported (see Engine.evaluateModel). */
  evaluateModel(req: ModelEvaluateRequest): Promise<EvaluationRecord>;
  /** The report files of a run's stored evaluation (see Engine.evaluationReport). */
  evaluationReport(runId: string, opts?: ReportOptions): Promise<ReportFile[]>;
  zoo(): Promise<ZooModel[]>;
  /** Reads a config file's text as the Config import does (see Engine.readConfig), knowing this profile's imported backbones. */
  readConfig(text: string): Promise<StudioSettings>;
  /** k-fold cross-validation of a config (see Engine.crossValidate), shown in the runs panel as it goes. */
  crossValidate(req: CrossValidationRequest): Promise<CrossValidationResult>;
  /** Registers a completed run's best model (see Engine.register). */
  register(req: RegisterModelRequest): Promise<ModelVersion>;
  /** A registered version's files as TF.js or ONNX; ONNX with its onnxruntime-web parity check (see Engine.exportModel). */
  exportModel(ref: string, format: 'tfjs' | 'onnx', opts?: { zip?: boolean; parityImages?: number }): Promise<ModelExport>;
  /** A run as a PyTorch DDP recipe folder's files (see Engine.exportRecipe). */
  exportRecipe(runId: string, opts: { fileNames: boolean }): Promise<RecipeFile[]>;
  /** Classifies the images last handed to the inference panel's file or folder input with `ref`, and their CSV. */
  predictPicked(ref: string): Promise<{ result: PredictResult; csv: string }>;
  /** Imports an ONNX backbone (see Engine.importOnnxBackbone) and lists it in the zoo. */
  importOnnxBackbone(req: OnnxBackboneRequest): Promise<OnnxBackboneImport>;
  /** Puts a zoo backbone's weights in the cache from picked files (see Engine.importBackbone): a folder, or a torchvision .pth / .safetensors. */
  importBackbone(id: string, input: FolderInput): Promise<BackboneImport>;
}

declare global {
  interface Window {
    studio?: StudioAutomation;
    /** Exposed by the driver (Playwright's exposeFunction) to receive progress events. */
    onStudioEvent?: (e: TrainEvent | ImportEvent | EvaluateEvent | CrossValidationEvent) => void;
  }
}
