/**
 * Compiling a first step ahead on WebGPU (src/core/train/compile-ahead.ts, the trainer's CompileAhead): run on Dawn's
 * WebGPU (the `webgpu` package) over SwiftShader's Vulkan driver, which Debian's chromium package ships. Where
 * there is none, the WebGPU cases skip, saying so.
 */
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDemoDataset } from '../../src/core/dataset/demo';
import { channelStats } from '../../src/core/dataset/stats';
import { buildArchitecture } from '../../src/core/models/architectures/builders';
import { buildSimpleCnn } from '../../src/core/models/simple_cnn';
import { augmentDefault } from '../../src/core/settings/augment';
import { compileOnWebGPU, compilesAhead } from '../../src/core/train/compile-ahead';
import { createOptimizer, type OptimizerName } from '../../src/core/train/optimizers';
import { compileStepAhead, trainClassifier, type CompileAhead, type TensorDataset, type TrainerOptions } from '../../src/core/train/trainer';
import type { CompiledAhead } from '../../src/core/train/types';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const scratch = (name: OptimizerName) => () => createOptimizer({ name, learningRate: 3e-3 });

describe('when a run compiles ahead', () => {
  const real = { vendor: 'nvidia', architecture: 'hopper', device: '', description: '', isSoftware: false };
  const software = { ...real, vendor: 'google', architecture: 'swiftshader', isSoftware: true };
  it('auto does on a real GPU adapter only, on on any, off never, and only WebGPU can', () => {
    expect(compilesAhead('auto', 'webgpu', real)).toBe(true);
    expect(compilesAhead('auto', 'webgpu', software)).toBe(false);
    expect(compilesAhead('auto', 'webgpu', null)).toBe(false);
    expect(compilesAhead('on', 'webgpu', software)).toBe(true);
    expect(compilesAhead('off', 'webgpu', real)).toBe(false);
    for (const backend of ['webgl', 'wasm', 'cpu'] as const) expect(compilesAhead('on', backend, real)).toBe(false);
  });

  it('puts the weights back and frees the scratch optimiser when compiling fails', async () => {
    // On the CPU backend the trace really runs, so its update really moves the weights: they must come back.
    await tf.setBackend('cpu');
    const model = buildSimpleCnn({ imageSize: 16, channels: 3, numClasses: 3, seed: 1 });
    const x = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 1);
    const y = tf.oneHot(tf.tensor1d([0, 2], 'int32'), 3);
    const weights = () => Promise.all(model.weights.map((w) => w.read().data()));
    const before = await weights();
    const tensors = tf.memory().numTensors;
    const failing: CompileAhead = {
      compile: async (trace) => {
        trace();
        throw new Error('no pipeline for you');
      },
      scratchOptimizer: scratch('adam'),
    };
    const step = (optimizer: tf.Optimizer) => [optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true)!];
    await expect(compileStepAhead(failing, model, step)).rejects.toThrow('no pipeline for you');
    expect(await weights()).toEqual(before);
    expect(tf.memory().numTensors).toBe(tensors);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('refuses a backend other than WebGPU by name', async () => {
    await tf.setBackend('cpu');
    await expect(compileOnWebGPU(() => {})).rejects.toThrow(/needs the WebGPU backend \(the active one is cpu\)/);
  });
});

// Loading Dawn and TF.js's WebGPU backend is done once, here, and only where the Vulkan driver exists.
let webgpu = false;
beforeAll(async () => {
  if (!existsSync(SWIFTSHADER_ICD)) {
    console.warn(`compile-ahead: ${SWIFTSHADER_ICD} is absent (install chromium), so the WebGPU cases are skipped`);
    return;
  }
  process.env.VK_ICD_FILENAMES ??= SWIFTSHADER_ICD;
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: create([]) }, configurable: true });
  // TF.js's WebGPU backend registers itself only if navigator.gpu exists when its module loads.
  await import('@tensorflow/tfjs-backend-webgpu');
  webgpu = (await navigator.gpu.requestAdapter()) !== null && (await tf.setBackend('webgpu'));
  if (!webgpu) console.warn('compile-ahead: Dawn found no WebGPU adapter, so the WebGPU cases are skipped');
});

afterAll(async () => {
  await tf.setBackend('cpu');
});

