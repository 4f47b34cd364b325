import { describe, expect, it } from 'vitest';
import { bootstrapIntervals, latencySummary } from '../../src/core/metrics/bootstrap';
import { binOf, calibration, confidenceHistogram, fitTemperature, softmax } from '../../src/core/metrics/calibration';
import { evaluate, type EvaluationInput } from '../../src/core/metrics/evaluation';
import { evaluationMetricsJson, evaluationReportMarkdown, medicalValidationJson } from '../../src/core/metrics/files';
import { stratifiedGroupKFold } from '../../src/core/metrics/kfold';
import { isNoTumourClass, medicalValidation, verdictFor } from '../../src/core/metrics/medical';
import { mulberry32 } from '../../src/core/random';

describe('ECE on known inputs', () => {
  it('is 0 when confidence equals accuracy in every bin, and |acc − conf| weighted by bin size otherwise', () => {
    // Two examples at confidence 0.75, one right and one wrong: accuracy 0.5 against 0.75 in that bin.
    const probs = [0.75, 0.25, 0.25, 0.75];
    expect(calibration([0, 0], probs, 2).ece).toBeCloseTo(0.25, 12);
    // Four at 0.75, three right: perfectly calibrated.
    expect(calibration([0, 0, 0, 1], [0.75, 0.25, 0.75, 0.25, 0.75, 0.25, 0.75, 0.25], 2).ece).toBeCloseTo(0, 12);
    // Confidence 1 and right: no error; bins sum to the examples.
    const c = calibration([1, 0, 0], [0, 1, 0.9, 0.1, 0.6, 0.4], 2);
    expect(c.ece).toBeCloseTo((1 / 3) * 0.1 + (1 / 3) * 0.4, 12);
    expect(c.bins.reduce((a, b) => a + b.count, 0)).toBe(3);
    expect(c.bins).toHaveLength(15);
  });

  it('puts a value on a bin edge in the lower bin, as (lower, upper] does', () => {
    expect(binOf(0.2, 15)).toBe(2); // 0.2 * 15 rounds to 3.0000000000000004
    expect(binOf(1, 15)).toBe(14);
    expect(binOf(0, 15)).toBe(0);
    expect(binOf(0.2000001, 15)).toBe(3);
  });

  it('temperature scaling lowers an over-confident model’s ECE without changing its predictions', () => {
    const rand = mulberry32(7);
    const n = 500;
    const labels: number[] = [];
    const logits: number[] = [];
    for (let i = 0; i < n; i++) {
      const y = Math.floor(rand() * 3);
      labels.push(y);
      // 60 % of the time the logit favours the true class, but by a margin that claims ~99 % confidence.
      const favoured = rand() < 0.6 ? y : (y + 1) % 3;
      for (let k = 0; k < 3; k++) logits.push(k === favoured ? 6 : 0);
    }
    const T = fitTemperature(labels, logits, 3);
    expect(T).toBeGreaterThan(2);
    const before = calibration(labels, softmax(logits, 3), 3).ece;
    const after = calibration(labels, softmax(logits, 3, T), 3).ece;
    expect(after).toBeLessThan(before / 4);
  });

  it('confidence histograms count right and wrong predictions apart', () => {
    const h = confidenceHistogram([0, 1, 1], [0.95, 0.05, 0.7, 0.3, 0.45, 0.55], 2, 10);
    expect(h.correct[9]).toBe(1); // 0.95, right
    expect(h.wrong[6]).toBe(1); // 0.7, predicted 0 for a 1
    expect(h.correct[5]).toBe(1); // 0.55, right
    expect(h.correct.reduce((a, b) => a + b) + h.wrong.reduce((a, b) => a + b)).toBe(3);
  });
});

