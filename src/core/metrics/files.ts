/**
 * The report files of an evaluation, mirroring the seed's `results/`: `evaluation_metrics.json` (key names are a
 * contract: see docs and the issue), `medical_validation.json`, `evaluation_report.md` and `predictions.csv`.
 * Patient image file names appear only when the user opts in (`reportImageNames`); otherwise each image is named
 * by a neutral id, so a report can be handed on without them.
 */
import { csvText } from '../csv';
import { mdText } from '../markdown';
import type { Interval } from './bootstrap';
import { TEMPERATURE_RANGE } from './calibration';
import type { EvaluatedImage, EvaluationMetrics, Robustness, RobustnessRow } from './evaluation';
import type { MedicalValidation } from './medical-record';
import type { ClassMetrics } from './report';
import { OPERATING_POINT_RULE } from './operating-point';

const perClassJson = (c: ClassMetrics) => ({ precision: c.precision, recall: c.recall, specificity: c.specificity, f1: c.f1, support: c.support });
const interval = (i: Interval | null) => (i ? [i.low, i.high] : null);
const byClass = <T>(classes: string[], values: T[]) => Object.fromEntries(classes.map((c, k) => [c, values[k]]));

/** The robustness rows grouped by corruption, in the order measured. */
function byPerturbation(r: Robustness): RobustnessRow[][] {
  const groups = new Map<string, RobustnessRow[]>();
  for (const row of r.rows) groups.set(row.kind, [...(groups.get(row.kind) ?? []), row]);
  return [...groups.values()];
}

export function evaluationMetricsJson(m: EvaluationMetrics, robustness?: Robustness) {
  return {
    classes: m.classes,
    accuracy: m.report.accuracy,
    per_class: byClass(m.classes, m.report.perClass.map(perClassJson)),
    macro_avg: perClassJson(m.report.macro),
    weighted_avg: perClassJson(m.report.weighted),
    /** Rows true class, columns predicted, in the order of `classes`. */
    confusion_matrix: m.confusion,
    confusion_matrix_normalized: m.confusionNormalized,
    roc_auc: { per_class: byClass(m.classes, m.roc.auc), macro: m.roc.macroAuc },
    ece: m.calibration.ece,
    ece_after_temperature: m.calibrationAfterTemperature?.ece ?? null,
    temperature: m.temperature,
    /** The screening thresholds and the figures under them, beside the argmax figures above (null without validation). */
    operating_point: m.operatingPoint && m.screening ? operatingPointJson(m) : null,
    ci95: {
      accuracy: interval(m.ci95.accuracy),
      macro_f1: interval(m.ci95.macroF1),
      sensitivity: byClass(m.classes, m.ci95.sensitivity.map(interval)),
      resamples: m.bootstrap.resamples,
      seed: m.bootstrap.seed,
    },
    latency_ms: { p50: m.latencyMs.p50, p95: m.latencyMs.p95, mean: m.latencyMs.mean },
    throughput_images_per_s: m.throughput,
    roc_curves: byClass(m.classes, m.roc.curves.map((c) => (c ? { fpr: c.fpr, tpr: c.tpr } : null))),
    reliability: { before: m.calibration.bins, after: m.calibrationAfterTemperature?.bins ?? null },
    confidence_histogram: m.confidence,
    ...(robustness
      ? {
          robustness: {
            baseline_accuracy: robustness.baseline,
            images: robustness.images,
            seed: robustness.seed,
            backend: robustness.backend,
            perturbations: Object.fromEntries(byPerturbation(robustness).map((rows) => [rows[0].kind, { label: rows[0].label, unit: rows[0].unit, severities: rows.map((r) => ({ severity: r.severity, level: r.level, accuracy: r.accuracy })) }])),
          },
        }
      : {}),
  };
}

function operatingPointJson(m: EvaluationMetrics) {
  const op = m.operatingPoint!;
  const s = m.screening!;
  return {
    rule: OPERATING_POINT_RULE,
    target_sensitivity: op.targetSensitivity,
    tumour_classes: op.tumourClasses,
    thresholds: byClass(m.classes, op.thresholds),
    validation_sensitivity: byClass(m.classes, op.validationSensitivity),
    validation_images: op.validationImages,
    unreached: op.unreached,
    without_validation: op.withoutValidation,
    accuracy: s.report.accuracy,
    per_class: byClass(m.classes, s.report.perClass.map(perClassJson)),
    confusion_matrix: s.confusion,
    confusion_matrix_normalized: s.confusionNormalized,
  };
}

