/**
 * Issue 4 (b), and the evidence for the routing order (src/core/routing.ts): on each backend, forced, one
 * fine-tuning step of MobileNetV2-0.35 at 224 px, batch 16 (conv training), the backbone's forward pass per image
 * (feature extraction) and an epoch of the Medical CNN head on cached features (dense training). The first epoch
 * of each run compiles kernels, so steps are timed on the second.
 */
import type { BenchRow } from './run';
import { hasMobilenet, MOBILENET, pageError, sampleFolder, withStudioPage } from './studio-page';
import type { TrainConfig } from '../src/engine/types';

export const BENCH_BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;

const BATCH = 16;

interface Measured {
  backend: string;
  stepSeconds?: number;
  firstStepSeconds?: number;
  forwardSecondsPerImage?: number;
  headEpochSeconds?: number;
  notes: string[];
}

export async function backendsBenchmark(mriDir: string, backends: readonly string[]): Promise<BenchRow[]> {
  if (!hasMobilenet()) {
    console.log(`backends: skipped, ../shared/pretrained/${MOBILENET} is absent`);
    return [];
  }
  // 5 images per class, 80/20: exactly one batch of 16 to train on, 4 to validate.
  const dir = sampleFolder(mriDir, 5);
  const measured: Measured[] = [];
  for (const backend of backends) {
    console.log(`backends: ${backend}…`);
    measured.push(
      await withStudioPage(backend, async (studio) => {
        const m: Measured = { backend, notes: [] };
        const info = await studio.page.evaluate(() => window.studio!.ready());
        if (info.name !== backend) throw new Error(`backend ${backend} did not start (got ${info.name})`);
        const data = await studio.importFolder(dir, { imageSize: 224, channels: 3, split: { train: 0.8, val: 0.2, test: 0 }, seed: 1, dedupe: 'off' });
        const base: TrainConfig = { dataset: { kind: 'folder', fingerprint: data.fingerprint }, model: MOBILENET, epochs: 2, batchSize: BATCH, learningRate: 1e-3, seed: 1, earlyStopping: null, classWeights: 'off' };
        try {
          const { run, numTensors } = await studio.train({ ...base, strategy: 'finetune' });
          if (run.split.train !== BATCH) throw new Error(`the sample has ${run.split.train} training images, not one batch of ${BATCH}`);
          m.firstStepSeconds = BATCH / run.epochs[0].imagesPerSecond;
          m.stepSeconds = BATCH / run.epochs[1].imagesPerSecond;
          m.notes.push(`tensors after each epoch ${numTensors.join(', ')}`);
        } catch (err) {
          m.notes.push(`fine-tuning cannot run: ${pageError(err)}`);
        }
        const { run } = await studio.train({ ...base, strategy: 'medical' });
        if (!run.featureCache) throw new Error('the medical run did not cache features');
        m.forwardSecondsPerImage = run.featureCache.seconds / run.featureCache.images;
        m.headEpochSeconds = run.epochs[1].seconds;
        return m;
      }),
    );
  }
  const fastest = (k: 'stepSeconds' | 'forwardSecondsPerImage' | 'headEpochSeconds') => Math.min(...measured.map((m) => m[k] ?? Infinity));
  const rows: BenchRow[] = [];
  for (const m of measured) {
    const b = `backends/${m.backend}`;
    const ratio = (k: 'stepSeconds' | 'forwardSecondsPerImage' | 'headEpochSeconds') => `${((m[k] ?? NaN) / fastest(k)).toFixed(1)}× the fastest`;
    if (m.stepSeconds !== undefined) {
      rows.push({ benchmark: b, metric: `fine-tune step, batch ${BATCH}, 224 px`, value: m.stepSeconds.toFixed(2), unit: 's', note: `${ratio('stepSeconds')}; first step (compiles kernels) ${m.firstStepSeconds!.toFixed(1)} s` });
    }
    rows.push({ benchmark: b, metric: 'backbone forward per image', value: (m.forwardSecondsPerImage! * 1000).toFixed(0), unit: 'ms', note: ratio('forwardSecondsPerImage') });
    rows.push({ benchmark: b, metric: 'Medical head epoch on cached features (16 + 4 images)', value: (m.headEpochSeconds! * 1000).toFixed(0), unit: 'ms', note: ratio('headEpochSeconds') });
    for (const note of m.notes) rows.push({ benchmark: b, metric: 'note', value: '', unit: '', note });
  }
  return rows;
}
