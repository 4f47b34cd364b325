import { describe, expect, it } from 'vitest';
import {
  checkSettings,
  ConfigError,
  configFromSettings,
  configTemplates,
  defaultConfig,
  demoDatasetOf,
  importOptionsOf,
  parseConfigText,
  readConfig,
  settingsFromConfig,
} from '../../src/core/config';
import { trainConfigOf } from '../../src/core/settings/train-config';
import { augmentDefault } from '../../src/core/settings/augment';
import { BUILTIN_ZOO, MODEL_ZOO } from '../../src/core/models/zoo';
import { problemsOf } from './config-problems';

/** Node's zoo: the built-in models (the imported backbones' are in zoo-value.test.ts). */
const zoo = BUILTIN_ZOO;
const problemsOfNode = (value: unknown) => problemsOf(value, zoo);


describe('config file', () => {
  it('fills every missing field with the studio defaults, and the models table with the zoo', () => {
    const c = readConfig({ version: 1 }, zoo);
    expect(c).toEqual(defaultConfig(zoo));
    expect(Object.keys(c.models)).toEqual(MODEL_ZOO.map((e) => e.id));
    expect(c.models['simple_cnn']).toEqual(MODEL_ZOO[0].defaults);
    expect(c.transform.augment).toEqual({ enabled: false, ...augmentDefault });
  });

  it('keeps what a partial file says and defaults the rest', () => {
    const c = readConfig({ version: 1, train: { epochs: 12, earlyStopping: { patience: 4 } }, dataset: { split: { train: 0.8, val: 0.1, test: 0.1 } } }, zoo);
    expect(c.train.epochs).toBe(12);
    expect(c.train.earlyStopping).toEqual({ patience: 4, minDelta: 0.0005 });
    expect(c.dataset.split).toEqual({ train: 0.8, val: 0.1, test: 0.1 });
    expect(c.dataset.seed).toBe(42);
    expect(c.train.model).toBe('simple_cnn');
  });

  it('turns early stopping, class filter and group pattern off with null', () => {
    const c = readConfig({ version: 1, train: { earlyStopping: null }, dataset: { classes: null, groupPattern: null } }, zoo);
    expect(c.train.earlyStopping).toBeNull();
    expect(c.dataset.classes).toBeNull();
    expect(c.dataset.groupPattern).toBeNull();
  });

  it('survives export → JSON → import unchanged, for every template', () => {
    for (const t of configTemplates(zoo)) {
      const text = JSON.stringify(t.config, null, 2);
      const back = parseConfigText(text, zoo);
      expect(back, t.id).toEqual(t.config);
      const settings = settingsFromConfig(back, zoo);
      expect(settingsFromConfig(parseConfigText(JSON.stringify(configFromSettings(settings)), zoo), zoo), t.id).toEqual(settings);
    }
  });

  it('resolves null rate and batch size from the models table, and an optimiser only where the table changed it', () => {
    const plain = settingsFromConfig(readConfig({ version: 1, train: { model: 'mobilenet_v2_0.35_224', strategy: 'finetune' } }, zoo), zoo);
    expect(plain.train).toMatchObject({ learningRate: 1e-3, batchSize: 32 });
    // Left to the engine, which picks Adamax for fine-tuning (the seed's Xception-Medical recipe).
    expect(plain.train.optimizer).toBeUndefined();
    const custom = settingsFromConfig(
      readConfig({ version: 1, models: { 'mobilenet_v2_0.35_224': { learningRate: 5e-4, optimizer: 'sgd' } }, train: { model: 'mobilenet_v2_0.35_224', batchSize: 8 } }, zoo),
      zoo,
    );
    expect(custom.train).toMatchObject({ learningRate: 5e-4, batchSize: 8, optimizer: 'sgd' });
    expect(custom.models['mobilenet_v2_0.35_224']).toEqual({ learningRate: 5e-4, batchSize: 32, optimizer: 'sgd' });
  });

  it('maps to a TrainConfig and import options: augmentation only when enabled, grouping and classes only when set', () => {
    const on = settingsFromConfig(readConfig({ version: 1, transform: { augment: { enabled: true, rotationDeg: 5 } }, dataset: { classes: ['a', 'b'], groupPattern: '^(P\\d+)_' } }, zoo), zoo);
    const cfg = trainConfigOf(on, demoDatasetOf(on.dataset));
    expect(cfg.augment).toEqual({ ...augmentDefault, rotationDeg: 5 });
    expect(cfg.dataset).toEqual({ kind: 'demo', seed: 42, imageSize: 64, perClass: 60, split: { train: 0.7, val: 0.15, test: 0.15 } });
    expect(cfg).toMatchObject({ model: 'simple_cnn', epochs: 5, learningRate: 3e-3, batchSize: 8, seed: 42, clipNorm: 1, earlyStopping: { patience: 15, minDelta: 0.0005 } });
    expect(importOptionsOf(on.dataset)).toEqual({ imageSize: 64, channels: 3, classes: ['a', 'b'], split: { train: 0.7, val: 0.15, test: 0.15 }, seed: 42, groupPattern: '^(P\\d+)_', dedupe: 'keep-together', nearThreshold: 5 });
    const off = settingsFromConfig(readConfig({ version: 1 }, zoo), zoo);
    expect('augment' in trainConfigOf(off, { kind: 'folder', fingerprint: 'f' })).toBe(false);
    expect(importOptionsOf(off.dataset)).not.toHaveProperty('classes');
    expect(importOptionsOf(off.dataset)).not.toHaveProperty('groupPattern');
  });

  it('gives templates that fit their data: small, large, multi-class and Xception-Medical', () => {
    const byId = Object.fromEntries(configTemplates(zoo).map((t) => [t.id, t.config]));
    const small = byId['small-dataset'];
    expect(['frozen', 'medical']).toContain(small.train.strategy);
    expect(small.transform.augment).toMatchObject({ enabled: true, randomResizedCrop: true });
    expect(small.train.earlyStopping!.patience).toBeGreaterThanOrEqual(10);
    const large = byId['large-dataset'];
    expect(large.train).toMatchObject({ strategy: 'finetune', lrSchedule: { kind: 'cosine' } });
    expect(large.train.batchSize!).toBeGreaterThan(small.train.batchSize!);
    const multi = byId['multi-class'];
    expect(multi.train).toMatchObject({ classWeights: 'off' });
    expect(multi.train.labelSmoothing).toBeGreaterThan(0);
    // The seed's Xception-Medical: the whole network, Adamax, lr 1e-3, 299 px.
    expect(byId['xception-medical'].train).toMatchObject({ model: 'xception', strategy: 'finetune', trainableBlocks: 'all', optimizer: 'adamax', learningRate: 1e-3 });
    expect(byId['xception-medical'].dataset.imageSize).toBe(299);
    // The recommended recipe hands back its last epoch and answers with each image's mirror too; the studio's default
    // keeps the best by validation accuracy and answers with the image alone.
    expect(byId.recommended.train).toMatchObject({ strategy: 'mlp', classWeights: 'off', earlyStopping: null, keepEpoch: 'last', tta: 'flip', mirrorTraining: true });
    expect(byId.defaults.train).toMatchObject({ classWeights: 'off', keepEpoch: 'best', tta: 'none', mirrorTraining: false });
    for (const t of configTemplates(zoo)) expect(checkSettings(settingsFromConfig(t.config, zoo), zoo), t.id).toEqual(settingsFromConfig(t.config, zoo));
  });

  it('names unknown keys by their path and lists the known ones', () => {
    const p = problemsOfNode({ version: 1, train: { optimzer: 'adam' }, extra: 1, transform: { augment: { flipp: true } } });
    expect(p).toHaveLength(3);
    expect(p[0]).toMatch(/^config\.extra is not a setting here; known: version, models, dataset/);
    expect(p.find((x) => x.startsWith('train.optimzer'))).toMatch(/known: .*optimizer/);
    expect(p.find((x) => x.startsWith('transform.augment.flipp'))).toMatch(/known: enabled, flip/);
  });

  it('names wrong types and out-of-range values in words, all at once', () => {
    const p = problemsOfNode({
      version: 1,
      train: { epochs: '10', batchSize: 0, learningRate: -1, labelSmoothing: 1, optimizer: 'rmsprop', seed: 1.5, keepEpoch: 'first', tta: 'rotate', mirrorTraining: 'yes' },
      dataset: { split: { train: 0.7, val: 0.2, test: 0.2 }, channels: 2, classes: ['a'], nearThreshold: 65 },
      performance: { backend: 'metal' },
    });
    expect(p).toEqual(
      expect.arrayContaining([
        'train.epochs must be a whole number from 1 to 10000 (got "10")',
        'train.batchSize must be a whole number from 1 to 4096 (got 0)',
        'train.learningRate must be a number above 0 and below 10 (got -1)',
        'train.labelSmoothing must be a number at least 0 and below 1 (got 1)',
        'train.optimizer must be one of "adamw", "adam", "adamax", "sgd" (got "rmsprop")',
        'train.seed must be a whole number from 0 to 2147483647 (got 1.5)',
        'train.keepEpoch must be one of "best", "last" (got "first")',
        'train.tta must be one of "none", "flip" (got "rotate")',
        'train.mirrorTraining must be true or false (got "yes")',
        expect.stringMatching(/^dataset\.split: split fractions must add up to 1/),
        'dataset.channels must be one of 1, 3 (got 2)',
        'dataset.classes must name at least two different classes, each once (got a)',
        'dataset.nearThreshold must be a whole number from 0 to 64 (got 65)',
        'performance.backend must be one of "auto", "webgpu", "webgl", "wasm", "cpu" (got "metal")',
      ]),
    );
    expect(p).toHaveLength(14);
  });

  it('checks augmentation with the trainer’s own ranges, schedules, models and strategies', () => {
    expect(problemsOfNode({ version: 1, transform: { augment: { rotationDeg: 200 } } })).toEqual(['transform.augment: rotation must lie in [0, 180] degrees']);
    expect(problemsOfNode({ version: 1, transform: { augment: { randomResizedCrop: { scale: [0.9, 0.5] } } } })).toEqual(['transform.augment: the crop scale must satisfy 0 < min ≤ max ≤ 1']);
    expect(problemsOfNode({ version: 1, train: { lrSchedule: { kind: 'cosine', warmup: -1 } } })).toEqual(['train.lrSchedule.warmup must be a whole number at least 0 (got -1)']);
    expect(problemsOfNode({ version: 1, train: { lrSchedule: { kind: 'exponential' } } })).toEqual([expect.stringMatching(/^train\.lrSchedule\.kind must be one of "constant", "step", "cosine", "plateau"/)]);
    expect(problemsOfNode({ version: 1, train: { lrSchedule: { kind: 'plateau', factor: 2 } } })).toEqual(['train.lrSchedule.factor must be a number above 0 and below 1 (got 2)']);
    expect(problemsOfNode({ version: 1, train: { model: 'alexnet' } })[0]).toMatch(/^train\.model must be a model of the studio \(got "alexnet"\); known: simple_cnn, mobilenet_v1_0\.25_224/);
    expect(problemsOfNode({ version: 1, train: { model: 'simple_cnn', strategy: 'frozen' } })).toEqual(['train.strategy "frozen" needs a pretrained backbone; simple_cnn trains from scratch']);
    expect(problemsOfNode({ version: 1, train: { epochs: 3, probeEpochs: 5 } })).toEqual(['train.probeEpochs must not exceed train.epochs (5 > 3)']);
    expect(problemsOfNode({ version: 1, train: { trainableBlocks: 'some' } })).toEqual(['train.trainableBlocks must be "all" or a whole number of blocks from 0 to 1000 (got "some")']);
    expect(problemsOfNode({ version: 1, models: { alexnet: {} } })[0]).toMatch(/^models\.alexnet is not a model of the studio/);
    expect(problemsOfNode({ version: 1, dataset: { groupPattern: 'P\\d+' } })).toEqual([expect.stringMatching(/^dataset\.groupPattern: group pattern "P\\\\d\+" has no capture group/)]);
    expect(problemsOfNode({ version: 1, transform: { normalization: 'imagenet' } })).toEqual(['transform.normalization must be one of "model" (got "imagenet")']);
  });

  it('refuses a file that is not a config: no JSON, no object, no or another version', () => {
    expect(() => parseConfigText('{"version": 1,\n  "train": {\n    "epochs": 3,\n  }\n}', zoo)).toThrow(/^the file is not valid JSON: .*line 4,? column 3/);
    expect(problemsOfNode([1, 2])).toEqual(['a config must be a JSON object with "version": 1 (got a list)']);
    expect(problemsOfNode({ train: {} })).toEqual(['version is missing: this studio reads version 1']);
    expect(problemsOfNode({ version: 2 })).toEqual(['version 2 is not one this studio reads (it reads 1)']);
    expect(problemsOfNode({ version: 1, train: 5 })).toEqual(['train must be an object of settings (got 5)']);
  });

  it('one problem is the message; several are counted and joined', () => {
    expect(new ConfigError(['a']).message).toBe('a');
    expect(new ConfigError(['a', 'b']).message).toBe('2 problems: a; b');
  });
});