export function medicalValidationJson(v: MedicalValidation) {
  return {
    leakage_warning: v.leakageWarning,
    verdict: v.verdict,
    passed: v.passed,
    thresholds: { min_sensitivity: v.thresholds.minSensitivity, min_accuracy: v.thresholds.minAccuracy, max_p95_latency_ms: v.thresholds.maxP95LatencyMs, tumour_classes: v.thresholds.tumourClasses },
    checks: v.checks,
    recommendations: v.recommendations,
  };
}

/**
 * The name each evaluated image gets in the report files: its path in the dataset only when `includeFileNames`,
 * else `image-0001`… in the evaluation's order (the same id in every file of one report).
 */
export function reportImageNames(predictions: readonly EvaluatedImage[], includeFileNames: boolean): string[] {
  const width = Math.max(4, String(predictions.length).length);
  return predictions.map((x, j) => (includeFileNames ? x.key : `image-${String(j + 1).padStart(width, '0')}`));
}

/**
 * One row per evaluated image: its name, true and predicted (argmax) class, the class at the screening operating
 * point when the evaluation has one, and the model's probability of each class.
 */
export function predictionsCsv(classes: string[], predictions: readonly EvaluatedImage[], names: string[]): string {
  const screened = predictions.some((x) => x.screened !== undefined);
  return csvText(
    ['image', 'true', 'predicted', ...(screened ? ['predicted_operating_point'] : []), ...classes.map((c) => `p_${c}`)],
    predictions.map((x, j) => [names[j], classes[x.label], classes[x.predicted], ...(screened ? [x.screened === undefined ? '' : classes[x.screened]] : []), ...x.probs.map((p) => p.toFixed(6))]),
  );
}

/** Misclassified images, most confident first (the mistakes a reader should look at first). */
export function misclassified(classes: string[], predictions: readonly EvaluatedImage[], names: string[]): { image: string; true: string; predicted: string; confidence: number }[] {
  return predictions
    .map((x, j) => ({ image: names[j], true: classes[x.label], predicted: classes[x.predicted], confidence: x.probs[x.predicted], wrong: x.label !== x.predicted }))
    .filter((x) => x.wrong)
    .map(({ wrong: _, ...x }) => x)
    .sort((a, b) => b.confidence - a.confidence);
}

export interface ReportContext {
  runId: string;
  model: string;
  /** What was evaluated, e.g. "test split of brain-mri-224 (fingerprint 3f2a…)". */
  data: string;
  backend: string;
  date: string;
  /** How per-image latency was measured, in words. */
  latencyMethod?: string;
  /** Class folders of an external test set that the model does not know: not evaluated, listed at the top. */
  unknownClasses?: { name: string; images: number }[];
  /** Chart files written beside the report, linked from it. */
  charts?: string[];
  /** The misclassified images (see `misclassified`), named as the report names them. */
  misclassified?: ReturnType<typeof misclassified>;
}

/** The misclassified images the report's table lists; predictions.csv has them all. */
const MISCLASSIFIED_SHOWN = 50;

const p = (x: number) => `${(x * 100).toFixed(1)} %`;
const ci = (i: Interval | null) => (i ? ` (95 % CI ${p(i.low)}–${p(i.high)})` : '');
const f3 = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));

