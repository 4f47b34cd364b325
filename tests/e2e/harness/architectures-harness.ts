/** Test-only page script: a training step of a built-in architecture on a real backend (WebGPU in the e2e test). */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { buildArchitecture } from '../../../src/core/models/architectures/builders';
import { createOptimizer } from '../../../src/core/train/optimizers';

export interface StepResult {
  backend: string;
  loss: number;
  /** Trainable variables whose values changed, of `variables`. */
  changed: number;
  variables: number;
  /** Tensors left over once the model, the optimiser and the inputs are disposed (0: nothing leaked). */
  leaked: number;
  seconds: number;
}

declare global {
  interface Window {
    trainStep(id: string, opts: { backend: string; imageSize: number; batch: number }): Promise<StepResult>;
  }
}

window.trainStep = async (id, { backend, imageSize, batch }) => {
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} did not initialise`);
  await tf.ready();
  const tensorsBefore = tf.memory().numTensors;
  const started = performance.now();
  const model = buildArchitecture(id, { imageSize, channels: 3, numClasses: 3, seed: 1 });
  // No weight decay: a weight that moves then moved because its gradient was not zero (Adam's step is about the
  // learning rate whatever the gradient's size, so no change is lost to float32 rounding).
  const optimizer = createOptimizer({ name: 'adamw', learningRate: 1e-3, weightDecay: 0 });
  const x = tf.randomUniform([batch, imageSize, imageSize, 3], -1, 1, 'float32', 2);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 3), 'int32'), 3));
  // ViT's and Swin's heads start at zero (as torchvision's), which would keep the first step's gradients out of the
  // body: a random head lets one step reach every weight.
  const head = model.getLayer('logits');
  tf.tidy(() => head.setWeights(head.getWeights().map((w) => tf.randomNormal(w.shape, 0, 0.1, 'float32', 3))));
  const initial = model.trainableWeights.map((w) => tf.clone(w.read()));
  const cost = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
  const loss = (await cost.data())[0];
  cost.dispose();
  const moved = tf.tidy(() => tf.stack(model.trainableWeights.map((w, i) => w.read().notEqual(initial[i]).any().cast('int32'))).sum());
  const changed = (await moved.data())[0];
  const seconds = (performance.now() - started) / 1000;
  const variables = initial.length;
  tf.dispose([moved, x, y, ...initial]);
  model.dispose();
  optimizer.dispose();
  return { backend: tf.getBackend(), loss, changed, variables, leaked: tf.memory().numTensors - tensorsBefore, seconds };
};
