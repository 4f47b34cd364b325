/** Number formats shared by the dashboard and the epoch table. */

/** A learning rate: three significant digits, in exponent form below 0.01 (1.00e-3 rather than 0.00100). */
export const formatLr = (v: number | undefined): string => (v === undefined ? '—' : v >= 0.01 ? v.toPrecision(3) : v.toExponential(2));
