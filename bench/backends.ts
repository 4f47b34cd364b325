/**
 * Issue 4 (b) and issue 7: on each backend, forced, in its own page,
 * - the simple CNN trained from scratch on the built-in demo (32 px, batch 32): step time and tensors leaked per
 *   epoch (numTensors after epoch k minus after epoch 1; must be 0);
 * - MobileNetV2-0.35 (with its pretrained copy in --models): one fine-tuning step (batch 16, conv training), the
 *   backbone's forward pass per image (feature extraction) and an epoch of the Medical CNN head on cached features
 *   (dense training) — the evidence for the routing order (src/core/routing.ts), at 224 px with --full;
 * then, in one page, per-image inference latency p50/p95 of the same trained models on every backend in turn,
 * measured by the studio's own evaluation (workers/evaluate.ts: batch of one, upload to probabilities read back).
 * The first epoch of each run compiles kernels, so steps are timed on later ones.
 */
import type { BenchRow } from './row';
import { hasMobilenet, MOBILENET, pageError, sampleFolder, withStudioPage, type StudioPage } from './studio-page';
import type { BackendName, DemoDatasetConfig, RunRecord, TrainConfig } from '../src/engine/types';

export const BENCH_BACKENDS: readonly BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

const BATCH = 16;
const CNN = { size: 32, batch: 32, epochs: 3 };
const CNN_LABEL = `simple CNN, batch ${CNN.batch}, ${CNN.size} px`;
const LATENCY_SAMPLES = 20;

const demo = (imageSize: number): DemoDatasetConfig => ({ kind: 'demo', seed: 1, imageSize, perClass: 24, split: { train: 0.7, val: 0.15, test: 0.15 } });

interface Measured {
  backend: string;
  cnnStepSeconds?: number;
  cnnFirstStepSeconds?: number;
  stepSeconds?: number;
  firstStepSeconds?: number;
  forwardSecondsPerImage?: number;
  headEpochSeconds?: number;
  /** Tensors leaked per epoch, by the run they come from. */
  leaks: { label: string; numTensors: number[] }[];
  latency: { label: string; p50: number; p95: number; method: string }[];
  notes: string[];
}
type Timed = 'cnnStepSeconds' | 'stepSeconds' | 'forwardSecondsPerImage' | 'headEpochSeconds';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** Seconds per optimiser step of one epoch: its training time (validation excluded) over its batches. */
const stepSeconds = (run: RunRecord, epoch: number) => run.split.train / run.epochs[epoch].imagesPerSecond / Math.ceil(run.split.train / run.config.batchSize);

async function simpleCnn(studio: StudioPage, m: Measured): Promise<void> {
  try {
    const { run, numTensors } = await studio.train({ dataset: demo(CNN.size), model: 'simple_cnn', epochs: CNN.epochs, batchSize: CNN.batch, learningRate: 1e-3, seed: 1, earlyStopping: null });
    m.cnnFirstStepSeconds = stepSeconds(run, 0);
    m.cnnStepSeconds = median(run.epochs.slice(1).map((_, k) => stepSeconds(run, k + 1)));
    m.leaks.push({ label: 'simple CNN', numTensors });
  } catch (err) {
    m.notes.push(`simple CNN cannot train: ${pageError(err)}`);
  }
}

/** The MobileNetV2 runs' common settings, on `dir` (5 images per class: one batch of 16 to train on) imported at `size`. */
export async function mobilenetConfig(studio: StudioPage, dir: string, size: number): Promise<TrainConfig> {
  const data = await studio.importFolder(dir, { imageSize: size, channels: 3, split: { train: 0.8, val: 0.2, test: 0 }, seed: 1, dedupe: 'off' });
  return { dataset: { kind: 'folder', fingerprint: data.fingerprint }, model: MOBILENET, epochs: 2, batchSize: BATCH, learningRate: 1e-3, seed: 1, earlyStopping: null, classWeights: 'off' };
}

/**
 * Two epochs of MobileNetV2-0.35 fine-tuning (all blocks, batch 16, `base` from mobilenetConfig) on the page's backend,
 * `steps` steps each (the sample must hold that many batches): the first epoch's time per step (kernels compiled in its
 * first) and the second's, with the live tensors after each epoch.
 */
export async function finetuneSteps(studio: StudioPage, base: TrainConfig, steps = 1): Promise<{ first: number; step: number; numTensors: number[]; run: RunRecord }> {
  const { run, numTensors } = await studio.train({ ...base, strategy: 'finetune' });
  if (run.status !== 'completed') throw new Error(`the fine-tuning run ended ${run.status}: ${run.error ?? ''}`);
  if (run.split.train !== steps * BATCH) throw new Error(`the sample has ${run.split.train} training images, not ${steps} batches of ${BATCH}`);
  return { first: stepSeconds(run, 0), step: stepSeconds(run, 1), numTensors, run };
}

async function mobilenet(studio: StudioPage, m: Measured, dir: string, size: number): Promise<void> {
  const base = await mobilenetConfig(studio, dir, size);
  try {
    const { first, step, numTensors } = await finetuneSteps(studio, base);
    m.firstStepSeconds = first;
    m.stepSeconds = step;
    m.leaks.push({ label: 'MobileNetV2 fine-tuning', numTensors });
  } catch (err) {
    m.notes.push(`MobileNetV2 fine-tuning cannot run: ${pageError(err)}`);
  }
  const { run, numTensors } = await studio.train({ ...base, strategy: 'medical' });
  if (!run.featureCache) throw new Error('the medical run did not cache features');
  m.forwardSecondsPerImage = run.featureCache.seconds / run.featureCache.images;
  m.headEpochSeconds = run.epochs[1].seconds;
  m.leaks.push({ label: 'MobileNetV2 Medical head', numTensors });
}

