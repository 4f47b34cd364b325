/**
 * Benchmarks (never part of `npm test`): `npm run bench [-- --only NAME] [--data DIR] [--models DIR] [--full] [options]`,
 * NAME one of import [--size 224] · backends [--backends webgpu,webgl,wasm,cpu] [--size 32] · feature-cache
 * [--per-class 40] · real-data [--epochs 10] [--per-class 100] · isolation · finetune [--size 96] [--per-class 16] · xception [--per-class 8] · architectures [--per-class 30] [--architectures a,b]
 * [--backends webgl] · torch-features [--images 4] [--architectures a,b] · quality (the recommended recipe against the plain one, 5-fold on the real MRI folder; skipped
 * without it; about 20 minutes once the features are cached in /tmp, 4 more the first time; run only with --only
 * quality or --full) · demo [--epochs N] [--per-class N]
 * [--size N] (the conference recipe's defaults otherwise) · measure [--size 224] (the measured backend choice, batch 16:
 * each backend's time to its first training step, and the measurement's own time; about 13 minutes here, so, like
 * quality, run only with --only measure or --full) · finetune-step (one MobileNetV2-0.35 fine-tuning step at 224 px on
 * WASM with threads and with one thread, WebGL and CPU) · finetune-epoch (a whole fine-tuning epoch over the folder's
 * training split on WASM; only with --only finetune-epoch or --full) · compile-ahead (the time to the first WebGPU
 * fine-tuning step at 64 px, with and without compiling its shaders ahead in parallel).
 * Without --only the whole suite runs (about 15 minutes on a 2-core machine); --full runs the heavy ones at full size
 * (224 px, the whole folder, 50 epochs; hours on a CPU). --data defaults to ../shared's MRI Training folder; when it
 * is absent the suite runs on synthetic phantoms (the demo's images as PNG files), and what needs a pretrained
 * backbone from --models (../shared/pretrained) says it is skipped.
 * Prints one table and writes bench/results/<date>.json. Figures are ratios measured in one run where possible:
 * this machine is shared and noisy, so absolute times move between runs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { architecturesBenchmark } from './architectures';
import { BENCH_BACKENDS, backendsBenchmark } from './backends';
import { demoBenchmark } from './demo';
import { featureCacheBenchmark } from './feature-cache';
import { finetuneBenchmark } from './finetune';
import { compileAheadBenchmark, finetuneEpochBenchmark, finetuneStepBenchmark } from './finetune-speed';
import { importBenchmark } from './import';
import { isolationBenchmark } from './isolation';
import { measureBenchmark } from './measure';
import { DATA_DIR, FULL, hasData, MODELS_DIR, numberOption, options } from './options';
import { qualityBenchmark } from './quality';
import { realDataBenchmark } from './real-data';
import { torchFeaturesBenchmark } from './torch-features';
import { xceptionBenchmark } from './xception';
import { phantomFolder } from '../tests/fixtures/folders';
import type { BenchRow } from './row';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const BENCHMARKS: Record<string, (data: string) => Promise<BenchRow[]>> = {
  import: (data) => importBenchmark(data, numberOption('size', { full: 224, quick: 224 })),
  backends: (data) => backendsBenchmark(data, options.backends?.split(',') ?? BENCH_BACKENDS, numberOption('size', { full: 224, quick: 32 })),
  'feature-cache': (data) => featureCacheBenchmark(data, numberOption('per-class', { full: 40, quick: 40 })),
  'real-data': (data) => realDataBenchmark(data, numberOption('epochs', { full: 50, quick: 10 }), FULL && !options['per-class'] ? null : numberOption('per-class', { full: 100, quick: 100 })),
  isolation: (data) => isolationBenchmark(data),
  finetune: (data) => finetuneBenchmark(data, numberOption('size', { full: 224, quick: 96 }), numberOption('per-class', { full: 16, quick: 16 })),
  xception: (data) => xceptionBenchmark(data, numberOption('per-class', { full: 16, quick: 8 })),
  quality: (data) => qualityBenchmark(data, hasData()),
  demo: () => demoBenchmark({ ...(options.epochs ? { epochs: numberOption('epochs', { full: 0, quick: 0 }) } : {}), ...(options['per-class'] ? { perClass: numberOption('per-class', { full: 0, quick: 0 }) } : {}), ...(options.size ? { imageSize: numberOption('size', { full: 0, quick: 0 }) } : {}) }),
  architectures: (data) => architecturesBenchmark(data, numberOption('per-class', { full: 30, quick: 30 }), options.architectures?.split(','), options.backends?.split(',')[0]),
  measure: () => measureBenchmark(numberOption('size', { full: 224, quick: 224 }), 16),
  'finetune-step': (data) => finetuneStepBenchmark(data),
  'finetune-epoch': (data) => finetuneEpochBenchmark(data),
  'compile-ahead': (data) => compileAheadBenchmark(data),
  'torch-features': () => torchFeaturesBenchmark(numberOption('images', { full: 16, quick: 4 }), options.architectures?.split(',')),
};
if (options.only && !(options.only in BENCHMARKS)) {
  console.error(`bench: --only must be one of ${Object.keys(BENCHMARKS).join(', ')} (got "${options.only}")`);
  process.exit(2);
}
// Synthetic data when the folder is absent: MRI-like phantoms in the real folder's four classes, so every benchmark
// still runs (its figures then say nothing about MRI accuracy).
const data = hasData() ? DATA_DIR : phantomFolder(['glioma', 'meningioma', 'notumor', 'pituitary'], 120);
console.log(hasData() ? `data: ${DATA_DIR}` : `data: ${DATA_DIR} is absent; synthetic phantoms in ${data}`);
console.log(`models: ${MODELS_DIR}${FULL ? '; --full' : ''}`);
const rows: BenchRow[] = [
  { benchmark: 'suite', metric: 'data', value: hasData() ? 'folder' : 'synthetic', unit: '', note: data },
];
const started = Date.now();
for (const [name, run] of Object.entries(BENCHMARKS)) {
  if (options.only && options.only !== name) continue;
  // Twenty-odd minutes of k-fold training, 13 of timing MobileNet fine-tuning steps on every backend, and a whole
  // fine-tuning epoch, on a 2-core machine: only when asked for, or with --full.
  if ((name === 'quality' || name === 'measure' || name === 'finetune-epoch') && !options.only && !FULL) continue;
  const t0 = Date.now();
  rows.push(...(await run(data)));
  console.log(`${name}: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}
rows.push({ benchmark: 'suite', metric: 'wall time', value: ((Date.now() - started) / 1000).toFixed(0), unit: 's', note: FULL ? '--full' : 'scaled down (--full for full size)' });

const width = (k: keyof BenchRow) => Math.max(k.length, ...rows.map((r) => String(r[k] ?? '').length));
const cols: (keyof BenchRow)[] = ['benchmark', 'metric', 'value', 'unit', 'note'];
const line = (r: Record<string, unknown>) => cols.map((c) => String(r[c] ?? '').padEnd(width(c))).join('  ');
console.log(line(Object.fromEntries(cols.map((c) => [c, c]))));
for (const r of rows) console.log(line(r as unknown as Record<string, unknown>));
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
const file = join(ROOT, 'bench/results', `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), rows }, null, 2));
console.log(`wrote ${file}`);
