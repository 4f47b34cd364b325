import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdamWOptimizer, CheckpointableAdamax, createOptimizer, getLearningRate, setLearningRate, type OptimizerName } from '../../src/core/train/optimizers';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const LR = 0.1;
const B1 = 0.9;
const B2 = 0.999;
const EPS = 1e-8;
const WD = 0.01;
const W0 = [1, -2];
const GRADS = [
  [0.5, -1],
  [0.1, 0.2],
  [-0.3, 0.4],
];

/*
 * AdamW by hand, w0 = [1, −2], lr 0.1, β 0.9/0.999, ε 1e-8, λ 0.01; w ← w − lr·(m̂/(√v̂+ε) + λ·w).
 *
 * t = 1, g = [0.5, −1]
 *   m = 0.1·g = [0.05, −0.1]                    v = 0.001·g² = [0.00025, 0.001]
 *   m̂ = m/0.1 = [0.5, −1]                       v̂ = v/0.001 = [0.25, 1]         √v̂ = [0.5, 1]
 *   u = m̂/(√v̂+ε) = [0.99999998, −0.99999999]
 *   w = [1 − 0.1·(0.99999998 + 0.01·1), −2 − 0.1·(−0.99999999 − 0.01·2)] = [0.899000002, −1.898000001]
 *
 * t = 2, g = [0.1, 0.2]
 *   m = 0.9·[0.05, −0.1] + 0.1·[0.1, 0.2] = [0.055, −0.07]
 *   v = 0.999·[0.00025, 0.001] + 0.001·[0.01, 0.04] = [0.00025975, 0.001039]
 *   m̂ = m/(1 − 0.9²) = m/0.19 = [0.289473684, −0.368421053]
 *   v̂ = v/(1 − 0.999²) = v/0.001999 = [0.129939970, 0.519759880]   √v̂ = [0.360471871, 0.720943743]
 *   u = [0.803040956, −0.511026070]
 *   w = [0.899000002 − 0.1·(0.803040956 + 0.00899000002), −1.898000001 − 0.1·(−0.511026070 − 0.01898000001)]
 *     = [0.817796906, −1.844999394]
 *
 * t = 3, g = [−0.3, 0.4]
 *   m = 0.9·[0.055, −0.07] + 0.1·[−0.3, 0.4] = [0.0195, −0.023]
 *   v = 0.999·[0.00025975, 0.001039] + 0.001·[0.09, 0.16] = [0.00034949025, 0.001197961]
 *   m̂ = m/(1 − 0.9³) = m/0.271 = [0.071955720, −0.084870849]
 *   v̂ = v/(1 − 0.999³) = v/0.002997001 = [0.116613324, 0.399719920]   √v̂ = [0.341486932, 0.632234071]
 *   u = [0.210712946, −0.134239598]
 *   w = [0.817796906 − 0.1·(0.210712946 + 0.00817796906), −1.844999394 − 0.1·(−0.134239598 − 0.01844999394)]
 *     = [0.795907815, −1.829730435]
 */
const EXPECTED = [
  [0.899000002, -1.898000001],
  [0.8177969064, -1.844999394],
  [0.7959078149, -1.8297304348],
];

function expectClose(actual: ArrayLike<number>, expected: readonly number[], tol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(Math.abs(actual[i] - e)).toBeLessThan(tol));
}

