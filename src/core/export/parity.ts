/** What parity checks compare: the studio's own probabilities for raw pixels, and the largest difference. */
import * as tf from '@tensorflow/tfjs';
import { normalizeWith } from '../train/trainer';
import type { ModelMetadata } from './metadata';

/**
 * Class probabilities the studio computes for float32 pixels in 0..255: the model's normalisation, the graph in
 * inference mode, and a softmax when the graph returns logits. The caller disposes the result.
 */
export function studioProbabilities(model: tf.LayersModel, pixels: tf.Tensor4D, meta: Pick<ModelMetadata, 'preprocessing' | 'output'>): tf.Tensor2D {
  return tf.tidy(() => {
    const y = model.predict(normalizeWith(meta.preprocessing)(pixels)) as tf.Tensor2D;
    return meta.output === 'logits' ? tf.softmax(y) : y;
  });
}

export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`cannot compare ${a.length} probabilities with ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The largest probability difference an exported model may show against the studio's (issue 6). */
export const PARITY_TOLERANCE = 1e-4;
