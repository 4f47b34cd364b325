/**
 * The measured backend choice (workers/measure.ts) on this machine: the page in auto mode (WebGPU on SwiftShader
 * here) measures a full fine-tuning step of MobileNetV2-0.35 at 224 px, batch 16, on WebGPU, WebGL and WASM, as a
 * model's first run on a real GPU would. Rows: each backend's time to its first training step (kernels compiled
 * then) and its seconds per step, the backend chosen, and the measurement's own wall time (model builds included).
 */
import type {} from '../src/engine/automation';
import type { TrainConfig } from '../src/engine/types';
import { MODELS_DIR } from './options';
import type { BenchRow } from './row';
import { hasMobilenet, MOBILENET, pageError, withStudioPage } from './studio-page';

export async function measureBenchmark(size: number, batchSize: number): Promise<BenchRow[]> {
  if (!hasMobilenet()) {
    console.log(`measure: skipped, ${MODELS_DIR}/${MOBILENET} is absent`);
    return [];
  }
  // The demo dataset's settings give the measurement its shape only (3 classes); no image is made or imported.
  const cfg: TrainConfig = {
    dataset: { kind: 'demo', seed: 1, imageSize: size, perClass: 4, split: { train: 0.7, val: 0.15, test: 0.15 } },
    model: MOBILENET,
    strategy: 'finetune',
    epochs: 1,
    batchSize,
    learningRate: 1e-3,
    seed: 1,
  };
  return withStudioPage('auto', async ({ page }) => {
    const m = await page.evaluate((c) => window.studio!.engine.measureBackends(c), cfg).catch((err) => {
      throw new Error(`measure: ${pageError(err)}`);
    });
    const where = `${MOBILENET} fine-tuning (all blocks), ${size} px, batch ${batchSize}, ${m.adapter?.description || m.adapter?.architecture || 'no adapter'}`;
    return [
      ...m.figures.flatMap((f) => [
        { benchmark: 'measure', metric: `${f.backend}: time to the first training step`, value: f.firstStepSeconds.toFixed(1), unit: 's', note: `${where}; kernels compiled in it` },
        { benchmark: 'measure', metric: `${f.backend}: training step`, value: f.secondsPerStep.toFixed(2), unit: 's', note: 'mean of the timed steps after the first' },
      ]),
      ...m.failed.map((f) => ({ benchmark: 'measure', metric: `${f.backend}: failed`, value: '-', unit: '', note: f.reason })),
      { benchmark: 'measure', metric: 'backend chosen', value: m.fastest, unit: '', note: m.figures.map((f) => `${f.backend} ${(f.secondsPerStep / m.figures[0].secondsPerStep).toFixed(1)}×`).join(', ') },
      { benchmark: 'measure', metric: "the measurement's own time", value: m.seconds.toFixed(0), unit: 's', note: 'model built on each backend, one warm step and up to two timed, disposal' },
    ];
  });
}