describe('AdamWOptimizer', () => {
  it('matches the hand-worked update for three steps', () => {
    const w = tf.variable(tf.tensor1d(W0));
    const opt = new AdamWOptimizer(LR, B1, B2, EPS, WD);
    for (let t = 0; t < GRADS.length; t++) {
      const g = tf.tensor1d(GRADS[t]);
      opt.applyGradients({ [w.name]: g });
      g.dispose();
      expectClose(w.dataSync(), EXPECTED[t]);
    }
    expect(opt.iterations).toBe(3);
    opt.dispose();
    w.dispose();
  });

  it('works through minimize, where the gradient of Σ c·w is c', () => {
    const w = tf.variable(tf.tensor1d(W0));
    const opt = new AdamWOptimizer(LR, B1, B2, EPS, WD);
    for (let t = 0; t < GRADS.length; t++) {
      const c = tf.tensor1d(GRADS[t]);
      opt.minimize(() => c.mul(w).sum(), false, [w]);
      c.dispose();
      expectClose(w.dataSync(), EXPECTED[t]);
    }
    opt.dispose();
    w.dispose();
  });

  it('with no weight decay is Adam', () => {
    const a = tf.variable(tf.tensor1d(W0));
    const b = tf.variable(tf.tensor1d(W0));
    const adamw = new AdamWOptimizer(LR, B1, B2, EPS, 0);
    const adam = tf.train.adam(LR, B1, B2, EPS);
    for (const gv of GRADS) {
      const g = tf.tensor1d(gv);
      adamw.applyGradients({ [a.name]: g });
      adam.applyGradients({ [b.name]: g } as unknown as Parameters<typeof adam.applyGradients>[0]);
      g.dispose();
    }
    // 1e-5: TF.js's Adam keeps β^t in float32 and loses digits in 1 − β2^t; ours computes it in float64.
    expectClose(a.dataSync(), Array.from(b.dataSync()), 1e-5);
    tf.dispose([a, b]);
    adamw.dispose();
    adam.dispose();
  });

  it('keeps moments per variable name, whatever the order or subset of gradients', () => {
    const a = tf.variable(tf.tensor1d([W0[0]]));
    const b = tf.variable(tf.tensor1d([W0[1]]));
    const opt = new AdamWOptimizer(LR, B1, B2, EPS, WD);
    const g = (t: number, i: number) => tf.tensor1d([GRADS[t][i]]);
    const steps = [
      { [a.name]: g(0, 0), [b.name]: g(0, 1) },
      { [b.name]: g(1, 1), [a.name]: g(1, 0) },
      { [a.name]: g(2, 0), [b.name]: g(2, 1) },
    ];
    for (const s of steps) opt.applyGradients(s);
    steps.forEach((s) => tf.dispose(s));
    expectClose([a.dataSync()[0], b.dataSync()[0]], EXPECTED[2]);
    tf.dispose([a, b]);
    opt.dispose();
  });

  it('allocates no tensors per step once its moments exist', () => {
    const w = tf.variable(tf.tensor1d(W0));
    const opt = new AdamWOptimizer(LR, B1, B2, EPS, WD);
    const g = tf.tensor1d(GRADS[0]);
    opt.applyGradients({ [w.name]: g });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) opt.applyGradients({ [w.name]: g });
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
    expect(tf.memory().numTensors).toBe(before - 2);
    tf.dispose([w, g]);
  });

  it('resumes from getWeights/setWeights exactly where it left off', async () => {
    const a = tf.variable(tf.tensor1d(W0));
    const first = new AdamWOptimizer(LR, B1, B2, EPS, WD);
    for (const gv of GRADS.slice(0, 2)) {
      const g = tf.tensor1d(gv);
      first.applyGradients({ [a.name]: g });
      g.dispose();
    }
    const saved = await first.getWeights();
    expect(saved.map((s) => s.name)).toEqual(['iter', `${a.name}/m`, `${a.name}/v`]);
    // A checkpoint holds copies, and the optimiser that wrote it is gone by the time it is read.
    const copies = saved.map(({ name, tensor }) => ({ name, tensor: tensor.clone() }));
    tf.dispose(saved[0].tensor);
    first.dispose();

    const restored = new AdamWOptimizer(LR, B1, B2, EPS, WD);
    await restored.setWeights(copies);
    copies.forEach((c) => c.tensor.dispose());
    expect(restored.iterations).toBe(2);
    const g = tf.tensor1d(GRADS[2]);
    restored.applyGradients({ [a.name]: g });
    expectClose(a.dataSync(), EXPECTED[2]);
    tf.dispose([a, g]);
    restored.dispose();
  });

  it('round-trips its config through the serialization registry', () => {
    const opt = new AdamWOptimizer(0.003, 0.8, 0.99, 1e-6, 0.05);
    const [cls, fromConfig] = tf.serialization.SerializationMap.getMap().classNameMap.AdamW;
    const copy = fromConfig(cls, opt.getConfig()) as AdamWOptimizer;
    expect(copy.getClassName()).toBe('AdamW');
    expect(copy.getConfig()).toEqual({ learningRate: 0.003, beta1: 0.8, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.05 });
  });
});

