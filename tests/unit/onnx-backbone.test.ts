import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { withCache } from '../../src/core/models/backbone';
import { importOnnx } from '../../src/core/models/onnx-import';
import { BUILTIN_ZOO, normalizationFor, TRANSFER_DEFAULTS, Zoo, type ZooEntry } from '../../src/core/models/zoo';
import { idbBackboneCache, importedBackbones, putImportedBackbone } from '../../src/core/store/backbones';
import { openStudioDB } from '../../src/core/store/db';
import { buildModel } from '../../workers/models';
import { tinyOnnxClassifier } from '../fixtures/tiny-onnx';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const noDownload = () => {
  throw new Error('an imported backbone must come from the cache');
};

describe('an ONNX backbone in the zoo and the backbone cache', () => {
  it('is kept with its entry, listed after a restart, and trains with every pretrained strategy', async () => {
    const imported = importOnnx(await tinyOnnxClassifier(32), { cut: 'pool', name: 'tiny_onnx' });
    expect(imported.normalization).not.toBeNull();
    const entry: ZooEntry = {
      id: 'tiny_onnx',
      name: 'tiny (ONNX)',
      family: 'onnx',
      inputSize: imported.inputSize,
      channels: 3,
      params: imported.model.countParams(),
      source: { kind: 'imported', file: 'tiny.onnx' },
      preprocessing: { scaling: 'fixed', ...imported.normalization! },
      defaults: TRANSFER_DEFAULTS,
    };
    let artifacts: tf.io.ModelArtifacts | undefined;
    await imported.model.save(tf.io.withSaveHandler(async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })));
    imported.model.dispose();
    const db = await openStudioDB('onnx-backbone-test');
    await putImportedBackbone(db, entry, artifacts!);

    // A later session: the entry comes back from the store, and only the zoo made from it knows the model.
    expect(() => BUILTIN_ZOO.entry('tiny_onnx')).toThrow(/unknown model/);
    const stored = await importedBackbones(db);
    expect(stored).toEqual([entry]);
    const zoo = new Zoo(stored);
    expect(zoo.entries().map((e) => e.id)).toContain('tiny_onnx');
    expect(() => zoo.withImported({ ...entry, id: 'resnet18' })).toThrow(/built-in/);
    expect(normalizationFor(zoo.entry('tiny_onnx'), { mean: [0, 0, 0], std: [1, 1, 1] })).toEqual(imported.normalization);

    const load = withCache(noDownload, idbBackboneCache(db));
    const before = tf.memory().numTensors;
    for (const strategy of ['frozen', 'medical', 'finetune'] as const) {
      // At 48 px: a backbone is rebuilt for the dataset's size.
      const built = await buildModel(zoo, { model: 'tiny_onnx', strategy, seed: 1 } as never, { imageSize: 48, channels: 3, numClasses: 3 }, { mean: [0, 0, 0], std: [1, 1, 1] }, load);
      expect(built.normalization).toEqual(imported.normalization);
      const stem = built.model.getLayer('stem');
      const kernel = stem.getWeights()[0].dataSync().slice();
      const logitsKernel = built.model.getLayer('logits').getWeights()[0].dataSync().slice();
      const x = tf.randomUniform([4, 48, 48, 3], -1, 1, 'float32', 2);
      const labels = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 2, 0], 'int32'), 3));
      const optimizer = tf.train.sgd(0.5);
      tf.tidy(() => {
        optimizer.minimize(() => tf.losses.softmaxCrossEntropy(labels, built.model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar);
      });
      const changed = (a: Float32Array | Int32Array | Uint8Array, b: typeof a) => a.some((v, i) => v !== b[i]);
      expect(changed(logitsKernel, built.model.getLayer('logits').getWeights()[0].dataSync())).toBe(true);
      expect(changed(kernel, stem.getWeights()[0].dataSync())).toBe(strategy === 'finetune');
      optimizer.dispose();
      tf.dispose([x, labels]);
      built.model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    db.close();
  });
});
