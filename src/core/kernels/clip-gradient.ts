/**
 * TF.js 4.22's ClipByValue gradient (tfjs-core gradients/ClipByValue_grad) selects dy where min ≤ x ≤ max through
 * two comparisons with a scalar, a logical and and a select. On WASM each of those runs a slow broadcasting loop:
 * 165 ms for one [16, 112, 112, 48] activation, where the same mask from steps and scalar arithmetic takes 26 ms
 * (`relu6` layers, as in the MobileNets, are ClipByValue). Same values, the bounds included as before:
 * (1 − step(min − x)) · (1 − step(x − max)); gradients are registered for every backend, so the others get it too.
 */
import * as tf from '@tensorflow/tfjs';

const original = tf.getGradient('ClipByValue');
if (original) {
  tf.registerGradient({
    ...original,
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const { clipValueMin, clipValueMax } = attrs as unknown as { clipValueMin: number; clipValueMax: number };
      return {
        x: () => {
          const aboveMin = tf.sub(1, tf.step(tf.sub(clipValueMin, x)));
          const belowMax = tf.sub(1, tf.step(tf.sub(x, clipValueMax)));
          return tf.mul(dy as tf.Tensor, tf.mul(aboveMin, belowMax));
        },
      };
    },
  });
}
