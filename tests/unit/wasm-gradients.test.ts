import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnsupportedGradientError, WASM_GRADIENT_KERNELS, WASM_REPLACED_KERNELS } from '../../src/core/kernels/wasm-gradients';
import { mulberry32 } from '../../src/core/random';

/*
 * Each kernel we register for WASM against TF.js's CPU backend, which has all of them: the same random inputs,
 * gradients through tf.grad on both backends (dilated cases through the kernels themselves, since TF.js's gradient
 * functions refuse dilation > 1), compared within 1e-4 of the largest magnitude in the CPU's result.
 */
const TOLERANCE = 1e-4;

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;

function randomData(shape: number[], seed: number): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1);
}

/** Runs `compute` on a backend with fresh tensors of the given data, and returns its results' values. */
async function on(backend: 'cpu' | 'wasm', compute: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const out = compute();
  const values = await Promise.all(out.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(out);
  return values;
}

function expectClose(wasm: Float32Array[], cpu: Float32Array[]): void {
  expect(wasm.length).toBe(cpu.length);
  cpu.forEach((expected, k) => {
    const actual = wasm[k];
    expect(actual.length).toBe(expected.length);
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < expected.length; i++) {
      scale = Math.max(scale, Math.abs(expected[i]));
      diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    }
    expect(scale).toBeGreaterThan(0);
    expect(diff / scale).toBeLessThanOrEqual(TOLERANCE);
  });
}

/** Gradients of Σ conv(x, f) · r with respect to x and f, r random so that every output position counts differently. */
function convGrads(kind: 'conv' | 'depthwise', xShape: Shape4, fShape: Shape4, stride: number, pad: Pad, seed: number) {
  return () => {
    const x = tf.tensor4d(randomData(xShape, seed), xShape);
    const f = tf.tensor4d(randomData(fShape, seed + 1), fShape);
    const conv = (a: tf.Tensor4D, b: tf.Tensor4D) => (kind === 'conv' ? tf.conv2d(a, b, stride, pad) : tf.depthwiseConv2d(a, b, stride, pad));
    const y = conv(x, f);
    const outShape = y.shape;
    y.dispose();
    const r = tf.tensor(randomData(outShape, seed + 2), outShape);
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => conv(a as tf.Tensor4D, b as tf.Tensor4D).mul(r).sum())([x, f]);
    tf.dispose([x, f, r]);
    return grads;
  };
}

const EXPLICIT: Pad = [[0, 0], [1, 2], [2, 0], [0, 0]];

beforeAll(async () => {
  await tf.setBackend('wasm');
});
afterAll(async () => {
  await tf.setBackend('cpu');
});

