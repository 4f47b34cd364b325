/**
 * Paints a chart described in core (src/core/metrics/charts.ts) on an OffscreenCanvas and encodes it as PNG: the
 * report's images are drawn in the worker, beside the figures, so the UI's export and the CLI get the same bytes.
 */
import type { ChartSpec } from '../src/core/metrics/charts';

export async function renderChartPng(spec: ChartSpec): Promise<Uint8Array> {
  const canvas = new OffscreenCanvas(spec.width, spec.height);
  const g = canvas.getContext('2d');
  if (!g) throw new Error('this browser gives no 2D context to an OffscreenCanvas, so the report charts cannot be drawn');
  g.fillStyle = '#ffffff';
  g.fillRect(0, 0, spec.width, spec.height);
  g.lineJoin = 'round';
  for (const m of spec.marks) {
    g.save();
    switch (m.kind) {
      case 'rect':
        if (m.fill !== 'transparent') {
          g.fillStyle = m.fill;
          g.fillRect(m.x, m.y, m.w, m.h);
        }
        if (m.stroke) {
          g.strokeStyle = m.stroke;
          g.strokeRect(m.x + 0.5, m.y + 0.5, m.w, m.h);
        }
        break;
      case 'line':
        if (m.points.length === 0) break;
        g.strokeStyle = m.stroke;
        g.lineWidth = m.width ?? 1;
        g.setLineDash(m.dash ?? []);
        g.beginPath();
        m.points.forEach(([x, y], i) => (i === 0 ? g.moveTo(x, y) : g.lineTo(x, y)));
        g.stroke();
        break;
      case 'dot':
        g.fillStyle = m.fill;
        g.beginPath();
        g.arc(m.x, m.y, m.r, 0, 2 * Math.PI);
        g.fill();
        break;
      case 'text':
        g.fillStyle = m.color ?? '#0f172a';
        g.font = `${m.bold ? 'bold ' : ''}${m.size ?? 12}px sans-serif`;
        g.textAlign = m.align ?? 'left';
        g.translate(m.x, m.y);
        if (m.rotate) g.rotate(m.rotate);
        g.fillText(m.text, 0, 0);
        break;
    }
    g.restore();
  }
  const blob = await canvas.convertToBlob({ type: 'image/png' });
  return new Uint8Array(await blob.arrayBuffer());
}
