import { describe, expect, it } from 'vitest';
import { softmax } from '../../src/core/metrics/calibration';
import { evaluate } from '../../src/core/metrics/evaluation';
import { evaluationMetricsJson, evaluationReportMarkdown } from '../../src/core/metrics/files';
import { medicalValidation } from '../../src/core/metrics/medical';
import { checkTargetSensitivity, decide, exportOperatingPoint, fitOperatingPoint, OPERATING_POINT_RULE, operatingPointOf } from '../../src/core/metrics/operating-point';
import { describeModel, parseMetadata } from '../../src/core/export/metadata';
import { mulberry32 } from '../../src/core/random';

/** Logits whose softmax is exactly these probability rows (log p; the rows sum to 1). */
const logitsOf = (rows: number[][]) => rows.flatMap((r) => r.map(Math.log));

describe('the screening decision rule', () => {
  it('predicts the firing tumour class with the highest p / t, else the argmax', () => {
    // Classes glioma, meningioma, notumor; thresholds 0.2 and 0.5 on the tumour classes, none on notumor.
    const t = [0.2, 0.5, null];
    const rows = [
      [0.1, 0.1, 0.8], // nothing fires: argmax notumor
      [0.25, 0.05, 0.7], // glioma fires (0.25 ≥ 0.2) against notumor's argmax
      [0.3, 0.6, 0.1], // both fire: 0.3/0.2 = 1.5 beats 0.6/0.5 = 1.2 → glioma, though meningioma is the argmax
      [0.15, 0.45, 0.4], // nothing fires: argmax meningioma
      [0.2, 0.5, 0.3], // both exactly at their thresholds: scores tie at 1, the lower index wins
    ];
    expect(Array.from(decide(rows.flat(), 3, t))).toEqual([2, 0, 0, 1, 0]);
    // Without thresholds it is the argmax.
    expect(Array.from(decide(rows.flat(), 3, [null, null, null]))).toEqual([2, 2, 1, 1, 1]);
  });
});

