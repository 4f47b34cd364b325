/**
 * Issue 4 (a): a head epoch on cached backbone features against an epoch that runs the frozen backbone on every
 * batch, same images, same split, same backend (auto routing: WASM on a software adapter), in one page.
 */
import type { BenchRow } from './row';
import { hasMobilenet, MOBILENET, sampleFolder, withStudioPage } from './studio-page';
import type { TrainConfig } from '../src/engine/types';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function featureCacheBenchmark(mriDir: string, perClass: number): Promise<BenchRow[]> {
  if (!hasMobilenet()) {
    console.log(`feature-cache: skipped, ${MOBILENET} is absent from --models`);
    return [];
  }
  const dir = sampleFolder(mriDir, perClass);
  return withStudioPage('auto', async (studio) => {
    const data = await studio.importFolder(dir, { imageSize: 224, channels: 3, split: { train: 0.7, val: 0.15, test: 0.15 }, seed: 42, dedupe: 'keep-together' });
    const base: TrainConfig = { dataset: { kind: 'folder', fingerprint: data.fingerprint }, model: MOBILENET, strategy: 'frozen', batchSize: 32, learningRate: 1e-3, seed: 42, epochs: 1, earlyStopping: null };
    console.log('feature-cache: backbone every epoch…');
    const rerun = await studio.train({ ...base, featureCache: 'off', epochs: 2 });
    console.log('feature-cache: cached features…');
    const cached = await studio.train({ ...base, epochs: 6 });
    if (!cached.run.featureCache || rerun.run.featureCache) throw new Error('expected exactly one of the two runs to cache features');
    if (cached.run.routing?.train !== rerun.run.routing?.train) throw new Error('the two runs trained on different backends');
    // Epoch 1 of each compiles kernels; later epochs are the steady state.
    const rerunEpoch = rerun.run.epochs[1];
    const head = cached.run.epochs.slice(1);
    const headSeconds = median(head.map((m) => m.seconds));
    const headIps = median(head.map((m) => m.imagesPerSecond));
    const where = `${cached.run.routing!.train}; ${cached.run.split.train} train + ${cached.run.split.val} val images at 224 px`;
    return [
      { benchmark: 'feature-cache', metric: 'epoch running the backbone', value: rerunEpoch.seconds.toFixed(2), unit: 's', note: `${rerunEpoch.imagesPerSecond.toFixed(1)} train images/s; ${where}` },
      { benchmark: 'feature-cache', metric: 'epoch on cached features (median of 5)', value: headSeconds.toFixed(3), unit: 's', note: `${headIps.toFixed(0)} train images/s` },
      { benchmark: 'feature-cache', metric: 'backbone epoch / cached epoch', value: (rerunEpoch.seconds / headSeconds).toFixed(0), unit: '×', note: `goal ≥ 50; train-only throughput ratio ${(headIps / rerunEpoch.imagesPerSecond).toFixed(0)}×` },
      { benchmark: 'feature-cache', metric: 'one-time feature extraction', value: cached.run.featureCache.seconds.toFixed(1), unit: 's', note: `${cached.run.featureCache.images} images (every split), before epoch 1` },
      { benchmark: 'feature-cache', metric: 'tensors after each epoch', value: '', unit: '', note: `backbone ${rerun.numTensors.join(', ')}; cached ${cached.numTensors.join(', ')}` },
    ];
  });
}
