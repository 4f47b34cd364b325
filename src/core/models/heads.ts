import * as tf from '@tensorflow/tfjs';

/**
 * `linear`: global average pooling → Dense(n), the transfer-learning head (a linear probe of the features).
 * `medical`: global average pooling → Dropout 0.3 → Dense 128 ReLU → Dropout 0.25 → Dense n, the seed's
 * "Medical CNN" head.
 * `mlp`: global average pooling → Dense 100 ReLU → Dense n, Teachable Machine's head on MobileNetV2 (the "plain
 * recipe" of issue 14, which beat the linear and Medical heads in k-fold on the MRI folder: docs/quality.md).
 */
export type HeadKind = 'linear' | 'medical' | 'mlp';

/** Names of the layers a head adds; none collides with a Keras backbone's layer names. */
export const HEAD_LAYERS: Record<HeadKind, readonly string[]> = {
  linear: ['head_pool', 'logits'],
  medical: ['head_pool', 'head_dropout_1', 'head_dense', 'head_dropout_2', 'logits'],
  mlp: ['head_pool', 'head_dense', 'logits'],
};

/**
 * Applies a new head to a backbone's feature map and returns its logits (the trainer applies the softmax in its
 * cross-entropy). The initial weights are seeded; the dropout layers are not, because TF.js's dropout with a
 * seed draws the same mask at every step.
 */
export function applyHead(features: tf.SymbolicTensor, kind: HeadKind, numClasses: number, seed: number): tf.SymbolicTensor {
  if (!Number.isInteger(numClasses) || numClasses < 2) throw new RangeError(`a classifier needs at least 2 classes (got ${numClasses})`);
  // Feature maps [h, w, c] and token sequences [n, c] (Swin) are averaged; a vector (ViT's class token) is read as is.
  const rank = features.shape.length;
  if (rank < 2 || rank > 4) throw new RangeError(`a head reads feature maps, token sequences or vectors, not ${JSON.stringify(features.shape)}`);
  let x = rank === 2 ? features : (tf.layers[rank === 4 ? 'globalAveragePooling2d' : 'globalAveragePooling1d']({ name: 'head_pool' }).apply(features) as tf.SymbolicTensor);
  if (kind === 'medical') {
    x = tf.layers.dropout({ rate: 0.3, name: 'head_dropout_1' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dense({ units: 128, activation: 'relu', kernelInitializer: tf.initializers.heNormal({ seed: seed + 1 }), name: 'head_dense' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dropout({ rate: 0.25, name: 'head_dropout_2' }).apply(x) as tf.SymbolicTensor;
  } else if (kind === 'mlp') {
    x = tf.layers.dense({ units: 100, activation: 'relu', kernelInitializer: tf.initializers.heNormal({ seed: seed + 1 }), name: 'head_dense' }).apply(x) as tf.SymbolicTensor;
  }
  return tf.layers.dense({ units: numClasses, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 3 }), name: 'logits' }).apply(x) as tf.SymbolicTensor;
}
