/**
 * Issue 8 "done when": each of the seed's architectures trains in the studio on real data. A small sample of the MRI
 * folder (the first `perClass` images of each class) is imported through the page at each architecture's smallest
 * valid input and every architecture trains from scratch for one epoch on WebGL by default (WASM cannot train convolutions;
 * WebGPU on SwiftShader is far slower): epoch time, whether the loss stayed finite, validation accuracy. One epoch
 * on ~100 images says that the whole path works on real images, not how well the architecture learns.
 */
import { getArchitecture } from '../src/core/models/architectures/catalog';
import { pageError, sampleFolder, withStudioPage } from './studio-page';
import type { BenchRow } from './row';

/** The smallest input each takes: CNNs 64 px (five stride-2 stages), ViT a multiple of 16, Swin nano of 32, Swin-T/S 224. */
// Cheapest first: on a shared machine a run may have to stop early, and each model's rows are printed when done.
const PLAN: [size: number, models: string[]][] = [
  [64, ['resnet18', 'efficientnet_b0', 'vit_ti16', 'swin_nano', 'resnet50', 'vit_s16', 'vit_b16']],
  [224, ['swin_t', 'swin_s']],
];

/** `only` narrows the plan to some architectures; `backend` (WebGL by default) is forced for every run. */
export async function architecturesBenchmark(mriDir: string, perClass: number, only?: string[], backend = 'webgl'): Promise<BenchRow[]> {
  const unknown = only?.filter((m) => !PLAN.some(([, models]) => models.includes(m)));
  if (unknown?.length) throw new Error(`--architectures: ${unknown.join(', ')} not in ${PLAN.flatMap(([, m]) => m).join(', ')}`);
  const data = sampleFolder(mriDir, perClass);
  return withStudioPage(backend, async (studio) => {
    const rows: BenchRow[] = [];
    for (const [size, all] of PLAN) {
      const models = all.filter((m) => !only || only.includes(m));
      if (models.length === 0) continue;
      const summary = await studio.importFolder(data, { imageSize: size, channels: 3, split: { train: 0.7, val: 0.15, test: 0.15 }, seed: 42, dedupe: 'off' });
      for (const model of models) {
        const b = `architectures/${model}`;
        console.log(`${b}: ${size} px…`);
        try {
          // The zoo's from-scratch defaults (learning rate, batch, optimiser), as the train form would fill them.
          const { learningRate, batchSize, optimizer } = getArchitecture(model)!.defaults;
          const { run } = await studio.train({ dataset: { kind: 'folder', fingerprint: summary.fingerprint }, model, epochs: 1, batchSize, learningRate, optimizer, seed: 42, earlyStopping: null });
          const e = run.epochs[0];
          if (run.status !== 'completed' || !e) throw new Error(`the run ended ${run.status}${run.error ? `: ${run.error}` : ''}`);
          const finite = Number.isFinite(e.trainLoss) && Number.isFinite(e.valLoss);
          const note = `${size} px, ${run.split.train}+${run.split.val} train+val images, batch ${run.config.batchSize}, ${run.optimizer}, ${run.backend}`;
          const done: BenchRow[] = [
            { benchmark: b, metric: 'epoch time', value: e.seconds.toFixed(1), unit: 's', note },
            { benchmark: b, metric: 'train / val loss', value: `${e.trainLoss.toFixed(3)} / ${e.valLoss.toFixed(3)}`, unit: '', note: finite ? 'finite' : 'NOT FINITE' },
            { benchmark: b, metric: 'val accuracy after 1 epoch', value: (e.valAccuracy * 100).toFixed(1), unit: '%', note: `${run.classes.length} classes (chance ${(100 / run.classes.length).toFixed(0)} %)` },
          ];
          for (const r of done) console.log(`  ${r.metric}: ${r.value} ${r.unit} (${r.note})`);
          rows.push(...done);
        } catch (err) {
          console.log(`  error: ${pageError(err)}`);
          rows.push({ benchmark: b, metric: 'error', value: pageError(err), unit: '', note: `${size} px` });
        }
      }
    }
    return rows;
  });
}
