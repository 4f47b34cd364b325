import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyAugmentations, augmentBatch, drawAugmentations, previewAugmentations, type ImageAugmentation } from '../../src/core/image/augment';
import { augmentDefault, augmentNone, isAugmentIdentity, type AugmentConfig } from '../../src/core/settings/augment';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const S = 8;
const none: ImageAugmentation = { flip: false, angleDeg: 0, brightness: 1, contrast: 1, crop: null };

/** An asymmetric 8×8 single-channel image: every pixel a different value, so any flip or rotation shows. */
function ramp(batch = 1): tf.Tensor4D {
  return tf.tidy(() => tf.range(0, S * S).mul(3).reshape([1, S, S, 1]).tile([batch, 1, 1, 1]).toFloat() as tf.Tensor4D);
}

/** A plus sign centred in an 8×8 image: unchanged by a quarter turn about the centre. */
function plus(): tf.Tensor4D {
  const v = new Float32Array(S * S);
  for (let i = 0; i < S; i++) for (const j of [3, 4]) v[i * S + j] = v[j * S + i] = 200;
  return tf.tensor4d(v, [1, S, S, 1]);
}

async function values(t: tf.Tensor): Promise<number[]> {
  const v = Array.from(await t.data());
  t.dispose();
  return v;
}

function close(a: number[], b: number[], tol = 1e-4): boolean {
  return a.length === b.length && a.every((x, i) => Math.abs(x - b[i]) <= tol);
}

const withCrop: AugmentConfig = { ...augmentDefault, randomResizedCrop: { scale: [0.5, 0.9] } };

