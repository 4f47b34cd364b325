import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateDemoDataset } from '../../src/core/dataset/demo';
import type { BackendInfo, DemoDatasetConfig, EvaluationRecord, RunRecord } from '../../src/engine/types';
import { gradientBackend } from '../../workers/backend';
import { StudioEngine } from '../../workers/engine';

// The real engine on TF.js's CPU backend and fake-indexeddb: Grad-CAM of an evaluated image, and of the same
// pixels given to the run's registered model.
const dataset: DemoDatasetConfig = { kind: 'demo', seed: 5, imageSize: 16, perClass: 12, split: { train: 0.6, val: 0.2, test: 0.2 } };

describe('engine.gradcam', () => {
  const engine = new StudioEngine();
  let run: RunRecord;
  let ev: EvaluationRecord;
  beforeAll(async () => {
    await engine.init('cpu');
    run = await engine.train({ dataset, model: 'simple_cnn', epochs: 2, batchSize: 8, learningRate: 0.003, seed: 5 }, () => {});
    ev = await engine.evaluate({ runId: run.runId, latencySamples: 2 }, () => {});
  }, 120_000);

  it("explains an evaluated image with the evaluation's own probabilities, for the predicted or a chosen class", async () => {
    const image = ev.predictions[0];
    const before = tf.memory().numTensors;
    const cam = await engine.gradcam({ runId: run.runId, key: image.key });
    expect(tf.memory().numTensors).toBe(before);
    expect(cam).toMatchObject({ height: 16, width: 16, classIndex: image.predicted, classes: ev.metrics.classes, layer: 'pool3', featureSize: [2, 2], backend: 'cpu' });
    expect(cam.heatmap).toBeInstanceOf(Float32Array);
    expect(cam.heatmap.length).toBe(16 * 16);
    expect(cam.heatmap.every((v) => v >= 0 && v <= 1)).toBe(true);
    cam.probabilities.forEach((p, k) => expect(p).toBeCloseTo(image.probs[k], 5));
    const other = (image.predicted + 1) % 3;
    const chosen = await engine.gradcam({ runId: run.runId, key: image.key, classIndex: other });
    expect(chosen.classIndex).toBe(other);
    expect(chosen.probabilities).toEqual(cam.probabilities);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('explains pixels given to a registered model as the run does, and refuses bad requests with typed errors', async () => {
    await engine.register({ runId: run.runId, name: 'cam-model', version: '1.0.0', overrideReason: 'demo data, test' });
    const demo = generateDemoDataset(dataset);
    const key = ev.predictions[1].key;
    const i = demo.keys.indexOf(key);
    const stride = 16 * 16 * 3;
    const pixels = demo.images.slice(i * stride, (i + 1) * stride);
    const fromRun = await engine.gradcam({ runId: run.runId, key });
    const before = tf.memory().numTensors;
    const fromModel = await engine.gradcam({ modelRef: 'cam-model@1.0.0', pixels });
    expect(tf.memory().numTensors).toBe(before);
    expect(fromModel.classIndex).toBe(fromRun.classIndex);
    fromModel.probabilities.forEach((p, k) => expect(p).toBeCloseTo(fromRun.probabilities[k], 5));
    fromModel.heatmap.forEach((v, k) => expect(v).toBeCloseTo(fromRun.heatmap[k], 4));

    await expect(engine.gradcam({ runId: run.runId, key: 'glioma/9999' })).rejects.toMatchObject({ code: 'E_NOT_FOUND', message: expect.stringMatching(/no image "glioma\/9999"/) });
    await expect(engine.gradcam({ runId: 'run-none', key })).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await expect(engine.gradcam({ runId: run.runId, key, classIndex: 3 })).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/class index/) });
    await expect(engine.gradcam({ modelRef: 'cam-model', pixels: pixels.subarray(1) })).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/16×16×3 image as 768 uint8 values \(got 767\)/) });
    await expect(engine.gradcam({ modelRef: 'nope', pixels })).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('gradientBackend', () => {
  const info = (name: BackendInfo['name'], requested: BackendInfo['requested'], isSoftware: boolean): BackendInfo => ({
    name, requested, failed: [], available: requested === 'auto' ? ['webgpu', 'webgl', 'wasm', 'cpu'] : [name], tfjsVersion: tf.version.tfjs,
    adapter: { vendor: 'google', architecture: 'swiftshader', device: '', description: '', isSoftware },
  });

  it('goes where convolution training goes: WASM on a software adapter, the GPU itself on a real one, a forced backend as forced', () => {
    expect(gradientBackend(info('webgpu', 'auto', true))).toBe('wasm');
    expect(gradientBackend(info('webgpu', 'auto', false))).toBe('webgpu');
    expect(gradientBackend(info('cpu', 'cpu', false))).toBe('cpu');
    expect(gradientBackend(info('wasm', 'wasm', false))).toBe('wasm');
  });
});
