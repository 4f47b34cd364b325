import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateDemoDataset } from '../../src/core/dataset/demo';
import { analyzeWith } from '../../src/core/dataset/importer';
import { EngineError } from '../../src/engine/errors';
import type { DemoDatasetConfig, EvaluationRecord, PredictImage, RunRecord, TrainConfig } from '../../src/engine/types';
import { StudioEngine } from '../../workers/engine';

// The real engine on TF.js's CPU backend and fake-indexeddb. The "files" are raw pixels, which this decoder copies as
// the browser's decoder would write decoded ones; a file of any other length is a corrupt image.
const dataset: DemoDatasetConfig = { kind: 'demo', seed: 5, imageSize: 10, perClass: 15, split: { train: 0.6, val: 0.2, test: 0.2 } };
const cfg: TrainConfig = { dataset, model: 'simple_cnn', epochs: 2, batchSize: 8, learningRate: 0.003, seed: 4 };
const rawDecoder = analyzeWith(async (_file, bytes, _size, _channels, out) => {
  if (bytes.length !== out.length) throw Object.assign(new Error(`corrupt test image: ${bytes.length} bytes`), { reason: 'corrupt' });
  out.set(bytes);
});

async function errorOf(p: Promise<unknown>): Promise<EngineError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(EngineError);
  return err as EngineError;
}

