import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { demoImage } from '../../src/core/dataset/demo';
import { analyzeWith } from '../../src/core/dataset/importer';
import { augmentDefault, augmentNone } from '../../src/core/settings/augment';
import { StudioEngine } from '../../workers/engine';

// The real engine on TF.js's CPU backend, with a folder whose "decoder" hands back the demo phantoms' pixels.
describe('augmentation preview (engine)', () => {
  const size = 16;
  const engine = new StudioEngine(analyzeWith(async (_file, bytes, _size, _channels, out) => out.set(bytes)));
  let train: Set<string>;

  beforeAll(async () => {
    await engine.init('cpu');
    const paths: string[] = [];
    const files: File[] = [];
    ['a', 'b', 'c'].forEach((c, k) => {
      for (let i = 0; i < 10; i++) {
        paths.push(`data/${c}/${i}.png`);
        files.push(new File([demoImage(k, i, 3, size) as Uint8Array<ArrayBuffer>], `${i}.png`));
      }
    });
    await expect(engine.augmentPreview({ images: 2, variants: 2, augment: augmentDefault, seed: 1, size: 8 })).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await engine.scanFolder({ kind: 'files', name: 'data', files, paths });
    await engine.importDataset({ imageSize: size, channels: 3, split: { train: 0.6, val: 0.2, test: 0.2 }, seed: 1, dedupe: 'off' }, () => {});
    const manifest = JSON.parse(await engine.exportManifest('json')) as { entries: { path: string; split: string }[] };
    train = new Set(manifest.entries.filter((e) => e.split === 'train').map((e) => e.path));
  });

  it('shows training images with variants, the same for the same seed, others for another, leaking no tensor', async () => {
    const before = tf.memory().numTensors;
    const a = await engine.augmentPreview({ images: 4, variants: 3, augment: augmentDefault, seed: 7, size: 8 });
    expect(tf.memory().numTensors).toBe(before);
    expect(a).toHaveLength(4);
    for (const p of a) {
      expect(train.has(p.key), p.key).toBe(true);
      expect(p.variants.map((v) => v.key)).toEqual([1, 2, 3].map((k) => `${p.key}#${k}`));
      expect(p.original.rgba).toHaveLength(8 * 8 * 4);
      // Augmented: at least one variant differs from the image as imported.
      expect(p.variants.some((v) => v.rgba.some((x, i) => x !== p.original.rgba[i]))).toBe(true);
    }
    expect(await engine.augmentPreview({ images: 4, variants: 3, augment: augmentDefault, seed: 7, size: 8 })).toEqual(a);
    const b = await engine.augmentPreview({ images: 4, variants: 3, augment: augmentDefault, seed: 8, size: 8 });
    expect(b.map((p) => p.key)).not.toEqual(a.map((p) => p.key));
  });

  it('leaves the images as they are when every augmentation is off, and names a bad setting', async () => {
    for (const p of await engine.augmentPreview({ images: 3, variants: 2, augment: augmentNone, seed: 1, size: 8 })) {
      for (const v of p.variants) expect(v.rgba).toEqual(p.original.rgba);
    }
    await expect(engine.augmentPreview({ images: 1, variants: 1, augment: { ...augmentDefault, rotationDeg: 270 }, seed: 1, size: 8 })).rejects.toMatchObject({
      code: 'E_CONFIG',
      message: 'rotation must lie in [0, 180] degrees',
    });
  });
});