/** One page: each model trained once (auto routing), then evaluated on every backend in turn. */
async function latencies(measured: Measured[], size: number): Promise<void> {
  await withStudioPage('auto', async (studio) => {
    const models: { label: string; cfg: TrainConfig }[] = [{ label: `simple CNN, ${CNN.size} px`, cfg: { dataset: demo(CNN.size), model: 'simple_cnn', epochs: 1, batchSize: CNN.batch, learningRate: 1e-3, seed: 1 } }];
    if (hasMobilenet()) models.push({ label: `MobileNetV2-0.35 + head, ${size} px`, cfg: { dataset: demo(size), model: MOBILENET, strategy: 'frozen', epochs: 1, batchSize: BATCH, learningRate: 1e-3, seed: 1 } });
    for (const { label, cfg } of models) {
      console.log(`backends: latency of the ${label}…`);
      const { run } = await studio.train(cfg);
      for (const m of measured) {
        await studio.page.evaluate((b) => window.studio!.ui.selectBackend(b as BackendName), m.backend);
        const ev = await studio.page.evaluate(([runId, latencySamples]) => window.studio!.engine.evaluate({ runId, latencySamples }, window.studio!.events), [run.runId, LATENCY_SAMPLES] as const);
        m.latency.push({ label, p50: ev.metrics.latencyMs.p50, p95: ev.metrics.latencyMs.p95, method: ev.latencyMethod });
      }
    }
  });
}

export async function backendsBenchmark(mriDir: string, backends: readonly string[], size: number): Promise<BenchRow[]> {
  const withMobilenet = hasMobilenet();
  if (!withMobilenet) console.log(`backends: ${MOBILENET} is absent from --models, so only the simple CNN is measured`);
  // 5 images per class, 80/20: exactly one batch of 16 to train on, 4 to validate.
  const dir = sampleFolder(mriDir, 5);
  const measured: Measured[] = [];
  for (const backend of backends) {
    console.log(`backends: ${backend}…`);
    measured.push(
      await withStudioPage(backend, async (studio) => {
        const m: Measured = { backend, leaks: [], latency: [], notes: [] };
        const info = studio.backend;
        if (info.name !== backend) throw new Error(`backend ${backend} did not start (got ${info.name})`);
        await simpleCnn(studio, m);
        if (withMobilenet) await mobilenet(studio, m, dir, size);
        return m;
      }),
    );
  }
  await latencies(measured, size);

  const fastest = (k: Timed) => Math.min(...measured.map((m) => m[k] ?? Infinity));
  const ratio = (m: Measured, k: Timed) => `${((m[k] ?? NaN) / fastest(k)).toFixed(1)}× the fastest`;
  const rows: BenchRow[] = [];
  for (const m of measured) {
    const b = `backends/${m.backend}`;
    if (m.cnnStepSeconds !== undefined) {
      rows.push({ benchmark: b, metric: `training step, ${CNN_LABEL}`, value: (m.cnnStepSeconds * 1000).toFixed(0), unit: 'ms', note: `${ratio(m, 'cnnStepSeconds')}; median of epochs 2–${CNN.epochs}; first epoch (compiles kernels) ${(m.cnnFirstStepSeconds! * 1000).toFixed(0)} ms a step` });
    }
    if (m.stepSeconds !== undefined) {
      rows.push({ benchmark: b, metric: `training step, MobileNetV2-0.35 fine-tuning, batch ${BATCH}, ${size} px`, value: m.stepSeconds.toFixed(2), unit: 's', note: `${ratio(m, 'stepSeconds')}; first step (compiles kernels) ${m.firstStepSeconds!.toFixed(1)} s` });
    }
    if (m.forwardSecondsPerImage !== undefined) {
      rows.push({ benchmark: b, metric: `MobileNetV2-0.35 forward per image, ${size} px`, value: (m.forwardSecondsPerImage * 1000).toFixed(0), unit: 'ms', note: ratio(m, 'forwardSecondsPerImage') });
      rows.push({ benchmark: b, metric: 'Medical head epoch on cached features (16 + 4 images)', value: (m.headEpochSeconds! * 1000).toFixed(0), unit: 'ms', note: ratio(m, 'headEpochSeconds') });
    }
    for (const l of m.latency) {
      rows.push({ benchmark: b, metric: `inference latency p50, ${l.label}`, value: l.p50.toFixed(1), unit: 'ms', note: `${l.method}; demo data` });
      rows.push({ benchmark: b, metric: `inference latency p95, ${l.label}`, value: l.p95.toFixed(1), unit: 'ms' });
    }
    for (const { label, numTensors } of m.leaks) {
      const perEpoch = (numTensors[numTensors.length - 1] - numTensors[0]) / Math.max(1, numTensors.length - 1);
      rows.push({ benchmark: b, metric: `tensors leaked per epoch, ${label}`, value: perEpoch, unit: 'tensors', note: `${perEpoch === 0 ? 'must be 0' : 'LEAK: must be 0'}; live after each epoch ${numTensors.join(', ')}` });
    }
    for (const note of m.notes) rows.push({ benchmark: b, metric: 'note', value: '', unit: '', note });
  }
  return rows;
}
