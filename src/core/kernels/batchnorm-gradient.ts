/**
 * TF.js 4.22's FusedBatchNorm gradient (tfjs-core gradients/FusedBatchNorm_grad) scales dy by 1/√(variance + ε) after
 * tiling that per-channel factor to the full [batch, H, W, C] shape. A broadcasting product gives the same values
 * without materialising the tile, and the tile was the most expensive kernel of a MobileNetV2 training step on WASM
 * (4 of 18 s at 224 px, batch 16). Only the x derivative changes; the others are TF.js's own.
 */
import * as tf from '@tensorflow/tfjs';

const original = tf.getGradient('FusedBatchNorm');
if (original) {
  tf.registerGradient({
    ...original,
    gradFunc: (dy, saved, attrs) => {
      const grads = original.gradFunc(dy, saved, attrs);
      const [, mean, variance, scale] = saved;
      // The original's untiled path (a rank > 1 mean) already broadcasts.
      if (mean.rank !== 1) return grads;
      const { varianceEpsilon } = attrs as { varianceEpsilon: number };
      const derX = () => {
        const factor = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
        return tf.mul(dy as tf.Tensor, scale == null ? factor : tf.mul(factor, scale));
      };
      return { ...grads, x: derX };
    },
  });
}
