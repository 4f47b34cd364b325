/**
 * A screening operating point: per-class decision thresholds fitted on the validation split so that each tumour
 * class reaches a target sensitivity (95 % by default), at the cost of more false alarms.
 *
 * Decision rule, for n classes, on the probabilities p = softmax(logits) at T = 1 (temperature scaling does not
 * enter it, so a runtime that reads the exported logits, or the ONNX file's probabilities, applies it as is):
 *   - a tumour class k with a threshold t_k (0 < t_k ≤ 1) "fires" when p_k ≥ t_k; its scaled score is p_k / t_k;
 *   - if any class fires, the prediction is the firing class with the highest scaled score (the lower index on a tie);
 *   - otherwise it is the plain argmax of p.
 * Classes without a threshold (the "no tumour" class, a tumour class with no validation images) never fire, so
 * they are predicted only through the argmax. With one tumour class this is "tumour when p_k ≥ t_k".
 *
 * Fitting: each tumour class starts at the highest threshold that, alone, lets the target share of its validation
 * images fire (a one-vs-rest quantile). Tumour classes then compete (an image can fire for two of them), so while a
 * class is below the target under the whole rule, the one furthest below lowers its threshold to its next validation
 * probability. Thresholds only go down and the candidates are finite, so this ends; a class that still misses the
 * target at its lowest candidate is reported as unreached, with the sensitivity it got.
 */
import { isNoTumourClass } from './medical-record';
import { fitTemperature, softmax } from './calibration';
import { confusionMatrix, perClassRecall } from './confusion';

export const DEFAULT_TARGET_SENSITIVITY = 0.95;

/** The rule in one sentence, as the report, the JSON and the export metadata state it. */
export const OPERATING_POINT_RULE =
  'p = softmax(logits) at T = 1; a class with a threshold t fires when p ≥ t; the firing class with the highest p / t is predicted, else the argmax of p';

export interface OperatingPoint {
  /** The sensitivity each tumour class was fitted to reach on validation. */
  targetSensitivity: number;
  tumourClasses: string[];
  /** Per class, in model order: the probability threshold, or null for a class that never fires. */
  thresholds: (number | null)[];
  /** Per class: its validation sensitivity under the rule (null without validation images). */
  validationSensitivity: (number | null)[];
  /** Tumour classes that miss the target on validation even at their lowest threshold. */
  unreached: string[];
  /** Tumour classes without a validation image: no threshold (argmax only). */
  withoutValidation: string[];
  /** Validation images the thresholds were fitted on. */
  validationImages: number;
}

/** The target as a person typed it, checked: a fraction above 0 and at most 1. */
export function checkTargetSensitivity(target: number): string | null {
  return Number.isFinite(target) && target > 0 && target <= 1 ? null : `the target sensitivity must be a fraction above 0 and at most 1, e.g. 0.95 (got ${target})`;
}

/** The class of each row of probabilities under the rule above. */
export function decide(probs: ArrayLike<number>, numClasses: number, thresholds: readonly (number | null)[]): Int32Array {
  const n = probs.length / numClasses;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const row = i * numClasses;
    let fired = -1;
    let score = 0;
    let best = 0;
    for (let k = 0; k < numClasses; k++) {
      const p = probs[row + k];
      if (p > probs[row + best]) best = k;
      const t = thresholds[k];
      if (t !== null && p >= t && p / t > score) {
        fired = k;
        score = p / t;
      }
    }
    out[i] = fired >= 0 ? fired : best;
  }
  return out;
}

function sensitivityOf(k: number, labels: ArrayLike<number>, predicted: Int32Array, support: number): number {
  let hits = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === k && predicted[i] === k) hits++;
  return hits / support;
}

export interface FitOptions {
  targetSensitivity?: number;
  /** By default every class not named like "no tumour" (medical.ts's isNoTumourClass). */
  tumourClasses?: string[];
}

