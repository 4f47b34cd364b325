/** What parity checks compare: the studio's own probabilities for raw pixels, and the largest difference. */
import * as tf from '@tensorflow/tfjs';
import { predictLogits } from '../inference/tta';
import { mulberry32 } from '../random';
import { normalizeWith } from '../train/trainer';
import type { ModelMetadata } from './metadata';

/**
 * Class probabilities the studio computes for float32 pixels in 0..255 with a TF.js graph: the model's normalisation,
 * the graph in inference mode (averaged with the mirrored image's when the metadata asks for test-time mirroring),
 * and a softmax when the graph returns logits. The caller disposes the result.
 */
export function studioProbabilities(model: tf.LayersModel, pixels: tf.Tensor4D, meta: Pick<ModelMetadata, 'preprocessing' | 'output' | 'tta'>): tf.Tensor2D {
  return tf.tidy(() => {
    const y = predictLogits(model, normalizeWith(meta.preprocessing)(pixels) as tf.Tensor4D, meta.tta ? meta.tta.kind : 'none');
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

/**
 * Seeded whole-number pixel values 0..255 (as decoded images are): the parity sample when no imported image fits
 * the model. Deterministic, so another runtime can be checked on the very pixels the studio used.
 */
export function syntheticPixels(count: number, size: number, channels: number, seed = 42): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: count * size * size * channels }, () => Math.floor(random() * 256));
}

/** Flat probabilities as one row per image. */
export function rowsOf(flat: ArrayLike<number>, classes: number): number[][] {
  return Array.from({ length: flat.length / classes }, (_, i) => Array.from({ length: classes }, (_, k) => flat[i * classes + k]));
}

/**
 * The parity sample: up to `count` images of a dataset's test split, then its validation split (never training
 * images), copied out of the dataset's uint8 NHWC buffer. Null when the split has none.
 */
export function paritySample(images: Uint8Array, stride: number, split: { test: readonly number[]; val: readonly number[] }, count: number): { pixels: Uint8Array; count: number } | null {
  const picked = [...split.test, ...split.val].slice(0, count);
  if (picked.length === 0) return null;
  const pixels = new Uint8Array(picked.length * stride);
  picked.forEach((i, k) => pixels.set(images.subarray(i * stride, (i + 1) * stride), k * stride));
  return { pixels, count: picked.length };
}
