/** One line of the benchmark table (and of bench/results/<date>.json). Its own module so that each benchmark can
 * return rows without importing the runner that imports it. */
export interface BenchRow {
  benchmark: string;
  metric: string;
  value: number | string;
  unit: string;
  note?: string;
}
