/**
 * Cross-origin isolation benchmark: the same frozen-backbone feature pass (MobileNetV2-0.35 at 224 px on the WASM
 * backend, real MRI images) with the studio served with and without COOP/COEP. Isolation gives the page
 * SharedArrayBuffer, which the WASM backend needs to run on several threads.
 */
import { availableParallelism } from 'node:os';
import { MODELS_DIR } from './options';
import type { BenchRow } from './row';
import { hasMobilenet, MOBILENET as MODEL, sampleFolder, withStudioPage } from './studio-page';

function featurePass(isolated: boolean, folder: string): Promise<{ seconds: number; images: number; isolated: boolean }> {
  return withStudioPage(
    'wasm',
    async ({ page, importFolder, train }) => {
      const summary = await importFolder(folder, { imageSize: 224, channels: 3, split: { train: 0.7, val: 0.15, test: 0.15 }, seed: 42, dedupe: 'off' });
      const { run } = await train({ dataset: { kind: 'folder', fingerprint: summary.fingerprint }, model: MODEL, strategy: 'frozen', epochs: 1, batchSize: 32, learningRate: 1e-3, seed: 42 });
      if (!run.featureCache) throw new Error(`the ${MODEL} run cached no features (status ${run.status}: ${run.error ?? ''})`);
      return { ...run.featureCache, isolated: await page.evaluate(() => crossOriginIsolated) };
    },
    { isolated },
  );
}

export async function isolationBenchmark(dataDir: string, perClass = 32): Promise<BenchRow[]> {
  if (!hasMobilenet()) {
    console.log(`isolation: skipped, ${MODELS_DIR}/${MODEL} is absent`);
    return [];
  }
  const folder = sampleFolder(dataDir, perClass);
  const plain = await featurePass(false, folder);
  const isolated = await featurePass(true, folder);
  if (!isolated.isolated || plain.isolated) throw new Error('the servers did not give the isolation each pass needs');
  const row = (label: string, r: typeof plain): BenchRow => ({ benchmark: 'isolation', metric: `${MODEL} features, WASM, ${label}`, value: r.seconds.toFixed(2), unit: 's', note: `${(r.images / r.seconds).toFixed(1)} images/s, ${r.images} images at 224 px` });
  return [
    row('no COOP/COEP (one thread)', plain),
    row('cross-origin isolated (threads)', isolated),
    { benchmark: 'isolation', metric: 'speed-up from isolation', value: (plain.seconds / isolated.seconds).toFixed(2), unit: '×', note: `same images, same run; ${availableParallelism()} cores` },
  ];
}
