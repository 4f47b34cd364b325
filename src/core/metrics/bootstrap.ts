/** Percentiles (numpy's default, linear interpolation), latency summaries and seeded percentile-bootstrap intervals. */
import { mulberry32 } from '../random';

/** numpy.percentile(values, q) with its default 'linear' method: position (n − 1)·q/100 between sorted values. */
export function percentile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) throw new RangeError('percentile of no values');
  if (!(q >= 0 && q <= 100)) throw new RangeError(`percentile must be in [0, 100] (got ${q})`);
  const sorted = Float64Array.from(values).sort();
  const pos = ((sorted.length - 1) * q) / 100;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export interface LatencySummary {
  p50: number;
  p95: number;
  mean: number;
}

export function latencySummary(ms: ArrayLike<number>): LatencySummary {
  let sum = 0;
  for (let i = 0; i < ms.length; i++) sum += ms[i];
  return { p50: percentile(ms, 50), p95: percentile(ms, 95), mean: sum / ms.length };
}

export interface Interval {
  low: number;
  high: number;
  /** Resamples on which the statistic was defined (a class's sensitivity needs the class in the resample). */
  resamples: number;
}

export interface BootstrapOptions {
  resamples?: number;
  seed?: number;
  /** Coverage, 0.95 by default. */
  level?: number;
}

/**
 * Percentile bootstrap: `resamples` draws of n indices with replacement from a mulberry32 stream seeded by `seed`;
 * `prepare` summarises each draw once (e.g. its confusion matrix) and each statistic is evaluated on that summary, and its interval is the (1 − level)/2 and (1 + level)/2 percentiles of
 * the values it took. A statistic returns null on a draw where it is undefined; such draws are left out of its
 * interval (and counted in `resamples`), rather than entering as a made-up 0. All statistics share the same draws.
 */
export function bootstrapIntervals<T, K extends string>(
  n: number,
  prepare: (indices: Int32Array) => T,
  statistics: Record<K, (draw: T) => number | null>,
  opts: BootstrapOptions = {},
): Record<K, Interval | null> {
  const { resamples = 1000, seed = 42, level = 0.95 } = opts;
  if (n < 1) throw new RangeError('bootstrap needs at least one example');
  const rand = mulberry32(seed);
  const names = Object.keys(statistics) as K[];
  const values = Object.fromEntries(names.map((k) => [k, [] as number[]])) as Record<K, number[]>;
  const indices = new Int32Array(n);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) indices[i] = Math.floor(rand() * n);
    const draw = prepare(indices);
    for (const k of names) {
      const v = statistics[k](draw);
      if (v !== null) values[k].push(v);
    }
  }
  const tail = ((1 - level) / 2) * 100;
  return Object.fromEntries(
    names.map((k) => [k, values[k].length ? { low: percentile(values[k], tail), high: percentile(values[k], 100 - tail), resamples: values[k].length } : null]),
  ) as Record<K, Interval | null>;
}
