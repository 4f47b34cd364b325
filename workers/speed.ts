/**
 * The speed probe behind the model cards' time estimates (issue 17): the model built as a run would build it, then
 * on this device's training backend one forward pass of a batch and one gradient step (forward, backward, no update),
 * each timed after a warm-up pass (the first compiles kernels).
 */
import * as tf from '@tensorflow/tfjs';
import type { SpeedProbe } from '../src/engine/types';

/** Passes timed after the warm-up; their mean is the figure. */
const TIMED = 2;

async function timed(pass: () => Promise<void>): Promise<number> {
  await pass();
  const t0 = performance.now();
  for (let k = 0; k < TIMED; k++) await pass();
  return (performance.now() - t0) / 1000 / TIMED;
}

export async function probeModel(model: tf.LayersModel, batchSize: number, backend: string): Promise<SpeedProbe> {
  const [, h, w, c] = model.inputs[0].shape as number[];
  const classes = model.outputs[0].shape[1] as number;
  const x = tf.randomUniform([batchSize, h, w, c]);
  const y = tf.oneHot(tf.zeros([batchSize], 'int32') as tf.Tensor1D, classes);
  const trainable = model.trainableWeights.map((v) => v.read() as tf.Variable);
  try {
    // Reading a result back waits for the backend: its kernels run asynchronously.
    const secondsPerBatch = await timed(async () => {
      const out = model.predict(x) as tf.Tensor;
      await out.data().finally(() => out.dispose());
    });
    const stepSecondsPerBatch = await timed(async () => {
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, trainable);
      await value.data().finally(() => tf.dispose([value, ...Object.values(grads)]));
    });
    return { backend, batchSize, imageSize: h, secondsPerBatch, forwardSecondsPerImage: secondsPerBatch / batchSize, stepSecondsPerBatch };
  } finally {
    tf.dispose([x, y]);
  }
}
