import { describe, expect, it } from 'vitest';
import { samplePositions, validationSampler } from '../../workers/val-samples';

describe('validation samples shown while training', () => {
  it('takes each class in turn, so every class is on screen', () => {
    // val holds dataset indices; labels by dataset index: class 0 ×3, class 1 ×1, class 2 ×3.
    const labels = Int32Array.from([0, 0, 0, 1, 2, 2, 2]);
    const val = [6, 0, 3, 1, 4, 2, 5];
    const pos = samplePositions(labels, val, 3, 5);
    expect(pos.map((p) => labels[val[p]])).toEqual([0, 1, 2, 0, 2]);
    expect(new Set(pos).size).toBe(5);
  });

  it('returns fewer when the split is smaller than asked', () => {
    expect(samplePositions(Int32Array.from([0, 1]), [0, 1], 2, 6)).toHaveLength(2);
  });

  it('pairs each thumbnail with its true class and the epoch’s prediction at the same position', () => {
    const size = 4;
    const images = new Uint8Array(3 * size * size * 3).map((_, i) => i % 251);
    const data = { images, labels: Int32Array.from([2, 0, 1]), imageSize: size, channels: 3, numClasses: 3 };
    const sample = validationSampler(data, [1, 2, 0], (i) => `img${i}`);
    const shown = sample(Int32Array.from([0, 2, 2]));
    expect(shown.map((s) => [s.thumb.key, s.truth, s.predicted])).toEqual([
      ['img1', 0, 0],
      ['img2', 1, 2],
      ['img0', 2, 2],
    ]);
    expect(shown[0].thumb.rgba).toHaveLength(48 * 48 * 4);
  });
});
