/**
 * Medical validation: the evaluation held against clinical thresholds, a verdict, and recommendations drawn from the
 * results themselves (confused class pairs, calibration, imbalance, leakage).
 */
import type { SplitName } from '../dataset/split';
import { isImbalanced } from '../train/losses';
import type { EvaluationMetrics } from './evaluation';
import { DEFAULT_THRESHOLDS, isNoTumourClass, type MedicalCheck, type MedicalThresholds, type MedicalValidation, type Verdict } from './medical-record';

export { isNoTumourClass, type MedicalThresholds, type MedicalValidation } from './medical-record';

export interface CrossSplitDuplicate {
  kind: 'exact' | 'near';
  members: string[];
  splits: SplitName[];
}

export interface MedicalContext {
  thresholds?: Partial<MedicalThresholds>;
  /** The dataset's leakage check (the run's dataset.duplicates.crossSplit). */
  crossSplit?: CrossSplitDuplicate[];
  /** The splits the figures come from ('test' by default). */
  evaluatedSplits?: SplitName[];
  /** Training images per class, for the imbalance recommendation (the test split's support otherwise). */
  trainCounts?: number[];
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

/** Excellent at ≥ 90 % accuracy, Good at ≥ 85 %; a failed tumour-sensitivity check caps it at Needs improvement. */
export function verdictFor(accuracy: number, sensitivityPassed: boolean): Verdict {
  if (!sensitivityPassed) return 'Needs improvement';
  return accuracy >= 0.9 ? 'Excellent' : accuracy >= 0.85 ? 'Good' : 'Needs improvement';
}

export function medicalValidation(m: EvaluationMetrics, ctx: MedicalContext = {}): MedicalValidation {
  const given = { ...DEFAULT_THRESHOLDS, ...ctx.thresholds };
  const tumourClasses = given.tumourClasses ?? m.classes.filter((c) => !isNoTumourClass(c));
  const unknown = tumourClasses.filter((c) => !m.classes.includes(c));
  if (unknown.length) throw new RangeError(`tumour classes ${unknown.join(', ')} are not among the evaluated classes (${m.classes.join(', ')})`);
  const thresholds: Required<MedicalThresholds> = { ...given, tumourClasses };
  const accuracy = m.report.accuracy;
  const sensitivityChecks: MedicalCheck[] = tumourClasses.map((c) => {
    const value = m.report.perClass[m.classes.indexOf(c)].recall;
    return { name: `sensitivity ${c}`, value, threshold: thresholds.minSensitivity, kind: 'min', passed: value >= thresholds.minSensitivity };
  });
  const checks: MedicalCheck[] = [
    { name: 'accuracy', value: accuracy, threshold: thresholds.minAccuracy, kind: 'min', passed: accuracy >= thresholds.minAccuracy },
    ...sensitivityChecks,
    { name: 'p95 latency (ms)', value: m.latencyMs.p95, threshold: thresholds.maxP95LatencyMs, kind: 'max', passed: m.latencyMs.p95 < thresholds.maxP95LatencyMs },
  ];

  const recommendations: string[] = [];
  for (const c of sensitivityChecks.filter((c) => !c.passed)) {
    recommendations.push(`${c.name} is ${pct(c.value)}, below ${pct(c.threshold)}: missed tumours are the costliest error; add ${c.name.slice('sensitivity '.length)} examples or weight the class up.`);
  }
  // The most frequent confusions: a pair counts when at least 5 % of the true class goes to the other.
  const pairs: { t: number; p: number; rate: number }[] = [];
  m.confusionNormalized.forEach((row, t) => row.forEach((rate, p) => t !== p && rate >= 0.05 && pairs.push({ t, p, rate })));
  pairs.sort((a, b) => b.rate - a.rate);
  for (const { t, p, rate } of pairs.slice(0, 3)) {
    recommendations.push(`${m.classes[t]} is taken for ${m.classes[p]} in ${m.confusion[t][p]} of ${m.report.perClass[t].support} cases (${pct(rate)}): review these images (click the cell) and add examples that tell the two apart.`);
  }
  if (m.calibration.ece > 0.05) {
    const after = m.calibrationAfterTemperature;
    recommendations.push(
      after && m.temperature !== null && after.ece < m.calibration.ece
        ? `calibration: ECE ${m.calibration.ece.toFixed(3)}; temperature scaling (T = ${m.temperature.toFixed(2)}, fitted on validation) brings it to ${after.ece.toFixed(3)}: apply it before reading probabilities as risks.`
        : `calibration: ECE ${m.calibration.ece.toFixed(3)}: the confidences are not reliable as probabilities.`,
    );
  }
  const counts = ctx.trainCounts ?? m.report.perClass.map((c) => c.support);
  if (isImbalanced(counts)) {
    const small = counts.indexOf(Math.min(...counts.filter((v) => v > 0)));
    const large = counts.indexOf(Math.max(...counts));
    recommendations.push(`class imbalance: ${m.classes[large]} has ${counts[large]} ${ctx.trainCounts ? 'training' : 'test'} images, ${m.classes[small]} ${counts[small]}; keep class weights on and look at per-class figures, not accuracy alone.`);
  }
  if (m.latencyMs.p95 >= thresholds.maxP95LatencyMs) {
    recommendations.push(`p95 latency ${m.latencyMs.p95.toFixed(1)} ms is over ${thresholds.maxP95LatencyMs} ms: try a smaller model or a GPU backend.`);
  }

  const evaluated = ctx.evaluatedSplits ?? ['test'];
  const leaking = (ctx.crossSplit ?? []).filter((g) => g.splits.some((s) => evaluated.includes(s)) && g.splits.some((s) => !evaluated.includes(s)));
  const leakageWarning = leaking.length
    ? `${leaking.length} group${leaking.length === 1 ? '' : 's'} of duplicate images (${leaking.filter((g) => g.kind === 'exact').length} exact, ${leaking.filter((g) => g.kind === 'near').length} near) cross from training or validation into the ${evaluated.join('/')} split: these figures are optimistic. Re-import with dedupe "keep-together" or "drop" and retrain.`
    : null;
  if (leakageWarning) recommendations.unshift('leakage: duplicates cross into the evaluated split; re-import with dedupe on and retrain before trusting these figures.');

  return {
    verdict: verdictFor(accuracy, sensitivityChecks.every((c) => c.passed)),
    passed: checks.every((c) => c.passed),
    thresholds,
    checks,
    recommendations,
    leakageWarning,
  };
}
