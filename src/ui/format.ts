/** Number formats shared by the dashboard and the epoch table. */

/** A learning rate: three significant digits, in exponent form below 0.01 (1.00e-3 rather than 0.00100). */
export const formatLr = (v: number | undefined): string => (v === undefined ? '—' : v >= 0.01 ? v.toPrecision(3) : v.toExponential(2));

/** A fraction as a percentage with one decimal: 0.8512 → "85.1 %". */
export const formatPct = (x: number): string => `${(x * 100).toFixed(1)} %`;

/** Bytes in decimal units (as the browser's storage figures are): 980 B, 12.3 kB, 4.5 MB, 10.8 GB. */
export function formatBytes(bytes: number): string {
  const [unit, size] = bytes >= 1e9 ? ['GB', 1e9] : bytes >= 1e6 ? ['MB', 1e6] : bytes >= 1e3 ? ['kB', 1e3] : ['B', 1];
  return size === 1 ? `${bytes} B` : `${(bytes / size).toFixed(1)} ${unit}`;
}
