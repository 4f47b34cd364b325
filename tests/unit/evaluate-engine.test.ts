import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { StudioEngine } from '../../workers/engine';
import { demoImage } from '../../src/core/dataset/demo';
import { analyzeWith } from '../../src/core/dataset/importer';
import { evaluationMetricsJson } from '../../src/core/metrics/files';
import type { EvaluateEvent, TrainConfig } from '../../src/engine/types';

// The real engine on TF.js's CPU backend and fake-indexeddb: train a small run, then evaluate its best checkpoint.
const cfg = (over: Partial<TrainConfig> = {}): TrainConfig => ({
  dataset: { kind: 'demo', seed: 3, imageSize: 8, perClass: 20, split: { train: 0.6, val: 0.2, test: 0.2 } },
  model: 'simple_cnn',
  epochs: 2,
  batchSize: 8,
  learningRate: 0.003,
  seed: 3,
  ...over,
});

describe('engine.evaluate', () => {
  const engine = new StudioEngine();
  beforeAll(async () => {
    await engine.init('cpu');
  });

  it("evaluates a run's best checkpoint on its test split, with progress, and stores the result", async () => {
    const run = await engine.train(cfg(), () => {});
    const events: EvaluateEvent[] = [];
    const before = tf.memory().numTensors;
    const ev = await engine.evaluate({ runId: run.runId, latencySamples: 5 }, (e) => events.push(e));
    // Nothing left on the backend: the rebuilt model, its optimiser and every batch are disposed.
    expect(tf.memory().numTensors).toBe(before);
    expect(events[0]).toEqual({ type: 'start', runId: run.runId, checkpointEpoch: run.checkpoint.best, test: 12, val: 12 });
    expect(events.at(-1)).toEqual({ type: 'done', evaluation: ev });
    const phases = events.filter((e) => e.type === 'progress').map((e) => e.phase);
    expect([...new Set(phases)]).toEqual(['validation', 'test', 'latency']);
    expect(phases.filter((p) => p === 'latency')).toHaveLength(5);

    expect(ev.checkpoint).toEqual({ kind: 'best', epoch: run.checkpoint.best });
    expect(ev.data).toMatchObject({ kind: 'demo', split: 'test', images: 12, temperatureFittedOn: 12 });
    expect(ev.predictions).toHaveLength(12);
    // The predictions and the figures agree: the confusion matrix is the predictions counted.
    const counted = ev.metrics.classes.map((_, t) => ev.metrics.classes.map((_, p) => ev.predictions.filter((x) => x.label === t && x.predicted === p).length));
    expect(ev.metrics.confusion).toEqual(counted);
    expect(ev.predictions.every((x) => Math.abs(x.probs.reduce((a, b) => a + b, 0) - 1) < 1e-6 && x.probs[x.predicted] === Math.max(...x.probs))).toBe(true);
    expect(ev.predictions.map((x) => x.key).every((k) => /^(glioma|meningioma|pituitary)\/\d+$/.test(k))).toBe(true);
    expect(ev.metrics.latencyMs.p95).toBeGreaterThanOrEqual(ev.metrics.latencyMs.p50);
    expect(ev.metrics.throughput).toBeGreaterThan(0);
    expect(ev.latencyMethod).toMatch(/batch of one.*5 test images after 3 untimed warm-up/);
    expect(ev.metrics.temperature).toBeGreaterThan(0);
    expect(JSON.parse(JSON.stringify(evaluationMetricsJson(ev.metrics)))).toEqual(evaluationMetricsJson(ev.metrics));
    expect(await engine.evaluation(run.runId)).toEqual(ev);
    expect(await engine.evaluation('run-none')).toBeNull();
    const files = await engine.evaluationReport(run.runId);
    expect(files.map((f) => f.name)).toEqual(['evaluation_metrics.json', 'medical_validation.json', 'evaluation_report.md']);
    expect(JSON.parse(files[0].text)).toEqual(JSON.parse(JSON.stringify(evaluationMetricsJson(ev.metrics))));
    expect(JSON.parse(files[1].text).verdict).toBe(ev.medical.verdict);
    expect(files[2].text).toContain(`Run \`${run.runId}\``);
    await expect(engine.evaluationReport('run-none')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    // A confusion cell's gallery: the demo images are regenerated from the run's own config.
    const keys = ev.predictions.slice(0, 2).map((x) => x.key);
    const thumbs = await engine.evaluationThumbnails(run.runId, keys, 4);
    expect(thumbs.map((t) => [t.key, t.size, t.rgba.length])).toEqual(keys.map((k) => [k, 4, 4 * 4 * 4]));
  });

  it('measures accuracy under noise, blur, brightness and rotation at three severities, stored and written into the report files', async () => {
    const run = await engine.train(cfg({ epochs: 1 }), () => {});
    const events: EvaluateEvent[] = [];
    const before = tf.memory().numTensors;
    const ev = await engine.evaluate({ runId: run.runId, latencySamples: 2, robustness: true }, (e) => events.push(e));
    expect(tf.memory().numTensors).toBe(before);
    const progress = events.flatMap((e) => (e.type === 'progress' && e.phase === 'robustness' ? [e.done] : []));
    expect(progress).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    const r = ev.robustness!;
    expect(r).toMatchObject({ baseline: ev.metrics.report.accuracy, images: 12, backend: 'cpu' });
    expect(r.rows.map((x) => `${x.kind}${x.severity}`)).toEqual(['noise', 'blur', 'brightness', 'rotation'].flatMap((k) => [`${k}1`, `${k}2`, `${k}3`]));
    // Each accuracy is a count of the 12 test images.
    for (const x of r.rows) expect(x.accuracy * 12).toBeCloseTo(Math.round(x.accuracy * 12), 9);
    expect(await engine.evaluation(run.runId)).toEqual(ev);
    // Seeded: the same evaluation again gives the same table.
    const again = await engine.evaluate({ runId: run.runId, latencySamples: 2, robustness: true }, () => {});
    expect(again.robustness).toEqual(r);

    const [metrics, , md] = await engine.evaluationReport(run.runId);
    const json = JSON.parse(metrics.text).robustness;
    expect(json).toMatchObject({ baseline_accuracy: ev.metrics.report.accuracy, images: 12, seed: r.seed, backend: 'cpu' });
    expect(Object.keys(json.perturbations)).toEqual(['noise', 'blur', 'brightness', 'rotation']);
    expect(json.perturbations.rotation).toEqual({ label: 'Rotation', unit: 'degrees', severities: r.rows.filter((x) => x.kind === 'rotation').map(({ severity, level, accuracy }) => ({ severity, level, accuracy })) });
    expect(md.text).toMatch(/## Robustness \(accuracy on the 12 test images, clean [\d.]+ %; noise seed \d+; on cpu\)/);
    expect(md.text).toMatch(/\| Gaussian blur \| σ in pixels \| [\d.]+ % \(0\.5\) \| [\d.]+ % \(1\) \| [\d.]+ % \(2\) \|/);
    // Without the option there is no robustness section.
    await engine.evaluate({ runId: run.runId, latencySamples: 2 }, () => {});
    const [plain, , plainMd] = await engine.evaluationReport(run.runId);
    expect(JSON.parse(plain.text)).not.toHaveProperty('robustness');
    expect(plainMd.text).not.toContain('## Robustness');
  });

  it('refuses an unknown run, and a folder run whose folder is not imported, with typed errors', async () => {
    await expect(engine.evaluate({ runId: 'run-none' }, () => {})).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    const withFolder = new StudioEngine(analyzeWith(async (_file, bytes, _size, _channels, out) => out.set(bytes)));
    await withFolder.init('cpu');
    const paths: string[] = [];
    const files: File[] = [];
    ['a', 'b'].forEach((c, k) => {
      for (let i = 0; i < 15; i++) {
        paths.push(`data/${c}/${i}.png`);
        files.push(new File([demoImage(k, i, 5, 8) as Uint8Array<ArrayBuffer>], `${i}.png`));
      }
    });
    await withFolder.scanFolder({ kind: 'files', name: 'data', files, paths });
    const opts = { imageSize: 8, channels: 3 as const, split: { train: 0.6, val: 0.2, test: 0.2 }, seed: 1, dedupe: 'off' as const };
    const summary = await withFolder.importDataset(opts, () => {});
    const run = await withFolder.train(cfg({ dataset: { kind: 'folder', fingerprint: summary.fingerprint }, epochs: 1 }), () => {});
    expect(run.dataset).toMatchObject({ name: 'data', splitId: summary.splitId, importOptions: opts });
    const ev = await withFolder.evaluate({ runId: run.runId, latencySamples: 2 }, () => {});
    expect(ev.data).toMatchObject({ kind: 'folder', name: 'data', fingerprint: summary.fingerprint, images: 6 });
    expect(ev.predictions.map((p) => p.key).every((k) => /^[ab]\/\d+\.png$/.test(k))).toBe(true);
    // Same files, another split seed: the test split could hold training images, so it is refused.
    await withFolder.importDataset({ ...opts, seed: 2 }, () => {});
    await expect(withFolder.evaluate({ runId: run.runId }, () => {})).rejects.toMatchObject({ code: 'E_DATASET', message: expect.stringMatching(/split differently/) });
    // In a fresh engine (a reload) the folder is not imported at all.
    const fresh = new StudioEngine();
    await fresh.init('cpu');
    await expect(fresh.evaluate({ runId: run.runId }, () => {})).rejects.toMatchObject({ code: 'E_NOT_FOUND', message: expect.stringMatching(/import a folder first/) });
  });
});