describe('fitting the operating point', () => {
  it('takes the highest threshold that lets the target share of each tumour class fire (two classes, exact numbers)', () => {
    // Four glioma validation images with p(glioma) 0.9, 0.8, 0.4, 0.3 and four notumor ones.
    const rows = [
      [0.9, 0.1],
      [0.8, 0.2],
      [0.4, 0.6],
      [0.3, 0.7],
      [0.2, 0.8],
      [0.45, 0.55],
      [0.1, 0.9],
      [0.05, 0.95],
    ];
    const labels = [0, 0, 0, 0, 1, 1, 1, 1];
    const op = fitOperatingPoint(['glioma', 'notumor'], labels, logitsOf(rows), { targetSensitivity: 0.75 });
    expect(op.tumourClasses).toEqual(['glioma']);
    // 3 of 4 must fire: the third-highest, 0.4. notumor has none.
    expect(op.thresholds[0]).toBeCloseTo(0.4, 12);
    expect(op.thresholds[1]).toBeNull();
    expect(op.validationSensitivity[0]).toBe(0.75);
    // notumor image 6 (0.45 ≥ 0.4) is now called glioma: 3 of 4 notumor stay.
    expect(op.validationSensitivity[1]).toBe(0.75);
    expect(op.unreached).toEqual([]);
    expect(op.validationImages).toBe(8);
    // At 95 %, all four must fire: the lowest, 0.3.
    const strict = fitOperatingPoint(['glioma', 'notumor'], labels, logitsOf(rows));
    expect(strict.targetSensitivity).toBe(0.95);
    expect(strict.thresholds[0]).toBeCloseTo(0.3, 12);
    expect(strict.validationSensitivity[0]).toBe(1);
  });

  it('gives a tumour class without validation images no threshold (argmax only) and names it', () => {
    const rows = [
      [0.7, 0.2, 0.1],
      [0.6, 0.3, 0.1],
      [0.1, 0.1, 0.8],
    ];
    const op = fitOperatingPoint(['glioma', 'meningioma', 'no_tumor'], [0, 0, 2], logitsOf(rows));
    expect(op.tumourClasses).toEqual(['glioma', 'meningioma']);
    expect(op.thresholds[1]).toBeNull();
    expect(op.validationSensitivity[1]).toBeNull();
    expect(op.withoutValidation).toEqual(['meningioma']);
    expect(op.thresholds[0]).toBeCloseTo(0.6, 12);
    expect(op.unreached).toEqual([]);
  });

  it('reports an unreachable target with the sensitivity it got instead of pretending', () => {
    // Two tumour classes whose images fire for each other: at target 100 % each is at its lowest threshold
    // (a: 0.5, b: 0.3), and the a image (0.5, 0.45) scores 1.5 for b, the b image (0.6, 0.3) 1.2 for a.
    const rows = [
      [0.5, 0.45, 0.05],
      [0.9, 0.05, 0.05],
      [0.05, 0.9, 0.05],
      [0.6, 0.3, 0.1],
      [0.1, 0.1, 0.8],
    ];
    const op = fitOperatingPoint(['a', 'b', 'notumor'], [0, 0, 1, 1, 2], logitsOf(rows), { targetSensitivity: 1 });
    expect(op.thresholds[0]).toBeCloseTo(0.5, 12);
    expect(op.thresholds[1]).toBeCloseTo(0.3, 12);
    expect(op.validationSensitivity.slice(0, 2)).toEqual([0.5, 0.5]);
    expect(op.unreached).toEqual(['a', 'b']);
  });

  it('meets the target on every tumour class of a noisy 4-class validation set, through the competition between them', () => {
    const rand = mulberry32(11);
    const classes = ['glioma', 'meningioma', 'notumor', 'pituitary'];
    const labels: number[] = [];
    const logits: number[] = [];
    for (let i = 0; i < 400; i++) {
      const y = Math.floor(rand() * 4);
      labels.push(y);
      // Tumours are told apart from each other but often taken for notumor, whose logit is as high as the true
      // class's: plain argmax misses about half of them.
      for (let k = 0; k < 4; k++) logits.push(rand() * 2 + (k === y ? 3 : 0) + (k === 2 ? 3 : 0));
    }
    const argmax = decide(softmax(logits, 4), 4, [null, null, null, null]);
    const recallOf = (pred: Int32Array, k: number) => labels.filter((l, i) => l === k && pred[i] === k).length / labels.filter((l) => l === k).length;
    expect(recallOf(argmax, 0)).toBeLessThan(0.8);
    const op = fitOperatingPoint(classes, labels, logits, { targetSensitivity: 0.9 });
    const screened = decide(softmax(logits, 4), 4, op.thresholds);
    for (const k of [0, 1, 3]) {
      expect(op.thresholds[k]).not.toBeNull();
      expect(recallOf(screened, k)).toBeGreaterThanOrEqual(0.9);
      expect(op.validationSensitivity[k]).toBe(recallOf(screened, k));
    }
    expect(op.thresholds[2]).toBeNull();
    expect(op.unreached).toEqual([]);
    // The price: notumor images are rarely taken for tumours here (their tumour probabilities are low).
    expect(op.validationSensitivity[2]).toBeGreaterThan(0.95);
  });

  it('refuses a target that is not a fraction in (0, 1], and unknown tumour classes, in words', () => {
    for (const bad of [0, -0.1, 1.5, Number.NaN]) {
      expect(checkTargetSensitivity(bad)).toMatch(/fraction above 0 and at most 1/);
      expect(() => fitOperatingPoint(['a', 'b'], [0], logitsOf([[0.6, 0.4]]), { targetSensitivity: bad })).toThrow(/target sensitivity must be a fraction/);
    }
    expect(checkTargetSensitivity(1)).toBeNull();
    expect(() => fitOperatingPoint(['a', 'b'], [0], logitsOf([[0.6, 0.4]]), { tumourClasses: ['c'] })).toThrow(/tumour classes c are not among/);
  });
});

