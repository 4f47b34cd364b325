import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { camLayer, gradCam } from '../../src/core/explain/gradcam';
import { buildArchitecture } from '../../src/core/models/architectures/builders';
import { loadBackbone } from '../../src/core/models/backbone';
import { buildSimpleCnn } from '../../src/core/models/simple_cnn';
import { buildClassifier } from '../../src/core/models/strategies';
import { BUILTIN_ZOO } from '../../src/core/models/zoo';
import { hasPretrained, pretrainedLoader } from '../fixtures/pretrained';

/**
 * A model whose answer is known. 8 × 8 grey images; a 1 × 1 convolution makes two channels, A0 = relu(x) ("bright")
 * and A1 = relu(1 − x) ("dark"), optionally max-pooled 2 × 2. Class 0's logit is the sum of A0 over the top-left
 * quadrant only, class 1's the sum of A1 over the bottom-right quadrant only. For class 0, dScore/dA1 = 0 and
 * dScore/dA0 > 0, so its Grad-CAM is A0 scaled to a maximum of 1; for class 1 it is A1 scaled.
 */
function quadrantModel(pool: boolean): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 1] });
  const conv = tf.layers.conv2d({ filters: 2, kernelSize: 1, activation: 'relu', name: 'features' });
  let x = conv.apply(input) as tf.SymbolicTensor;
  if (pool) x = tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }).apply(x) as tf.SymbolicTensor;
  const side = pool ? 4 : 8;
  const dense = tf.layers.dense({ units: 2, name: 'logits' });
  const logits = dense.apply(tf.layers.flatten().apply(x)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: logits });
  conv.setWeights([tf.tensor4d([1, -1], [1, 1, 1, 2]), tf.tensor1d([0, 1])]);
  const kernel = new Float32Array(side * side * 2 * 2);
  const h = side / 2;
  for (let r = 0; r < side; r++) {
    for (let c = 0; c < side; c++) {
      const row = (r * side + c) * 2; // flatten order: row, column, channel
      if (r < h && c < h) kernel[(row + 0) * 2 + 0] = 1; // A0 in the top-left → class 0
      if (r >= h && c >= h) kernel[(row + 1) * 2 + 1] = 1; // A1 in the bottom-right → class 1
    }
  }
  dense.setWeights([tf.tensor2d(kernel, [side * side * 2, 2]), tf.zeros([2])]);
  return model;
}

/** Bright (1) in the top-left quadrant, dark (0) elsewhere. */
const brightTopLeft = () => tf.tensor4d(Array.from({ length: 64 }, (_, i) => (Math.floor(i / 8) < 4 && i % 8 < 4 ? 1 : 0)), [1, 8, 8, 1]);

const quadrantMeans = (map: Float32Array, side: number) => {
  const sums = [0, 0, 0, 0];
  map.forEach((v, i) => (sums[(Math.floor(i / side) < side / 2 ? 0 : 2) + (i % side < side / 2 ? 0 : 1)] += v / ((side * side) / 4)));
  return sums; // top-left, top-right, bottom-left, bottom-right
};

describe('Grad-CAM', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('explains a class by the quadrant its score reads: the exact map at the feature resolution', async () => {
    const model = quadrantModel(false);
    const x = brightTopLeft();
    const before = tf.memory().numTensors;
    const cam0 = await gradCam(model, x, 0);
    expect(tf.memory().numTensors).toBe(before);
    expect(cam0).toMatchObject({ layer: 'features', featureSize: [8, 8], height: 8, width: 8, classIndex: 0 });
    // Class 0 = 16 bright top-left pixels; class 1 = 0 (the bottom-right is dark, A1 = 1 there: 16).
    expect(cam0.outputs).toEqual([16, 16]);
    // Its map is A0: 1 in the top-left quadrant, 0 elsewhere.
    expect(Array.from(cam0.heatmap)).toEqual(Array.from(await x.data()));
    const cam1 = await gradCam(model, x, 1);
    expect(Array.from(cam1.heatmap)).toEqual(Array.from(await x.data(), (v) => 1 - v));
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });

  it('peaks in that quadrant after upsampling a pooled map, and defaults to the top class', async () => {
    const model = quadrantModel(true);
    const x = tf.tidy(() => brightTopLeft().mul<tf.Tensor4D>(2)); // class 0 = 4 × 2 = 8 beats class 1 = 4
    const before = tf.memory().numTensors;
    const cam = await gradCam(model, x);
    expect(tf.memory().numTensors).toBe(before);
    expect(cam).toMatchObject({ layer: 'pool', featureSize: [4, 4], height: 8, width: 8, classIndex: 0, outputs: [8, 4] });
    expect(cam.heatmap.length).toBe(64);
    const [tl, tr, bl, br] = quadrantMeans(cam.heatmap, 8);
    expect(Math.max(...cam.heatmap)).toBeCloseTo(1, 6);
    expect(cam.heatmap.indexOf(Math.max(...cam.heatmap))).toBe(0);
    expect(tl).toBeGreaterThan(0.5);
    expect(Math.max(tr, bl, br)).toBeLessThan(tl / 2);
    await expect(gradCam(model, x, 2)).rejects.toThrow(/class index must be a whole number from 0 to 1/);
    x.dispose();
    model.dispose();
  });

  it('picks the last spatial feature map of each kind of model in the zoo, and leaks nothing', async () => {
    const opts = { imageSize: 32, channels: 3, numClasses: 3, seed: 1 };
    const cases: [tf.LayersModel, string][] = [
      [buildSimpleCnn(opts), 'pool3'],
      [buildArchitecture('resnet18', opts), 'layer4_1_out'],
      [buildArchitecture('vit_ti16', opts), 'conv_proj'],
      [buildArchitecture('efficientnet_b0', opts), 'top_activation'],
    ];
    const x = tf.randomUniform([1, 32, 32, 3], -1, 1, 'float32', 7) as tf.Tensor4D;
    for (const [model, layer] of cases) {
      expect(camLayer(model).name).toBe(layer);
      const before = tf.memory().numTensors;
      const cam = await gradCam(model, x, 1);
      expect(tf.memory().numTensors).toBe(before);
      expect(cam.classIndex).toBe(1);
      expect(cam.heatmap.length).toBe(32 * 32);
      expect(cam.heatmap.every((v) => v >= 0 && v <= 1)).toBe(true);
      model.dispose();
    }
    x.dispose();
  });

  it.runIf(hasPretrained('mobilenet_v2_0.35_224'))('reads a MobileNetV2 head (frozen and medical) at its out_relu map', async () => {
    const entry = BUILTIN_ZOO.entry('mobilenet_v2_0.35_224');
    const backbone = await loadBackbone(entry, { load: pretrainedLoader() }, { inputSize: 96 });
    const x = tf.randomUniform([1, 96, 96, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
    for (const strategy of ['frozen', 'medical'] as const) {
      const { model } = buildClassifier(backbone, { strategy, numClasses: 4, seed: 1 });
      expect(camLayer(model).name).toBe('out_relu');
      const before = tf.memory().numTensors;
      const cam = await gradCam(model, x);
      expect(tf.memory().numTensors).toBe(before);
      expect(cam.featureSize).toEqual([3, 3]);
      expect(Math.max(...cam.heatmap)).toBeLessThanOrEqual(1);
      model.dispose();
    }
    x.dispose();
    backbone.model.dispose();
  });
});
