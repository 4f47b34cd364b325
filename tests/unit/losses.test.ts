import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { inverseFrequencyClassWeights, isImbalanced, softmaxCrossEntropyWithOptions } from '../../src/core/train/losses';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/*
 * Two samples, two classes. Logits [0, ln 3] give softmax [¼, ¾]; logits [ln 4, 0] give [⅘, ⅕].
 * Sample 1 is class 1: CE = −ln ¾ = 0.2876820725.  Sample 2 is class 0: CE = −ln ⅘ = 0.2231435513.
 */
const LOGITS = [
  [0, Math.log(3)],
  [Math.log(4), 0],
];
const LABELS = [
  [0, 1],
  [1, 0],
];
const CE1 = -Math.log(3 / 4);
const CE2 = -Math.log(4 / 5);

async function loss(opts: Parameters<typeof softmaxCrossEntropyWithOptions>[2]): Promise<number> {
  const y = tf.tensor2d(LABELS);
  const logits = tf.tensor2d(LOGITS);
  const before = tf.memory().numTensors;
  const l = softmaxCrossEntropyWithOptions(y, logits, opts);
  expect(tf.memory().numTensors).toBe(before + 1);
  const v = (await l.data())[0];
  tf.dispose([y, logits, l]);
  return v;
}

describe('softmaxCrossEntropyWithOptions', () => {
  it('is the plain mean without options', async () => {
    // (0.2876820725 + 0.2231435513) / 2 = 0.2554128119
    expect(await loss({})).toBeCloseTo((CE1 + CE2) / 2, 6);
    expect(await loss({})).toBeCloseTo(0.2554128119, 6);
  });

  it('weights each sample by its true class and divides by the sum of the weights', async () => {
    // weights [2, 0.5]: sample 1 (class 1) gets 0.5, sample 2 (class 0) gets 2.
    // (0.5·0.2876820725 + 2·0.2231435513) / 2.5 = (0.1438410362 + 0.4462871026) / 2.5 = 0.2360512555
    expect(await loss({ classWeights: [2, 0.5] })).toBeCloseTo(0.2360512555, 6);
    // Uniform weights of any size are the plain mean.
    expect(await loss({ classWeights: [3, 3] })).toBeCloseTo((CE1 + CE2) / 2, 6);
  });

  it('smooths the targets towards uniform', async () => {
    // ε = 0.2, K = 2: targets [0.1, 0.9] and [0.9, 0.1].
    // CE1 = 0.1·ln 4 + 0.9·(−ln ¾) = 0.1386294361 + 0.2589138653 = 0.3975433014
    // CE2 = 0.9·(−ln ⅘) + 0.1·ln 5 = 0.2008291962 + 0.1609437912 = 0.3617729874
    // mean = 0.3796581444
    expect(await loss({ labelSmoothing: 0.2 })).toBeCloseTo(0.3796581444, 6);
    // The weight follows the true class, not the smoothed target: 0.5·0.3975433014 + 2·0.3617729874 over 2.5.
    expect(await loss({ labelSmoothing: 0.2, classWeights: [2, 0.5] })).toBeCloseTo((0.5 * 0.3975433014 + 2 * 0.3617729874) / 2.5, 6);
  });

  it('agrees with TF.js on the unweighted, smoothed case', async () => {
    const y = tf.tensor2d(LABELS);
    const logits = tf.tensor2d(LOGITS);
    const ref = tf.losses.softmaxCrossEntropy(y, logits, undefined, 0.2);
    expect(await loss({ labelSmoothing: 0.2 })).toBeCloseTo((await ref.data())[0], 6);
    tf.dispose([y, logits, ref]);
  });

  it('has gradients with respect to the logits', async () => {
    const y = tf.tensor2d(LABELS);
    const logits = tf.tensor2d(LOGITS);
    const g = tf.grad((l: tf.Tensor) => softmaxCrossEntropyWithOptions(y, l as tf.Tensor2D))(logits);
    // d mean CE / d logits = (softmax − onehot) / N: [[¼, −¼], [−⅒, ⅒]] / 2.
    const expected = [0.125, -0.125, -0.1, 0.1];
    const got = await g.data();
    expected.forEach((e, i) => expect(got[i]).toBeCloseTo(e, 6));
    tf.dispose([y, logits, g]);
  });

  it('rejects a wrong number of class weights and out-of-range smoothing', () => {
    const y = tf.tensor2d(LABELS);
    const logits = tf.tensor2d(LOGITS);
    expect(() => softmaxCrossEntropyWithOptions(y, logits, { classWeights: [1, 2, 3] })).toThrow(RangeError);
    expect(() => softmaxCrossEntropyWithOptions(y, logits, { labelSmoothing: 1 })).toThrow(RangeError);
    tf.dispose([y, logits]);
  });
});

describe('inverseFrequencyClassWeights', () => {
  it('is N/(C·n), so the sample-weighted mean weight is 1', () => {
    // N = 100, C = 3: 100/30, 100/90, 100/180.
    const w = inverseFrequencyClassWeights([10, 30, 60]);
    [10 / 3, 10 / 9, 5 / 9].forEach((e, i) => expect(w[i]).toBeCloseTo(e, 12));
    expect((10 * w[0] + 30 * w[1] + 60 * w[2]) / 100).toBeCloseTo(1, 12);
  });

  it('gives an empty class 0 and leaves it out of C', () => {
    // N = 80, C = 2: 80/40, 80/120.
    const w = inverseFrequencyClassWeights([0, 20, 60]);
    expect(w[0]).toBe(0);
    expect(w[1]).toBeCloseTo(2, 12);
    expect(w[2]).toBeCloseTo(2 / 3, 12);
  });

  it('is all ones for balanced classes', () => {
    expect(inverseFrequencyClassWeights([7, 7, 7])).toEqual([1, 1, 1]);
  });
});

describe('isImbalanced', () => {
  it('is true only when the largest class exceeds ratio × the smallest non-empty one', () => {
    expect(isImbalanced([10, 15])).toBe(false);
    expect(isImbalanced([10, 16])).toBe(true);
    expect(isImbalanced([10, 0, 12])).toBe(false);
    expect(isImbalanced([5])).toBe(false);
    expect(isImbalanced([10, 25], 3)).toBe(false);
    expect(isImbalanced([10, 31], 3)).toBe(true);
  });
});
