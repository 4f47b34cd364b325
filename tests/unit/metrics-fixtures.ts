import type { EpochMetrics } from '../../src/core/train/types';

/** An epoch's metrics with only the fields a test cares about set; the rest are neutral. */
export function epochMetrics(epoch: number, m: Partial<EpochMetrics>): EpochMetrics {
  return { epoch, trainLoss: 1, trainAccuracy: 0.5, valLoss: 1, valAccuracy: 0.5, seconds: 1, imagesPerSecond: 100, ...m };
}