/** The operating point's thresholds and figures beside the argmax ones (Markdown lines). */
function operatingPointMarkdown(m: EvaluationMetrics): string[] {
  const op = m.operatingPoint!;
  const s = m.screening!;
  const out = [
    `## Screening operating point (target sensitivity ${p(op.targetSensitivity)} per tumour class, fitted on ${op.validationImages} validation images)`,
    '',
    `Rule: ${OPERATING_POINT_RULE}`,
    '',
    `- Accuracy: ${p(s.report.accuracy)} at the operating point, ${p(m.report.accuracy)} at the argmax`,
  ];
  if (op.unreached.length) out.push(`- Not reached on validation: ${op.unreached.map((c) => `${mdText(c)} (${p(op.validationSensitivity[m.classes.indexOf(c)]!)})`).join(', ')}`);
  if (op.withoutValidation.length) out.push(`- No validation images, so no threshold (argmax only): ${op.withoutValidation.map(mdText).join(', ')}`);
  out.push('', '| class | threshold | validation sensitivity | sensitivity (operating point) | sensitivity (argmax) | specificity (operating point) | specificity (argmax) |', '| --- | --- | --- | --- | --- | --- | --- |');
  m.classes.forEach((c, k) => {
    const t = op.thresholds[k];
    out.push(`| ${mdText(c)} | ${t === null ? '–' : f3(t)} | ${f3(op.validationSensitivity[k])} | ${f3(s.report.perClass[k].recall)} | ${f3(m.report.perClass[k].recall)} | ${f3(s.report.perClass[k].specificity)} | ${f3(m.report.perClass[k].specificity)} |`);
  });
  out.push('', '### Confusion matrix at the operating point (rows true, columns predicted)', '', `| true \\ predicted | ${m.classes.map(mdText).join(' | ')} |`, `| --- |${' --- |'.repeat(m.classes.length)}`);
  s.confusion.forEach((row, t) => out.push(`| ${mdText(m.classes[t])} | ${row.map((v, q) => `${v} (${p(s.confusionNormalized[t][q])})`).join(' | ')} |`));
  return out;
}

