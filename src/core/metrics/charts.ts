/**
 * The report's PNG charts, described as drawing marks in pixels: core stays free of the DOM, and the worker
 * (workers/charts.ts) paints the marks on an OffscreenCanvas. All layout — scales, ticks, bars, cells, colours —
 * is decided here, so it is tested in Node.
 */
import type { Calibration } from './calibration';
import type { EvaluationMetrics } from './evaluation';

export type Mark =
  | { kind: 'rect'; x: number; y: number; w: number; h: number; fill: string; stroke?: string }
  | { kind: 'line'; points: [number, number][]; stroke: string; width?: number; dash?: number[] }
  | { kind: 'dot'; x: number; y: number; r: number; fill: string }
  | { kind: 'text'; x: number; y: number; text: string; size?: number; color?: string; align?: 'left' | 'center' | 'right'; bold?: boolean; /** radians, about (x, y) */ rotate?: number };

export interface ChartSpec {
  /** The report file it becomes, e.g. `confusion_matrix.png`. */
  file: string;
  width: number;
  height: number;
  marks: Mark[];
}

export const CHART_FILES = { confusion: 'confusion_matrix.png', perClass: 'per_class_metrics.png', roc: 'roc_curves.png', reliability: 'reliability.png' } as const;
/** Pixel sizes of the charts; the same for every evaluation, so a reader can lay them out. */
export const CHART_SIZE = { width: 800, height: 600 } as const;

export const SERIES_COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];
const AXIS = '#334155';
const GRID = '#e2e8f0';
const MUTED = '#94a3b8';

export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** A linear map of [d0, d1] onto [r0, r1] (r0 > r1 for a y axis, which grows downwards on a canvas). */
export function linear(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  return (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);
}

/** Ticks 0, 1/n, …, 1. */
export function unitTicks(n: number): number[] {
  return Array.from({ length: n + 1 }, (_, i) => i / n);
}

/**
 * A cell's shade from its row-normalised value: white at 0 to the darkest blue at 1, and the text colour that stays
 * readable on it.
 */
export function shade(value: number): { fill: string; text: string } {
  const v = Math.min(1, Math.max(0, value));
  const mix = (a: number, b: number) => Math.round(a + (b - a) * v);
  // #ffffff → #1e3a8a
  const fill = `rgb(${mix(255, 30)}, ${mix(255, 58)}, ${mix(255, 138)})`;
  return { fill, text: v > 0.5 ? '#ffffff' : '#0f172a' };
}

/** Axes with a grid, tick labels and titles for a plot of [0, 1] × [0, 1]. */
function unitAxes(box: Box, xTitle: string, yTitle: string): { marks: Mark[]; x: (v: number) => number; y: (v: number) => number } {
  const x = linear(0, 1, box.left, box.left + box.width);
  const y = linear(0, 1, box.top + box.height, box.top);
  const marks: Mark[] = [];
  for (const t of unitTicks(5)) {
    marks.push({ kind: 'line', points: [[x(t), box.top], [x(t), box.top + box.height]], stroke: GRID });
    marks.push({ kind: 'line', points: [[box.left, y(t)], [box.left + box.width, y(t)]], stroke: GRID });
    marks.push({ kind: 'text', x: x(t), y: box.top + box.height + 18, text: t.toFixed(1), size: 12, color: AXIS, align: 'center' });
    marks.push({ kind: 'text', x: box.left - 8, y: y(t) + 4, text: t.toFixed(1), size: 12, color: AXIS, align: 'right' });
  }
  marks.push({ kind: 'rect', x: box.left, y: box.top, w: box.width, h: box.height, fill: 'transparent', stroke: AXIS });
  marks.push({ kind: 'text', x: box.left + box.width / 2, y: box.top + box.height + 40, text: xTitle, size: 14, color: AXIS, align: 'center' });
  marks.push({ kind: 'text', x: box.left - 44, y: box.top + box.height / 2, text: yTitle, size: 14, color: AXIS, align: 'center', rotate: -Math.PI / 2 });
  return { marks, x, y };
}

function title(text: string): Mark {
  return { kind: 'text', x: CHART_SIZE.width / 2, y: 30, text, size: 18, color: '#0f172a', align: 'center', bold: true };
}

