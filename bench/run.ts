/**
 * Benchmarks (never part of `npm test`): `npm run bench [-- --only import|isolation|finetune] [-- --size 224] [-- --per-class 16]`.
 * Prints one table and writes bench/results/<date>.json. Figures are ratios measured in one run where possible:
 * this machine is shared and noisy, so absolute times move between runs.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { finetuneBenchmark, FINETUNE_MODEL } from './finetune';
import { importBenchmark } from './import';
import { isolationBenchmark } from './isolation';
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

const { values } = parseArgs({ options: { only: { type: 'string' }, size: { type: 'string' }, 'per-class': { type: 'string' } } });
const rows: BenchRow[] = [];
if (!values.only || values.only === 'import') {
  if (existsSync(SHARED_MRI)) rows.push(...(await importBenchmark(SHARED_MRI, Number(values.size ?? 224))));
  else console.log(`import: skipped, ${SHARED_MRI} is absent (it ships beside the checkout as ../shared)`);
}
if (!values.only || values.only === 'isolation') {
  if (existsSync(SHARED_MRI) && hasPretrained('mobilenet_v2_0.35_224')) rows.push(...(await isolationBenchmark(SHARED_MRI, PRETRAINED_DIR)));
  else console.log('isolation: skipped, ../shared (MRI images and pretrained MobileNetV2-0.35) is absent');
}
if (!values.only || values.only === 'finetune') {
  if (!existsSync(SHARED_MRI) || !hasPretrained(FINETUNE_MODEL)) console.log(`finetune: skipped, it needs ${SHARED_MRI} and ../shared/pretrained/${FINETUNE_MODEL}`);
  else rows.push(...(await finetuneBenchmark(SHARED_MRI, Number(values.size ?? 224), Number(values['per-class'] ?? 16))));
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
