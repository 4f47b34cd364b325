import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { clipByGlobalNorm } from '../../src/core/train/gradients';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('clipByGlobalNorm', () => {
  // a = [3, 4], b = [[0, 12]]: global norm √(9 + 16 + 144) = √169 = 13.
  function grads(): tf.NamedTensorMap {
    return { a: tf.tensor1d([3, 4]), b: tf.tensor2d([[0, 12]]) };
  }

  it('scales every gradient by maxNorm/norm when the norm exceeds maxNorm', async () => {
    const g = grads();
    const before = tf.memory().numTensors;
    const { grads: clipped, norm } = clipByGlobalNorm(g);
    // Two clipped gradients and the norm, nothing else left behind.
    expect(tf.memory().numTensors).toBe(before + 3);
    expect((await norm.data())[0]).toBeCloseTo(13, 5);
    const a = await clipped.a.data();
    const b = await clipped.b.data();
    [3 / 13, 4 / 13].forEach((e, i) => expect(a[i]).toBeCloseTo(e, 6));
    [0, 12 / 13].forEach((e, i) => expect(b[i]).toBeCloseTo(e, 6));
    expect(clipped.b.shape).toEqual([1, 2]);
    tf.dispose([clipped, norm]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(g);
  });

  it('leaves gradients within the norm unchanged', async () => {
    const g = grads();
    const { grads: clipped, norm } = clipByGlobalNorm(g, 26);
    expect(Array.from(await clipped.a.data())).toEqual([3, 4]);
    expect(Array.from(await clipped.b.data())).toEqual([0, 12]);
    expect((await norm.data())[0]).toBeCloseTo(13, 5);
    tf.dispose([g, clipped, norm]);
  });

  it('handles an empty map and rejects a non-positive norm', async () => {
    const { grads: clipped, norm } = clipByGlobalNorm({});
    expect(clipped).toEqual({});
    expect((await norm.data())[0]).toBe(0);
    norm.dispose();
    expect(() => clipByGlobalNorm({}, 0)).toThrow(RangeError);
  });
});