describe('evaluation at the operating point', () => {
  const classes = ['glioma', 'notumor'];
  // Validation: glioma images at p(glioma) 0.7, 0.35; notumor at 0.2. Target 100 % → threshold 0.35.
  const val = { labels: [0, 0, 1], logits: logitsOf([[0.7, 0.3], [0.35, 0.65], [0.2, 0.8]]) };
  // Test: the argmax misses the glioma image at 0.4; the threshold catches it and raises one false alarm (0.38).
  const test = { labels: [0, 0, 1, 1, 1], logits: logitsOf([[0.9, 0.1], [0.4, 0.6], [0.38, 0.62], [0.1, 0.9], [0.3, 0.7]]) };
  const base = { classes, ...test, latencyMs: [1, 2], throughput: 10, bootstrap: { resamples: 50 } };

  it('shows the thresholded figures next to the argmax ones, in the metrics, the JSON and the report', () => {
    const m = evaluate({ ...base, val, screening: { targetSensitivity: 1 } });
    expect(m.report.accuracy).toBeCloseTo(4 / 5, 12);
    expect(m.report.perClass[0].recall).toBe(0.5);
    expect(m.operatingPoint!.thresholds[0]).toBeCloseTo(0.35, 12);
    expect(m.screening!.confusion).toEqual([
      [2, 0],
      [1, 2],
    ]);
    expect(m.screening!.report.perClass[0].recall).toBe(1);
    expect(m.screening!.report.perClass[0].specificity).toBeCloseTo(2 / 3, 12);
    expect(m.screening!.report.accuracy).toBeCloseTo(4 / 5, 12);
    const json = evaluationMetricsJson(m) as Record<string, any>;
    expect(json.operating_point.target_sensitivity).toBe(1);
    expect(json.operating_point.thresholds.glioma).toBeCloseTo(0.35, 12);
    expect(json.operating_point.thresholds.notumor).toBeNull();
    expect(json.operating_point.per_class.glioma.recall).toBe(1);
    expect(json.operating_point.confusion_matrix).toEqual(m.screening!.confusion);
    const md = evaluationReportMarkdown(m, medicalValidation(m), { runId: 'r', model: 'x', data: 'test split', backend: 'cpu', date: 'now' });
    expect(md).toMatch(/## Screening operating point \(target sensitivity 100\.0 %/);
    expect(md).toMatch(/\| glioma \| 0\.350 \| 1\.000 \| 1\.000 \| 0\.500 \| 0\.667 \| 1\.000 \|/);
  });

  it('uses a fitted operating point (an exported model’s) when there is no validation split, and has none otherwise', () => {
    const fitted = fitOperatingPoint(classes, val.labels, val.logits, { targetSensitivity: 1 });
    const m = evaluate({ ...base, fitted: { temperature: 1.5, operatingPoint: fitted } });
    expect(m.temperature).toBe(1.5);
    expect(m.calibrationAfterTemperature).not.toBeNull();
    expect(m.screening!.report.perClass[0].recall).toBe(1);
    const none = evaluate(base);
    expect(none.operatingPoint).toBeNull();
    expect(none.screening).toBeNull();
    expect((evaluationMetricsJson(none) as Record<string, unknown>).operating_point).toBeNull();
  });
});

describe('the operating point in an exported model’s metadata', () => {
  const labels = ['glioma', 'notumor'];
  const meta = (operatingPoint: unknown) =>
    JSON.parse(JSON.stringify({ ...describeModel({ modelId: 'simple_cnn', strategy: 'scratch', labels, inputSize: 8, channels: 3, normalization: { mean: [0.5, 0.5, 0.5], std: [0.2, 0.2, 0.2] }, scaling: 'dataset', libraries: {} }), operatingPoint }));

  it('round-trips by label into model order, and is checked when read', () => {
    const op = fitOperatingPoint(labels, [0, 0, 1], logitsOf([[0.7, 0.3], [0.35, 0.65], [0.2, 0.8]]), { targetSensitivity: 1 });
    const exported = exportOperatingPoint(op, 1.25, labels);
    expect(exported).toMatchObject({ rule: OPERATING_POINT_RULE, targetSensitivity: 1, temperature: 1.25, validationImages: 3, thresholds: { glioma: op.thresholds[0], notumor: null } });
    const read = parseMetadata(meta(exported)).operatingPoint!;
    expect(operatingPointOf(read, labels)).toMatchObject({ thresholds: op.thresholds, tumourClasses: ['glioma'], validationSensitivity: op.validationSensitivity, unreached: [] });
    expect(() => parseMetadata(meta({ ...exported, thresholds: { glioma: 1.5, notumor: null } }))).toThrow(/"operatingPoint" "thresholds" must give each label a probability in \(0, 1\] or null/);
    expect(() => parseMetadata(meta({ ...exported, targetSensitivity: 95 }))).toThrow(/"operatingPoint" "targetSensitivity" must be a fraction/);
  });
});
