import { describe, expect, it } from 'vitest';
import { CHART_FILES, CHART_SIZE, confusionChart, linear, perClassChart, reliabilityChart, reportCharts, rocChart, shade, type Mark } from '../../src/core/metrics/charts';
import { evaluate } from '../../src/core/metrics/evaluation';

type Text = Extract<Mark, { kind: 'text' }>;
type Rect = Extract<Mark, { kind: 'rect' }>;
const texts = (marks: Mark[]) => marks.filter((m): m is Text => m.kind === 'text').map((m) => m.text);
const inside = (m: Mark) => {
  const pts = m.kind === 'line' ? m.points : m.kind === 'rect' ? [[m.x, m.y], [m.x + m.w, m.y + m.h]] : [[m.x, m.y]];
  return pts.every(([x, y]) => x >= 0 && x <= CHART_SIZE.width && y >= 0 && y <= CHART_SIZE.height);
};

describe('report charts (layout in core, painted by the worker)', () => {
  it('linear maps the domain onto the range, a y axis upside down', () => {
    const y = linear(0, 1, 500, 100);
    expect([y(0), y(0.5), y(1)]).toEqual([500, 300, 100]);
  });

  it('shades a cell from white to dark blue by its share of the row, with readable text', () => {
    expect(shade(0)).toEqual({ fill: 'rgb(255, 255, 255)', text: '#0f172a' });
    expect(shade(1)).toEqual({ fill: 'rgb(30, 58, 138)', text: '#ffffff' });
    expect(shade(2)).toEqual(shade(1));
  });

  it('confusion matrix: one square cell per pair, its count and row share, class labels on both axes', () => {
    const spec = confusionChart(['a', 'b', 'c'], [[5, 1, 0], [0, 3, 3], [2, 0, 8]], [[5 / 6, 1 / 6, 0], [0, 0.5, 0.5], [0.2, 0, 0.8]]);
    const cells = spec.marks.filter((m): m is Rect => m.kind === 'rect');
    expect(cells).toHaveLength(9);
    expect(new Set(cells.map((c) => `${c.w}x${c.h}`)).size).toBe(1);
    expect(cells[0].w).toBe(cells[0].h);
    // Row-major: the second row's cells sit one cell lower than the first's.
    expect(cells[3].y - cells[0].y).toBe(cells[0].h);
    expect(cells[1].x - cells[0].x).toBe(cells[0].w);
    expect(cells[0].fill).toBe(shade(5 / 6).fill);
    const t = texts(spec.marks);
    for (const s of ['5', '83.3 %', '8', '80.0 %', 'predicted class', 'true class']) expect(t).toContain(s);
    expect(t.filter((s) => s === 'b')).toHaveLength(2);
    expect(spec.marks.every(inside)).toBe(true);
  });

  it('per-class bars: three per class, heights proportional to the values on a shared 0–1 axis', () => {
    const spec = perClassChart(['a', 'b'], [{ precision: 1, recall: 0.5, f1: 2 / 3 }, { precision: 0.25, recall: 0, f1: 0 }]);
    const bars = spec.marks.filter((m): m is Rect => m.kind === 'rect' && m.w > 14);
    expect(bars).toHaveLength(6);
    const full = bars[0].h;
    expect(bars.map((b) => b.h / full)).toEqual([1, 0.5, 2 / 3, 0.25, 0, 0].map((v) => expect.closeTo(v, 9)));
    // Every bar stands on the same baseline.
    expect(new Set(bars.map((b) => b.y + b.h)).size).toBe(1);
    expect(texts(spec.marks)).toEqual(expect.arrayContaining(['precision', 'recall', 'F1', 'a', 'b', '0.50']));
    expect(spec.marks.every(inside)).toBe(true);
  });

  it('ROC and reliability from a real evaluation: a curve per class, AUC in the legend, before and after temperature', () => {
    const classes = ['a', 'b', 'c'];
    const labels = [0, 0, 1, 1, 2, 2, 0, 1, 2, 2];
    const logits = labels.flatMap((l, i) => [0, 1, 2].map((k) => (k === l ? 2 : 0) + ((i * 7 + k * 3) % 5) * 0.6));
    const m = evaluate({ classes, labels, logits, val: { labels, logits }, latencyMs: [1, 2], throughput: 1, bootstrap: { resamples: 10 } });
    const roc = rocChart(classes, m.roc);
    const curves = roc.marks.filter((x) => x.kind === 'line' && x.width === 2);
    expect(curves).toHaveLength(3);
    classes.forEach((c, k) => expect(texts(roc.marks)).toContain(`${c} (AUC ${m.roc.auc[k]!.toFixed(3)})`));
    expect(roc.marks.every(inside)).toBe(true);

    const rel = reliabilityChart(m.calibration, m.calibrationAfterTemperature, m.temperature);
    const dots = rel.marks.filter((x) => x.kind === 'dot');
    const nonEmpty = (c: typeof m.calibration) => c.bins.filter((b) => b.count > 0).length;
    expect(dots).toHaveLength(nonEmpty(m.calibration) + nonEmpty(m.calibrationAfterTemperature!));
    expect(texts(rel.marks)).toContain(`after T = ${m.temperature!.toFixed(2)} (ECE ${m.calibrationAfterTemperature!.ece.toFixed(3)})`);
    expect(rel.marks.every(inside)).toBe(true);

    expect(reportCharts(m).map((c) => [c.file, c.width, c.height])).toEqual(Object.values(CHART_FILES).map((f) => [f, CHART_SIZE.width, CHART_SIZE.height]));
  });
});
