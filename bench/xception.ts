/**
 * Issue 15: Xception's feature pass at its 299 px on the WASM backend (cross-origin isolated, so threaded), on real
 * MRI images: a frozen run computes every image's features once (the feature cache), which is that pass's speed, and
 * its memory in use after the epoch. The weights are an .h5 in Keras's layout with seeded random numbers, written by
 * tests/fixtures/xception_h5.py into a models folder the page serves as /models/ (the speed does not depend on the
 * values); skipped, saying so, without /usr/bin/python3 and h5py.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../cli/session';
import { XCEPTION_FILE } from '../src/core/models/zoo';
import type { BenchRow } from './row';
import { sampleFolder, withStudioPage } from './studio-page';

export async function xceptionBenchmark(dataDir: string, perClass: number, size = 299): Promise<BenchRow[]> {
  const models = mkdtempSync(join(tmpdir(), 'studio-bench-models-'));
  const r = spawnSync('/usr/bin/python3', [join(ROOT, 'tests/fixtures/xception_h5.py'), models, '--no-reference'], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.log(`xception: skipped, /usr/bin/python3 could not write the test weights (h5py absent?): ${(r.stderr || r.error?.message || '').trim().split('\n').at(-1)}`);
    return [];
  }
  mkdirSync(join(models, 'xception'));
  renameSync(join(models, 'xception.h5'), join(models, 'xception', XCEPTION_FILE));
  const folder = sampleFolder(dataDir, perClass);
  return withStudioPage(
    'wasm',
    async ({ importFolder, train }) => {
      const summary = await importFolder(folder, { imageSize: size, channels: 3, split: { train: 0.7, val: 0.15, test: 0.15 }, seed: 42, dedupe: 'off' });
      console.log(`xception: frozen feature pass at ${size} px on ${summary.images} images…`);
      const t0 = Date.now();
      const { run, numTensors, numBytes } = await train({ dataset: { kind: 'folder', fingerprint: summary.fingerprint }, model: 'xception', strategy: 'frozen', epochs: 1, batchSize: 16, learningRate: 1e-3, seed: 42 });
      if (!run.featureCache) throw new Error(`the Xception run cached no features (status ${run.status}: ${run.error ?? ''})`);
      const { seconds, images } = run.featureCache;
      return [
        { benchmark: 'xception', metric: `feature pass, WASM, ${size} px`, value: (images / seconds).toFixed(2), unit: 'images/s', note: `${images} images in ${seconds.toFixed(1)} s (.h5 read, cached and the whole run: ${((Date.now() - t0) / 1000).toFixed(0)} s)` },
        { benchmark: 'xception', metric: 'tensor memory after the epoch', value: ((numBytes.at(-1) ?? Number.NaN) / 2 ** 20).toFixed(0), unit: 'MiB', note: `${numTensors.at(-1) ?? Number.NaN} tensors (backbone weights ${(20_861_480 * 4 / 2 ** 20).toFixed(0)} MiB)` },
      ];
    },
    { modelsDir: models },
  );
}