// 3 classes × 6 images: 15 to train (batches of 5), 3 to validate.
const split = { train: [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16], val: [5, 11, 17] };
function demo(size: number): { data: TensorDataset; options: TrainerOptions } {
  const { images, labels } = generateDemoDataset({ seed: 5, imageSize: size, perClass: 6 });
  const data = { images, labels, imageSize: size, channels: 3, numClasses: 3 };
  return { data, options: { epochs: 2, batchSize: 5, seed: 3, normalization: channelStats(images, size * size, 3, split.train), augment: augmentDefault, clipNorm: 1 } };
}
const SIMPLE = demo(16);

/** Two epochs of a model (the simple CNN, batch norm included, by default) from the same initial weights, with or without `ahead`. */
async function train(ahead?: CompileAhead, build = () => buildSimpleCnn({ imageSize: 16, channels: 3, numClasses: 3, seed: 1 }), optimizerName: OptimizerName = 'adam', { data, options } = SIMPLE) {
  const model = build();
  const optimizer = scratch(optimizerName)();
  const tensors: number[] = [];
  try {
    const result = await trainClassifier(model, optimizer, data, split, { ...options, compileAhead: ahead, onEpoch: () => void tensors.push(tf.memory().numTensors) });
    const weights = await Promise.all(model.weights.map((w) => w.read().data()));
    return { epochs: result.epochs, weights, tensors };
  } finally {
    model.dispose();
    optimizer.dispose();
  }
}

describe.runIf(existsSync(SWIFTSHADER_ICD))('compiling the first step ahead on WebGPU', () => {
  it('compiles the step before it runs, and the run then trains exactly as without it', async ({ skip }) => {
    if (!webgpu) skip();
    await tf.setBackend('webgpu');
    const before = tf.memory().numTensors;
    const compiled: CompiledAhead[] = [];
    let started = 0;
    const ahead: CompileAhead = {
      compile: compileOnWebGPU,
      scratchOptimizer: scratch('adam'),
      onStart: () => void (started += 1),
      onCompiled: (c) => void compiled.push(c),
    };
    // First with the warm-up, in a backend that has compiled nothing for this model: every kernel is new to it.
    const warm = await train(ahead);
    expect(started).toBe(1);
    expect(compiled).toHaveLength(1);
    expect(compiled[0].programs).toBeGreaterThan(20);
    expect(compiled[0].seconds).toBeGreaterThan(0);
    // The trace's updates wrote junk into the weights and moving statistics; they were put back, so the same run
    // without it (its kernels now cached) computes the same losses and ends with the same weights.
    const plain = await train();
    expect(warm.epochs.map((m) => m.trainLoss)).toEqual(plain.epochs.map((m) => m.trainLoss));
    expect(warm.epochs.map((m) => m.valLoss)).toEqual(plain.epochs.map((m) => m.valLoss));
    expect(warm.weights).toEqual(plain.weights);
    expect(warm.epochs[1].trainLoss).toBeLessThan(warm.epochs[0].trainLoss + 0.5);
    // Nothing stays behind: not the trace's tensors, the copy of the weights, nor the scratch optimiser's state.
    expect(new Set(warm.tensors).size).toBe(1);
    expect(warm.tensors).toEqual(plain.tensors);
    expect(tf.memory().numTensors).toBe(before);
    // A second run of the same shapes finds every pipeline compiled already.
    await train(ahead);
    expect(compiled[1].programs).toBe(0);
  });

  it('traces a transformer (ViT-Ti/16: attention, layer norm, GELU) with AdamW just as well', async ({ skip }) => {
    if (!webgpu) skip();
    await tf.setBackend('webgpu');
    const before = tf.memory().numTensors;
    const vit = () => buildArchitecture('vit_ti16', { imageSize: 32, channels: 3, numClasses: 3, seed: 1 });
    // One step of one epoch: a ViT step takes seconds on an emulated GPU.
    const small = demo(32);
    const images = { data: small.data, options: { ...small.options, epochs: 1, batchSize: 15 } };
    let programs = 0;
    const warm = await train({ compile: compileOnWebGPU, scratchOptimizer: scratch('adamw'), onCompiled: (c) => void (programs = c.programs) }, vit, 'adamw', images);
    const plain = await train(undefined, vit, 'adamw', images);
    expect(programs).toBeGreaterThan(20);
    expect(warm.epochs.map((m) => [m.trainLoss, m.valLoss])).toEqual(plain.epochs.map((m) => [m.trainLoss, m.valLoss]));
    expect(warm.weights).toEqual(plain.weights);
    expect(tf.memory().numTensors).toBe(before);
    // SwiftShader compiles ViT's shaders in about a minute alone, and up to twice that beside another suite.
  }, 300_000);
});
