import * as tf from '@tensorflow/tfjs';
import { strToU8, zipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ChannelStats } from '../../src/core/dataset/stats';
import { describeModel, type ModelMetadata } from '../../src/core/export/metadata';
import { exportTfjs, importTfjs, SHARD_BYTES, unzipFiles, zipFiles } from '../../src/core/export/tfjs';
import { loadBackbone } from '../../src/core/models/backbone';
import { buildSimpleCnn } from '../../src/core/models/simple_cnn';
import { buildClassifier } from '../../src/core/models/strategies';
import { BUILTIN_ZOO, normalizationFor } from '../../src/core/models/zoo';
import { probabilitiesOf, randomizeWeights, randomPixels } from '../fixtures/export';
import { hasPretrained, PRETRAINED_DIR, pretrainedLoader } from '../fixtures/pretrained';

const STATS: ChannelStats = { mean: [0.2, 0.21, 0.19], std: [0.17, 0.18, 0.2] };
const LABELS = ['glioma', 'meningioma', 'notumor', 'pituitary'];

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const metaFor = (id: string, strategy: string, size: number, normalization = STATS): ModelMetadata =>
  describeModel({ modelId: id, strategy, labels: LABELS, inputSize: size, channels: 3, normalization, scaling: id === 'simple_cnn' ? 'dataset' : '[-1,1]', name: 'brain-mri', version: '1.0.0', runId: 'run-1', libraries: { tfjs: tf.version.tfjs } });

/** Export → zip → unzip → import, and the imported model's probabilities must equal the original's exactly. */
async function roundTrip(model: tf.LayersModel, meta: ModelMetadata): Promise<void> {
  const files = unzipFiles(zipFiles(await exportTfjs(model, meta)));
  const imported = await importTfjs(files);
  expect(imported.metadata).toEqual(meta);
  const pixels = randomPixels(5, meta.inputSize, meta.channels, 8);
  const before = probabilitiesOf(model, pixels, meta);
  const after = probabilitiesOf(imported.model, pixels, imported.metadata);
  expect(Array.from(after)).toEqual(Array.from(before));
  pixels.dispose();
  imported.model.dispose();
}

describe('TF.js export and import', () => {
  it('round-trips the simple CNN with identical predictions and metadata', async () => {
    const model = buildSimpleCnn({ imageSize: 32, channels: 3, numClasses: 4, seed: 3 });
    randomizeWeights(model, 4);
    const held = tf.memory().numTensors;
    await roundTrip(model, metaFor('simple_cnn', 'scratch', 32));
    expect(tf.memory().numTensors).toBe(held);
    model.dispose();
  });

  it('writes the TF.js converter layout: model.json, weight shards of at most 4 MB, metadata.json', async () => {
    // 1.1 M float32 weights: 4.4 MB, two shards.
    const input = tf.input({ shape: [32, 32, 3] });
    const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 4, name: 'logits' }).apply(tf.layers.dense({ units: 360 }).apply(flat)) as tf.SymbolicTensor });
    const files = await exportTfjs(model, metaFor('custom', 'scratch', 32));
    expect(Object.keys(files).sort()).toEqual(['group1-shard1of2.bin', 'group1-shard2of2.bin', 'metadata.json', 'model.json']);
    expect(files['group1-shard1of2.bin'].byteLength).toBe(SHARD_BYTES);
    const json = JSON.parse(new TextDecoder().decode(files['model.json'])) as tf.io.ModelJSON;
    expect(json.format).toBe('layers-model');
    expect(json.weightsManifest[0].paths).toEqual(['group1-shard1of2.bin', 'group1-shard2of2.bin']);
    // tf.loadLayersModel reads them as they are (what another TF.js app does with the folder).
    const weights = Buffer.concat(json.weightsManifest[0].paths.map((p) => files[p]));
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(json.modelTopology, json.weightsManifest[0].weights, weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength)));
    const x = tf.ones([1, 32, 32, 3]);
    const [a, b] = [model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([x, a, b]);
    loaded.dispose();
    model.dispose();
  });

  it('reads a zip of one folder (as an OS "compress" makes) and names what is missing or wrong', async () => {
    const model = buildSimpleCnn({ imageSize: 16, channels: 3, numClasses: 4, seed: 1 });
    const files = await exportTfjs(model, metaFor('simple_cnn', 'scratch', 16));
    const nested = unzipFiles(zipSync(Object.fromEntries(Object.entries(files).map(([n, b]) => [`brain-mri-1.0.0/${n}`, b]))));
    expect(Object.keys(nested).sort()).toEqual(Object.keys(files).sort());

    const without = (name: string) => Object.fromEntries(Object.entries(files).filter(([n]) => n !== name));
    await expect(importTfjs(without('metadata.json'))).rejects.toThrow('metadata.json is missing: the studio needs the labels, input size and preprocessing written next to the model');
    await expect(importTfjs(without('group1-shard1of1.bin'))).rejects.toThrow('group1-shard1of1.bin is missing: model.json lists it in its weightsManifest');
    await expect(importTfjs({ ...files, 'model.json': strToU8('{"modelTopology":') })).rejects.toThrow(/model.json is not valid JSON/);
    const meta = metaFor('simple_cnn', 'scratch', 16);
    const held = tf.memory().numTensors;
    await expect(importTfjs({ ...files, 'metadata.json': strToU8(JSON.stringify({ ...meta, labels: ['a', 'b', 'c'] })) })).rejects.toThrow('the model has 4 outputs but metadata.json lists 3 labels');
    await expect(importTfjs({ ...files, 'metadata.json': strToU8(JSON.stringify({ ...meta, inputSize: 32 })) })).rejects.toThrow('the model takes [16,16,3] images but metadata.json says 32×32×3');
    expect(tf.memory().numTensors).toBe(held);
    await expect(importTfjs({ ...files, 'metadata.json': strToU8(JSON.stringify({ ...meta, preprocessing: { ...meta.preprocessing, std: [0, 1, 1] } })) })).rejects.toThrow(/"preprocessing" needs 3 finite means and 3 positive stds/);
    await expect(importTfjs({ ...files, 'metadata.json': strToU8(JSON.stringify({ ...meta, format: 'other' })) })).rejects.toThrow(/"format" must be "mri-studio-model"/);
    model.dispose();
  });

  const v2 = 'mobilenet_v2_0.35_224';
  if (!hasPretrained(v2)) console.warn(`skipping the MobileNet TF.js round trip: ${PRETRAINED_DIR}/${v2} is absent`);
  it.skipIf(!hasPretrained(v2))('round-trips a MobileNet v2 medical classifier with identical predictions', async () => {
    const entry = BUILTIN_ZOO.entry(v2);
    const backbone = await loadBackbone(entry, { load: pretrainedLoader() }, { inputSize: 32 });
    const classifier = buildClassifier(backbone, { strategy: 'medical', numClasses: 4, seed: 5 });
    backbone.model.dispose();
    await roundTrip(classifier.model, metaFor(v2, 'medical', 32, normalizationFor(entry, STATS)));
    classifier.model.dispose();
  });
});
