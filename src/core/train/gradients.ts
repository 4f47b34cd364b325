import * as tf from '@tensorflow/tfjs';

/**
 * Scales every gradient by maxNorm / max(norm, maxNorm), norm being the L2 norm of all gradients taken together
 * (TensorFlow's clip_by_global_norm), so the update keeps its direction. Returns new tensors and leaves `grads`
 * to the caller; the norm stays on the backend so that clipping needs no GPU→CPU read.
 */
export function clipByGlobalNorm(grads: tf.NamedTensorMap, maxNorm = 1): { grads: tf.NamedTensorMap; norm: tf.Scalar } {
  if (!(maxNorm > 0)) throw new RangeError('the clipping norm must be positive');
  return tf.tidy(() => {
    const tensors = Object.values(grads);
    // A chain of adds, not tf.addN: TF.js 4.22's WebGPU AddN returns NaN for this many inputs (seen with the 14
    // gradients of simple_cnn), while pairwise adds work on every backend.
    const norm = tf.sqrt(tensors.reduce<tf.Tensor>((acc, g) => acc.add(g.square().sum()), tf.scalar(0))) as tf.Scalar;
    const scale = tf.div(maxNorm, tf.maximum(norm, maxNorm));
    const clipped: tf.NamedTensorMap = {};
    for (const [name, g] of Object.entries(grads)) clipped[name] = g.mul(scale);
    return { grads: clipped, norm };
  });
}