describe('CheckpointableAdamax', () => {
  it('makes the same updates as tf.train.adamax', () => {
    const a = tf.variable(tf.tensor1d(W0));
    const b = tf.variable(tf.tensor1d(W0));
    const ours = new CheckpointableAdamax(LR, B1, B2, EPS);
    const theirs = tf.train.adamax(LR, B1, B2, EPS);
    for (const gv of GRADS) {
      const g = tf.tensor1d(gv);
      ours.applyGradients({ [a.name]: g });
      theirs.applyGradients({ [b.name]: g } as unknown as Parameters<typeof theirs.applyGradients>[0]);
      g.dispose();
      expectClose(a.dataSync(), Array.from(b.dataSync()));
    }
    tf.dispose([a, b]);
    ours.dispose();
    theirs.dispose();
  });

  it('saves and restores its state, which tf.train.adamax cannot', async () => {
    const w = tf.variable(tf.tensor1d(W0));
    const ref = tf.variable(tf.tensor1d(W0));
    const first = new CheckpointableAdamax(LR, B1, B2, EPS);
    const uninterrupted = new CheckpointableAdamax(LR, B1, B2, EPS);
    const gs = GRADS.map((g) => tf.tensor1d(g));
    for (const g of gs.slice(0, 2)) {
      first.applyGradients({ [w.name]: g });
      uninterrupted.applyGradients({ [ref.name]: g });
    }
    const saved = await first.getWeights();
    expect(saved.map((s) => s.name)).toEqual(['iter', `${w.name}/m`, `${w.name}/u`]);
    const copies = saved.map(({ name, tensor }) => ({ name, tensor: tensor.clone() }));
    tf.dispose(saved[0].tensor);
    first.dispose();
    const restored = new CheckpointableAdamax(LR, B1, B2, EPS);
    await restored.setWeights(copies);
    copies.forEach((c) => c.tensor.dispose());
    restored.applyGradients({ [w.name]: gs[2] });
    uninterrupted.applyGradients({ [ref.name]: gs[2] });
    expectClose(w.dataSync(), Array.from(ref.dataSync()));
    await expect(tf.train.adamax(LR).getWeights()).rejects.toThrow();
    tf.dispose([w, ref, ...gs]);
    restored.dispose();
    uninterrupted.dispose();
  });

  it('rejects state with a missing slot', async () => {
    const opt = new CheckpointableAdamax(LR);
    const iter = tf.scalar(1, 'int32');
    const m = tf.zeros([2]);
    await expect(opt.setWeights([{ name: 'iter', tensor: iter }, { name: 'w/m', tensor: m }])).rejects.toThrow(/lacks u/);
    tf.dispose([iter, m]);
    opt.dispose();
  });
});

describe('createOptimizer and setLearningRate', () => {
  const names: OptimizerName[] = ['adamw', 'adam', 'adamax', 'sgd'];

  // First step from zero state: the Adam family moves each weight by lr·sign(g) (m̂/√v̂ = g/|g|, and Adamax's
  // m/(1−β1)/|g| likewise), λ·w aside; SGD with momentum moves it by lr·g.
  function firstStepDelta(name: OptimizerName, lr: number, w: readonly number[], g: readonly number[]): number[] {
    return g.map((gi, i) => (name === 'sgd' ? lr * gi : lr * Math.sign(gi) + (name === 'adamw' ? lr * 0.01 * w[i] : 0)));
  }

  it.each(names)('%s takes its learning rate from setLearningRate, between steps, and leaves no tensor once disposed', (name) => {
    const before = tf.memory().numTensors;
    // A tidy frees the initial value; the variable, which tidy never frees, holds its own copy.
    const w = tf.tidy(() => tf.variable(tf.tensor1d(W0)));
    const g = tf.tensor1d(GRADS[0]);
    const opt = createOptimizer({ name, learningRate: 1 });
    setLearningRate(opt, 0.2);
    expect(getLearningRate(opt)).toBe(0.2);
    opt.applyGradients({ [w.name]: g });
    const after = Array.from(w.dataSync());
    expectClose(
      after.map((v, i) => W0[i] - v),
      firstStepDelta(name, 0.2, W0, GRADS[0]),
      1e-5,
    );
    setLearningRate(opt, 0);
    opt.applyGradients({ [w.name]: g });
    expectClose(w.dataSync(), after);
    tf.dispose([w, g]);
    opt.dispose();
    // TF.js's own momentum optimiser kept its learning-rate scalar (createOptimizer's disposes it).
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses weight decay for an optimiser that has none', () => {
    expect(() => createOptimizer({ name: 'adam', learningRate: 1e-3, weightDecay: 0.01 })).toThrow(RangeError);
    expect(createOptimizer({ name: 'adamw', learningRate: 1e-3 }).getConfig().weightDecay).toBe(0.01);
  });
});
