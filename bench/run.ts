/**
 * Benchmarks (never part of `npm test`): `npm run bench [-- --only NAME] [options]`, NAME one of
 * import [--size 224] · backends [--backends webgpu,webgl,wasm,cpu] · feature-cache [--per-class 40] ·
 * real-data [--epochs 50] · isolation · finetune [--size 224] [--per-class 16] · architectures [--per-class 30].
 * Prints one table and writes bench/results/<date>.json. Figures are ratios measured in one run where possible:
 * this machine is shared and noisy, so absolute times move between runs.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { architecturesBenchmark } from './architectures';
import { BENCH_BACKENDS, backendsBenchmark } from './backends';
import { featureCacheBenchmark } from './feature-cache';
import { finetuneBenchmark, FINETUNE_MODEL } from './finetune';
import { importBenchmark } from './import';
import { isolationBenchmark } from './isolation';
import { realDataBenchmark } from './real-data';
import { hasPretrained, PRETRAINED_DIR } from '../tests/fixtures/pretrained';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SHARED_MRI = resolve(ROOT, '../shared/datasets/brain-mri-224/Training');

export interface BenchRow {
  benchmark: string;
  metric: string;
  value: number | string;
  unit: string;
  note?: string;
}

/** Runs a benchmark that needs a pretrained copy from ../shared, or says why it is skipped. */
async function withPretrained(name: string, model: string, run: () => Promise<BenchRow[]>): Promise<BenchRow[]> {
  if (hasPretrained(model)) return run();
  console.log(`${name}: skipped, ../shared/pretrained/${model} is absent`);
  return [];
}

const { values } = parseArgs({ options: { only: { type: 'string' }, size: { type: 'string' }, backends: { type: 'string' }, 'per-class': { type: 'string' }, epochs: { type: 'string' } } });
const BENCHMARKS: Record<string, () => Promise<BenchRow[]>> = {
  import: () => importBenchmark(SHARED_MRI, Number(values.size ?? 224)),
  backends: () => backendsBenchmark(SHARED_MRI, values.backends?.split(',') ?? BENCH_BACKENDS),
  'feature-cache': () => featureCacheBenchmark(SHARED_MRI, Number(values['per-class'] ?? 40)),
  'real-data': () => realDataBenchmark(SHARED_MRI, Number(values.epochs ?? 50)),
  isolation: () => withPretrained('isolation', FINETUNE_MODEL, () => isolationBenchmark(SHARED_MRI, PRETRAINED_DIR)),
  finetune: () => withPretrained('finetune', FINETUNE_MODEL, () => finetuneBenchmark(SHARED_MRI, Number(values.size ?? 224), Number(values['per-class'] ?? 16))),
  architectures: () => architecturesBenchmark(SHARED_MRI, Number(values['per-class'] ?? 30)),
};
if (values.only && !(values.only in BENCHMARKS)) {
  console.error(`bench: --only must be one of ${Object.keys(BENCHMARKS).join(', ')} (got "${values.only}")`);
  process.exit(2);
}
const rows: BenchRow[] = [];
for (const [name, run] of Object.entries(BENCHMARKS)) {
  if (values.only && values.only !== name) continue;
  if (existsSync(SHARED_MRI)) rows.push(...(await run()));
  else console.log(`${name}: skipped, ${SHARED_MRI} is absent (it ships beside the checkout as ../shared)`);
}

const width = (k: keyof BenchRow) => Math.max(k.length, ...rows.map((r) => String(r[k] ?? '').length));
const cols: (keyof BenchRow)[] = ['benchmark', 'metric', 'value', 'unit', 'note'];
const line = (r: Record<string, unknown>) => cols.map((c) => String(r[c] ?? '').padEnd(width(c))).join('  ');
console.log(line(Object.fromEntries(cols.map((c) => [c, c]))));
for (const r of rows) console.log(line(r as unknown as Record<string, unknown>));
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
const file = join(ROOT, 'bench/results', `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), rows }, null, 2));
console.log(`wrote ${file}`);
