/**
 * Issue 16's speed rows for fine-tuning MobileNetV2-0.35 (all blocks, 224 px, batch 16, real MRI images) without a
 * GPU, each backend forced in its own page, from one run:
 * - `finetune-step`: one training step on WASM with threads (the studio as served: cross-origin isolated), on WASM
 *   with one thread (the same page served without COOP/COEP, so no SharedArrayBuffer), on WebGL and on the CPU
 *   backend; timed on the second epoch, the first compiling kernels. Ratios are against threaded WASM.
 * - `finetune-epoch`: one whole epoch over the training split of the folder (70 %, about 4,000 images here), with its
 *   validation pass, on WASM with threads. About ten minutes on a 2-core machine (the import included): only with
 *   --only or --full.
 * - `compile-ahead`: the time to the first WebGPU training step (fine-tuning as above, at 64 px: a step at 224 px takes
 *   minutes on an emulated GPU) with each kernel compiled as it first runs, and with the step's shaders compiled in
 *   parallel first (compileAhead 'on'), each in its own page, so neither finds the other's pipelines.
 */
import type { TrainConfig } from '../src/engine/types';
import { finetuneSteps, mobilenetConfig } from './backends';
import { MODELS_DIR } from './options';
import type { BenchRow } from './row';
import { hasMobilenet, MOBILENET, sampleFolder, withStudioPage } from './studio-page';

const SIZE = 224;
const BATCH = 16;
const WHAT = `${MOBILENET} fine-tuning (all blocks), ${SIZE} px, batch ${BATCH}`;

// WASM's second epoch is timed over 4 steps (a single step of about 2 s moved by ±20 % between runs here); WebGL and
// CPU, at 40–70 s a step, over one.
const PAGES: { label: string; backend: string; isolated: boolean; steps: number }[] = [
  { label: 'WASM, threads', backend: 'wasm', isolated: true, steps: 4 },
  { label: 'WASM, one thread', backend: 'wasm', isolated: false, steps: 4 },
  { label: 'WebGL', backend: 'webgl', isolated: true, steps: 1 },
  { label: 'CPU', backend: 'cpu', isolated: true, steps: 1 },
];

function skipped(name: string): BenchRow[] | null {
  if (hasMobilenet()) return null;
  console.log(`${name}: skipped, ${MODELS_DIR}/${MOBILENET} is absent`);
  return [];
}

export async function finetuneStepBenchmark(dir: string): Promise<BenchRow[]> {
  const skip = skipped('finetune-step');
  if (skip) return skip;
  // 5 images per class, 80/20: exactly one batch of 16 to train on; 20 per class, four.
  const samples = new Map([1, 4].map((steps) => [steps, sampleFolder(dir, 5 * steps)]));
  const measured: { label: string; first: number; step: number; threads: string; steps: number }[] = [];
  for (const { label, backend, isolated, steps } of PAGES) {
    console.log(`finetune-step: ${label}…`);
    measured.push(
      await withStudioPage(
        backend,
        async (studio) => {
          if (studio.backend.name !== backend) throw new Error(`backend ${backend} did not start (got ${studio.backend.name})`);
          const crossOriginIsolated = await studio.page.evaluate(() => globalThis.crossOriginIsolated);
          if (crossOriginIsolated !== isolated) throw new Error(`the ${label} page is ${crossOriginIsolated ? '' : 'not '}cross-origin isolated`);
          const { first, step } = await finetuneSteps(studio, await mobilenetConfig(studio, samples.get(steps)!, SIZE), steps);
          const threads = backend === 'wasm' ? `, ${studio.backend.wasmThreads} XNNPACK ${studio.backend.wasmThreads === 1 ? 'thread' : 'threads'}` : '';
          return { label, first, step, steps, threads: `${crossOriginIsolated ? 'cross-origin isolated' : 'not isolated'}${threads}` };
        },
        { isolated },
      ),
    );
  }
  const threaded = measured[0].step;
  return measured.map((m) => ({
    benchmark: 'finetune-step',
    metric: `training step, ${m.label}`,
    value: m.step.toFixed(2),
    unit: 's',
    note: `${(m.step / threaded).toFixed(2)}× threaded WASM; mean of ${m.steps} ${m.steps === 1 ? 'step' : 'steps'}; first epoch ${m.first.toFixed(1)} s a step (kernels compiled); ${m.threads}; ${WHAT}`,
  }));
}

