/**
 * scikit-learn's `classification_report` (and `precision_recall_fscore_support` with `labels=range(K)`), plus
 * specificity, computed from a confusion matrix. Every ratio with a zero denominator takes the `zeroDivision` value
 * (scikit-learn's `zero_division`, 0 by default), so a class that is never predicted or has no examples gets defined
 * numbers, never NaN.
 */
import type { ConfusionMatrix } from './confusion';

export type ZeroDivision = 0 | 1;

export interface ClassMetrics {
  precision: number;
  /** Sensitivity. */
  recall: number;
  /** True-negative rate: TN / (TN + FP). */
  specificity: number;
  f1: number;
  support: number;
}

export interface ClassificationReport {
  perClass: ClassMetrics[];
  /** Unweighted mean over every class, including those with no support (scikit-learn's `macro avg`). */
  macro: ClassMetrics;
  /** Mean weighted by support (`weighted avg`); support is the total. */
  weighted: ClassMetrics;
  accuracy: number;
  /** Number of examples. */
  total: number;
}

const ratio = (num: number, den: number, zd: ZeroDivision) => (den === 0 ? zd : num / den);

/** Per-class figures of one row/column of a confusion matrix (rows true, columns predicted). */
export function classMetrics(m: ConfusionMatrix, k: number, total: number, zd: ZeroDivision = 0): ClassMetrics {
  const tp = m[k][k];
  const support = m[k].reduce((a, b) => a + b, 0);
  const predicted = m.reduce((a, row) => a + row[k], 0);
  const fp = predicted - tp;
  const tn = total - support - fp;
  const precision = ratio(tp, predicted, zd);
  const recall = ratio(tp, support, zd);
  // scikit-learn 1.2: F = 2PR / (P + R) over the zero-division-filled P and R, with 0 when P + R = 0.
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, specificity: ratio(tn, tn + fp, zd), f1, support };
}

export function classificationReport(m: ConfusionMatrix, opts: { zeroDivision?: ZeroDivision } = {}): ClassificationReport {
  const zd = opts.zeroDivision ?? 0;
  const total = m.reduce((a, row) => a + row.reduce((b, c) => b + c, 0), 0);
  if (total === 0) throw new RangeError('there are no examples to report on');
  const perClass = m.map((_, k) => classMetrics(m, k, total, zd));
  const mean = (weight: (c: ClassMetrics) => number): ClassMetrics => {
    const w = perClass.map(weight);
    const sum = w.reduce((a, b) => a + b, 0);
    const avg = (key: 'precision' | 'recall' | 'specificity' | 'f1') => perClass.reduce((a, c, k) => a + c[key] * w[k], 0) / sum;
    return { precision: avg('precision'), recall: avg('recall'), specificity: avg('specificity'), f1: avg('f1'), support: total };
  };
  const correct = m.reduce((a, row, k) => a + row[k], 0);
  return { perClass, macro: mean(() => 1), weighted: mean((c) => c.support), accuracy: correct / total, total };
}