/** Fits the thresholds on validation labels and logits (row-major, `logits[i * K + k]`). */
export function fitOperatingPoint(classes: string[], labels: ArrayLike<number>, logits: ArrayLike<number>, opts: FitOptions = {}): OperatingPoint {
  const K = classes.length;
  const target = opts.targetSensitivity ?? DEFAULT_TARGET_SENSITIVITY;
  const problem = checkTargetSensitivity(target);
  if (problem) throw new RangeError(problem);
  if (logits.length !== labels.length * K) throw new RangeError(`${logits.length} logits for ${labels.length} examples of ${K} classes`);
  const tumourClasses = opts.tumourClasses ?? classes.filter((c) => !isNoTumourClass(c));
  const unknown = tumourClasses.filter((c) => !classes.includes(c));
  if (unknown.length) throw new RangeError(`tumour classes ${unknown.join(', ')} are not among the model's classes (${classes.join(', ')})`);
  const probs = softmax(logits, K);
  const support = classes.map((_, k) => Array.prototype.filter.call(labels, (l: number) => l === k).length);
  // Each tumour class's candidate thresholds: its own validation images' probability of it, highest first.
  const candidates = classes.map((c, k) => {
    if (!tumourClasses.includes(c) || support[k] === 0) return [];
    const own: number[] = [];
    for (let i = 0; i < labels.length; i++) if (labels[i] === k) own.push(probs[i * K + k]);
    return own.sort((a, b) => b - a);
  });
  const needed = support.map((n) => Math.ceil(target * n - 1e-9));
  const at = candidates.map((c, k) => (c.length ? Math.max(0, needed[k] - 1) : -1));
  const thresholdsOf = () => at.map((j, k) => (j < 0 ? null : candidates[k][j]));
  // One step at a time for the class furthest below the target, so that no class takes the others' images first.
  for (;;) {
    const predicted = decide(probs, K, thresholdsOf());
    let worst = -1;
    let lowest = target - 1e-12;
    for (let k = 0; k < K; k++) {
      if (at[k] < 0 || at[k] === candidates[k].length - 1) continue;
      const sensitivity = sensitivityOf(k, labels, predicted, support[k]);
      if (sensitivity < lowest) [worst, lowest] = [k, sensitivity];
    }
    if (worst < 0) break;
    at[worst]++;
  }
  const thresholds = thresholdsOf();
  const predicted = decide(probs, K, thresholds);
  const validationSensitivity = classes.map((_, k) => (support[k] ? sensitivityOf(k, labels, predicted, support[k]) : null));
  return {
    targetSensitivity: target,
    tumourClasses,
    thresholds,
    validationSensitivity,
    unreached: classes.filter((_, k) => thresholds[k] !== null && validationSensitivity[k]! < target - 1e-12),
    withoutValidation: tumourClasses.filter((c) => support[classes.indexOf(c)] === 0),
    validationImages: labels.length,
  };
}

/**
 * What a run keeps of its best epoch's validation pass (RunRecord.bestValidation): the confusion matrix and recall,
 * and the labels and logits with the temperature and default operating point fitted on them.
 */
export function bestValidationRecord(classes: string[], epoch: number, labels: readonly number[], predicted: ArrayLike<number>, logits: ArrayLike<number>) {
  const confusion = confusionMatrix(labels, predicted, classes.length);
  return {
    epoch,
    confusion,
    recall: perClassRecall(confusion),
    labels: [...labels],
    logits: Array.from(logits),
    temperature: fitTemperature(labels, logits, classes.length),
    operatingPoint: fitOperatingPoint(classes, labels, logits),
  };
}

/** The operating point as an exported model's metadata carries it (metadata.json, ONNX metadata_props), by label. */
export interface ExportedOperatingPoint {
  rule: string;
  targetSensitivity: number;
  /** Probability threshold per label (softmax at T = 1); null: the label never fires. */
  thresholds: Record<string, number | null>;
  validationSensitivity: Record<string, number | null>;
  /** Divide the logits by it before the softmax for calibrated probabilities (the rule does not use it). */
  temperature: number | null;
  validationImages: number;
}

export function exportOperatingPoint(op: OperatingPoint, temperature: number | null, labels: string[]): ExportedOperatingPoint {
  const byLabel = <T>(xs: T[]) => Object.fromEntries(labels.map((l, k) => [l, xs[k]]));
  return { rule: OPERATING_POINT_RULE, targetSensitivity: op.targetSensitivity, thresholds: byLabel(op.thresholds), validationSensitivity: byLabel(op.validationSensitivity), temperature, validationImages: op.validationImages };
}

/** An exported operating point back in model order (for an evaluation of the exported model). */
export function operatingPointOf(e: ExportedOperatingPoint, labels: string[]): OperatingPoint {
  const thresholds = labels.map((l) => e.thresholds[l] ?? null);
  const validationSensitivity = labels.map((l) => e.validationSensitivity[l] ?? null);
  const tumourClasses = labels.filter((_, k) => thresholds[k] !== null);
  return {
    targetSensitivity: e.targetSensitivity,
    tumourClasses,
    thresholds,
    validationSensitivity,
    unreached: tumourClasses.filter((_, j) => (validationSensitivity[labels.indexOf(tumourClasses[j])] ?? 0) < e.targetSensitivity - 1e-12),
    withoutValidation: [],
    validationImages: e.validationImages,
  };
}

/** Why a metadata.json's operating point is unusable, or null. */
export function checkExportedOperatingPoint(e: unknown, labels: string[]): string | null {
  const o = e as Partial<ExportedOperatingPoint> | null;
  if (typeof o !== 'object' || o === null) return 'is not an object';
  if (typeof o.targetSensitivity !== 'number' || checkTargetSensitivity(o.targetSensitivity)) return '"targetSensitivity" must be a fraction above 0 and at most 1';
  const t = o.thresholds as Record<string, unknown> | undefined;
  if (typeof t !== 'object' || t === null || !labels.every((l) => t[l] === null || (typeof t[l] === 'number' && (t[l] as number) > 0 && (t[l] as number) <= 1))) return '"thresholds" must give each label a probability in (0, 1] or null';
  if (o.temperature !== null && !(typeof o.temperature === 'number' && o.temperature > 0)) return '"temperature" must be a positive number or null';
  return null;
}