describe('augmentation', () => {
  it('keeps the batch shape and never leaves [0, 255]', async () => {
    const x = ramp(5);
    const out = augmentBatch(x, { ...withCrop, brightness: 0.9, contrast: 0.9 }, 7);
    expect(out.shape).toEqual([5, S, S, 1]);
    const v = await values(out);
    expect(Math.min(...v)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...v)).toBeLessThanOrEqual(255);
    x.dispose();
  });

  it('is a function of the seed', async () => {
    const x = ramp(4);
    const a = await values(augmentBatch(x, withCrop, 11));
    const b = await values(augmentBatch(x, withCrop, 11));
    const c = await values(augmentBatch(x, withCrop, 12));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(drawAugmentations(4, withCrop, 11)).toEqual(drawAugmentations(4, withCrop, 11));
    x.dispose();
  });

  it('draws the other parameters the same whichever augmentations are on', () => {
    const all = drawAugmentations(6, { ...withCrop, flip: true }, 3);
    const noFlip = drawAugmentations(6, { ...withCrop, flip: false }, 3);
    expect(noFlip.map((a) => a.angleDeg)).toEqual(all.map((a) => a.angleDeg));
    expect(noFlip.map((a) => a.crop)).toEqual(all.map((a) => a.crop));
  });

  it('changes nothing when disabled', async () => {
    expect(isAugmentIdentity(augmentNone)).toBe(true);
    expect(isAugmentIdentity(augmentDefault)).toBe(false);
    const x = ramp(3);
    const expected = await values(x.clone());
    expect(await values(augmentBatch(x, augmentNone, 5))).toEqual(expected);
    // Identity parameters through the resampling path too (a crop of the whole image).
    expect(close(await values(applyAugmentations(x, [none, { ...none, crop: { side: 1, left: 0, top: 0 } }, none])), expected)).toBe(true);
    x.dispose();
  });

  it('flips left to right, about half the time', async () => {
    const x = ramp(32);
    const original = await values(tf.slice(x, [0, 0, 0, 0], [1, S, S, 1]));
    const mirrored = await values(tf.reverse(tf.slice(x, [0, 0, 0, 0], [1, S, S, 1]), 2));
    const out = augmentBatch(x, { ...augmentNone, flip: true }, 9);
    const images = tf.unstack(out);
    const kinds = await Promise.all(images.map(async (img) => {
      const v = await values(img);
      return close(v, original) ? 'same' : close(v, mirrored) ? 'flipped' : 'other';
    }));
    expect(kinds).not.toContain('other');
    expect(kinds.filter((k) => k === 'flipped').length).toBeGreaterThan(8);
    expect(kinds.filter((k) => k === 'same').length).toBeGreaterThan(8);
    tf.dispose([x, out]);
  });

  it('rotates by a quarter turn about the centre, bilinear', async () => {
    const p = plus();
    expect(close(await values(applyAugmentations(p, [{ ...none, angleDeg: 90 }])), await values(p.clone()))).toBe(true);
    const x = ramp();
    // Counter-clockwise on screen: out[y][x] = in[x][S − 1 − y].
    const expected = await values(tf.reverse(tf.transpose(x, [0, 2, 1, 3]), 1));
    expect(close(await values(applyAugmentations(x, [{ ...none, angleDeg: 90 }])), expected)).toBe(true);
    // A small angle brings black in at the corners and keeps the centre.
    const v = await values(applyAugmentations(tf.onesLike(x).mul(100) as tf.Tensor4D, [{ ...none, angleDeg: 15 }]));
    expect(v[0]).toBeLessThan(100);
    expect(v[3 * S + 3]).toBeCloseTo(100, 3);
    tf.dispose([p, x]);
  });

  it('crops inside the image (no black borders) and jitters brightness and contrast per image', async () => {
    const flat = tf.fill([4, S, S, 1], 120) as tf.Tensor4D;
    const cropped = await values(augmentBatch(flat, { ...augmentNone, randomResizedCrop: true }, 4));
    expect(cropped.every((v) => Math.abs(v - 120) < 1e-3)).toBe(true);
    const x = ramp(2);
    const [a, b] = await Promise.all([
      values(applyAugmentations(x, [{ ...none, brightness: 2 }, { ...none, contrast: 0 }])),
      values(x.clone()),
    ]);
    const mean = b.slice(0, S * S).reduce((s, v) => s + v, 0) / (S * S);
    expect(a.slice(0, S * S)).toEqual(b.slice(0, S * S).map((v) => Math.min(255, 2 * v)));
    expect(close(a.slice(S * S), Array(S * S).fill(mean))).toBe(true);
    tf.dispose([flat, x]);
  });

  it('previews n variants of each uint8 image, reproducibly', async () => {
    const images = new Uint8Array(3 * S * S * 3).map((_, i) => (i * 7) % 256);
    const source = { images, imageSize: S, channels: 3 };
    const preview = await previewAugmentations(source, 4, augmentDefault, 1);
    expect(preview).toBeInstanceOf(Uint8Array);
    expect(preview.length).toBe(3 * 4 * S * S * 3);
    expect(await previewAugmentations(source, 4, augmentDefault, 1)).toEqual(preview);
    // Disabled: each variant is its image, in the layout image i → variants i·n … i·n + n − 1.
    const same = await previewAugmentations(source, 2, augmentNone, 1);
    const stride = S * S * 3;
    for (let i = 0; i < 3; i++) for (let k = 0; k < 2; k++) expect(same.subarray((i * 2 + k) * stride, (i * 2 + k + 1) * stride)).toEqual(images.subarray(i * stride, (i + 1) * stride));
  });

  it('leaks no tensors', async () => {
    const x = ramp(6);
    const before = tf.memory().numTensors;
    for (let seed = 0; seed < 3; seed++) augmentBatch(x, withCrop, seed).dispose();
    applyAugmentations(x, Array(6).fill(none)).dispose();
    augmentBatch(x, augmentNone, 0).dispose();
    await previewAugmentations({ images: new Uint8Array(2 * S * S), imageSize: S, channels: 1 }, 3, withCrop, 2);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('refuses settings outside their ranges', () => {
    expect(() => drawAugmentations(1, { ...augmentNone, brightness: 1.5 }, 0)).toThrow(RangeError);
    expect(() => drawAugmentations(1, { ...augmentNone, randomResizedCrop: { scale: [0.9, 0.5] } }, 0)).toThrow(RangeError);
  });
});
