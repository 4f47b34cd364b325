import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkSettings, configFromSettings, defaultConfig, parseConfigText, readConfig, settingsFromConfig } from '../../src/core/config';
import { BUILTIN_ZOO, MODEL_ZOO, TRANSFER_DEFAULTS, Zoo, type ZooEntry } from '../../src/core/models/zoo';
import { trainConfigOf } from '../../src/core/settings/train-config';
import { importedBackbones, putImportedBackbone } from '../../src/core/store/backbones';
import { openStudioDB } from '../../src/core/store/db';
import { StudioEngine } from '../../workers/engine';
import { problemsOf } from './config-problems';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A backbone as an ONNX import records it (workers/onnx-import.ts). */
const tiny: ZooEntry = {
  id: 'tiny_onnx',
  name: 'tiny (ONNX)',
  family: 'onnx',
  inputSize: 32,
  channels: 3,
  params: 1234,
  source: { kind: 'imported', file: 'tiny.onnx' },
  preprocessing: { scaling: 'fixed', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  defaults: { ...TRANSFER_DEFAULTS, batchSize: 8 },
};

const demo = { kind: 'demo', seed: 1, imageSize: 32, perClass: 4, split: { train: 0.7, val: 0.15, test: 0.15 } } as const;
const naming = (model: string) => ({ version: 1, train: { model, strategy: 'medical', epochs: 2 } });

describe('the zoo as a value', () => {
  it('two zoos, with and without an imported backbone, answer each for itself', () => {
    const plain = new Zoo();
    const withTiny = plain.withImported(tiny);
    // withImported made a new zoo: the first one still does not know the backbone.
    expect(plain.has('tiny_onnx')).toBe(false);
    expect(() => plain.entry('tiny_onnx')).toThrow(/^unknown model "tiny_onnx"; known: simple_cnn, /);
    expect(plain.entries().map((e) => e.id)).toEqual(MODEL_ZOO.map((e) => e.id));
    expect(withTiny.has('tiny_onnx')).toBe(true);
    expect(withTiny.entry('tiny_onnx')).toBe(tiny);
    expect(withTiny.entries().map((e) => e.id)).toEqual([...MODEL_ZOO.map((e) => e.id), 'tiny_onnx']);
    // Both know the built-in models, as the same constants.
    expect(withTiny.entry('resnet50_imagenet')).toBe(plain.entry('resnet50_imagenet'));
    expect(BUILTIN_ZOO.has('tiny_onnx')).toBe(false);

    // A re-import of the same id replaces the entry, in the new zoo only.
    const renamed = withTiny.withImported({ ...tiny, name: 'tiny v2 (ONNX)' });
    expect(renamed.entries().filter((e) => e.id === 'tiny_onnx').map((e) => e.name)).toEqual(['tiny v2 (ONNX)']);
    expect(withTiny.entry('tiny_onnx').name).toBe('tiny (ONNX)');
    expect(new Zoo([tiny]).entries()).toEqual(withTiny.entries());
  });

  it('takes only imported backbones, never under a built-in id', () => {
    expect(() => new Zoo([{ ...tiny, id: 'resnet18' }])).toThrow('"resnet18" is a built-in model\'s id; choose another');
    expect(() => BUILTIN_ZOO.withImported({ ...tiny, id: 'simple_cnn' })).toThrow(/built-in model's id/);
    expect(() => new Zoo([MODEL_ZOO[0]])).toThrow('"simple_cnn" is not an imported backbone');
  });
});

describe('config files in Node, with the zoo they are given', () => {
  const withTiny = new Zoo([tiny]);

  it('names an imported backbone only with the zoo that holds it, with the clear message otherwise', () => {
    expect(problemsOf(naming('tiny_onnx'), withTiny)).toEqual([]);
    const refused = problemsOf(naming('tiny_onnx'), BUILTIN_ZOO);
    expect(refused[0]).toMatch(/^train\.model must be a model of the studio \(got "tiny_onnx"\); known: simple_cnn, mobilenet_v1_0\.25_224, .*swin_t_imagenet, swin_s_imagenet$/);
    // The model left at its default (the simple CNN), the medical head is refused too.
    expect(refused.slice(1)).toEqual(['train.strategy "medical" needs a pretrained backbone; simple_cnn trains from scratch']);
    // The holding zoo's refusal of a typo lists the imported backbone with the built-in models.
    expect(problemsOf(naming('tiny_typo'), withTiny)[0]).toMatch(/\(got "tiny_typo"\); known: .*, swin_s_imagenet, tiny_onnx$/);
    // A strategy the imported (pretrained) backbone cannot take is refused as for a built-in backbone.
    expect(problemsOf({ version: 1, train: { model: 'tiny_onnx', strategy: 'scratch' } }, withTiny)).toEqual(['train.strategy "scratch" is for the simple CNN; tiny_onnx is a pretrained backbone: choose frozen, medical, mlp or finetune']);
  });

  it("gives the imported backbone's defaults and a TrainConfig for it, and its models table row round-trips", () => {
    const settings = settingsFromConfig(parseConfigText(JSON.stringify(naming('tiny_onnx')), withTiny), withTiny);
    expect(settings.train).toMatchObject({ model: 'tiny_onnx', strategy: 'medical', learningRate: TRANSFER_DEFAULTS.learningRate, batchSize: 8 });
    expect(settings.models.tiny_onnx).toEqual(tiny.defaults);
    expect(trainConfigOf(checkSettings(settings, withTiny), demo)).toMatchObject({ model: 'tiny_onnx', strategy: 'medical', batchSize: 8, epochs: 2, dataset: demo });

    // The models table may set its defaults, which a file written from these settings keeps.
    const tuned = readConfig({ version: 1, models: { tiny_onnx: { learningRate: 3e-4 } }, train: { model: 'tiny_onnx' } }, withTiny);
    expect(tuned.models.tiny_onnx).toEqual({ ...tiny.defaults, learningRate: 3e-4 });
    expect(settingsFromConfig(tuned, withTiny).train.learningRate).toBe(3e-4);
    const written = configFromSettings(checkSettings(settingsFromConfig(tuned, withTiny), withTiny));
    expect(readConfig(JSON.parse(JSON.stringify(written)), withTiny)).toEqual(written);
    // Without the backbone, neither the model nor its row of the models table is accepted.
    expect(problemsOf(written, BUILTIN_ZOO).slice(0, 2)).toEqual([expect.stringMatching(/^models\.tiny_onnx is not a model of the studio; known: simple_cnn, /), expect.stringMatching(/^train\.model must be a model of the studio \(got "tiny_onnx"\)/)]);
    expect(Object.keys(defaultConfig(BUILTIN_ZOO).models)).not.toContain('tiny_onnx');
  });
});

describe("the engine's zoo comes from its database", () => {
  it("reads a config naming a backbone imported into its profile, and lists it, while Node's built-in zoo refuses it", async () => {
    const model = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [32, 32, 3], filters: 2, kernelSize: 3 })] });
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler(async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })));
    model.dispose();
    const db = await openStudioDB();
    await putImportedBackbone(db, tiny, artifacts!);
    expect(await importedBackbones(db)).toEqual([tiny]);
    db.close();

    const engine = new StudioEngine();
    const text = JSON.stringify(naming('tiny_onnx'));
    expect((await engine.readConfig(text)).train).toMatchObject({ model: 'tiny_onnx', strategy: 'medical', batchSize: 8 });
    expect((await engine.zoo()).find((m) => m.id === 'tiny_onnx')).toMatchObject({ name: 'tiny (ONNX)', pretrained: true, defaults: tiny.defaults });
    // Its defaults template and its written files carry the backbone's row, which it reads back.
    const settings = await engine.readConfig(text);
    expect((await engine.writeConfig(settings)).models.tiny_onnx).toEqual(tiny.defaults);
    expect((await engine.configTemplates()).find((t) => t.id === 'defaults')!.config.models.tiny_onnx).toEqual(tiny.defaults);
    // The same text in Node, with the built-in zoo: the same clear refusal, E_CONFIG in the engine's words elsewhere.
    expect(() => parseConfigText(text, BUILTIN_ZOO)).toThrow(/train\.model must be a model of the studio \(got "tiny_onnx"\)/);
    await expect(engine.readConfig(JSON.stringify(naming('tiny_typo')))).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/known: .*, tiny_onnx; /) });
  });
});
