import { describe, expect, it } from 'vitest';
import { confusionMatrix, perClassRecall } from '../../src/core/metrics/confusion';

describe('confusionMatrix', () => {
  it('counts true class by row and predicted class by column', () => {
    // sklearn.metrics.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], labels=[0, 1, 2])
    expect(confusionMatrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3)).toEqual([
      [1, 1, 0],
      [0, 1, 0],
      [1, 0, 2],
    ]);
  });

  it('rejects labels out of range and length mismatches', () => {
    expect(() => confusionMatrix([0, 3], [0, 1], 3)).toThrow(/outside/);
    expect(() => confusionMatrix([0], [0, 1], 3)).toThrow(/predictions/);
  });

  it('gives recall 0, not NaN, to a class with no examples', () => {
    expect(perClassRecall(confusionMatrix([0, 0, 1], [0, 1, 1], 3))).toEqual([0.5, 1, 0]);
  });
});