/** A legend in the plot's lower right corner (where ROC and reliability curves leave room), one row per entry. */
function legend(box: Box, entries: { label: string; color: string; dash?: number[] }[]): Mark[] {
  const rowH = 20;
  const w = 260;
  const left = box.left + box.width - w - 10;
  const top = box.top + box.height - entries.length * rowH - 14;
  return [
    { kind: 'rect', x: left, y: top, w, h: entries.length * rowH + 8, fill: 'rgba(255,255,255,0.9)', stroke: GRID },
    ...entries.flatMap((e, i): Mark[] => {
      const cy = top + 14 + i * rowH;
      return [
        { kind: 'line', points: [[left + 8, cy], [left + 32, cy]], stroke: e.color, width: 3, dash: e.dash },
        { kind: 'text', x: left + 40, y: cy + 4, text: e.label, size: 12, color: AXIS },
      ];
    }),
  ];
}

/** Counts in the cells, shaded by each row's share (rows true class, columns predicted). */
export function confusionChart(classes: string[], counts: number[][], normalized: number[][]): ChartSpec {
  const K = classes.length;
  const { width, height } = CHART_SIZE;
  // Square cells in the space the labels leave.
  const cell = Math.floor(Math.min((width - 180 - 40) / K, (height - 70 - 110) / K));
  const left = 180;
  const top = 70;
  const marks: Mark[] = [title('Confusion matrix (rows true; shade = share of the row)')];
  counts.forEach((row, t) =>
    row.forEach((n, p) => {
      const { fill, text } = shade(normalized[t][p]);
      const x = left + p * cell;
      const y = top + t * cell;
      marks.push({ kind: 'rect', x, y, w: cell, h: cell, fill, stroke: GRID });
      marks.push({ kind: 'text', x: x + cell / 2, y: y + cell / 2, text: String(n), size: Math.min(22, Math.max(10, cell / 4)), color: text, align: 'center', bold: true });
      marks.push({ kind: 'text', x: x + cell / 2, y: y + cell / 2 + Math.min(20, cell / 4), text: `${(normalized[t][p] * 100).toFixed(1)} %`, size: Math.min(13, Math.max(8, cell / 6)), color: text, align: 'center' });
    }),
  );
  classes.forEach((c, k) => {
    marks.push({ kind: 'text', x: left - 10, y: top + k * cell + cell / 2 + 4, text: c, size: 13, color: AXIS, align: 'right' });
    marks.push({ kind: 'text', x: left + k * cell + cell / 2, y: top + K * cell + 20, text: c, size: 13, color: AXIS, align: 'center' });
  });
  marks.push({ kind: 'text', x: left + (K * cell) / 2, y: top + K * cell + 48, text: 'predicted class', size: 14, color: AXIS, align: 'center' });
  marks.push({ kind: 'text', x: 24, y: top + (K * cell) / 2, text: 'true class', size: 14, color: AXIS, align: 'center', rotate: -Math.PI / 2 });
  return { file: CHART_FILES.confusion, width, height, marks };
}

/** Precision, recall and F1 of each class as grouped bars on a 0–1 axis. */
export function perClassChart(classes: string[], perClass: { precision: number; recall: number; f1: number }[]): ChartSpec {
  const { width, height } = CHART_SIZE;
  const box: Box = { left: 70, top: 60, width: width - 100, height: height - 150 };
  const y = linear(0, 1, box.top + box.height, box.top);
  const marks: Mark[] = [title('Per-class precision, recall (sensitivity) and F1')];
  for (const t of unitTicks(5)) {
    marks.push({ kind: 'line', points: [[box.left, y(t)], [box.left + box.width, y(t)]], stroke: GRID });
    marks.push({ kind: 'text', x: box.left - 8, y: y(t) + 4, text: t.toFixed(1), size: 12, color: AXIS, align: 'right' });
  }
  const metrics = [['precision', SERIES_COLORS[0]], ['recall', SERIES_COLORS[2]], ['f1', SERIES_COLORS[4]]] as const;
  const group = box.width / classes.length;
  const bar = Math.min(48, (group * 0.75) / metrics.length);
  classes.forEach((c, k) => {
    const start = box.left + k * group + (group - bar * metrics.length) / 2;
    metrics.forEach(([name, color], j) => {
      const v = perClass[k][name];
      marks.push({ kind: 'rect', x: start + j * bar, y: y(v), w: bar - 2, h: y(0) - y(v), fill: color });
      marks.push({ kind: 'text', x: start + j * bar + (bar - 2) / 2, y: y(v) - 4, text: v.toFixed(2), size: 10, color: AXIS, align: 'center' });
    });
    marks.push({ kind: 'text', x: box.left + k * group + group / 2, y: box.top + box.height + 20, text: c, size: 13, color: AXIS, align: 'center' });
  });
  marks.push({ kind: 'line', points: [[box.left, y(0)], [box.left + box.width, y(0)]], stroke: AXIS });
  metrics.forEach(([name, color], j) => {
    const x = box.left + j * 130;
    marks.push({ kind: 'rect', x, y: height - 40, w: 14, h: 14, fill: color });
    marks.push({ kind: 'text', x: x + 20, y: height - 28, text: name === 'f1' ? 'F1' : name, size: 13, color: AXIS });
  });
  return { file: CHART_FILES.perClass, width, height, marks };
}

