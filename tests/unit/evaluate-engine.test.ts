import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { StudioEngine } from '../../workers/engine';
import { demoImage } from '../../src/core/dataset/demo';
import { analyzeWith } from '../../src/core/dataset/importer';
import { evaluationMetricsJson } from '../../src/core/metrics/files';
import { EVALUATION_IMPORT, type EvaluateEvent, type TrainConfig } from '../../src/engine/types';

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
    // The operating point, fitted on the 12 validation images: every demo class is a tumour class; the figures at
    // its thresholds are the predictions' screening classes counted.
    const op = ev.metrics.operatingPoint!;
    expect(op).toMatchObject({ targetSensitivity: 0.95, tumourClasses: ['glioma', 'meningioma', 'pituitary'], validationImages: 12 });
    expect(op.thresholds.every((t) => t !== null && t > 0 && t <= 1)).toBe(true);
    expect(ev.metrics.screening!.confusion).toEqual(ev.metrics.classes.map((_, t) => ev.metrics.classes.map((_, p) => ev.predictions.filter((x) => x.label === t && x.screened === p).length)));
    // The run kept its best epoch's validation outputs, with the same fit (the evaluation recomputes the logits).
    expect(run.bestValidation!.labels).toHaveLength(12);
    expect(run.bestValidation!.temperature).toBeCloseTo(ev.metrics.temperature!, 4);
    run.bestValidation!.operatingPoint!.thresholds.forEach((t, k) => expect(t).toBeCloseTo(op.thresholds[k]!, 5));
    expect(JSON.parse(JSON.stringify(evaluationMetricsJson(ev.metrics)))).toEqual(evaluationMetricsJson(ev.metrics));
    expect(await engine.evaluation(run.runId)).toEqual(ev);
    expect(await engine.evaluation('run-none')).toBeNull();
    // Node has no OffscreenCanvas: the text files only (the PNG charts are checked in Chromium, tests/e2e/evaluate.spec.ts).
    const files = await engine.evaluationReport(run.runId);
    expect(files.map((f) => f.name)).toEqual(['evaluation_metrics.json', 'medical_validation.json', 'evaluation_report.md', 'predictions.csv']);
    expect(JSON.parse(files[0].text!)).toEqual({ ...JSON.parse(JSON.stringify(evaluationMetricsJson(ev.metrics))), evaluated_on: 'test' });
    expect(JSON.parse(files[1].text!).verdict).toBe(ev.medical.verdict);
    expect(files[2].text).toContain(`Run ${run.runId} · model`);
    // Images are named by neutral ids unless the caller opts in to their keys (a folder's file paths).
    const text = files.map((f) => f.text).join('\n');
    expect(ev.predictions.some((x) => text.includes(x.key))).toBe(false);
    const csv = files[3].text!.trim().split('\r\n');
    expect(csv[0]).toBe('image,true,predicted,predicted_operating_point,p_glioma,p_meningioma,p_pituitary');
    expect(csv.slice(1).map((l) => l.split(',')[0])).toEqual(ev.predictions.map((_, j) => `image-${String(j + 1).padStart(4, '0')}`));
    const wrong = ev.predictions.filter((x) => x.label !== x.predicted).length;
    expect(files[2].text).toContain(`## Misclassified images (${wrong})`);
    const named = await engine.evaluationReport(run.runId, { includeFileNames: true });
    expect(named[3].text!.trim().split('\r\n').slice(1).map((l) => l.split(',')[0])).toEqual(ev.predictions.map((x) => x.key));
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
    const json = JSON.parse(metrics.text!).robustness;
    expect(json).toMatchObject({ baseline_accuracy: ev.metrics.report.accuracy, images: 12, seed: r.seed, backend: 'cpu' });
    expect(Object.keys(json.perturbations)).toEqual(['noise', 'blur', 'brightness', 'rotation']);
    expect(json.perturbations.rotation).toEqual({ label: 'Rotation', unit: 'degrees', severities: r.rows.filter((x) => x.kind === 'rotation').map(({ severity, level, accuracy }) => ({ severity, level, accuracy })) });
    expect(md.text).toMatch(/## Robustness \(accuracy on the 12 test images, clean [\d.]+ %; noise seed \d+; on cpu\)/);
    expect(md.text).toMatch(/\| Gaussian blur \| σ in pixels \| [\d.]+ % \(0\.5\) \| [\d.]+ % \(1\) \| [\d.]+ % \(2\) \|/);
    // Without the option there is no robustness section.
    await engine.evaluate({ runId: run.runId, latencySamples: 2 }, () => {});
    const [plain, , plainMd] = await engine.evaluationReport(run.runId);
    expect(JSON.parse(plain.text!)).not.toHaveProperty('robustness');
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

  // A folder of the demo's classes in another order, plus one the model does not know; raw pixels (the fake decoder).
  const folderOf = (classes: string[], perClass: number, size: number) => {
    const paths: string[] = [];
    const files: File[] = [];
    classes.forEach((c, k) => {
      for (let i = 0; i < perClass; i++) {
        paths.push(`ext/${c}/${i}.png`);
        files.push(new File([demoImage(k % 3, i + 50, 9, size) as Uint8Array<ArrayBuffer>], `${i}.png`));
      }
    });
    return { kind: 'files' as const, name: 'ext', files, paths };
  };

  it("evaluates a run on another folder: labels by class name, unknown class folders reported, another input size refused", async () => {
    const e = new StudioEngine(analyzeWith(async (_file, bytes, _size, _channels, out) => out.set(bytes)));
    await e.init('cpu');
    const run = await e.train(cfg(), () => {});
    await e.scanFolder(folderOf(['pituitary', 'glioma', 'extra', 'meningioma'], 4, 8));
    const summary = await e.importDataset({ imageSize: 8, channels: 3, seed: 1, ...EVALUATION_IMPORT }, () => {});
    const before = tf.memory().numTensors;
    const ev = await e.evaluate({ runId: run.runId, latencySamples: 2, external: { fingerprint: summary.fingerprint } }, () => {});
    expect(tf.memory().numTensors).toBe(before);
    expect(ev.data).toMatchObject({ split: 'external', name: 'ext', images: 12, temperatureFittedOn: 12, unknownClasses: [{ name: 'extra', images: 4 }] });
    expect(ev.metrics.classes).toEqual(run.classes);
    // Each image is labelled with the run's index of its folder's class name.
    expect(ev.predictions.map((p) => `${run.classes[p.label]}/`)).toEqual(ev.predictions.map((p) => p.key.slice(0, p.key.indexOf('/') + 1)));
    // The temperature and operating point come from the run's own validation split (kept at its best epoch), not
    // from the folder: they are the ones an evaluation on the run's own test split fits.
    const stored = run.bestValidation!;
    expect(ev.metrics.temperature).toBeCloseTo(stored.temperature!, 12);
    expect(ev.metrics.calibrationAfterTemperature).not.toBeNull();
    expect(ev.metrics.operatingPoint!.thresholds).toEqual(stored.operatingPoint!.thresholds);
    expect(ev.metrics.screening!.report.total).toBe(12);
    const md = (await e.evaluationReport(run.runId))[2].text!;
    expect(md).toContain("temperature and operating point fitted on the run's own 12 validation images");
    expect(md).toContain('## Screening operating point (target sensitivity 95.0 % per tumour class, fitted on 12 validation images)');
    expect(md).toContain('**Not evaluated:** class folders the model was not trained on: extra (4 images).');
    // A confusion cell's gallery shows the external folder's images.
    const keys = ev.predictions.slice(0, 3).map((p) => p.key);
    expect((await e.evaluationThumbnails(run.runId, keys, 4)).map((t) => t.key)).toEqual(keys);
    // Another input size is refused with the reason.
    await e.scanFolder(folderOf(['glioma', 'meningioma'], 3, 10));
    const other = await e.importDataset({ imageSize: 10, channels: 3, seed: 1, ...EVALUATION_IMPORT }, () => {});
    await expect(e.evaluate({ runId: run.runId, external: { fingerprint: other.fingerprint } }, () => {})).rejects.toMatchObject({ code: 'E_DATASET', message: expect.stringMatching(/imported at 10 px .* takes 8 px/) });
  });

  it('evaluates an exported TF.js model folder on an imported folder, and refuses files that are not one', async () => {
    const e = new StudioEngine(analyzeWith(async (_file, bytes, _size, _channels, out) => out.set(bytes)));
    await e.init('cpu');
    const run = await e.train(cfg(), () => {});
    await e.register({ runId: run.runId, name: 'eval-model', version: '1.0.0', overrideReason: 'demo data, test' });
    const exported = await e.exportModel('eval-model@1.0.0', 'tfjs');
    await e.scanFolder(folderOf(['meningioma', 'glioma', 'pituitary', 'extra'], 3, 8));
    const summary = await e.importDataset({ imageSize: 8, channels: 3, seed: 1, ...EVALUATION_IMPORT }, () => {});
    const before = tf.memory().numTensors;
    const events: EvaluateEvent[] = [];
    const ev = await e.evaluateModel({ files: exported.files, fingerprint: summary.fingerprint, latencySamples: 2 }, (x) => events.push(x));
    expect(tf.memory().numTensors).toBe(before);
    expect(events[0]).toEqual({ type: 'start', runId: 'model:eval-model@1.0.0', checkpointEpoch: null, test: 9, val: 0 });
    expect(ev).toMatchObject({ runId: 'model:eval-model@1.0.0', checkpoint: null, model: 'simple_cnn', data: { split: 'external', images: 9, unknownClasses: [{ name: 'extra', images: 3 }] } });
    // The exported model gives the run's own predictions: the same images through the run's checkpoint.
    const viaRun = await e.evaluate({ runId: run.runId, latencySamples: 2, external: { fingerprint: summary.fingerprint } }, () => {});
    ev.predictions.forEach((p, j) => p.probs.forEach((q, k) => expect(q).toBeCloseTo(viaRun.predictions[j].probs[k], 5)));
    // The exported metadata carries the run's operating point and temperature, and its evaluation uses them.
    expect(ev.metrics.temperature).toBeCloseTo(viaRun.metrics.temperature!, 12);
    expect(ev.metrics.operatingPoint!.thresholds).toEqual(viaRun.metrics.operatingPoint!.thresholds);
    expect(ev.predictions.map((p) => p.screened)).toEqual(viaRun.predictions.map((p) => p.screened));
    expect(ev.data.temperatureFittedOn).toBe(12);
    const files = await e.evaluationReport(ev.runId);
    expect(files[2].text).toContain('exported model folder');
    const broken = exported.files.filter((f) => f.name !== 'metadata.json');
    await expect(e.evaluateModel({ files: broken, fingerprint: summary.fingerprint }, () => {})).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/metadata.json is missing/) });
  });
});
