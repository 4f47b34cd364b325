/** The figures the runs page compares, per run: training's, the stored evaluation's, and the model's size. */
import type { StoredCheckpoint } from '../store/checkpoints';
import type { RunRecord } from '../train/types';
import type { EvaluationRecord } from './evaluation';

export interface RunComparison {
  runId: string;
  model: string;
  strategy: string;
  status: string;
  epochs: number;
  bestValAccuracy: number | null;
  /** Weights of the best checkpoint (else the last): their element count and bytes (float32, as stored). */
  params: number | null;
  sizeBytes: number | null;
  /** From the run's stored evaluation on its test split; null when it has not been evaluated. */
  evaluation: { accuracy: number; macroF1: number; macroAuc: number | null; ece: number; p95LatencyMs: number; checkpoint: string; images: number } | null;
}

export function compareRun(run: RunRecord, evaluation: EvaluationRecord | undefined, checkpoint: StoredCheckpoint | undefined): RunComparison {
  const m = evaluation?.metrics;
  return {
    runId: run.runId,
    model: run.model,
    strategy: run.strategy,
    status: run.status,
    epochs: run.epochs.length,
    bestValAccuracy: run.best?.valAccuracy ?? null,
    params: checkpoint ? checkpoint.weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0) : null,
    sizeBytes: checkpoint ? checkpoint.weights.reduce((n, w) => n + w.byteLength, 0) : null,
    evaluation: m
      ? { accuracy: m.report.accuracy, macroF1: m.report.macro.f1, macroAuc: m.roc.macroAuc, ece: m.calibration.ece, p95LatencyMs: m.latencyMs.p95, checkpoint: `${evaluation.checkpoint.kind} (epoch ${evaluation.checkpoint.epoch})`, images: evaluation.data.images }
      : null,
  };
}
