/**
 * What travels with an exported model so that another runtime can feed it and read it: labels, input size,
 * preprocessing and normalisation statistics, version. Written as `metadata.json` next to a TF.js model and as
 * `metadata_props` inside an ONNX file; read back when a TF.js folder is imported.
 */
import type { ChannelStats } from '../dataset/stats';
import type { EvaluationRecord } from '../metrics/evaluation';
import { checkExportedOperatingPoint, exportOperatingPoint, type ExportedOperatingPoint } from '../metrics/operating-point';
import type { RunRecord, TestTimeAugmentation } from '../train/types';

export const METADATA_FORMAT = 'mri-studio-model';
export const METADATA_FORMAT_VERSION = 1;

export interface ModelMetadata {
  format: typeof METADATA_FORMAT;
  formatVersion: typeof METADATA_FORMAT_VERSION;
  /** Zoo id of the architecture (`simple_cnn`, `mobilenet_v2_0.35_224`, …). */
  modelId: string;
  strategy: string;
  /** Registry name and semantic version, when the model was exported from the registry. */
  name?: string;
  version?: string;
  runId?: string;
  /** Class names, in the order of the model's outputs. */
  labels: string[];
  inputSize: number;
  channels: 1 | 3;
  /** Pixels go in as float32 RGB (or grey) values in 0..255, batch × height × width × channels. */
  input: { layout: 'NHWC'; dtype: 'float32'; range: [0, 255] };
  /**
   * Per-channel normalisation in 0..1 units: the network sees (x/255 − mean) / std. `[-1,1]` is mean = std = 0.5
   * (the ImageNet MobileNets' scaling), `dataset` the training split's statistics, `fixed` an imported backbone's
   * own. `bakedIn`: the exported graph
   * applies it itself (ONNX); otherwise the caller must (TF.js, whose graph is the trained one).
   */
  preprocessing: ChannelStats & { scaling: '[-1,1]' | 'dataset' | 'fixed'; bakedIn: boolean };
  /** `logits`: apply a softmax for probabilities; `probabilities`: already applied. */
  output: 'logits' | 'probabilities';
  /**
   * Test-time augmentation (src/core/inference/tta.ts): `flip`, the model's answer is the mean of its logits for the
   * image and for the image mirrored left to right (width reversed). `bakedIn`: the exported graph does it itself
   * (ONNX); otherwise the caller must (TF.js). Absent: the image alone.
   */
  tta?: { kind: 'flip'; bakedIn: boolean };
  /** Validation accuracy of the exported model and the number of images it was measured on (set by the registry). */
  validation?: { accuracy: number; n: number };
  /**
   * The screening operating point fitted on the run's validation split: per-label probability thresholds and the
   * rule that applies them (src/core/metrics/operating-point.ts), and the temperature for calibrated probabilities.
   */
  operatingPoint?: ExportedOperatingPoint;
  /** Library versions that produced the files (tfjs, studio, opset, …). */
  libraries: Record<string, string>;
  exportedAt: string;
}

