/**
 * One evaluation from a model's outputs: every figure the report shows, computed in core so the worker, the CLI's
 * files and the tests share one implementation.
 */
import { bootstrapIntervals, latencySummary, type Interval, type LatencySummary } from './bootstrap';
import { calibration, confidenceHistogram, fitTemperature, softmax, topClass, type Calibration, type ConfidenceHistogram } from './calibration';
import { confusionMatrix, rowNormalize, type ConfusionMatrix } from './confusion';
import { classificationReport, classMetrics, type ClassificationReport } from './report';
import type { PerturbationKind } from '../image/perturb';
import type { MedicalValidation } from './medical-record';
import { rocOneVsRest, type OneVsRestRoc } from './roc';
import { decide, fitOperatingPoint, type FitOptions, type OperatingPoint } from './operating-point';

export interface EvaluationInput {
  classes: string[];
  /** True class of each test example. */
  labels: ArrayLike<number>;
  /** The model's logits for the test examples, row-major (`logits[i * K + k]`). */
  logits: ArrayLike<number>;
  /**
   * Validation labels and logits to fit the temperature and the screening operating point on (the run's own
   * validation split, also when another folder is evaluated); without them there is neither, unless `fitted` has them.
   */
  val?: { labels: ArrayLike<number>; logits: ArrayLike<number> };
  /** The target sensitivity and tumour classes the operating point is fitted for (see operating-point.ts). */
  screening?: FitOptions;
  /** A temperature and operating point fitted before (an exported model's metadata), used when `val` is absent. */
  fitted?: { temperature: number | null; operatingPoint: OperatingPoint | null };
  /** Per-image inference time (ms). */
  latencyMs: ArrayLike<number>;
  /** Images per second through batched inference. */
  throughput: number;
  bootstrap?: { resamples?: number; seed?: number };
}

export interface EvaluationMetrics {
  classes: string[];
  report: ClassificationReport;
  /** Rows true class, columns predicted. */
  confusion: ConfusionMatrix;
  confusionNormalized: number[][];
  roc: OneVsRestRoc;
  calibration: Calibration;
  /** Fitted on the validation split; null without one. */
  temperature: number | null;
  calibrationAfterTemperature: Calibration | null;
  /** The screening thresholds (fitted on validation) and the figures under them; null without validation outputs. */
  operatingPoint: OperatingPoint | null;
  screening: { report: ClassificationReport; confusion: ConfusionMatrix; confusionNormalized: number[][] } | null;
  ci95: { accuracy: Interval | null; macroF1: Interval | null; sensitivity: (Interval | null)[] };
  confidence: ConfidenceHistogram;
  latencyMs: LatencySummary;
  throughput: number;
  bootstrap: { resamples: number; seed: number };
}

export function evaluate(input: EvaluationInput): EvaluationMetrics {
  const K = input.classes.length;
  const n = input.labels.length;
  if (n === 0) throw new RangeError('the evaluated split has no images');
  const probs = softmax(input.logits, K);
  const { predicted } = topClass(probs, K);
  const confusion = confusionMatrix(input.labels, predicted, K);
  const val = input.val && input.val.labels.length > 0 ? input.val : null;
  const temperature = val ? fitTemperature(val.labels, val.logits, K) : (input.fitted?.temperature ?? null);
  const operatingPoint = val ? fitOperatingPoint(input.classes, val.labels, val.logits, input.screening) : (input.fitted?.operatingPoint ?? null);
  const screened = operatingPoint && confusionMatrix(input.labels, decide(probs, K, operatingPoint.thresholds), K);
  const resamples = input.bootstrap?.resamples ?? 1000;
  const seed = input.bootstrap?.seed ?? 42;
  const perClass: Record<string, (m: ConfusionMatrix) => number | null> = {};
  input.classes.forEach((_, k) => {
    // A draw without the class says nothing about its sensitivity: it is left out rather than counted as 0.
    perClass[`sensitivity${k}`] = (m) => (m[k].some((v) => v > 0) ? classMetrics(m, k, n).recall : null);
  });
  const ci: Record<string, Interval | null> = bootstrapIntervals(
    n,
    (ix) => confusionMatrix(Array.from(ix, (i) => input.labels[i]), Array.from(ix, (i) => predicted[i]), K),
    { accuracy: (m) => classificationReport(m).accuracy, macroF1: (m) => classificationReport(m).macro.f1, ...perClass },
    { resamples, seed },
  );
  return {
    classes: input.classes,
    report: classificationReport(confusion),
    confusion,
    confusionNormalized: rowNormalize(confusion),
    roc: rocOneVsRest(input.labels, probs, K),
    calibration: calibration(input.labels, probs, K),
    temperature,
    calibrationAfterTemperature: temperature === null ? null : calibration(input.labels, softmax(input.logits, K, temperature), K),
    operatingPoint,
    screening: screened && { report: classificationReport(screened), confusion: screened, confusionNormalized: rowNormalize(screened) },
    ci95: { accuracy: ci.accuracy, macroF1: ci.macroF1, sensitivity: input.classes.map((_, k) => ci[`sensitivity${k}`]) },
    confidence: confidenceHistogram(input.labels, probs, K),
    latencyMs: latencySummary(input.latencyMs),
    throughput: input.throughput,
    bootstrap: { resamples, seed },
  };
}

/** One evaluated image: its true and predicted class and the model's probabilities (softmax at T = 1). */
export interface EvaluatedImage {
  key: string;
  label: number;
  predicted: number;
  /** The class at the screening operating point (absent without one). */
  screened?: number;
  probs: number[];
}

/** Test accuracy under one corruption at one severity (src/core/image/perturb.ts). */
export interface RobustnessRow {
  kind: PerturbationKind;
  label: string;
  unit: string;
  severity: 1 | 2 | 3;
  level: number;
  accuracy: number;
}

/** Accuracy on the test split under each corruption at three severities, against the clean accuracy. */
export interface Robustness {
  baseline: number;
  images: number;
  /** Seeds the noise. */
  seed: number;
  /** The backend that ran the passes (the one routed for forward work). */
  backend: string;
  rows: RobustnessRow[];
}

/** An evaluation as stored with its run (IndexedDB `evaluations`) and returned to the UI and the CLI. */
export interface EvaluationRecord {
  runId: string;
  evaluatedAt: string;
  /** The run's checkpoint evaluated; null for an exported model folder. */
  checkpoint: { kind: 'best' | 'last'; epoch: number } | null;
  model: string;
  backend: string;
  /**
   * What the figures come from: the run's own test split, or another folder (`external`), whose class folders the
   * model does not know are listed in `unknownClasses` with their image counts and left out of the figures.
   */
  data: {
    kind: 'demo' | 'folder';
    name: string;
    fingerprint: string | null;
    split: 'test' | 'external';
    images: number;
    /** Validation images the temperature and operating point were fitted on (the run's own split for an external folder). */
    temperatureFittedOn: number;
    unknownClasses?: { name: string; images: number }[];
    /** An external pre-split folder with a test folder: images under its other split folders, not evaluated. */
    notEvaluated?: number;
  };
  metrics: EvaluationMetrics;
  medical: MedicalValidation;
  /** How latency was measured, in words, for the report. */
  latencyMethod: string;
  predictions: EvaluatedImage[];
  /** Present when the evaluation was asked for it (`EvaluateRequest.robustness`). */
  robustness?: Robustness;
}
