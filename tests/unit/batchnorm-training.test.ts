import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import '../../src/core/kernels/wasm-gradients';
import { afterAll, describe, expect, it } from 'vitest';
import { FreezableBatchNormalization } from '../../src/core/models/graph';
import { mulberry32 } from '../../src/core/random';

/*
 * The studio's batch norm in training mode (one op with an analytic gradient, src/core/models/batchnorm-training.ts)
 * against TF.js's own layer with the same weights: output, gradients with respect to the input, γ and β, and the
 * moving statistics after the step, on the CPU backend and on WASM.
 */
const random = (shape: number[], seed: number, scale = 1, shift = 0) => {
  const rand = mulberry32(seed);
  return tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rand() * 2 - 1) * scale + shift), shape);
};

function layerPair(shape: readonly number[]) {
  const channels = shape[shape.length - 1];
  const args = { momentum: 0.9, epsilon: 1e-3, name: 'bn' };
  const ours = new FreezableBatchNormalization(args);
  const theirs = tf.layers.batchNormalization(args);
  for (const layer of [ours, theirs]) layer.build([null, ...shape.slice(1)]);
  const weights = [random([channels], 1, 0.5, 1), random([channels], 2, 0.3), random([channels], 3, 0.2), random([channels], 4, 0.2, 1)];
  ours.setWeights(weights);
  theirs.setWeights(weights);
  tf.dispose(weights);
  return { ours, theirs };
}

async function step(layer: tf.layers.Layer, x: tf.Tensor, r: tf.Tensor): Promise<Float32Array[]> {
  const [gamma, beta] = layer.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const f = (input: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    void g;
    void b;
    return (layer.apply(input, { training: true }) as tf.Tensor).mul(r).sum() as tf.Scalar;
  };
  const { value, grads } = tf.tidy(() => {
    const out = tf.valueAndGrads(f)([x, gamma, beta]);
    return { value: tf.keep(out.value), grads: out.grads.map((g) => tf.keep(g)) };
  });
  const normed = tf.tidy(() => layer.apply(x, { training: false }) as tf.Tensor);
  const result = await Promise.all([value, ...grads, normed, ...layer.getWeights().slice(2)].map((t) => t.data() as Promise<Float32Array>));
  tf.dispose([value, ...grads, normed]);
  return result;
}

afterAll(async () => {
  await tf.setBackend('cpu');
});

describe('batch norm in training mode, fused, against TF.js', () => {
  it.each([
    ['cpu', [7, 5, 3, 6]],
    ['wasm', [7, 5, 3, 6]],
    ['wasm', [16, 12, 12, 40]],
    ['cpu', [9, 11]],
  ] as const)('on %s, input %j: loss, dx, dγ, dβ, then the moving statistics', async (backend, shape) => {
    await tf.setBackend(backend);
    const { ours, theirs } = layerPair(shape);
    const x = random([...shape], 5, 2, 0.7);
    const r = random([...shape], 6);
    const mine = await step(ours, x, r);
    const reference = await step(theirs, x, r);
    tf.dispose([x, r]);
    mine.forEach((values, k) => {
      let scale = 0;
      let diff = 0;
      values.forEach((v, i) => {
        scale = Math.max(scale, Math.abs(reference[k][i]));
        diff = Math.max(diff, Math.abs(v - reference[k][i]));
      });
      expect(diff / scale, `output ${k}`).toBeLessThan(1e-4);
    });
  });

  it('a frozen layer still normalises with its moving statistics and changes nothing', async () => {
    await tf.setBackend('cpu');
    const { ours } = layerPair([3, 4]);
    ours.trainable = false;
    const before = ours.getWeights().map((w) => Array.from(w.dataSync()));
    const x = random([3, 4], 7);
    const y = tf.tidy(() => ours.apply(x, { training: true }) as tf.Tensor);
    const inference = tf.tidy(() => ours.apply(x, { training: false }) as tf.Tensor);
    expect(Array.from(y.dataSync())).toEqual(Array.from(inference.dataSync()));
    expect(ours.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(before);
    tf.dispose([x, y, inference]);
  });

  it('leaves no tensor behind across steps', async () => {
    await tf.setBackend('wasm');
    const { ours } = layerPair([4, 3, 3, 6]);
    const x = random([4, 3, 3, 6], 8);
    const r = random([4, 3, 3, 6], 9);
    await step(ours, x, r);
    const before = tf.memory().numTensors;
    await step(ours, x, r);
    await step(ours, x, r);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, r]);
  });
});
