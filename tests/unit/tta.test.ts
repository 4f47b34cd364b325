import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateDemoDataset } from '../../src/core/dataset/demo';
import { channelStats } from '../../src/core/dataset/stats';
import { describeModel, parseMetadata } from '../../src/core/export/metadata';
import { studioProbabilities } from '../../src/core/export/parity';
import { mirrorLeftRight, predictLogits } from '../../src/core/inference/tta';
import { buildSimpleCnn } from '../../src/core/models/simple_cnn';
import { AdamWOptimizer } from '../../src/core/train/optimizers';
import { featureBatchSource, imageBatchSource, normalizeWith, trainClassifier, type TensorDataset } from '../../src/core/train/trainer';
import { randomizeWeights, randomPixels } from '../fixtures/export';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const demo = generateDemoDataset({ seed: 3, imageSize: 8, perClass: 5 });
const data: TensorDataset = { images: demo.images, labels: demo.labels, imageSize: 8, channels: 3, numClasses: 3 };
const split = { train: [0, 1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 13], val: [4, 9, 14] };
const normalization = channelStats(demo.images, 64, 3, split.train);

function model(seed = 1): tf.LayersModel {
  const m = buildSimpleCnn({ imageSize: 8, channels: 3, numClasses: 3, seed });
  // Seeded random weights, so that an image and its mirror get clearly different logits.
  randomizeWeights(m, seed);
  return m;
}

const read = (t: tf.Tensor) => {
  const v = Array.from(t.dataSync());
  t.dispose();
  return v;
};

