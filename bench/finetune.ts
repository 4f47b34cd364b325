/**
 * Partial fine-tuning benchmark: what caching the frozen part's activations gains. The same imported subset of real
 * MRI images trains MobileNetV2 0.35 with its last 2 blocks unfrozen twice in one page, on one backend: once running
 * the frozen layers every epoch (featureCache 'off'), once on activations cached at the frozen boundary. WebGL, not
 * WebGPU (about 100× slower on SwiftShader), as in the figures recorded before WASM could train convolutions
 * (src/core/kernels/wasm-gradients.ts); `--only backends` times the fine-tuning step on every backend, WASM included.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RunRecord, TrainConfig } from '../src/engine/types';
import { MODELS_DIR } from './options';
import type { BenchRow } from './row';
import { hasMobilenet, MOBILENET, sampleFolder, withStudioPage } from './studio-page';

const BACKEND = 'webgl';
const EPOCHS = 3;

/** Median epoch time after the first (which compiles the backend's kernels). */
function steadyEpochSeconds(run: RunRecord): number {
  const s = run.epochs.slice(1).map((m) => m.seconds).sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export async function finetuneBenchmark(dir: string, size: number, perClass: number): Promise<BenchRow[]> {
  if (!hasMobilenet()) {
    console.log(`finetune: skipped, ${MODELS_DIR}/${MOBILENET} is absent`);
    return [];
  }
  const data = sampleFolder(dir, perClass);
  try {
    return await withStudioPage(BACKEND, async ({ backend, importFolder, train }) => {
      if (backend.name !== BACKEND) throw new Error(`the finetune benchmark needs ${BACKEND}; the page got ${backend.name}`);
      const summary = await importFolder(data, { imageSize: size, channels: 3, split: { train: 0.7, val: 0.15, test: 0.15 }, seed: 42, dedupe: 'off' });
      const cfg = (featureCache: 'off' | 'auto'): TrainConfig => ({
        dataset: { kind: 'folder', fingerprint: summary.fingerprint },
        model: MOBILENET,
        strategy: 'finetune',
        trainableBlocks: 2,
        epochs: EPOCHS,
        batchSize: 16,
        learningRate: 1e-3,
        seed: 42,
        earlyStopping: null,
        featureCache,
      });
      const { run: plain } = await train(cfg('off'));
      const { run: cached } = await train(cfg('auto'));
      const cache = cached.phases?.[0]?.featureCache;
      if (!cache) throw new Error('the cached run recorded no feature cache');
      const [without, withCache] = [steadyEpochSeconds(plain), steadyEpochSeconds(cached)];
      const note = `${MOBILENET}, last 2 blocks, ${size} px, ${plain.split.train}+${plain.split.val} train+val images, ${BACKEND} (${backend.adapter?.description || backend.adapter?.vendor || 'no adapter info'}), median of epochs 2–${EPOCHS}`;
      return [
        { benchmark: 'finetune', metric: 'epoch without cache', value: without.toFixed(2), unit: 's', note },
        { benchmark: 'finetune', metric: 'epoch with cache', value: withCache.toFixed(2), unit: 's', note: `activations at ${cache.boundary} ${JSON.stringify(cache.featureShape)}, kept on ${cache.keep}, ${(cache.bytes / 2 ** 20).toFixed(1)} MiB` },
        { benchmark: 'finetune', metric: 'epoch time, without / with cache', value: (without / withCache).toFixed(1), unit: '×', note: 'same page, same backend, same images' },
        { benchmark: 'finetune', metric: 'cache build (once per phase)', value: cache.seconds.toFixed(2), unit: 's', note: `${cache.images} images; pays for itself after ${(cache.seconds / Math.max(1e-9, without - withCache)).toFixed(1)} epochs` },
      ];
    });
  } finally {
    rmSync(dirname(data), { recursive: true, force: true });
  }
}
