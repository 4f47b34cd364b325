import 'fake-indexeddb/auto';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateDemoDataset } from '../../src/core/dataset/demo';
import { analyzeWith } from '../../src/core/dataset/importer';
import { importTfjs } from '../../src/core/export/tfjs';
import type { DemoDatasetConfig, EvaluationRecord, PredictImage, RunRecord, TrainConfig } from '../../src/engine/types';
import { StudioEngine } from '../../workers/engine';

// The real engine on TF.js's CPU backend and fake-indexeddb: one run answers with the image and its mirror
// (tta 'flip'), another the same run with the image alone. The "files" are raw pixels (see engine-predict.test.ts).
const dataset: DemoDatasetConfig = { kind: 'demo', seed: 5, imageSize: 10, perClass: 15, split: { train: 0.6, val: 0.2, test: 0.2 } };
const cfg = (tta: 'none' | 'flip'): TrainConfig => ({ dataset, model: 'simple_cnn', epochs: 2, batchSize: 8, learningRate: 0.003, seed: 4, keepEpoch: 'last', tta });
const rawDecoder = analyzeWith(async (_file, bytes, _size, _channels, out) => {
  out.set(bytes);
});

describe('test-time mirroring through the engine', () => {
  const engine = new StudioEngine(rawDecoder);
  const demo = generateDemoDataset(dataset);
  const stride = dataset.imageSize * dataset.imageSize * 3;
  const fileOf = (key: string): PredictImage => {
    const i = demo.keys.indexOf(key);
    return { name: key, file: new Blob([demo.images.slice(i * stride, (i + 1) * stride)]) };
  };
  const runs = {} as Record<'none' | 'flip', { run: RunRecord; evaluation: EvaluationRecord }>;
  beforeAll(async () => {
    await engine.init('cpu');
    for (const tta of ['none', 'flip'] as const) {
      const run = await engine.train(cfg(tta), () => undefined);
      runs[tta] = { run, evaluation: await engine.evaluate({ runId: run.runId, latencySamples: 2 }, () => undefined) };
    }
  }, 120_000);

  it('trains the same weights, and answers differently: mirroring changes the answers, not the training', () => {
    const [none, flip] = [runs.none, runs.flip];
    expect(flip.run.epochs.map((m) => m.trainLoss)).toEqual(none.run.epochs.map((m) => m.trainLoss));
    const gap = Math.max(...flip.evaluation.predictions.flatMap((p, k) => p.probs.map((v, j) => Math.abs(v - none.evaluation.predictions[k].probs[j]))));
    expect(gap).toBeGreaterThan(1e-3);
    expect(flip.evaluation.latencyMethod).toMatch(/^the image and its mirror in one batch of two/);
  });

  it('validates in training as the evaluation does: the stored validation logits are the mirrored mean', () => {
    const { run, evaluation } = runs.flip;
    // The temperature is fitted on the validation logits: the training's (stored) and the evaluation's (recomputed) agree.
    expect(run.bestValidation!.temperature).toBeCloseTo(evaluation.metrics.temperature!, 4);
    expect(runs.none.run.bestValidation!.temperature).not.toBeCloseTo(evaluation.metrics.temperature!, 4);
  });

  it('registers the model with the mirroring in its metadata, and predicts what the evaluation found', async () => {
    const { run, evaluation } = runs.flip;
    const version = await engine.register({ runId: run.runId, name: 'mirrored', version: '1.0.0', overrideReason: 'unit test' });
    expect(version.card).toContain('the mean of the logits for the image and for the image mirrored left to right (test-time mirroring)');
    const exported = await engine.exportModel('mirrored@1.0.0', 'tfjs');
    const { model, metadata } = await importTfjs(Object.fromEntries(exported.files.map((f) => [f.name, f.bytes])));
    model.dispose();
    expect(metadata.tta).toEqual({ kind: 'flip', bakedIn: false });
    const tested = evaluation.predictions.slice(0, 4);
    const result = await engine.predict('mirrored@1.0.0', tested.map((p) => fileOf(p.key)));
    tested.forEach((want, k) => {
      const got = result.predictions[k];
      if (!got.ok) throw new Error(got.error);
      got.probabilities.forEach((p, j) => expect(p.probability).toBeCloseTo(want.probs[j], 6));
    });
  });
});
