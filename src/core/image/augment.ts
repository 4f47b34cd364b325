/**
 * Training-time augmentation as TF.js ops on a float image batch [b, h, w, c] with pixel values in [0, 255], so
 * it runs on the backend (the GPU in the worker) next to the model rather than in JavaScript per pixel.
 *
 * Every random parameter is drawn on the CPU from a seeded PRNG, one image after another, so a (seed, epoch,
 * batch) triple always gives the same augmentation: a resumed run sees exactly the batches an uninterrupted one
 * would have seen.
 */
import * as tf from '@tensorflow/tfjs';
import { deriveSeed, mulberry32 } from '../random';
import { cropScale, validateAugmentConfig, type AugmentConfig } from '../settings/augment';

/** Uniform draws per image, whatever the config, so that turning one augmentation on leaves the others' draws unchanged. */
const DRAWS_PER_IMAGE = 7;

/** Row-major 2×3 affine map [a0 a1 a2; b0 b1 b2]. */
type Affine = [number, number, number, number, number, number];

/** p ↦ m(n(p)). */
function compose(m: Affine, n: Affine): Affine {
  return [
    m[0] * n[0] + m[1] * n[3],
    m[0] * n[1] + m[1] * n[4],
    m[0] * n[2] + m[1] * n[5] + m[2],
    m[3] * n[0] + m[4] * n[3],
    m[3] * n[1] + m[4] * n[4],
    m[3] * n[2] + m[4] * n[5] + m[5],
  ];
}

/** One image's drawn augmentation. */
export interface ImageAugmentation {
  flip: boolean;
  /** Counter-clockwise on screen (y pointing down), about the image centre. */
  angleDeg: number;
  /** Multiplies the pixels. */
  brightness: number;
  /** Scales the pixels' distance from the image's mean. */
  contrast: number;
  /** Square crop as fractions of the image (between its first and last pixel centres): side, and left/top edge. */
  crop: { side: number; left: number; top: number } | null;
}

/** Each image's parameters, drawn in order from the PRNG seeded with `seed`. */
export function drawAugmentations(batch: number, config: AugmentConfig, seed: number): ImageAugmentation[] {
  validateAugmentConfig(config);
  const rand = mulberry32(seed);
  const scale = cropScale(config);
  return Array.from({ length: batch }, () => {
    const u = Array.from({ length: DRAWS_PER_IMAGE }, rand);
    const side = scale && Math.sqrt(scale[0] + (scale[1] - scale[0]) * u[4]);
    return {
      flip: config.flip && u[0] < 0.5,
      angleDeg: (2 * u[1] - 1) * config.rotationDeg,
      brightness: 1 + (2 * u[2] - 1) * config.brightness,
      contrast: 1 + (2 * u[3] - 1) * config.contrast,
      crop: side ? { side, left: u[5] * (1 - side), top: u[6] * (1 - side) } : null,
    };
  });
}

/**
 * Flip, rotation and crop folded into one output→input affine map (tf.image.transform's row of 8), so the batch
 * is resampled once (one bilinear interpolation, one kernel) rather than once per operation. Pixel centres sit
 * at integer coordinates, as in tf.image.transform.
 */
function transformRow(a: ImageAugmentation, height: number, width: number): number[] {
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  let m: Affine = a.flip ? [-1, 0, width - 1, 0, 1, 0] : [1, 0, 0, 0, 1, 0];
  if (a.angleDeg !== 0) {
    const theta = (a.angleDeg * Math.PI) / 180;
    const cos = Math.cos(theta);
    const sin = Math.sin(theta);
    m = compose([cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy], m);
  }
  if (a.crop) {
    // Pixel centres to pixel centres (x_in = left·(w − 1) + side·x), so no sample falls in the half pixel
    // beyond the last centre, where bilinear interpolation would blend in the black fill.
    const { side, left, top } = a.crop;
    m = compose([side, 0, left * (width - 1), 0, side, top * (height - 1)], m);
  }
  return [...m, 0, 0];
}

