/**
 * Batch normalisation in training mode as one differentiable op with its analytic gradient. TF.js's layer builds it
 * from `moments` and `batchNorm` and differentiates each piece (two means, a squared difference, the batch norm's
 * five derivatives, broadcasts of each back to the input's shape, and their sum): more than twenty passes over every
 * activation per layer and step, the largest share of a MobileNet fine-tuning step on WASM. With x̂ = (x − μ)/σ,
 * σ = √(var + ε), μ and var the batch's mean and biased variance over every axis but the channels (the last):
 *   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = γ/σ · (dy − dβ/n − x̂·dγ/n)
 * where n is the number of values per channel. Same values as TF.js's layer, forward, backward and moving statistics.
 */
import * as tf from '@tensorflow/tfjs';

export interface BatchNormTraining {
  normed: tf.Tensor;
  /** The batch statistics, for the moving averages; kept out of any tidy, so the caller disposes them. */
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

export function batchNormTraining(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon: number): BatchNormTraining {
  const axes = [...Array(x.rank - 1).keys()];
  let stats: { mean: tf.Tensor1D; variance: tf.Tensor1D } | null = null;
  const op = tf.customGrad((input, scale, offset, save) => {
    const xs = input as tf.Tensor;
    const mean = tf.mean(xs, axes) as tf.Tensor1D;
    const variance = tf.mean(tf.squaredDifference(xs, mean), axes) as tf.Tensor1D;
    const invStd = tf.rsqrt(tf.add(variance, epsilon));
    (save as tf.GradSaveFunc)([xs, mean, invStd, scale as tf.Tensor]);
    // The op's own scope disposes what its forward pass made, except its value: the statistics are kept for the
    // caller, who disposes them.
    stats = { mean: tf.keep(mean), variance: tf.keep(variance) };
    return {
      value: tf.batchNorm(xs, mean, variance, offset as tf.Tensor1D, scale as tf.Tensor1D, epsilon),
      gradFunc: (dy: tf.Tensor, [savedX, savedMean, savedInvStd, savedScale]: tf.Tensor[]) => {
        const n = savedX.size / savedX.shape[savedX.rank - 1];
        const xHat = tf.mul(tf.sub(savedX, savedMean), savedInvStd);
        const dBeta = tf.sum(dy, axes);
        const dGamma = tf.sum(tf.mul(dy, xHat), axes);
        const centred = tf.sub(tf.sub(dy, tf.div(dBeta, n)), tf.mul(xHat, tf.div(dGamma, n)));
        return [tf.mul(centred, tf.mul(savedScale, savedInvStd)), dGamma, dBeta];
      },
    };
  });
  const normed = op(x, gamma, beta);
  const { mean, variance } = stats!;
  return { normed, mean, variance };
}