describe('WASM convolution gradients match the CPU backend', () => {
  it('registers every kernel for WASM, in place of the backend\'s own where it has a slow one', () => {
    for (const k of WASM_GRADIENT_KERNELS) expect(tf.getKernel(k, 'wasm'), k).toBeDefined();
    // The backend's kernels bind their WASM function in a setupFunc; ours call other kernels and have none.
    for (const k of WASM_REPLACED_KERNELS) expect(tf.getKernel(k, 'wasm')?.setupFunc, k).toBeUndefined();
  });

  // [batch, height, width, in], [kh, kw, in, out], stride, padding: odd sizes, batch 1 and 7, both paddings and explicit.
  const convCases: [Shape4, Shape4, number, Pad][] = [
    [[1, 9, 7, 3], [3, 3, 3, 5], 1, 'same'],
    [[7, 11, 9, 4], [3, 3, 4, 6], 2, 'same'],
    [[7, 13, 13, 2], [5, 3, 2, 3], 2, 'valid'],
    [[1, 10, 8, 3], [3, 3, 3, 4], 2, 'valid'],
    [[7, 6, 5, 8], [1, 1, 8, 5], 1, 'valid'],
    [[7, 6, 5, 8], [1, 1, 8, 5], 1, 'same'],
    [[7, 9, 8, 4], [1, 1, 4, 3], 2, 'same'],
    [[1, 9, 9, 3], [3, 3, 3, 2], 2, EXPLICIT],
  ];
  it.each(convCases)('conv2d x%j filter %j stride %i padding %j', async (xShape, fShape, stride, pad) => {
    const compute = convGrads('conv', xShape, fShape, stride, pad, xShape[0] * 100 + fShape[0]);
    expectClose(await on('wasm', compute), await on('cpu', compute));
  });

  // Channel multiplier 1 (the MobileNets') and 2.
  const depthwiseCases: [Shape4, Shape4, number, Pad][] = [
    [[1, 9, 7, 5], [3, 3, 5, 1], 1, 'same'],
    [[7, 11, 9, 4], [3, 3, 4, 1], 2, 'same'],
    [[7, 12, 13, 3], [5, 5, 3, 1], 2, 'valid'],
    [[1, 9, 11, 3], [3, 3, 3, 2], 1, 'valid'],
    [[7, 8, 7, 2], [3, 3, 2, 2], 2, 'same'],
    [[1, 9, 9, 3], [3, 3, 3, 1], 2, EXPLICIT],
  ];
  it.each(depthwiseCases)('depthwiseConv2d x%j filter %j stride %i padding %j', async (xShape, fShape, stride, pad) => {
    const compute = convGrads('depthwise', xShape, fShape, stride, pad, xShape[0] * 10 + fShape[3]);
    expectClose(await on('wasm', compute), await on('cpu', compute));
  });

  /*
   * Dilation 2 reaches the kernels only when called directly (TF.js's depthwise gradient asserts dilation 1), and the
   * CPU backend's backprop kernels ignore dilations; so the reference is the CPU at dilation 1 with the filter spread
   * out to its dilated extent (zeros between taps), its filter gradient read back at the taps.
   */
  it.each([
    [[1, 11, 9, 3], [3, 3, 3, 1], 'same'],
    [[7, 12, 13, 2], [3, 3, 2, 2], 'valid'],
  ] as [Shape4, Shape4, Pad][])('depthwise backprops with dilation 2, x%j filter %j padding %j', async (xShape, fShape, pad) => {
    const compute = (dilation: 1 | 2) => () =>
      tf.tidy(() => {
        const x = tf.tensor4d(randomData(xShape, 7), xShape);
        let f = tf.tensor4d(randomData(fShape, 8), fShape);
        const [kh, kw, c, m] = fShape;
        if (dilation === 1) {
          // [kh, 1, kw, 1, c, m] padded to [kh, 2, kw, 2, c, m], the trailing zero row and column cut.
          const spread = tf.pad(f.reshape([kh, 1, kw, 1, c, m]), [[0, 0], [0, 1], [0, 0], [0, 1], [0, 0], [0, 0]]).reshape([2 * kh, 2 * kw, c, m]) as tf.Tensor4D;
          f = tf.slice(spread, [0, 0, 0, 0], [2 * kh - 1, 2 * kw - 1, c, m]);
        }
        const y = tf.depthwiseConv2d(x, f, 1, pad, 'NHWC', dilation);
        const dy = tf.tensor4d(randomData(y.shape, 9), y.shape);
        const attrs = { strides: [1, 1], pad, dilations: [dilation, dilation] };
        const dx = tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: f }, { ...attrs, inputShape: xShape }) as tf.Tensor;
        const df = tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: f.shape }) as tf.Tensor4D;
        return [dx, dilation === 1 ? tf.stridedSlice(df, [0, 0, 0, 0], df.shape, [2, 2, 1, 1]) : df];
      });
    expectClose(await on('wasm', compute(2)), await on('cpu', compute(1)));
  });
});