describe('engine.predict', () => {
  const engine = new StudioEngine(rawDecoder);
  const demo = generateDemoDataset(dataset);
  const stride = dataset.imageSize * dataset.imageSize * 3;
  const fileOf = (key: string): PredictImage => {
    const i = demo.keys.indexOf(key);
    return { name: `${key}.raw`, file: new Blob([demo.images.slice(i * stride, (i + 1) * stride)]) };
  };
  let run: RunRecord;
  let evaluation: EvaluationRecord;
  beforeAll(async () => {
    await engine.init('cpu');
    run = await engine.train(cfg, () => undefined);
    evaluation = await engine.evaluate({ runId: run.runId, latencySamples: 1 }, () => undefined);
    await engine.register({ runId: run.runId, name: 'demo', version: '1.0.0', aliases: ['champion'], overrideReason: 'unit test' });
  }, 120_000);

  it("gives the evaluation's probabilities for the same images, a per-image error for a corrupt file, and keeps the model loaded", async () => {
    const tested = evaluation.predictions.slice(0, 5);
    const images = [...tested.map((p) => fileOf(p.key)), { name: 'broken.png', file: new Blob([new Uint8Array(7)]) }];
    const result = await engine.predict('demo@champion', images);
    expect(result).toMatchObject({ ref: 'demo@champion', model: 'demo@1.0.0', labels: run.classes, inputSize: 10, channels: 3, backend: 'cpu' });
    expect(result.predictions).toHaveLength(6);
    tested.forEach((want, k) => {
      const got = result.predictions[k];
      if (!got.ok) throw new Error(`${got.name}: ${got.error}`);
      expect(got.name).toBe(`${want.key}.raw`);
      expect(got.probabilities.map((p) => p.label)).toEqual(run.classes);
      got.probabilities.forEach((p, j) => expect(p.probability).toBeCloseTo(want.probs[j], 6));
      expect(got.top).toBe(run.classes[want.predicted]);
      // The version carries the evaluation's operating point: the same thresholds give the same screening class.
      expect(got.screened).toBe(run.classes[want.screened!]);
      expect(got.topProbability).toBe(Math.max(...got.probabilities.map((p) => p.probability)));
      expect(got.latencyMs).toBeGreaterThan(0);
      expect(got.sha256).toMatch(/^[0-9a-f]{64}$/);
    });
    expect(result.predictions[5]).toEqual({ name: 'broken.png', ok: false, reason: 'corrupt', error: 'corrupt test image: 7 bytes' });
    const csv = (await engine.predictionsCsv(result)).trimEnd().split('\r\n').map((l) => l.split(','));
    const op = evaluation.metrics.operatingPoint!;
    expect(result.operatingPoint).toMatchObject({ targetSensitivity: 0.95, temperature: evaluation.metrics.temperature, thresholds: Object.fromEntries(run.classes.map((c, k) => [c, op.thresholds[k]])) });
    expect(csv[0]).toEqual(['file', 'top_class', 'operating_point_class', ...run.classes, 'latency_ms', 'error']);
    expect(csv).toHaveLength(7);
    const first = result.predictions[0];
    if (!first.ok) throw new Error(first.error);
    expect(csv[1].slice(0, 3 + run.classes.length).map((v, j) => (j < 3 ? v : Number(v)))).toEqual([first.name, first.top, first.screened, ...first.probabilities.map((p) => p.probability)]);
    expect(csv[6]).toEqual(['broken.png', '', '', ...run.classes.map(() => ''), '', 'corrupt: corrupt test image: 7 bytes']);

    // The second call reuses the loaded model: nothing more is held.
    const held = tf.memory().numTensors;
    await engine.predict('demo@1.0.0', images.slice(0, 2));
    expect(tf.memory().numTensors).toBe(held);
    // Another version replaces it: its weights take the place of the first's, which are freed.
    await engine.register({ runId: run.runId, name: 'demo', version: '1.1.0', overrideReason: 'unit test' });
    const other = await engine.predict('demo', images.slice(0, 1));
    expect(other.model).toBe('demo@1.1.0');
    expect(tf.memory().numTensors).toBe(held);
  });

  it('appends to the audit log only when asked, with names only when asked, and clears it', async () => {
    const images = evaluation.predictions.slice(0, 2).map((p) => fileOf(p.key));
    await engine.predict('demo@champion', images);
    expect(await engine.auditLog()).toEqual([]);
    const hashed = await engine.predict('demo@champion', [...images, { name: 'bad.png', file: new Blob(['text']) }], { audit: 'hashes' });
    const named = await engine.predict('demo@champion', images.slice(0, 1), { audit: 'names' });
    const log = await engine.auditLog();
    expect(log).toHaveLength(3);
    const first = hashed.predictions[0];
    if (!first.ok) throw new Error(first.error);
    expect(log[0]).toEqual({ id: expect.any(Number), at: expect.any(String), ref: 'demo@champion', model: 'demo@1.0.0', sha256: first.sha256, top: first.top, probability: first.topProbability });
    expect(log[2]).toMatchObject({ file: named.predictions[0].name });
    expect(log.slice(0, 2).some((e) => 'file' in e)).toBe(false);
    const csv = (await engine.auditLogCsv()).trimEnd().split('\r\n');
    expect(csv).toEqual(['time,ref,model,sha256,file,top_class,probability', ...log.map((e) => [e.at, e.ref, e.model, e.sha256, e.file ?? '', e.top, e.probability].join(','))]);
    await engine.clearAuditLog();
    expect(await engine.auditLog()).toEqual([]);
  });

  it('names what is wrong with a bad ref or request', async () => {
    const image = [fileOf(evaluation.predictions[0].key)];
    const cases: [string, string, string][] = [
      ['nope@1.0.0', 'E_NOT_FOUND', 'no model named "nope" is registered'],
      ['demo@9.9.9', 'E_NOT_FOUND', 'demo@9.9.9 is not registered (demo has versions: 1.1.0, 1.0.0)'],
      ['demo@production', 'E_NOT_FOUND', 'demo@production is not registered (demo has aliases: champion)'],
    ];
    for (const [ref, code, message] of cases) {
      const err = await errorOf(engine.predict(ref, image));
      expect([err.code, err.message]).toEqual([code, message]);
    }
    expect((await errorOf(engine.predict('demo', []))).message).toBe('no images to classify: pick, drop or paste at least one');
  });
});
