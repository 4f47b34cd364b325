/**
 * Augmentation's settings: the config, its defaults and its ranges, without the TF.js ops that apply it
 * (src/core/image/augment.ts), so the config file, the CLI and the page can check them without loading tensor code.
 */
import { BOUNDS, inRange } from './schema';

export interface AugmentConfig {
  /** Horizontal flip with probability 0.5. */
  flip: boolean;
  /** Rotation by an angle drawn uniformly from [−rotationDeg, rotationDeg] degrees; 0 turns it off. */
  rotationDeg: number;
  /** Brightness factor drawn from [1 − brightness, 1 + brightness] (torchvision's ColorJitter); 0 turns it off. */
  brightness: number;
  /** Contrast factor drawn from [1 − contrast, 1 + contrast], blending with the image's mean; 0 turns it off. */
  contrast: number;
  /** A square crop covering a fraction of the area drawn from `scale` (default [0.8, 1]), resized back to full size. */
  randomResizedCrop: boolean | { scale: [number, number] };
}

export const augmentNone: AugmentConfig = { flip: false, rotationDeg: 0, brightness: 0, contrast: 0, randomResizedCrop: false };

export const augmentDefault: AugmentConfig = { flip: true, rotationDeg: 15, brightness: 0.2, contrast: 0.2, randomResizedCrop: false };

/**
 * torchvision's default area range, [0.08, 1], suits ImageNet objects that fill the frame; on a scan it would
 * often crop the lesion away, so the studio defaults to a mild zoom.
 */
const DEFAULT_CROP_SCALE: [number, number] = [0.8, 1];

/** The crop's area range, or null when the config does not crop. */
export function cropScale(config: AugmentConfig): [number, number] | null {
  const c = config.randomResizedCrop;
  return c === false ? null : c === true ? DEFAULT_CROP_SCALE : c.scale;
}

function isGeometric(config: AugmentConfig): boolean {
  return config.flip || config.rotationDeg > 0 || cropScale(config) !== null;
}

/** True when the config changes nothing (e.g. cached features may only be trained without augmentation). */
export function isAugmentIdentity(config: AugmentConfig): boolean {
  return !isGeometric(config) && config.brightness === 0 && config.contrast === 0;
}

export function validateAugmentConfig(config: AugmentConfig): void {
  if (!inRange(BOUNDS.rotationDeg, config.rotationDeg)) throw new RangeError('rotation must lie in [0, 180] degrees');
  if (!inRange(BOUNDS.brightness, config.brightness)) throw new RangeError('brightness jitter must lie in [0, 1)');
  if (!inRange(BOUNDS.contrast, config.contrast)) throw new RangeError('contrast jitter must lie in [0, 1)');
  const scale = cropScale(config);
  if (scale && !(inRange(BOUNDS.cropScale, scale[0]) && inRange(BOUNDS.cropScale, scale[1]) && scale[0] <= scale[1])) throw new RangeError('the crop scale must satisfy 0 < min ≤ max ≤ 1');
}