/** Checks a parsed metadata.json; every problem is named, so an import of a foreign folder says what is wrong. */
export function parseMetadata(value: unknown): ModelMetadata {
  const m = value as Partial<ModelMetadata> | null;
  const fail = (what: string): never => {
    throw new Error(`metadata.json: ${what}`);
  };
  if (typeof m !== 'object' || m === null) fail('is not a JSON object');
  if (m!.format !== METADATA_FORMAT) fail(`"format" must be "${METADATA_FORMAT}" (got ${JSON.stringify(m!.format)})`);
  if (m!.formatVersion !== METADATA_FORMAT_VERSION) fail(`unsupported formatVersion ${JSON.stringify(m!.formatVersion)} (this studio reads ${METADATA_FORMAT_VERSION})`);
  if (typeof m!.modelId !== 'string' || !m!.modelId) fail('"modelId" is missing');
  if (!Array.isArray(m!.labels) || m!.labels.length < 2 || !m!.labels.every((l) => typeof l === 'string')) fail('"labels" must list at least 2 class names');
  if (!Number.isInteger(m!.inputSize) || m!.inputSize! < 1) fail(`"inputSize" must be a positive whole number (got ${JSON.stringify(m!.inputSize)})`);
  if (m!.channels !== 1 && m!.channels !== 3) fail(`"channels" must be 1 or 3 (got ${JSON.stringify(m!.channels)})`);
  const p = m!.preprocessing;
  const okStats = (xs: unknown) => Array.isArray(xs) && xs.length === m!.channels && xs.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (!p || !okStats(p.mean) || !okStats(p.std) || p.std.some((s) => s <= 0)) fail(`"preprocessing" needs ${m!.channels} finite means and ${m!.channels} positive stds`);
  if (m!.output !== 'logits' && m!.output !== 'probabilities') fail('"output" must be "logits" or "probabilities"');
  const tta = m!.tta;
  if (tta !== undefined && !(tta && tta.kind === 'flip' && typeof tta.bakedIn === 'boolean')) fail('"tta" must be { kind: "flip", bakedIn: true or false }');
  const v = m!.validation;
  if (v !== undefined && !(v && v.accuracy >= 0 && v.accuracy <= 1 && Number.isInteger(v.n) && v.n > 0)) fail('"validation" must be { accuracy: 0..1, n: images }');
  const op = m!.operatingPoint === undefined ? null : checkExportedOperatingPoint(m!.operatingPoint, m!.labels!);
  if (op) fail(`"operatingPoint" ${op}`);
  return m as ModelMetadata;
}

export interface DescribeModel {
  modelId: string;
  strategy: string;
  labels: string[];
  inputSize: number;
  channels: 1 | 3;
  /** The normalisation the trained graph expects (normalizationFor: dataset statistics or [-1, 1]). */
  normalization: ChannelStats;
  scaling: '[-1,1]' | 'dataset' | 'fixed';
  tta?: TestTimeAugmentation;
  name?: string;
  version?: string;
  runId?: string;
  validation?: { accuracy: number; n: number };
  operatingPoint?: ExportedOperatingPoint;
  libraries: Record<string, string>;
}

/** Metadata of a trained studio model as it is: its graph takes normalised input and returns logits. */
export function describeModel(d: DescribeModel): ModelMetadata {
  return {
    format: METADATA_FORMAT,
    formatVersion: METADATA_FORMAT_VERSION,
    modelId: d.modelId,
    strategy: d.strategy,
    ...(d.name === undefined ? {} : { name: d.name }),
    ...(d.version === undefined ? {} : { version: d.version }),
    ...(d.runId === undefined ? {} : { runId: d.runId }),
    ...(d.validation === undefined ? {} : { validation: { ...d.validation } }),
    ...(d.operatingPoint === undefined ? {} : { operatingPoint: d.operatingPoint }),
    labels: [...d.labels],
    inputSize: d.inputSize,
    channels: d.channels,
    input: { layout: 'NHWC', dtype: 'float32', range: [0, 255] },
    preprocessing: { scaling: d.scaling, mean: [...d.normalization.mean], std: [...d.normalization.std], bakedIn: false },
    output: 'logits',
    ...(d.tta === 'flip' ? { tta: { kind: 'flip', bakedIn: false } } : {}),
    libraries: { ...d.libraries },
    exportedAt: new Date().toISOString(),
  };
}

/**
 * The operating point a run's best model is exported with: its stored evaluation's when that evaluated the best
 * checkpoint (the target the user chose), else the one fitted at the default target when the best epoch was saved.
 */
export function runOperatingPoint(run: Pick<RunRecord, 'classes' | 'best' | 'bestValidation'>, evaluation?: Pick<EvaluationRecord, 'checkpoint' | 'metrics'> | null): ExportedOperatingPoint | undefined {
  const best = run.best?.epoch;
  const m = evaluation?.checkpoint?.kind === 'best' && evaluation.checkpoint.epoch === best ? evaluation.metrics : null;
  if (m?.operatingPoint) return exportOperatingPoint(m.operatingPoint, m.temperature, run.classes);
  const v = run.bestValidation;
  return v?.operatingPoint && v.epoch === best ? exportOperatingPoint(v.operatingPoint, v.temperature ?? null, run.classes) : undefined;
}
