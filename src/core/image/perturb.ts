/**
 * Image corruptions for robustness tests (issue 5.5): Gaussian noise, Gaussian blur, a brightness change and a
 * rotation, each at a level where 0 changes nothing and a larger level changes more. TF.js ops on float images
 * [b, h, w, c] in [0, 255], like augment.ts, whose brightness and rotation they reuse; the noise is drawn on the
 * CPU from a seeded PRNG, so a seed gives the same images on every backend.
 */
import * as tf from '@tensorflow/tfjs';
import { gaussian, mulberry32 } from '../random';
import { applyAugmentations, type ImageAugmentation } from './augment';

export type PerturbationKind = 'noise' | 'blur' | 'brightness' | 'rotation';

export interface Perturbation {
  kind: PerturbationKind;
  label: string;
  /** What a level measures. */
  unit: string;
  /** Severities 1, 2 and 3. */
  levels: readonly [number, number, number];
}

/** The robustness table's rows: mild, moderate and strong for each corruption. */
export const PERTURBATIONS: readonly Perturbation[] = [
  { kind: 'noise', label: 'Gaussian noise', unit: 'σ in pixel values (0–255)', levels: [8, 16, 32] },
  { kind: 'blur', label: 'Gaussian blur', unit: 'σ in pixels', levels: [0.5, 1, 2] },
  { kind: 'brightness', label: 'Brightness', unit: 'brightness factor − 1', levels: [0.2, 0.4, 0.6] },
  { kind: 'rotation', label: 'Rotation', unit: 'degrees', levels: [10, 20, 30] },
];

const still: ImageAugmentation = { flip: false, angleDeg: 0, brightness: 1, contrast: 1, crop: null };

/** `x` corrupted by `kind` at `level` (≥ 0); a new tensor, clipped to [0, 255]. `seed` draws the noise. */
export function perturb(x: tf.Tensor4D, kind: PerturbationKind, level: number, seed: number): tf.Tensor4D {
  if (!(level >= 0 && Number.isFinite(level))) throw new RangeError(`a perturbation level must be a finite number ≥ 0 (got ${level})`);
  if (level === 0) return x.clone();
  const batch = x.shape[0];
  switch (kind) {
    case 'noise': {
      const rand = mulberry32(seed);
      const noise = Float32Array.from({ length: x.size }, () => gaussian(rand) * level);
      return tf.tidy(() => x.add(tf.tensor(noise, x.shape)).clipByValue(0, 255) as tf.Tensor4D);
    }
    case 'blur':
      return blur(x, level);
    case 'brightness':
      return applyAugmentations(x, Array.from({ length: batch }, () => ({ ...still, brightness: 1 + level })));
    case 'rotation':
      return applyAugmentations(x, Array.from({ length: batch }, () => ({ ...still, angleDeg: level })));
    default:
      throw new RangeError(`unknown perturbation "${kind as string}"`);
  }
}

/** Separable Gaussian blur (radius 3σ), the borders mirrored so that the image does not darken at its edges. */
function blur(x: tf.Tensor4D, sigma: number): tf.Tensor4D {
  const [, h, w, c] = x.shape;
  const r = Math.max(1, Math.min(Math.ceil(3 * sigma), h - 1, w - 1));
  const taps = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const total = taps.reduce((a, b) => a + b, 0);
  const kernel = taps.map((t) => t / total);
  return tf.tidy(() => {
    const perChannel = (shape: [number, number]) => tf.tensor4d(kernel, [...shape, 1, 1]).tile([1, 1, c, 1]) as tf.Tensor4D;
    const padded = tf.mirrorPad(x, [[0, 0], [r, r], [r, r], [0, 0]], 'symmetric');
    const rows = tf.depthwiseConv2d(padded, perChannel([2 * r + 1, 1]), 1, 'valid');
    return tf.depthwiseConv2d(rows, perChannel([1, 2 * r + 1]), 1, 'valid').clipByValue(0, 255) as tf.Tensor4D;
  });
}