describe('WASM convolution gradients: memory and refusals', () => {
  it('leaves no tensor behind', async () => {
    await tf.setBackend('wasm');
    const run = () => tf.dispose(convGrads('depthwise', [7, 11, 9, 4], [3, 3, 4, 1], 2, 'same', 1)().concat(convGrads('conv', [7, 11, 9, 4], [3, 3, 4, 6], 2, 'same', 2)()));
    run();
    const before = tf.memory().numTensors;
    run();
    run();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses what it does not compute, by kernel and attribute', async () => {
    await tf.setBackend('wasm');
    const x = tf.ones([1, 9, 9, 2]);
    const dy = tf.ones([1, 2, 5, 5]);
    const f = tf.ones([3, 3, 2, 1]);
    expect(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: [1, 1], pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 2, 2] })).toThrow(
      new UnsupportedGradientError('Conv2DBackpropFilter', "dataFormat 'NCHW' (only NHWC)"),
    );
    const dy5 = tf.ones([1, 5, 5, 2]);
    expect(() => tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy: dy5, filter: f }, { strides: [2, 2], pad: 'same', dilations: [2, 2], inputShape: [1, 9, 9, 2] })).toThrow(
      /DepthwiseConv2dNativeBackpropInput on the WASM backend does not support strides 2×2 together with dilations 2×2/,
    );
    tf.dispose([x, dy, f, dy5]);
  });
});

/*
 * What training on WASM also relies on (src/core/kernels/wasm-reductions.ts, clip-gradient.ts): sums and means over
 * leading axes through average pooling, and ClipByValue's gradient from steps. Same values as the CPU backend.
 */
describe('WASM reductions over leading axes and the ClipByValue gradient', () => {
  // Leading axes (pooled), with and without keepDims; a row too wide to pool, inner axes and int32 (the backend's own).
  const cases: [number[], number[], 'float32' | 'int32'][] = [
    [[7, 9, 5, 3], [0, 1, 2], 'float32'],
    [[7, 9, 5, 3], [0], 'float32'],
    [[16, 1280], [0], 'float32'],
    [[3, 9000], [0], 'float32'],
    [[7, 9, 5, 3], [1, 2], 'float32'],
    [[7, 9, 5, 3], [-1], 'float32'],
    [[5, 6], [0], 'int32'],
  ];
  it.each(cases)('sum and mean of %j over %j (%s), keepDims or not', async (shape, axis, dtype) => {
    const compute = () => {
      const x = tf.tensor(randomData(shape, shape[0] + axis.length), shape).mul(dtype === 'int32' ? 100 : 1).cast(dtype);
      const out = [false, true].flatMap((keepDims) => [tf.sum(x, axis, keepDims), tf.mean(x, axis, keepDims)]);
      x.dispose();
      return out;
    };
    await tf.setBackend('cpu');
    const cpu = compute();
    const expectedShapes = cpu.map((t) => t.shape);
    tf.dispose(cpu);
    await tf.setBackend('wasm');
    const wasm = compute();
    expect(wasm.map((t) => t.shape)).toEqual(expectedShapes);
    tf.dispose(wasm);
    expectClose(await on('wasm', () => compute().map((t) => t.cast('float32'))), await on('cpu', () => compute().map((t) => t.cast('float32'))));
  });

  it('ClipByValue passes dy where min ≤ x ≤ max, the bounds included, as TF.js did', async () => {
    const x = [-1, 0, 0.5, 5.999, 6, 6.001, 7];
    const compute = () => [tf.grad((a: tf.Tensor) => tf.clipByValue(a, 0, 6).mul(tf.range(1, 8)))(tf.tensor(x))];
    const values = await on('wasm', compute);
    expect(Array.from(values[0])).toEqual([0, 2, 3, 4, 5, 0, 0]);
    expectClose(values, await on('cpu', compute));
  });

  it('leaves no tensor behind', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor(randomData([4, 6, 6, 3], 3), [4, 6, 6, 3]);
    const run = () => tf.dispose([tf.sum(x, [0, 1, 2]), tf.mean(x, [0], true), tf.grad((a: tf.Tensor) => tf.clipByValue(a, 0, 0.5))(x)]);
    run();
    const before = tf.memory().numTensors;
    run();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
