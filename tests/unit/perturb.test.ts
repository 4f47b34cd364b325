import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { perturb, PERTURBATIONS } from '../../src/core/image/perturb';
import { generateDemoDataset } from '../../src/core/dataset/demo';

// Real demo phantoms (a bright skull and lesion on black), 24 px, as the robustness evaluation feeds them.
const demo = generateDemoDataset({ seed: 2, imageSize: 24, perClass: 3 });
const images = () => tf.tensor4d(Int32Array.from(demo.images), [9, 24, 24, 3], 'int32').toFloat() as tf.Tensor4D;

async function meanAbsChange(x: tf.Tensor4D, y: tf.Tensor4D): Promise<number> {
  const d = tf.tidy(() => y.sub(x).abs().mean());
  const [v] = await d.data();
  d.dispose();
  return v;
}

describe('robustness perturbations', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('change nothing at level 0, more at each severity, stay in [0, 255] and leak no tensors', async () => {
    const x = images();
    const before = tf.memory().numTensors;
    for (const p of PERTURBATIONS) {
      const same = perturb(x, p.kind, 0, 1);
      expect(Array.from(await same.data())).toEqual(Array.from(await x.data()));
      same.dispose();
      const changes: number[] = [];
      for (const level of p.levels) {
        const y = perturb(x, p.kind, level, 1);
        expect(y.shape).toEqual(x.shape);
        const values = await y.data();
        expect(values.every((v) => v >= 0 && v <= 255)).toBe(true);
        changes.push(await meanAbsChange(x, y));
        y.dispose();
      }
      expect(changes[0], p.kind).toBeGreaterThan(0);
      expect(changes[1], p.kind).toBeGreaterThan(changes[0]);
      expect(changes[2], p.kind).toBeGreaterThan(changes[1]);
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('draw the same noise for the same seed and other noise for another; blur keeps a flat image and its mean', async () => {
    const x = images();
    const a = perturb(x, 'noise', 16, 7);
    const b = perturb(x, 'noise', 16, 7);
    const c = perturb(x, 'noise', 16, 8);
    expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
    expect(await meanAbsChange(a, c)).toBeGreaterThan(1);
    const flat = tf.fill([1, 8, 8, 3], 100) as tf.Tensor4D;
    const blurred = perturb(flat, 'blur', 2, 0);
    (await blurred.data()).forEach((v) => expect(v).toBeCloseTo(100, 3));
    // Mirrored borders: blurring moves intensity around but keeps the images' mean brightness close.
    const soft = perturb(x, 'blur', 1, 0);
    const mean = (t: tf.Tensor) => (t.dataSync() as Float32Array).reduce((s, v) => s + v, 0) / t.size;
    expect(Math.abs(mean(soft) - mean(x))).toBeLessThan(0.5);
    tf.dispose([x, a, b, c, flat, blurred, soft]);
    expect(() => perturb(x, 'rotation', -1, 0)).toThrow(/level must be a finite number ≥ 0/);
  });
});
