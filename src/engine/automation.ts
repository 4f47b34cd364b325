/**
 * What the page exposes to a headless driver (the CLI, tests, benchmarks): `window.studio`. It is the same `Studio`
 * object the buttons use, so an automated run goes through the same worker and engine as a click.
 */
import type { BackendInfo, BackendName, DatasetSummary, EvaluateEvent, EvaluateRequest, EvaluationRecord, FolderInput, OnnxBackboneImport, OnnxBackboneRequest, ReportFile, FolderScan, ImportEvent, ZooModel, ImportOptions, RunRecord, TrainConfig, TrainEvent } from './types';

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
  runs(): Promise<RunRecord[]>;
  /** Evaluates a run on its test split (see Engine.evaluate); a folder run needs its folder imported first. */
  evaluate(req: EvaluateRequest): Promise<EvaluationRecord>;
  /** The report files of a run's stored evaluation. */
  evaluationReport(runId: string): Promise<ReportFile[]>;
  zoo(): Promise<ZooModel[]>;
  /** Imports an ONNX backbone (see Engine.importOnnxBackbone) and lists it in the zoo. */
  importOnnxBackbone(req: OnnxBackboneRequest): Promise<OnnxBackboneImport>;
}

declare global {
  interface Window {
    studio?: StudioAutomation;
    /** Exposed by the driver (Playwright's exposeFunction) to receive progress events. */
    onStudioEvent?: (e: TrainEvent | ImportEvent | EvaluateEvent) => void;
  }
}
