import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadBackbone, withCache, type BackboneCache } from '../../src/core/models/backbone';
import { BUILTIN_ZOO } from '../../src/core/models/zoo';
import { idbBackboneCache } from '../../src/core/store/backbones';
import { openStudioDB } from '../../src/core/store/db';
import { folderHandler, hasPretrained, PRETRAINED_DIR, pretrainedLoader } from '../fixtures/pretrained';

const AVAILABLE = ['mobilenet_v1_0.25_224', 'mobilenet_v1_0.75_224', 'mobilenet_v2_0.35_224'].filter(hasPretrained);
const CHANNELS: Record<string, number> = { 'mobilenet_v1_0.25_224': 256, 'mobilenet_v1_0.75_224': 768, 'mobilenet_v2_0.35_224': 1280 };

const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);
const input = (size: number, seed = 42) => tf.randomUniform([2, size, size, 3], -1, 1, 'float32', seed);
const weightsByName = (m: tf.LayersModel) => new Map(m.weights.map((w) => [w.originalName, w.read()]));

if (!existsSync(PRETRAINED_DIR)) console.warn(`skipping pretrained backbone tests: ${PRETRAINED_DIR} is absent`);

describe.skipIf(!existsSync(PRETRAINED_DIR))('pretrained backbones from ../shared/pretrained', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(AVAILABLE)('%s loads through the injected loader, equal to the file as TF.js loads it', async (id) => {
    const before = tf.memory().numTensors;
    const entry = BUILTIN_ZOO.entry(id);
    const urls: string[] = [];
    const backbone = await loadBackbone(entry, { load: (url, e) => (urls.push(url), pretrainedLoader()(url, e)) });
    expect(urls).toEqual([(entry.source as { url: string }).url]);
    expect(backbone.inputSize).toBe(224);
    expect(backbone.outputShape).toEqual([7, 7, CHANNELS[id]]);
    expect(backbone.model.layers.filter((l) => l.getClassName() === 'BatchNormalization').every((l) => l.constructor.name === 'FreezableBatchNormalization')).toBe(true);
    const raw = await tf.loadLayersModel(folderHandler(`${PRETRAINED_DIR}/${id}`));
    const x = input(224);
    const [ours, theirs] = [backbone.model.predict(x) as tf.Tensor, raw.predict(x) as tf.Tensor];
    expect(ours.shape).toEqual([2, 7, 7, CHANNELS[id]]);
    expect(maxAbsDiff(ours, theirs)).toBe(0);
    tf.dispose([x, ours, theirs]);
    raw.dispose();
    backbone.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it.skipIf(!hasPretrained('mobilenet_v1_0.25_224_imagenet'))('cuts the full v1 ImageNet classifier at conv_pw_13_relu, equal to the no-top backbone', async () => {
    const before = tf.memory().numTensors;
    const entry = BUILTIN_ZOO.entry('mobilenet_v1_0.25_224');
    const full = await loadBackbone(entry, { load: pretrainedLoader('mobilenet_v1_0.25_224_imagenet') });
    const noTop = await loadBackbone(entry, { load: pretrainedLoader() });
    expect(full.model.layers.map((l) => l.name)).toEqual(noTop.model.layers.map((l) => l.name));
    const x = input(224);
    const [a, b] = [full.model.predict(x) as tf.Tensor, noTop.model.predict(x) as tf.Tensor];
    expect(a.shape).toEqual([2, 7, 7, 256]);
    expect(maxAbsDiff(a, b)).toBe(0);
    tf.dispose([x, a, b]);
    full.model.dispose();
    noTop.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it.each(AVAILABLE)('%s rebuilds at 32 and 299 with the same weights', async (id) => {
    const before = tf.memory().numTensors;
    const entry = BUILTIN_ZOO.entry(id);
    const native = await loadBackbone(entry, { load: pretrainedLoader() });
    const tiny = await loadBackbone(entry, { load: pretrainedLoader() }, { inputSize: 32 });
    const large = await loadBackbone(entry, { load: pretrainedLoader() }, { inputSize: 299 });
    expect(tiny.outputShape).toEqual([1, 1, CHANNELS[id]]);
    // 299 → 10 by five stride-2 steps (ceil), as Keras builds it: MobileNetV2's padding follows the size's parity.
    expect(large.outputShape).toEqual([10, 10, CHANNELS[id]]);
    const reference = weightsByName(native.model);
    for (const m of [tiny.model, large.model]) {
      const weights = weightsByName(m);
      expect([...weights.keys()]).toEqual([...reference.keys()]);
      for (const [name, w] of weights) expect(maxAbsDiff(w, reference.get(name)!), name).toBe(0);
    }
    const x = input(32);
    const y = tiny.model.predict(x) as tf.Tensor;
    expect(y.shape).toEqual([2, 1, 1, CHANNELS[id]]);
    tf.dispose([x, y]);
    for (const b of [native, tiny, large]) b.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it.skipIf(!hasPretrained('mobilenet_v2_0.35_224'))('pads MobileNetV2 as Keras correct_pad does for the new size', async () => {
    const backbone = await loadBackbone(BUILTIN_ZOO.entry('mobilenet_v2_0.35_224'), { load: pretrainedLoader() }, { inputSize: 299 });
    const padding = (name: string) => backbone.model.getLayer(name).getConfig()['padding'];
    expect(padding('Conv1_pad')).toEqual([[1, 1], [1, 1]]); // 299 is odd
    expect(padding('block_1_pad')).toEqual([[0, 1], [0, 1]]); // 150 is even
    expect(padding('block_3_pad')).toEqual([[1, 1], [1, 1]]); // 75
    const x = tf.zeros([1, 299, 299, 3]);
    const y = backbone.model.predict(x) as tf.Tensor;
    expect(y.shape).toEqual([1, 10, 10, 1280]);
    tf.dispose([x, y]);
    backbone.model.dispose();
  });

  it('refuses an input size below 32 before loading anything', async () => {
    let loads = 0;
    const load = (url: string, e: { id: string }) => (loads++, pretrainedLoader()(url, e));
    await expect(loadBackbone(BUILTIN_ZOO.entry('mobilenet_v2_0.35_224'), { load }, { inputSize: 16 })).rejects.toThrow(/at least 32/);
    expect(loads).toBe(0);
  });

  it.skipIf(!hasPretrained('mobilenet_v1_0.25_224'))('loads through the IndexedDB cache: downloaded once, then served from the cache', async () => {
    const db = await openStudioDB('backbone-cache-test');
    const cache: BackboneCache = idbBackboneCache(db, 100_000);
    let fetches = 0;
    const load = withCache((url, e) => (fetches++, pretrainedLoader()(url, e)), cache);
    const entry = BUILTIN_ZOO.entry('mobilenet_v1_0.25_224');
    const first = await loadBackbone(entry, { load }, { inputSize: 32 });
    const second = await loadBackbone(entry, { load }, { inputSize: 32 });
    expect(fetches).toBe(1);
    expect(await db.count('backboneChunks')).toBe(9); // 874,176 bytes in 100 kB chunks
    const x = input(32);
    const [a, b] = [first.model.predict(x) as tf.Tensor, second.model.predict(x) as tf.Tensor];
    expect(maxAbsDiff(a, b)).toBe(0);
    tf.dispose([x, a, b]);
    first.model.dispose();
    second.model.dispose();
    db.close();
  });

  it('refuses the built-in CNN as a backbone', async () => {
    await expect(loadBackbone(BUILTIN_ZOO.entry('simple_cnn'), { load: pretrainedLoader() })).rejects.toThrow(/built in/);
  });
});
