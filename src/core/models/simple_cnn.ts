import * as tf from '@tensorflow/tfjs';

export interface SimpleCnnOptions {
  imageSize: number;
  channels: number;
  numClasses: number;
  seed: number;
}

/**
 * The studio's from-scratch baseline: three conv blocks (3×3 conv + ReLU, batch norm, 2×2 max-pool) widening
 * 8 → 16 → 32, then flatten and a linear classifier producing logits.
 * - Flatten rather than global pooling keeps where a lesion sits, which is what tells the demo's classes apart.
 * - Batch-norm momentum is 0.8, not Keras' 0.99: a short run has a few dozen steps, and at 0.99 the moving
 *   statistics are still near their initial values, so validation (inference mode) collapses to one class.
 * - The classifier starts at zero, so the first loss is ln(n) instead of a large random one.
 * - No dropout: TF.js's dropout either repeats one mask at every step (seeded) or makes runs irreproducible
 *   (unseeded), and a model this small, trained for a few epochs, does not need it.
 */
export function buildSimpleCnn({ imageSize, channels, numClasses, seed }: SimpleCnnOptions): tf.LayersModel {
  const input = tf.input({ shape: [imageSize, imageSize, channels], name: 'image' });
  let x: tf.SymbolicTensor = input;
  [8, 16, 32].forEach((filters, i) => {
    x = tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.heNormal({ seed: seed + i }), name: `conv${i + 1}` }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ momentum: 0.8, name: `bn${i + 1}` }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.maxPooling2d({ poolSize: 2, name: `pool${i + 1}` }).apply(x) as tf.SymbolicTensor;
  });
  x = tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: numClasses, kernelInitializer: 'zeros', name: 'logits' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: 'simple_cnn' });
}