/**
 * tf.image.transform, except on the CPU backend: its Transform kernel (TF.js 4.22) returns after the batch's
 * first image and leaves the others at the fill value, so there the images go through one at a time.
 */
function transformBatch(x: tf.Tensor4D, rows: number[]): tf.Tensor4D {
  const batch = x.shape[0];
  const transforms = tf.tensor2d(rows, [batch, 8]);
  if (batch === 1 || tf.getBackend() !== 'cpu') return tf.image.transform(x, transforms, 'bilinear', 'constant', 0);
  const perImage = tf.split(transforms, batch);
  return tf.concat(tf.split(x, batch).map((img, i) => tf.image.transform(img as tf.Tensor4D, perImage[i] as tf.Tensor2D, 'bilinear', 'constant', 0)));
}

/**
 * Applies one drawn augmentation per image to float pixels in [0, 255]; returns a new tensor. Points rotated in
 * from outside the image are black: scan backgrounds are black, and a reflected skull edge in the corner would be
 * an artefact the model could learn.
 */
export function applyAugmentations(x: tf.Tensor4D, params: readonly ImageAugmentation[]): tf.Tensor4D {
  const [batch, height, width] = x.shape;
  if (params.length !== batch) throw new RangeError(`expected ${batch} augmentations, got ${params.length}`);
  const geometric = params.some((a) => a.flip || a.angleDeg !== 0 || a.crop);
  const contrast = params.some((a) => a.contrast !== 1);
  const brightness = params.some((a) => a.brightness !== 1);
  return tf.tidy(() => {
    let out = geometric ? transformBatch(x, params.flatMap((a) => transformRow(a, height, width))) : x;
    if (contrast) {
      const mean = out.mean([1, 2, 3], true);
      out = out.sub(mean).mul(tf.tensor4d(params.map((a) => a.contrast), [batch, 1, 1, 1])).add<tf.Tensor4D>(mean);
    }
    if (brightness) out = out.mul<tf.Tensor4D>(tf.tensor4d(params.map((a) => a.brightness), [batch, 1, 1, 1]));
    return geometric || contrast || brightness ? tf.clipByValue(out, 0, 255) : out.clone();
  });
}

/** Augments a batch of float images in [0, 255] with parameters drawn from `seed`; a new tensor (the caller disposes both). */
export function augmentBatch(x: tf.Tensor4D, config: AugmentConfig, seed: number): tf.Tensor4D {
  return applyAugmentations(x, drawAugmentations(x.shape[0], config, seed));
}

/** Images as the dataset holds them: uint8, [count, imageSize, imageSize, channels] flattened. */
export interface Uint8Images {
  images: Uint8Array;
  imageSize: number;
  channels: number;
}

/**
 * `n` augmented variants of each image, for the UI's preview: uint8 in the same layout, image i's variant k at
 * position i·n + k. Variant k of every image uses its own seed, so the preview is stable for a given seed.
 */
export async function previewAugmentations(source: Uint8Images, n: number, config: AugmentConfig, seed: number): Promise<Uint8Array> {
  const { imageSize: s, channels: c } = source;
  const count = source.images.length / (s * s * c);
  if (!Number.isInteger(count)) throw new RangeError('the image buffer is not a whole number of images');
  if (count === 0 || n <= 0) return new Uint8Array(0);
  const out = tf.tidy(() => {
    const x = tf.tensor4d(source.images, [count, s, s, c], 'int32').toFloat() as tf.Tensor4D;
    const variants = Array.from({ length: n }, (_, k) => augmentBatch(x, config, deriveSeed(seed, 'preview', k)));
    return tf.stack(variants, 1).round().clipByValue(0, 255).toInt();
  });
  const values = await out.data();
  out.dispose();
  return Uint8Array.from(values);
}