export async function finetuneEpochBenchmark(dir: string): Promise<BenchRow[]> {
  const skip = skipped('finetune-epoch');
  if (skip) return skip;
  return withStudioPage('wasm', async (studio) => {
    const data = await studio.importFolder(dir, { imageSize: SIZE, channels: 3, split: { train: 0.7, val: 0.15, test: 0.15 }, seed: 42, dedupe: 'off' });
    const cfg: TrainConfig = { dataset: { kind: 'folder', fingerprint: data.fingerprint }, model: MOBILENET, strategy: 'finetune', epochs: 1, batchSize: BATCH, learningRate: 1e-3, seed: 42, earlyStopping: null };
    const { run } = await studio.train(cfg);
    if (run.status !== 'completed') throw new Error(`the epoch ended ${run.status}: ${run.error ?? ''}`);
    const [epoch] = run.epochs;
    const training = run.split.train / epoch.imagesPerSecond;
    return [
      { benchmark: 'finetune-epoch', metric: 'one fine-tuning epoch, WASM with threads', value: (epoch.seconds / 60).toFixed(1), unit: 'min', note: `${run.split.train} training + ${run.split.val} validation images; ${WHAT}; target ≤ 10 min` },
      { benchmark: 'finetune-epoch', metric: 'of which training', value: (training / 60).toFixed(1), unit: 'min', note: `${(training / Math.ceil(run.split.train / BATCH)).toFixed(2)} s a step, ${epoch.imagesPerSecond.toFixed(1)} images/s` },
    ];
  });
}

const AHEAD_SIZE = 64;

export async function compileAheadBenchmark(dir: string): Promise<BenchRow[]> {
  const skip = skipped('compile-ahead');
  if (skip) return skip;
  const sample = sampleFolder(dir, 5);
  const measured: { label: string; first: number; step: number; programs: number | null; adapter: string }[] = [];
  for (const [label, compileAhead] of [['compiled as each kernel first runs', 'off'], ['compiled ahead, in parallel', 'on']] as const) {
    console.log(`compile-ahead: ${label}…`);
    measured.push(
      await withStudioPage('webgpu', async (studio) => {
        if (studio.backend.name !== 'webgpu') throw new Error(`WebGPU did not start (got ${studio.backend.name})`);
        const base = await mobilenetConfig(studio, sample, AHEAD_SIZE);
        const { first, step, run } = await finetuneSteps(studio, { ...base, compileAhead });
        const a = studio.backend.adapter;
        return { label, first, step, programs: run.compiledAhead?.programs ?? null, adapter: a ? `${a.description || [a.vendor, a.architecture].join(' ')}${a.isSoftware ? ' (software)' : ''}` : 'no adapter information' };
      }),
    );
  }
  const [before, after] = measured;
  return measured.map((m) => ({
    benchmark: 'compile-ahead',
    metric: `time to the first training step, ${m.label}`,
    value: m.first.toFixed(1),
    unit: 's',
    note: `${m === after ? `${(before.first / after.first).toFixed(2)}× shorter than without (target ≥ 3×); ${m.programs} shaders compiled ahead, the compiling included; ` : ''}next step ${m.step.toFixed(2)} s; ${MOBILENET} fine-tuning (all blocks), ${AHEAD_SIZE} px, batch ${BATCH}, WebGPU on ${m.adapter}`,
  }));
}
