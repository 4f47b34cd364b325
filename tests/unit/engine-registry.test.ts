import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateDemoDataset } from '../../src/core/dataset/demo';
import { stratifiedSplit } from '../../src/core/dataset/split';
import { studioProbabilities } from '../../src/core/export/parity';
import { importTfjs, unzipFiles } from '../../src/core/export/tfjs';
import { EngineError } from '../../src/engine/errors';
import type { DemoDatasetConfig, RunRecord, TrainConfig } from '../../src/engine/types';
import { StudioEngine } from '../../workers/engine';
import { withFullDisk } from '../fixtures/quota';

// The real engine, as the worker exposes it, on TF.js's CPU backend and fake-indexeddb: train, register, export,
// import. (The ONNX export's parity check runs onnxruntime-web, so it is tested in Chromium: tests/e2e/export.spec.ts.)
const dataset: DemoDatasetConfig = { kind: 'demo', seed: 4, imageSize: 12, perClass: 12, split: { train: 0.6, val: 0.2, test: 0.2 } };
const cfg: TrainConfig = { dataset, model: 'simple_cnn', epochs: 3, batchSize: 8, learningRate: 0.003, seed: 2 };

async function errorOf(p: Promise<unknown>): Promise<EngineError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(EngineError);
  return err as EngineError;
}

/** Validation accuracy of `model` on the run's own validation split, computed the studio's way. */
function valAccuracy(model: tf.LayersModel, meta: Parameters<typeof studioProbabilities>[2]): number {
  const demo = generateDemoDataset(dataset);
  const split = stratifiedSplit(demo.keys.map((key, i) => ({ key, label: demo.labels[i] })), dataset.split, cfg.seed);
  const s = demo.imageSize;
  return tf.tidy(() => {
    const stride = s * s * demo.channels;
    const x = tf.stack(split.val.map((i) => tf.tensor3d(demo.images.subarray(i * stride, (i + 1) * stride), [s, s, demo.channels], 'int32').toFloat())) as tf.Tensor4D;
    const predicted = studioProbabilities(model, x, meta).argMax(-1).dataSync();
    return split.val.filter((i, k) => predicted[k] === demo.labels[i]).length / split.val.length;
  });
}