const plotBox = (): Box => ({ left: 80, top: 60, width: CHART_SIZE.width - 120, height: CHART_SIZE.height - 130 });

/** One-vs-rest ROC curves, each class's AUC in the legend; classes without a curve (no examples) are named as such. */
export function rocChart(classes: string[], roc: EvaluationMetrics['roc']): ChartSpec {
  const box = plotBox();
  const { marks, x, y } = unitAxes(box, 'false positive rate', 'true positive rate');
  marks.unshift(title(`ROC curves, one-vs-rest (macro AUC ${roc.macroAuc === null ? 'n/a' : roc.macroAuc.toFixed(3)})`));
  marks.push({ kind: 'line', points: [[x(0), y(0)], [x(1), y(1)]], stroke: MUTED, dash: [6, 4] });
  const entries = classes.map((c, k) => {
    const curve = roc.curves[k];
    const color = SERIES_COLORS[k % SERIES_COLORS.length];
    if (curve) marks.push({ kind: 'line', points: curve.fpr.map((f, i): [number, number] => [x(f), y(curve.tpr[i])]), stroke: color, width: 2 });
    return { label: `${c} (AUC ${roc.auc[k] === null ? 'n/a' : roc.auc[k]!.toFixed(3)})`, color };
  });
  marks.push(...legend(box, [...entries, { label: 'chance', color: MUTED, dash: [6, 4] }]));
  return { file: CHART_FILES.roc, width: CHART_SIZE.width, height: CHART_SIZE.height, marks };
}

/** Accuracy against mean confidence per non-empty bin, before and (when fitted) after temperature scaling. */
export function reliabilityChart(before: Calibration, after: Calibration | null, temperature: number | null): ChartSpec {
  const box = plotBox();
  const { marks, x, y } = unitAxes(box, 'confidence (top class)', 'accuracy');
  marks.unshift(title(`Reliability: ECE ${before.ece.toFixed(3)}${after && temperature !== null ? ` → ${after.ece.toFixed(3)} at T = ${temperature.toFixed(2)}` : ''}`));
  marks.push({ kind: 'line', points: [[x(0), y(0)], [x(1), y(1)]], stroke: MUTED, dash: [6, 4] });
  const series = (c: Calibration, color: string) => {
    const pts = c.bins.filter((b) => b.count > 0).map((b): [number, number] => [x(b.confidence), y(b.accuracy)]);
    marks.push({ kind: 'line', points: pts, stroke: color, width: 2 });
    marks.push(...pts.map(([px, py]): Mark => ({ kind: 'dot', x: px, y: py, r: 4, fill: color })));
  };
  series(before, SERIES_COLORS[0]);
  if (after) series(after, SERIES_COLORS[2]);
  const entries = [{ label: `before (ECE ${before.ece.toFixed(3)})`, color: SERIES_COLORS[0] }];
  if (after && temperature !== null) entries.push({ label: `after T = ${temperature.toFixed(2)} (ECE ${after.ece.toFixed(3)})`, color: SERIES_COLORS[2] });
  marks.push(...legend(box, [...entries, { label: 'perfect calibration', color: MUTED, dash: [6, 4] }]));
  return { file: CHART_FILES.reliability, width: CHART_SIZE.width, height: CHART_SIZE.height, marks };
}

/** The four charts of a report, in the order the report lists them. */
export function reportCharts(m: EvaluationMetrics): ChartSpec[] {
  return [
    confusionChart(m.classes, m.confusion, m.confusionNormalized),
    perClassChart(m.classes, m.report.perClass),
    rocChart(m.classes, m.roc),
    reliabilityChart(m.calibration, m.calibrationAfterTemperature, m.temperature),
  ];
}