describe('bootstrap', () => {
  const mean = (values: number[]) => (ix: Int32Array) => Array.from(ix, (i) => values[i]).reduce((a, b) => a + b, 0) / ix.length;

  it('is seeded: the same seed gives the same interval, another seed another one', () => {
    // Continuous values, so that two seeds' percentiles cannot coincide by landing on the same discrete value.
    const rand = mulberry32(11);
    const values = Array.from({ length: 200 }, () => rand());
    const run = (seed: number) => bootstrapIntervals(values.length, (ix) => ix, { m: mean(values) }, { seed }).m;
    expect(run(1)).toEqual(run(1));
    expect(run(1)).not.toEqual(run(2));
  });

  it('gives a degenerate interval when every example agrees, and ~±1.96 standard errors for a proportion', () => {
    const all = new Array(50).fill(1);
    expect(bootstrapIntervals(50, (ix) => ix, { acc: mean(all) }).acc).toEqual({ low: 1, high: 1, resamples: 1000 });
    // p = 0.5, n = 1000: the normal approximation's half-width is 1.96·√(p(1−p)/n) = 0.031.
    const half = Array.from({ length: 1000 }, (_, i) => i % 2);
    const ci = bootstrapIntervals(1000, (ix) => ix, { acc: mean(half) }, { seed: 3 }).acc!;
    expect(ci.low).toBeGreaterThan(0.5 - 0.031 - 0.008);
    expect(ci.low).toBeLessThan(0.5 - 0.031 + 0.008);
    expect(ci.high).toBeGreaterThan(0.5 + 0.031 - 0.008);
    expect(ci.high).toBeLessThan(0.5 + 0.031 + 0.008);
  });

  it('leaves out the draws where a statistic is undefined', () => {
    // One example of the rare class in 20: about (19/20)^20 ≈ 36 % of draws miss it.
    const rare = Array.from({ length: 20 }, (_, i) => (i === 0 ? 1 : 0));
    const ci = bootstrapIntervals(20, (ix) => Array.from(ix, (i) => rare[i]), { seen: (d) => (d.includes(1) ? 1 : null) }, { seed: 5 }).seen!;
    expect(ci.resamples).toBeGreaterThan(550);
    expect(ci.resamples).toBeLessThan(720);
    expect(ci).toMatchObject({ low: 1, high: 1 });
  });

  it('latency p50 and p95', () => {
    expect(latencySummary(Array.from({ length: 101 }, (_, i) => i))).toEqual({ p50: 50, p95: 95, mean: 50 });
  });
});

/** Logits of a 3-class model that is right on `rightRate` of each class (the wrong ones go to the next class). */
function fakeOutputs(perClass: number[], rightRate: number[], seed: number) {
  const rand = mulberry32(seed);
  const labels: number[] = [];
  const logits: number[] = [];
  perClass.forEach((count, y) => {
    for (let i = 0; i < count; i++) {
      labels.push(y);
      const p = i < Math.round(count * rightRate[y]) ? y : (y + 1) % perClass.length;
      for (let k = 0; k < perClass.length; k++) logits.push((k === p ? 3 : 0) + rand());
    }
  });
  return { labels, logits };
}

function input(perClass: number[], rightRate: number[], latency = 20): EvaluationInput {
  return {
    classes: ['glioma', 'meningioma', 'notumor'],
    ...fakeOutputs(perClass, rightRate, 1),
    val: fakeOutputs(perClass, rightRate, 2),
    latencyMs: Array.from({ length: 40 }, (_, i) => latency + i / 10),
    throughput: 250,
    bootstrap: { resamples: 200, seed: 1 },
  };
}

