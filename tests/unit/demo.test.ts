import { describe, expect, it } from 'vitest';
import { DEMO_CLASSES, demoImage, generateDemoDataset } from '../../src/core/dataset/demo';

describe('demo dataset', () => {
  it('is deterministic from its seed', () => {
    const a = generateDemoDataset({ seed: 7, imageSize: 24, perClass: 5 });
    const b = generateDemoDataset({ seed: 7, imageSize: 24, perClass: 5 });
    expect(Buffer.from(a.images).equals(Buffer.from(b.images))).toBe(true);
    expect(a.keys).toEqual(b.keys);
    const c = generateDemoDataset({ seed: 8, imageSize: 24, perClass: 5 });
    expect(Buffer.from(a.images).equals(Buffer.from(c.images))).toBe(false);
  });

  it('draws each image from (seed, class, index) alone, so generation order does not matter', () => {
    const d = generateDemoDataset({ seed: 3, imageSize: 16, perClass: 4 });
    const stride = 16 * 16 * 3;
    const i = 1 * 4 + 2; // class 1, index 2
    expect(Array.from(d.images.subarray(i * stride, (i + 1) * stride))).toEqual(Array.from(demoImage(1, 2, 3, 16)));
  });

  it('has three balanced classes of grey RGB images with real contrast', () => {
    const d = generateDemoDataset({ seed: 1, imageSize: 32, perClass: 6 });
    expect(d.classes).toEqual([...DEMO_CLASSES]);
    expect(Array.from(d.labels)).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
    expect(d.images.length).toBe(18 * 32 * 32 * 3);
    for (let p = 0; p < d.images.length; p += 3) {
      expect(d.images[p]).toBe(d.images[p + 1]);
      expect(d.images[p]).toBe(d.images[p + 2]);
    }
    const values = new Set(d.images);
    expect(values.size).toBeGreaterThan(100);
  });

  it('puts the lesion where its class says: mean brightness differs by region between classes', () => {
    // Pituitary-like lesions sit low on the midline; compare the lower-centre patch across classes.
    const size = 32;
    const d = generateDemoDataset({ seed: 5, imageSize: size, perClass: 40 });
    const patch = (i: number) => {
      let s = 0;
      for (let y = 20; y < 26; y++) for (let x = 13; x < 19; x++) s += d.images[(i * size * size + y * size + x) * 3];
      return s / 36;
    };
    const mean = (cls: number) => {
      let s = 0;
      for (let k = 0; k < 40; k++) s += patch(cls * 40 + k);
      return s / 40;
    };
    expect(mean(2)).toBeGreaterThan(mean(0) + 5);
    expect(mean(2)).toBeGreaterThan(mean(1) + 5);
  });

  it('draws the same heads with stronger lesions when asked for clear ones (the conference demo)', () => {
    const size = 32;
    const varied = generateDemoDataset({ seed: 5, imageSize: size, perClass: 40 });
    expect(generateDemoDataset({ seed: 5, imageSize: size, perClass: 40, lesions: 'varied' }).images).toEqual(varied.images);
    const clear = generateDemoDataset({ seed: 5, imageSize: size, perClass: 40, lesions: 'clear' });
    expect(clear.keys).toEqual(varied.keys);
    // The pituitary patch (low on the midline) stands out further from the other classes with clear lesions.
    const patchMean = (d: typeof clear, cls: number) => {
      let s = 0;
      for (let k = 0; k < 40; k++) for (let y = 20; y < 26; y++) for (let x = 13; x < 19; x++) s += d.images[((cls * 40 + k) * size * size + y * size + x) * 3];
      return s / 40 / 36;
    };
    const gap = (d: typeof clear) => patchMean(d, 2) - Math.max(patchMean(d, 0), patchMean(d, 1));
    expect(gap(clear)).toBeGreaterThan(gap(varied));
  });

  it('rejects sizes it cannot draw with a clear message', () => {
    expect(() => generateDemoDataset({ seed: 1, imageSize: 4, perClass: 5 })).toThrow(/image size/);
    expect(() => generateDemoDataset({ seed: 1, imageSize: 32, perClass: 1 })).toThrow(/at least 3 images per class/);
  });
});