export function evaluationReportMarkdown(m: EvaluationMetrics, v: MedicalValidation, ctx: ReportContext, robustness?: Robustness): string {
  const out: string[] = ['# Evaluation report', ''];
  if (v.leakageWarning) out.push(`> **Warning — leakage:** ${mdText(v.leakageWarning)}`, '');
  out.push(`Run ${mdText(ctx.runId)} · model ${mdText(ctx.model)} · backend ${mdText(ctx.backend)} · ${mdText(ctx.date)}`, '', `Evaluated on ${mdText(ctx.data)}: ${m.report.total} images.`, '');
  if (ctx.unknownClasses?.length) out.push(`> **Not evaluated:** class folders the model was not trained on: ${ctx.unknownClasses.map((c) => `${mdText(c.name)} (${c.images} images)`).join(', ')}.`, '');
  out.push(`## Verdict: ${mdText(v.verdict)}`, '', '| check | value | threshold | passed |', '| --- | --- | --- | --- |');
  for (const c of v.checks) {
    const value = c.kind === 'max' ? `${c.value.toFixed(1)}` : p(c.value);
    const threshold = c.kind === 'max' ? `< ${c.threshold}` : `≥ ${p(c.threshold)}`;
    out.push(`| ${mdText(c.name)} | ${value} | ${threshold} | ${c.passed ? 'yes' : '**no**'} |`);
  }
  out.push('', '## Summary', '');
  out.push(`- Accuracy: ${p(m.report.accuracy)}${ci(m.ci95.accuracy)}`);
  out.push(`- Macro F1: ${f3(m.report.macro.f1)}${m.ci95.macroF1 ? ` (95 % CI ${f3(m.ci95.macroF1.low)}–${f3(m.ci95.macroF1.high)})` : ''}`);
  out.push(`- Macro ROC AUC (one-vs-rest): ${f3(m.roc.macroAuc)}`);
  const atBound = m.temperature !== null && TEMPERATURE_RANGE.some((b) => Math.abs(Math.log(m.temperature! / b)) < 1e-3);
  out.push(`- ECE (${m.calibration.bins.length} bins): ${f3(m.calibration.ece)}${m.temperature !== null ? `; after temperature scaling (T = ${m.temperature.toFixed(3)}, fitted on validation${atBound ? ', at the end of its search range: the validation split is too small or too easy to fit it' : ''}): ${f3(m.calibrationAfterTemperature?.ece ?? null)}` : ''}`);
  out.push(`- Latency per image: p50 ${m.latencyMs.p50.toFixed(2)} ms, p95 ${m.latencyMs.p95.toFixed(2)} ms${ctx.latencyMethod ? ` (${mdText(ctx.latencyMethod)})` : ''}; batched throughput ${m.throughput.toFixed(1)} images/s`);
  out.push(`- Confidence intervals: percentile bootstrap, ${m.bootstrap.resamples} resamples, seed ${m.bootstrap.seed}`);
  out.push('', '## Per class', '', '| class | precision | recall (sensitivity) | specificity | F1 | ROC AUC | support |', '| --- | --- | --- | --- | --- | --- | --- |');
  m.classes.forEach((c, k) => {
    const r = m.report.perClass[k];
    out.push(`| ${mdText(c)} | ${f3(r.precision)} | ${f3(r.recall)}${ci(m.ci95.sensitivity[k])} | ${f3(r.specificity)} | ${f3(r.f1)} | ${f3(m.roc.auc[k])} | ${r.support} |`);
  });
  for (const [name, r] of [['macro avg', m.report.macro], ['weighted avg', m.report.weighted]] as const) {
    out.push(`| *${name}* | ${f3(r.precision)} | ${f3(r.recall)} | ${f3(r.specificity)} | ${f3(r.f1)} | ${name === 'macro avg' ? f3(m.roc.macroAuc) : ''} | ${r.support} |`);
  }
  if (m.operatingPoint && m.screening) out.push('', ...operatingPointMarkdown(m));
  out.push('', '## Confusion matrix (rows true, columns predicted; count and share of the row)', '', `| true \\ predicted | ${m.classes.map(mdText).join(' | ')} |`, `| --- |${' --- |'.repeat(m.classes.length)}`);
  m.confusion.forEach((row, t) => out.push(`| ${mdText(m.classes[t])} | ${row.map((v, q) => `${v} (${p(m.confusionNormalized[t][q])})`).join(' | ')} |`));
  if (robustness) {
    const groups = byPerturbation(robustness);
    const severities = groups[0]?.map((r) => r.severity) ?? [];
    out.push('', `## Robustness (accuracy on the ${robustness.images} test images, clean ${p(robustness.baseline)}; noise seed ${robustness.seed}; on ${mdText(robustness.backend)})`, '');
    out.push(`| perturbation | level | ${severities.map((s) => `severity ${s}`).join(' | ')} |`, `| --- | --- |${' --- |'.repeat(severities.length)}`);
    for (const rows of groups) out.push(`| ${mdText(rows[0].label)} | ${mdText(rows[0].unit)} | ${rows.map((r) => `${p(r.accuracy)} (${r.level})`).join(' | ')} |`);
  }
  out.push('', '## Recommendations', '');
  out.push(...(v.recommendations.length ? v.recommendations.map((r) => `- ${mdText(r)}`) : ['- none: every check passed and no confusion, calibration or imbalance problem stands out.']));
  if (ctx.misclassified) {
    const shown = ctx.misclassified.slice(0, MISCLASSIFIED_SHOWN);
    out.push('', `## Misclassified images (${ctx.misclassified.length}${shown.length < ctx.misclassified.length ? `, the ${shown.length} most confident shown; predictions.csv lists every image` : ''})`, '');
    if (shown.length) out.push('| image | true | predicted | confidence |', '| --- | --- | --- | --- |', ...shown.map((x) => `| ${mdText(x.image)} | ${mdText(x.true)} | ${mdText(x.predicted)} | ${p(x.confidence)} |`));
    else out.push('none.');
  }
  if (ctx.charts?.length) out.push('', '## Charts', '', ...ctx.charts.map((f) => `![${f.replace(/\.png$/, '').replace(/_/g, ' ')}](${f})`));
  return out.join('\n') + '\n';
}

/**
 * One line on the operating point beside the argmax figures (the CLI prints it): accuracy and each tumour class's
 * sensitivity at the thresholds, the argmax's in brackets. Null without an operating point.
 */
export function operatingPointSummary(m: EvaluationMetrics): string | null {
  const op = m.operatingPoint;
  const s = m.screening;
  if (!op || !s) return null;
  const sens = op.tumourClasses.map((c) => {
    const k = m.classes.indexOf(c);
    return `${c} ${p(s.report.perClass[k].recall)} (${p(m.report.perClass[k].recall)})`;
  });
  const missed = op.unreached.length ? `; target not reached on validation for ${op.unreached.join(', ')}` : '';
  return `operating point (target sensitivity ${p(op.targetSensitivity)}, thresholds fitted on ${op.validationImages} validation images): accuracy ${p(s.report.accuracy)} (argmax ${p(m.report.accuracy)}), sensitivity ${sens.join(', ')}${missed}`;
}
