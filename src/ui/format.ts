/** Number formats shared by the dashboard and the epoch table. */

/** A learning rate: three significant digits, in exponent form below 0.01 (1.00e-3 rather than 0.00100). */
export const formatLr = (v: number | undefined): string => (v === undefined ? '—' : v >= 0.01 ? v.toPrecision(3) : v.toExponential(2));

/** A fraction as a percentage with one decimal: 0.8512 → "85.1 %". */
export const formatPct = (x: number): string => `${(x * 100).toFixed(1)} %`;

/** Bytes in MB (decimal, as the browser's storage figures are), one decimal. */
export const formatMB = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
