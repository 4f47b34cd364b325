/**
 * Issue 4 (c): the real MRI folder, MobileNetV2-0.35 frozen with the Medical CNN head (strategy `medical`), on all
 * four classes and on the three tumour classes: best validation accuracy, per-class recall and the confusion matrix
 * of that epoch (RunRecord.bestValidation). Auto mode, so on a software adapter it runs on WASM.
 */
import type { BenchRow } from './row';
import { hasMobilenet, MOBILENET, sampleFolder, withStudioPage } from './studio-page';

const TUMOURS = ['glioma', 'meningioma', 'pituitary'];

/** @param perClass a sample of this many images per class, or null for the whole folder. */
export async function realDataBenchmark(mriDir: string, epochs: number, perClass: number | null): Promise<BenchRow[]> {
  if (!hasMobilenet()) {
    console.log(`real-data: skipped, ${MOBILENET} is absent from --models`);
    return [];
  }
  const dir = perClass === null ? mriDir : sampleFolder(mriDir, perClass);
  return withStudioPage('auto', async (studio) => {
    const rows: BenchRow[] = [];
    for (const classes of [undefined, TUMOURS]) {
      const b = `real-data/${classes ? '3 tumour classes' : '4 classes'}`;
      console.log(`${b}: importing…`);
      const data = await studio.importFolder(dir, { imageSize: 224, channels: 3, classes, split: { train: 0.7, val: 0.15, test: 0.15 }, seed: 42, dedupe: 'keep-together' });
      console.log(`${b}: training…`);
      const started = Date.now();
      const { run, numTensors } = await studio.train({ dataset: { kind: 'folder', fingerprint: data.fingerprint }, model: MOBILENET, strategy: 'medical', epochs, batchSize: 32, learningRate: 1e-3, seed: 42 });
      const seconds = (Date.now() - started) / 1000;
      const v = run.bestValidation;
      if (run.status !== 'completed' || !run.best || !v) throw new Error(`${b}: the run ended ${run.status}${run.error ? `: ${run.error}` : ''}`);
      rows.push(
        { benchmark: b, metric: 'images train/val/test', value: `${run.split.train}/${run.split.val}/${run.split.test}`, unit: '', note: `${perClass === null ? 'the whole folder' : `${perClass} per class (--full: the whole folder)`}; imported in ${data.seconds.toFixed(0)} s; ${data.duplicates.crossSplit.length} duplicate groups kept in one split` },
        { benchmark: b, metric: 'routing', value: `${run.routing!.forward}/${run.routing!.train}`, unit: '', note: run.routing!.reason },
        { benchmark: b, metric: 'best validation accuracy', value: (run.best.valAccuracy * 100).toFixed(1), unit: '%', note: `epoch ${run.best.epoch} of ${run.epochs.length}${run.epochs.length < epochs ? ' (early stopping)' : ''}` },
        ...run.classes.map((c, k): BenchRow => ({ benchmark: b, metric: `recall ${c}`, value: (v.recall[k] * 100).toFixed(1), unit: '%', note: `${v.confusion[k][k]}/${v.confusion[k].reduce((x, y) => x + y, 0)}` })),
        { benchmark: b, metric: 'confusion (rows true, cols predicted)', value: JSON.stringify(v.confusion), unit: '', note: run.classes.join(', ') },
        { benchmark: b, metric: 'time', value: seconds.toFixed(0), unit: 's', note: `features ${run.featureCache!.seconds.toFixed(0)} s for ${run.featureCache!.images} images; tensors after epochs ${numTensors[0]}…${numTensors[numTensors.length - 1]}` },
      );
    }
    return rows;
  });
}