describe('evaluation and medical validation', () => {
  it('assembles every figure and writes the JSON with the contract’s key names', () => {
    const m = evaluate(input([30, 30, 30], [0.9, 0.8, 1]));
    expect(m.report.accuracy).toBeCloseTo(81 / 90, 12);
    expect(m.confusion[1]).toEqual([0, 24, 6]);
    expect(m.ci95.accuracy!.low).toBeLessThan(m.report.accuracy);
    expect(m.ci95.accuracy!.high).toBeGreaterThan(m.report.accuracy);
    expect(m.ci95.sensitivity[2]).toMatchObject({ low: 1, high: 1 });
    expect(m.temperature).not.toBeNull();
    const json = evaluationMetricsJson(m);
    for (const key of ['accuracy', 'per_class', 'macro_avg', 'weighted_avg', 'confusion_matrix', 'roc_auc', 'ece', 'ece_after_temperature', 'ci95', 'latency_ms']) expect(json).toHaveProperty(key);
    expect(Object.keys(json.per_class.glioma).sort()).toEqual(['f1', 'precision', 'recall', 'specificity', 'support']);
    expect(Object.keys(json.latency_ms)).toEqual(expect.arrayContaining(['p50', 'p95']));
    // Survives JSON: no NaN or Infinity turns into null.
    const text = JSON.stringify(json);
    expect(JSON.parse(text)).toEqual(json);
  });

  it('grades by accuracy and holds each tumour class to the sensitivity threshold', () => {
    expect(verdictFor(0.93, true)).toBe('Excellent');
    expect(verdictFor(0.87, true)).toBe('Good');
    expect(verdictFor(0.8, true)).toBe('Needs improvement');
    expect(verdictFor(0.95, false)).toBe('Needs improvement');
    expect(['notumor', 'no_tumour', 'No Tumor', 'normal'].every(isNoTumourClass)).toBe(true);
    expect(isNoTumourClass('glioma')).toBe(false);

    const good = medicalValidation(evaluate(input([30, 30, 30], [0.9, 0.9, 0.9])));
    expect(good.verdict).toBe('Excellent');
    expect(good.thresholds.tumourClasses).toEqual(['glioma', 'meningioma']);
    expect(good.checks.map((c) => c.name)).toEqual(['accuracy', 'sensitivity glioma', 'sensitivity meningioma', 'p95 latency (ms)']);

    // Meningioma at 70 %: accuracy 86.7 % would be Good, but a missed-tumour rate this high is not.
    const weak = medicalValidation(evaluate(input([30, 30, 30], [1, 0.7, 0.9])));
    expect(weak.verdict).toBe('Needs improvement');
    expect(weak.recommendations.join('\n')).toMatch(/sensitivity meningioma is 70\.0 %/);
    expect(weak.recommendations.join('\n')).toMatch(/meningioma is taken for notumor in 9 of 30 cases/);

    const custom = medicalValidation(evaluate(input([30, 30, 30], [1, 0.7, 0.9], 150)), { thresholds: { minSensitivity: 0.6, maxP95LatencyMs: 200 } });
    expect(custom.verdict).toBe('Good');
    expect(custom.passed).toBe(true);
    expect(() => medicalValidation(evaluate(input([30, 30, 30], [1, 1, 1])), { thresholds: { tumourClasses: ['pituitary'] } })).toThrow(/pituitary/);
  });

  it('recommends on imbalance and slow inference, and warns about leakage at the top of the report', () => {
    const m = evaluate(input([60, 20, 20], [0.95, 0.95, 0.95], 120));
    const v = medicalValidation(m, {
      crossSplit: [
        { kind: 'exact', members: ['glioma/a.jpg', 'glioma/b.jpg'], splits: ['train', 'test'] },
        { kind: 'near', members: ['notumor/c.jpg', 'notumor/d.jpg'], splits: ['train', 'val'] },
      ],
    });
    expect(v.leakageWarning).toMatch(/^1 group of duplicate images \(1 exact, 0 near\)/);
    expect(v.recommendations.join('\n')).toMatch(/class imbalance: glioma has 60 test images/);
    expect(v.recommendations.join('\n')).toMatch(/p95 latency 123\.\d ms is over 100 ms/);
    expect(v.passed).toBe(false);
    const md = evaluationReportMarkdown(m, v, { runId: 'run-1', model: 'simple_cnn', data: 'test split', backend: 'cpu', date: '2026-11-27' });
    expect(md.split('\n')[2]).toMatch(/^> \*\*Warning — leakage:\*\* 1 group/);
    expect(md).toContain('| glioma | ');
    expect(JSON.parse(JSON.stringify(medicalValidationJson(v))).leakage_warning).toBe(v.leakageWarning);
    expect(medicalValidation(m).leakageWarning).toBeNull();
  });
});

describe('stratified group k-fold', () => {
  const items = Array.from({ length: 100 }, (_, i) => ({ key: `f${i}`, label: i < 60 ? 0 : i < 90 ? 1 : 2, group: i % 10 < 4 ? `p${Math.floor(i / 2)}` : undefined }));

  it('partitions the items, keeps groups whole and stratifies', () => {
    const folds = stratifiedGroupKFold(items, 5, 42);
    const all = folds.flatMap((f) => f.test).sort((a, b) => a - b);
    expect(all).toEqual(items.map((_, i) => i));
    for (const f of folds) {
      expect(f.train.length + f.test.length).toBe(100);
      const count = (label: number) => f.test.filter((i) => items[i].label === label).length;
      expect(Math.abs(count(0) - 12)).toBeLessThanOrEqual(1);
      expect(Math.abs(count(1) - 6)).toBeLessThanOrEqual(1);
      expect(count(2)).toBe(2);
      const groups = new Set(f.test.map((i) => items[i].group).filter(Boolean));
      for (const g of groups) expect(f.train.some((i) => items[i].group === g)).toBe(false);
    }
    expect(stratifiedGroupKFold(items, 5, 42)).toEqual(folds);
    expect(stratifiedGroupKFold([...items].reverse(), 5, 42).map((f) => f.test.map((i) => 99 - i).sort((a, b) => a - b))).toEqual(folds.map((f) => f.test));
  });

  it('refuses fewer groups than folds', () => {
    expect(() => stratifiedGroupKFold(items.slice(0, 3), 5, 1)).toThrow(/at least 5 groups/);
    expect(() => stratifiedGroupKFold(items, 1, 1)).toThrow(/from 2/);
  });
});
