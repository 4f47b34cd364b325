import { describe, expect, it } from 'vitest';
import { channelStats, IMAGENET_STATS, imageChannelSums, statsFromSums, verifyStats } from '../../src/core/dataset/stats';

describe('verifyStats', () => {
  const images = new Uint8Array([0, 128, 255, 64, 128, 0, 255, 128, 255, 32, 128, 0]);
  const stored = channelStats(images, 2, 3, [0, 1]);

  it('accepts recomputed statistics that match', () => {
    const check = verifyStats(stored, channelStats(images, 2, 3, [1, 0]));
    expect(check.ok).toBe(true);
    expect(check.channels).toHaveLength(3);
    expect(check.channels.every((c) => c.meanDiff === 0 && c.stdDiff === 0 && c.ok)).toBe(true);
  });

  it('reports which channel is off and by how much', () => {
    const drifted = { mean: [stored.mean[0], stored.mean[1] + 0.01, stored.mean[2]], std: [...stored.std] };
    const check = verifyStats(stored, drifted, 0.005);
    expect(check.ok).toBe(false);
    expect(check.tolerance).toBe(0.005);
    expect(check.channels.map((c) => c.ok)).toEqual([true, false, true]);
    expect(check.channels[1].meanDiff).toBeCloseTo(0.01, 10);
    expect(verifyStats(stored, drifted, 0.02).ok).toBe(true);
  });

  it('refuses to compare different channel counts or a bad tolerance', () => {
    expect(() => verifyStats(stored, { mean: [0.5], std: [0.2] })).toThrow(/different channel counts \(3 and 1\)/);
    expect(() => verifyStats(stored, stored, Number.NaN)).toThrow(/tolerance/);
  });

  it('has ImageNet statistics for display', () => {
    expect(IMAGENET_STATS).toEqual({ mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
  });
});

describe('statistics from per-image sums', () => {
  it('are exact integers, so the order images are added in cannot change a bit', () => {
    const images = Uint8Array.from({ length: 5 * 4 * 3 }, (_, i) => (i * 37) % 256);
    const sums = [0, 1, 2, 3, 4].map((i) => imageChannelSums(images, 3, i * 12, 12));
    const forward = statsFromSums(sums, [0, 1, 2, 3, 4], 4, 3);
    expect(statsFromSums(sums, [4, 2, 0, 3, 1], 4, 3)).toEqual(forward);
    expect(channelStats(images, 4, 3, [0, 1, 2, 3, 4])).toEqual(forward);
    expect(imageChannelSums(Uint8Array.of(1, 2, 3, 4, 5, 6), 3)).toEqual(Float64Array.of(5, 7, 9, 17, 29, 45));
  });
});
