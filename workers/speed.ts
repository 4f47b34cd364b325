/**
 * The speed probe behind the model cards' time estimates (issue 17): the model built as a run would build it, then
 * on this device's training backend one forward pass of a batch and one gradient step (forward, backward, no update),
 * each timed after a warm-up pass (the first compiles kernels). The backend measurement (measure.ts) times the same
 * gradient step on each backend.
 */
import * as tf from '@tensorflow/tfjs';
import type { SpeedProbe } from '../src/engine/types';

/** Passes timed after the warm-up; their mean is the figure. */
const TIMED = 2;

/**
 * Seconds of the first pass (kernels compiled then) and the mean of the TIMED passes after it; after `budget` seconds
 * of timed passes no further one starts (one slow pass tells enough).
 */
async function timed(pass: () => Promise<void>, budget = Infinity): Promise<{ first: number; mean: number }> {
  const t0 = performance.now();
  await pass();
  const t1 = performance.now();
  let passes = 0;
  while (passes < TIMED && (passes === 0 || (performance.now() - t1) / 1000 < budget)) {
    await pass();
    passes += 1;
  }
  return { first: (t1 - t0) / 1000, mean: (performance.now() - t1) / 1000 / passes };
}

/**
 * Seconds of timed steps after which a backend measurement takes no further step: on an emulated GPU a MobileNet step
 * at 224 px takes a minute or more, and one such step says it is not the backend to train on.
 */
const MEASURE_BUDGET = 10;

/** A random batch of the model's input shape, one-hot labels for its outputs, and its trainable variables. */
function syntheticBatch(model: tf.LayersModel, batchSize: number) {
  const [, h, w, c] = model.inputs[0].shape as number[];
  const classes = model.outputs[0].shape[1] as number;
  const x = tf.randomUniform([batchSize, h, w, c]);
  // tidy: the zeros the labels are made from would otherwise stay behind.
  const y = tf.tidy(() => tf.oneHot(tf.zeros([batchSize], 'int32') as tf.Tensor1D, classes));
  return { x, y, h, trainable: model.trainableWeights.map((v) => v.read() as tf.Variable) };
}

/** A gradient step: forward in training mode, the loss, gradients of the trainable weights (no update). */
async function gradientStep(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, trainable: tf.Variable[]): Promise<void> {
  const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, trainable);
  // Reading a result back waits for the backend: its kernels run asynchronously.
  await value.data().finally(() => tf.dispose([value, ...Object.values(grads)]));
}

/** The first gradient step of a batch on the active backend, and the mean of the next TIMED (fewer past MEASURE_BUDGET). */
export async function timeSteps(model: tf.LayersModel, batchSize: number): Promise<{ firstStepSeconds: number; secondsPerStep: number }> {
  const { x, y, trainable } = syntheticBatch(model, batchSize);
  try {
    const { first, mean } = await timed(() => gradientStep(model, x, y, trainable), MEASURE_BUDGET);
    return { firstStepSeconds: first, secondsPerStep: mean };
  } finally {
    tf.dispose([x, y]);
  }
}

export async function probeModel(model: tf.LayersModel, batchSize: number, backend: string): Promise<SpeedProbe> {
  const { x, y, h, trainable } = syntheticBatch(model, batchSize);
  try {
    const { mean: secondsPerBatch } = await timed(async () => {
      const out = model.predict(x) as tf.Tensor;
      await out.data().finally(() => out.dispose());
    });
    const { mean: stepSecondsPerBatch } = await timed(() => gradientStep(model, x, y, trainable));
    return { backend, batchSize, imageSize: h, secondsPerBatch, forwardSecondsPerImage: secondsPerBatch / batchSize, stepSecondsPerBatch };
  } finally {
    tf.dispose([x, y]);
  }
}
