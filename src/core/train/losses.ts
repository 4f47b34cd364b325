import * as tf from '@tensorflow/tfjs';

export interface CrossEntropyOptions {
  /** ε: targets become (1 − ε)·onehot + ε/K (Szegedy et al.; TF.js's and Keras's convention). */
  labelSmoothing?: number;
  /** One weight per class; each sample is weighted by its true class's weight. */
  classWeights?: readonly number[];
}

/**
 * Softmax cross-entropy on logits, reduced to the weighted mean Σ wᵢ·CEᵢ / Σ wᵢ (PyTorch's convention), so the
 * loss keeps its scale whatever the weights. Without class weights it is the plain mean.
 */
export function softmaxCrossEntropyWithOptions(labelsOneHot: tf.Tensor2D, logits: tf.Tensor2D, opts: CrossEntropyOptions = {}): tf.Scalar {
  const { labelSmoothing = 0, classWeights } = opts;
  const numClasses = logits.shape[1];
  if (!(labelSmoothing >= 0 && labelSmoothing < 1)) throw new RangeError('label smoothing must lie in [0, 1)');
  if (classWeights && classWeights.length !== numClasses) throw new RangeError(`expected ${numClasses} class weights, got ${classWeights.length}`);
  return tf.tidy(() => {
    const targets = labelSmoothing > 0 ? labelsOneHot.mul(1 - labelSmoothing).add(labelSmoothing / numClasses) : labelsOneHot;
    const perSample = targets.mul(tf.logSoftmax(logits)).sum(1).neg();
    if (!classWeights) return perSample.mean() as tf.Scalar;
    const w = labelsOneHot.mul(tf.tensor1d([...classWeights])).sum(1);
    return perSample.mul(w).sum().div(w.sum()) as tf.Scalar;
  });
}

/**
 * wᶜ = N / (C·nᶜ) (scikit-learn's "balanced"): rarer classes weigh more and Σ nᶜ·wᶜ / N = 1, so the average
 * sample keeps weight 1. An empty class gets 0 and does not count in C: it has no samples to weigh.
 */
export function inverseFrequencyClassWeights(counts: readonly number[]): number[] {
  const present = counts.filter((n) => n > 0);
  const total = present.reduce((a, b) => a + b, 0);
  return counts.map((n) => (n > 0 ? total / (present.length * n) : 0));
}

/** True when the largest class outnumbers the smallest non-empty one by more than `ratio`. */
export function isImbalanced(counts: readonly number[], ratio = 1.5): boolean {
  const present = counts.filter((n) => n > 0);
  return present.length > 1 && Math.max(...present) > ratio * Math.min(...present);
}