describe('test-time mirroring', () => {
  it('mirrors the width axis of NHWC images', () => {
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6], [1, 1, 3, 2]);
    expect(read(mirrorLeftRight(x))).toEqual([5, 6, 3, 4, 1, 2]);
    x.dispose();
  });

  it('answers with the mean of the logits for the image and its mirror, in one pass, and leaks nothing', () => {
    const m = model();
    const x = randomPixels(3, 8, 3, 4).div(255) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const flip = read(predictLogits(m, x, 'flip'));
    const none = read(predictLogits(m, x, 'none'));
    expect(tf.memory().numTensors).toBe(before);
    const a = read(m.predict(x) as tf.Tensor);
    const b = read(m.predict(tf.reverse(x, 2)) as tf.Tensor);
    expect(none).toEqual(a);
    flip.forEach((v, k) => expect(v).toBeCloseTo((a[k] + b[k]) / 2, 5));
    // The two views disagree, or the check above would prove nothing.
    expect(Math.max(...a.map((v, k) => Math.abs(v - b[k])))).toBeGreaterThan(0.01);
    x.dispose();
    m.dispose();
  });

  it('is what studioProbabilities applies when the metadata asks for it (prediction and the export parity check)', () => {
    const m = model(2);
    const pixels = randomPixels(2, 8, 3, 9);
    const meta = describeModel({ modelId: 'simple_cnn', strategy: 'scratch', labels: ['a', 'b', 'c'], inputSize: 8, channels: 3, normalization, scaling: 'dataset', tta: 'flip', libraries: {} });
    expect(meta.tta).toEqual({ kind: 'flip', bakedIn: false });
    const got = read(studioProbabilities(m, pixels, meta));
    const want = read(tf.tidy(() => tf.softmax(predictLogits(m, normalizeWith(normalization)(pixels) as tf.Tensor4D, 'flip'))));
    got.forEach((v, k) => expect(v).toBeCloseTo(want[k], 6));
    const single = read(studioProbabilities(m, pixels, { ...meta, tta: undefined }));
    expect(Math.max(...single.map((v, k) => Math.abs(v - got[k])))).toBeGreaterThan(1e-3);
    pixels.dispose();
    m.dispose();
  });

  it('reads back from metadata.json and refuses a malformed entry', () => {
    const meta = describeModel({ modelId: 'simple_cnn', strategy: 'scratch', labels: ['a', 'b'], inputSize: 8, channels: 3, normalization, scaling: 'dataset', tta: 'flip', libraries: {} });
    expect(parseMetadata(JSON.parse(JSON.stringify(meta))).tta).toEqual({ kind: 'flip', bakedIn: false });
    expect(describeModel({ ...meta, normalization, scaling: 'dataset', tta: 'none' }).tta).toBeUndefined();
    expect(() => parseMetadata({ ...meta, tta: { kind: 'rotate', bakedIn: false } })).toThrow('"tta" must be { kind: "flip", bakedIn: true or false }');
  });

  it('validates each epoch on the image and its mirror: the logits the trainer reports are their mean', async () => {
    const m = model(3);
    const optimizer = new AdamWOptimizer(0.003);
    const reported: number[][] = [];
    await trainClassifier(m, optimizer, data, split, { epochs: 1, batchSize: 5, seed: 1, normalization, tta: 'flip', onValidation: (_, __, logits) => void reported.push(Array.from(logits)) });
    const x = tf.tidy(() => normalizeWith(normalization)(imageBatchSource(data).batch(split.val).x as tf.Tensor4D) as tf.Tensor4D);
    const want = read(predictLogits(m, x, 'flip'));
    reported[0].forEach((v, k) => expect(v).toBeCloseTo(want[k], 4));
    x.dispose();
    m.dispose();
    optimizer.dispose();
  });

  it('takes a feature cache’s mirrored rows, and refuses a cache without them', async () => {
    // Features [row, 1]: rows 0–2 train, 3–4 validate, 5–6 are rows 3–4 mirrored.
    const features = Float32Array.from([1, -1, 2, 0.5, -0.5, 3, -3]);
    const labels = Int32Array.from([0, 1, 0, 1, 0, 1, 0]);
    const head = tf.sequential({ layers: [tf.layers.dense({ inputShape: [1], units: 2, kernelInitializer: 'ones', biasInitializer: 'zeros' })] });
    const source = featureBatchSource({ features, featureShape: [1], labels, numClasses: 2, mirrorRow: (row) => row + 2 });
    const mirrored = source.mirrored!([3, 4]);
    expect(read(mirrored.x)).toEqual([3, -3]);
    mirrored.y.dispose();
    const optimizer = tf.train.sgd(0);
    const reported: number[][] = [];
    await trainClassifier(head, optimizer, source, { train: [0, 1, 2], val: [3, 4] }, { epochs: 1, batchSize: 3, seed: 1, tta: 'flip', onValidation: (_, __, logits) => void reported.push(Array.from(logits)) });
    // Weights all ones, learning rate 0: each logit is the mean of the row and its mirror.
    expect(reported[0]).toEqual([1.75, 1.75, -1.75, -1.75]);
    const plain = featureBatchSource({ features, featureShape: [1], labels, numClasses: 2 });
    await expect(trainClassifier(head, optimizer, plain, { train: [0, 1, 2], val: [3, 4] }, { epochs: 1, batchSize: 3, seed: 1, tta: 'flip' })).rejects.toThrow('test-time mirroring needs the mirrored images');
    head.dispose();
    optimizer.dispose();
  });

  it('mirrored training: each epoch trains every image as it is and mirrored, in twice the steps', async () => {
    // Features [row, 1]: rows 0–2 train, 3–4 validate, 5–7 are rows 0–2 mirrored.
    const features = Float32Array.from([1, -1, 2, 0.5, -0.5, -2, 3, 0.25]);
    const labels = Int32Array.from([0, 1, 0, 1, 0, 0, 1, 0]);
    const head = () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [1], units: 2, kernelInitializer: 'glorotUniform', biasInitializer: 'zeros' })] });
    const split = { train: [0, 1, 2], val: [3, 4] };
    // Learning rate 0: the weights never change, so each epoch's training loss is the mean over what it trained on.
    const lossOf = async (source: ReturnType<typeof featureBatchSource>, train: number[], mirrorTraining: boolean) => {
      const model = head();
      model.setWeights([tf.tensor2d([[0.7, -0.4]]), tf.tensor1d([0.1, -0.2])]);
      const optimizer = tf.train.sgd(0);
      const steps: number[] = [];
      const r = await trainClassifier(model, optimizer, source, { ...split, train }, { epochs: 1, batchSize: 2, seed: 1, mirrorTraining, onBatch: (b) => void steps.push(b.batchesPerEpoch) });
      model.dispose();
      optimizer.dispose();
      return { loss: r.epochs[0].trainLoss, batchesPerEpoch: steps[0] };
    };
    const source = featureBatchSource({ features, featureShape: [1], labels, numClasses: 2, mirrorRow: (row) => (row < 3 ? 5 + row : row) });
    const both = await lossOf(source, split.train, true);
    const [plain, mirrors] = [await lossOf(source, [0, 1, 2], false), await lossOf(source, [5, 6, 7], false)];
    expect(both.batchesPerEpoch).toBe(3);
    expect(plain.batchesPerEpoch).toBe(2);
    expect(both.loss).toBeCloseTo((plain.loss + mirrors.loss) / 2, 6);
    const without = featureBatchSource({ features, featureShape: [1], labels, numClasses: 2 });
    const [model, optimizer] = [head(), tf.train.sgd(0)];
    await expect(trainClassifier(model, optimizer, without, split, { epochs: 1, batchSize: 2, seed: 1, mirrorTraining: true })).rejects.toThrow('mirrored training needs the mirrored images');
    model.dispose();
    optimizer.dispose();
  });
});