describe('engine: register, export and import models', () => {
  const engine = new StudioEngine();
  let run: RunRecord;
  beforeAll(async () => {
    await engine.init('cpu');
    run = await engine.train(cfg, () => undefined);
  }, 120_000);

  it('records what the model takes, and registers the best checkpoint, which exports to TF.js files that reproduce its validation accuracy', async () => {
    expect(run.input).toEqual({ imageSize: 12, channels: 3, normalization: expect.objectContaining({ mean: expect.any(Array), std: expect.any(Array) }) });
    const held = tf.memory().numTensors;
    const version = await engine.register({ runId: run.runId, name: 'demo-model', version: '1.0.0', aliases: ['champion'], tags: ['data=demo'], overrideReason: 'demo data, smoke test' });
    expect(tf.memory().numTensors).toBe(held);
    expect(version).toMatchObject({ id: 'demo-model@1.0.0', runId: run.runId, epoch: run.best!.epoch, labels: run.classes, inputSize: 12, aliases: ['champion'] });
    expect(version.gate.passed).toBe(run.best!.valAccuracy >= 0.85);
    expect(version.card).toContain(`| source run | ${run.runId}, best epoch ${run.best!.epoch} |`);
    expect((await engine.models()).map((v) => v.id)).toEqual(['demo-model@1.0.0']);

    const exported = await engine.exportModel('demo-model@champion', 'tfjs');
    expect(tf.memory().numTensors).toBe(held);
    expect(exported.files.map((f) => f.name).sort()).toEqual(['MODEL_CARD.md', 'group1-shard1of1.bin', 'metadata.json', 'model.json']);
    const { model, metadata } = await importTfjs(Object.fromEntries(exported.files.map((f) => [f.name, f.bytes])));
    expect(metadata).toMatchObject({ name: 'demo-model', version: '1.0.0', runId: run.runId, labels: run.classes, preprocessing: run.input!.normalization });
    // The exported weights are the best epoch's: they give exactly the validation accuracy the run recorded for it.
    expect(valAccuracy(model, metadata)).toBeCloseTo(run.best!.valAccuracy, 6);
    model.dispose();
  });

  it('imports a zipped TF.js export as a new version, and refuses files that are not a model', async () => {
    const zip = await engine.exportModel('demo-model@1.0.0', 'tfjs', { zip: true });
    expect(zip.files.map((f) => f.name)).toEqual(['demo-model-1.0.0-tfjs.zip']);
    expect(Object.keys(unzipFiles(zip.files[0].bytes))).toContain('model.json');
    const imported = await engine.importModel(zip.files, { name: 'demo-model', version: '1.1.0', aliases: ['candidate'], overrideReason: 'demo data, smoke test' });
    expect(imported).toMatchObject({ id: 'demo-model@1.1.0', runId: run.runId, epoch: null, validation: { accuracy: run.best!.valAccuracy } });
    const bad = await errorOf(engine.importModel([{ name: 'model.json', bytes: new TextEncoder().encode('{}') }], { name: 'x', version: '1.0.0' }));
    expect(bad.message).toBe('these files are not a studio model: model.json has no modelTopology or weightsManifest: is it a TF.js layers model?');
  });

  it('answers a bad request with a typed error that carries the registry code', async () => {
    const gate = await errorOf(engine.register({ runId: run.runId, name: 'demo-model', version: '2.0.0', threshold: 1.5 }));
    expect([gate.code, gate.detail, gate.message]).toEqual(['E_CONFIG', 'E_GATE', 'the accuracy threshold must be between 0 and 1 (got 1.5)']);
    const again = await errorOf(engine.register({ runId: run.runId, name: 'demo-model', version: '1.0.0', overrideReason: 'x' }));
    expect([again.code, again.detail]).toEqual(['E_CONFIG', 'E_EXISTS']);
    const version = await errorOf(engine.register({ runId: run.runId, name: 'demo-model', version: '2.0', overrideReason: 'x' }));
    expect([version.code, version.detail]).toEqual(['E_CONFIG', 'E_VERSION']);
    const missing = await errorOf(engine.exportModel('demo-model@production', 'onnx'));
    expect([missing.code, missing.message]).toEqual(['E_NOT_FOUND', 'demo-model@production is not registered (demo-model has aliases: candidate, champion)']);
    expect((await errorOf(engine.register({ runId: 'run-nope', name: 'a', version: '1.0.0' }))).code).toBe('E_NOT_FOUND');
    // A full disk is E_QUOTA, as the UI and every other save report it (it said E_CONFIG), and nothing is registered.
    let full: EngineError | undefined;
    await withFullDisk('modelFiles', 1, async () => {
      full = await errorOf(engine.register({ runId: run.runId, name: 'demo-model', version: '9.0.0', overrideReason: 'x' }));
    });
    expect([full!.code, full!.detail]).toEqual(['E_QUOTA', 'E_QUOTA']);
    expect(full!.message).toMatch(/storage for this site is full/);
    expect((await engine.models()).map((v) => v.id)).not.toContain('demo-model@9.0.0');
  });

  it('reviews a request as the form types it, moves and removes aliases, sizes its storage and deletes a version', async () => {
    const review = await engine.reviewRegistration({ runId: run.runId, name: 'demo-model', version: '1.0.0', stage: 'Staging', threshold: 1 });
    // A 100 % gate refuses anything short of perfect; 1.0.0 is taken by the first test.
    expect(review.problems.map((p) => p.code)).toEqual([...(run.best!.valAccuracy < 1 ? ['E_GATE'] : []), 'E_EXISTS']);
    expect(review.gate).toEqual({ accuracy: run.best!.valAccuracy, threshold: 1, passed: run.best!.valAccuracy >= 1, overridden: false });
    expect(review.aliases).toEqual(['candidate']);
    expect((await engine.reviewRegistration({ runId: run.runId, name: 'demo-model', version: '3.0.0', threshold: 0 })).problems).toEqual([]);
    expect((await errorOf(engine.reviewRegistration({ runId: 'run-nope', name: 'a', version: '1.0.0' }))).code).toBe('E_NOT_FOUND');

    const v = await engine.register({ runId: run.runId, name: 'demo-model', version: '3.0.0', threshold: 0, stage: 'Production' });
    expect(v.aliases).toEqual(['champion']);
    expect((await engine.setAlias('demo-model@1.0.0', 'champion')).aliases).toContain('champion');
    expect((await engine.models()).find((m) => m.id === v.id)!.aliases).toEqual([]);
    const badAlias = await errorOf(engine.setAlias('demo-model@3.0.0', 'Champion!'));
    expect([badAlias.code, badAlias.detail]).toEqual(['E_CONFIG', 'E_ALIAS']);
    await engine.removeAlias('demo-model', 'champion');
    expect((await engine.models()).flatMap((m) => m.aliases)).not.toContain('champion');

    const before = Object.fromEntries((await engine.storageUsage()).map((u) => [u.group, u]));
    expect(before.runs.items).toBeGreaterThanOrEqual(1);
    expect(before.checkpoints.bytes).toBeGreaterThan(0);
    await engine.deleteModel(v.id);
    const after = Object.fromEntries((await engine.storageUsage()).map((u) => [u.group, u]));
    expect(after.models.items).toBe(before.models.items - 1);
    expect(before.models.bytes - after.models.bytes).toBeGreaterThanOrEqual(v.byteLength);
    expect((await errorOf(engine.deleteModel(v.id))).code).toBe('E_NOT_FOUND');
    // The run the version came from is untouched.
    expect((await engine.runs()).some((r) => r.runId === run.runId)).toBe(true);
  });
});
