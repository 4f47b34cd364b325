/**
 * Short timed probes of this device, for the recommended recipe's time estimate (src/core/train/recommend.ts): a
 * backbone's forward pass and the recommended head's training steps, each timed after an untimed warm-up (kernels
 * compile on first use). They run on the active backend; the engine picks it (workers/recommend.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { applyHead } from '../models/heads';
import { createOptimizer } from './optimizers';
import { RECOMMENDED_HEAD } from './recommend';
import { featureBatchSource, trainClassifier } from './trainer';

/** Images per timed batch, and timed batches, of the backbone probe. */
const PROBE_BATCH = 8;
const PROBE_BATCHES = 2;
/** Head steps per probe epoch: epoch 1 compiles, epoch 2 is timed. */
const PROBE_STEPS = 24;

/** Images per second through `backbone` (input [-1, 1] scaled, `size` px square, 3 channels). */
export async function probeBackbone(backbone: tf.LayersModel, size: number): Promise<number> {
  const pass = async () => {
    const y = tf.tidy(() => backbone.predict(tf.randomUniform([PROBE_BATCH, size, size, 3], -1, 1, 'float32', 7)) as tf.Tensor);
    await y.data();
    y.dispose();
  };
  await pass();
  const started = performance.now();
  for (let i = 0; i < PROBE_BATCHES; i++) await pass();
  return (PROBE_BATCH * PROBE_BATCHES) / ((performance.now() - started) / 1000);
}

/** Training steps per second of the recommended head (batch, optimiser) on `dim`-wide cached features. */
export async function probeHead(dim: number, numClasses: number): Promise<number> {
  const batch = RECOMMENDED_HEAD.batchSize;
  const n = PROBE_STEPS * batch;
  const features = tf.randomNormal([n + batch, 1, 1, dim], 0, 1, 'float32', 11);
  const input = tf.input({ shape: [1, 1, dim] });
  const model = tf.model({ inputs: input, outputs: applyHead(input, 'mlp', numClasses, 1) });
  const optimizer = createOptimizer({ name: RECOMMENDED_HEAD.optimizer, learningRate: RECOMMENDED_HEAD.learningRate });
  const labels = Int32Array.from({ length: n + batch }, (_, i) => i % numClasses);
  const source = featureBatchSource({ features, featureShape: [1, 1, dim], labels, numClasses });
  const split = { train: Array.from({ length: n }, (_, i) => i), val: Array.from({ length: batch }, (_, i) => n + i) };
  try {
    // One validation batch per epoch is timed with it, as in a run.
    let seconds = 0;
    await trainClassifier(model, optimizer, source, split, { epochs: 2, batchSize: batch, seed: 1, onEpoch: (m) => void (seconds = m.seconds) });
    return PROBE_STEPS / seconds;
  } finally {
    tf.dispose(features);
    model.dispose();
    optimizer.dispose();
  }
}
