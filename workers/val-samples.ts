/**
 * A few validation images shown with their predictions while a run trains (issue 17): the same images every epoch,
 * one per class in turn, so a viewer watches the predictions on them change. Small on purpose: six 48 px thumbnails.
 */
import type { TensorDataset } from '../src/core/train/trainer';
import type { Thumbnail, ValidationSample } from '../src/engine/types';
import { thumbnailOf } from './thumbnail';

export const VALIDATION_SAMPLES = 6;
const SIZE = 48;

/** Positions in `val` of up to `n` images, taking each class's next image in turn. */
export function samplePositions(labels: Int32Array, val: number[], numClasses: number, n = VALIDATION_SAMPLES): number[] {
  const byClass = Array.from({ length: numClasses }, (_, k) => val.flatMap((i, pos) => (labels[i] === k ? [pos] : [])));
  const out: number[] = [];
  for (let round = 0; out.length < n && byClass.some((c) => c.length > round); round++) {
    for (const c of byClass) if (round < c.length && out.length < n) out.push(c[round]);
  }
  return out;
}

/** Thumbnails once per run, predictions per epoch. */
export function validationSampler(data: TensorDataset, val: number[], keyOf: (i: number) => string): (predicted: Int32Array) => ValidationSample[] {
  const positions = samplePositions(data.labels, val, data.numClasses);
  const thumbs: Thumbnail[] = positions.map((pos) => thumbnailOf(data.images, data.imageSize, data.channels, val[pos], keyOf(val[pos]), SIZE));
  return (predicted) => positions.map((pos, k) => ({ thumb: thumbs[k], truth: data.labels[val[pos]], predicted: predicted[pos] }));
}
