/**
 * The studio's metrics against scikit-learn's, numpy's and scipy's outputs on the same inputs
 * (tests/fixtures/sklearn/metrics.json, written by make_fixtures.py in that folder).
 */
import { describe, expect, it } from 'vitest';
import fixtures from '../fixtures/sklearn/metrics.json';
import { percentile } from '../../src/core/metrics/bootstrap';
import { calibration, fitTemperature, nll } from '../../src/core/metrics/calibration';
import { confusionMatrix, rowNormalize } from '../../src/core/metrics/confusion';
import { classificationReport, type ClassMetrics } from '../../src/core/metrics/report';
import { auc, rocCurve, rocOneVsRest } from '../../src/core/metrics/roc';

const close = (actual: readonly number[], expected: readonly number[], digits = 12) => {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((v, i) => expect(v).toBeCloseTo(expected[i], digits));
};
const sameMetrics = (actual: ClassMetrics, expected: Omit<ClassMetrics, never>) => {
  for (const key of ['precision', 'recall', 'specificity', 'f1', 'support'] as const) expect(actual[key], key).toBeCloseTo(expected[key], 12);
};

describe(`classification report (against ${fixtures.generator})`, () => {
  for (const c of fixtures.reports) {
    it(`${c.name}, zero_division=${c.zeroDivision}`, () => {
      const m = confusionMatrix(c.yTrue, c.yPred, c.numClasses);
      expect(m).toEqual(c.confusion);
      close(rowNormalize(m).flat(), c.confusionNormalized.flat());
      const r = classificationReport(m, { zeroDivision: c.zeroDivision as 0 | 1 });
      r.perClass.forEach((pc, k) => sameMetrics(pc, c.perClass[k]));
      sameMetrics(r.macro, c.macro);
      sameMetrics(r.weighted, c.weighted);
      expect(r.accuracy).toBeCloseTo(c.accuracy, 12);
      const all = [r.accuracy, ...[r.macro, r.weighted, ...r.perClass].flatMap((x) => Object.values(x))];
      expect(all.every(Number.isFinite)).toBe(true);
    });
  }
});

describe('ROC curves', () => {
  for (const c of fixtures.roc) {
    it(`roc_curve and roc_auc_score: ${c.name}`, () => {
      const curve = rocCurve(c.positive, c.scores);
      expect(curve).not.toBeNull();
      close(curve!.fpr, c.fpr);
      close(curve!.tpr, c.tpr);
      close(curve!.thresholds, c.thresholds);
      expect(auc(curve!.fpr, curve!.tpr)).toBeCloseTo(c.auc, 12);
    });
  }

  it('has no curve without positives or without negatives (scikit-learn: NaN with a warning)', () => {
    expect(rocCurve([false, false], [0.2, 0.4])).toBeNull();
    expect(rocCurve([true, true], [0.2, 0.4])).toBeNull();
  });

  for (const c of fixtures.multiclass) {
    it(`one-vs-rest AUC per class and macro: ${c.name}`, () => {
      const r = rocOneVsRest(c.labels, c.probs, c.numClasses);
      r.auc.forEach((a, k) => (c.auc[k] === null ? expect(a).toBeNull() : expect(a).toBeCloseTo(c.auc[k] as number, 12)));
      expect(r.macroAuc).toBeCloseTo(c.macroAuc, 12);
    });
  }
});

describe('calibration', () => {
  it('ECE over 15 equal-width bins, as Guo et al. bin it', () => {
    const e = fixtures.ece;
    const c = calibration(e.labels, e.probs, e.numClasses);
    expect(c.ece).toBeCloseTo(e.ece, 12);
    expect(c.bins.map((b) => b.count)).toEqual(e.bins.map((b) => b.count));
    close(c.bins.map((b) => b.accuracy), e.bins.map((b) => b.accuracy));
    close(c.bins.map((b) => b.confidence), e.bins.map((b) => b.confidence));
  });

  it('fits the temperature scipy finds for the NLL', () => {
    const t = fixtures.temperature;
    const T = fitTemperature(t.labels, t.logits, t.numClasses);
    expect(T).toBeCloseTo(t.temperature, 5);
    expect(nll(t.labels, t.logits, t.numClasses)).toBeCloseTo(t.nllAtOne, 10);
    expect(nll(t.labels, t.logits, t.numClasses, T)).toBeCloseTo(t.nllAtT, 10);
  });
});

it("percentile is numpy's linear percentile", () => {
  const p = fixtures.percentile;
  close(p.q.map((q) => percentile(p.values, q)), p.expected);
});
