import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFromSettings, defaultConfig, readConfig, settingsFromConfig } from '../../src/core/config';
import { trainConfigOf } from '../../src/core/settings/train-config';
import { settingsMarkdown, settingsUsage, withSettingsTable } from '../../src/core/settings/docs';
import { resolveTrainConfig, TRAIN_DEFAULTS } from '../../src/core/settings/resolve';
import { BOUNDS, DEFAULT_EARLY_STOPPING, DEFAULTS, SCHEDULE_DEFAULTS, describeRange, flagProblem, inputBounds, inRange, rangeProblem, settingFlag, SETTING_FLAGS } from '../../src/core/settings/schema';
import type { TrainConfig } from '../../src/core/train/types';
import { BUILTIN_ZOO as zoo } from '../../src/core/models/zoo';

const demo: TrainConfig['dataset'] = { kind: 'demo', seed: 1, imageSize: 16, perClass: 6, split: { train: 0.7, val: 0.15, test: 0.15 } };

describe('settings schema', () => {
  it('checks numbers with valibot: whole numbers, inclusive and exclusive bounds, finite values only', () => {
    expect(inRange(BOUNDS.epochs, 1)).toBe(true);
    expect(inRange(BOUNDS.epochs, 10000)).toBe(true);
    expect([0, 10001, 2.5, Number.NaN, '5', null].map((x) => inRange(BOUNDS.epochs, x))).toEqual([false, false, false, false, false, false]);
    expect([0, 1e-9, 9.99, 10, Number.POSITIVE_INFINITY].map((x) => inRange(BOUNDS.learningRate, x))).toEqual([false, true, true, false, false]);
    expect([0, 0.999, 1, -0.1].map((x) => inRange(BOUNDS.labelSmoothing, x))).toEqual([true, true, false, false]);
    expect(inRange(BOUNDS.clipNorm, 1e6)).toBe(true);
  });

  it('words a range the way config files, the engine and the CLI report it', () => {
    expect(describeRange(BOUNDS.epochs)).toBe('a whole number from 1 to 10000');
    expect(describeRange(BOUNDS.learningRate)).toBe('a number above 0 and below 10');
    expect(describeRange(BOUNDS.labelSmoothing)).toBe('a number at least 0 and below 1');
    expect(describeRange(BOUNDS.warmup)).toBe('a whole number at least 0');
    expect(rangeProblem('batch size', BOUNDS.batchSize, 0)).toBe('batch size must be a whole number from 1 to 4096 (got 0)');
    expect(rangeProblem('batch size', BOUNDS.batchSize, 8)).toBeNull();
    // The CLI's messages that scripts rely on (tests/e2e/data-checks.spec.ts, cli.spec.ts, phases.spec.ts).
    expect(flagProblem(settingFlag('epochs'), '-3')).toBe('--epochs must be a whole number from 1 to 10000 (got "-3")');
    expect(flagProblem(settingFlag('lr'), '-0.5')).toBe('--lr must be a positive number below 10 (got "-0.5")');
    expect(flagProblem(settingFlag('label-smoothing'), '5')).toBe('--label-smoothing must be a number from 0 up to (not including) 1 (got "5")');
    expect(flagProblem(settingFlag('probe-epochs'), '4', { ...BOUNDS.probeEpochs, max: 3 })).toBe('--probe-epochs must be a whole number from 0 to 3 (got "4")');
    expect(flagProblem(settingFlag('epochs'), '12')).toBeNull();
    // --image-size has the demo's bound and the folder's.
    expect(flagProblem(settingFlag('image-size', 'demo'), '600')).toBe('--image-size must be a whole number from 8 to 512 (got "600")');
    expect(flagProblem(settingFlag('image-size', 'folder'), '600')).toBeNull();
    expect(() => settingFlag('epoch')).toThrow('no settings flag --epoch');
  });

  it('gives the forms inclusive min/max, an exclusive bound one step inside', () => {
    expect(inputBounds(BOUNDS.epochs)).toEqual({ min: 1, max: 10000 });
    expect(inputBounds(BOUNDS.labelSmoothing)).toEqual({ min: 0, max: 0.99 });
    expect(inputBounds(BOUNDS.learningRate, 1e-5)).toEqual({ min: 1e-5, max: 9.99999 });
    expect(inputBounds(BOUNDS.clipNorm)).toEqual({ min: 0 });
  });

  it('is where the defaults live: the config file, the CLI flags and the trainer agree with it', () => {
    const d = defaultConfig(zoo);
    expect(d.train).toMatchObject({ epochs: DEFAULTS.epochs, seed: DEFAULTS.seed, probeEpochs: DEFAULTS.probeEpochs, saveEveryEpochs: DEFAULTS.saveEveryEpochs, labelSmoothing: DEFAULTS.labelSmoothing, clipNorm: DEFAULTS.clipNorm, earlyStopping: DEFAULT_EARLY_STOPPING });
    expect(d.dataset).toMatchObject({ imageSize: DEFAULTS.imageSize, perClass: DEFAULTS.perClass, nearThreshold: DEFAULTS.nearThreshold, seed: DEFAULTS.seed });
    for (const key of ['trainableBlocks', 'lrSchedule', 'classWeights', 'keepEpoch', 'tta', 'mirrorTraining'] as const) expect(TRAIN_DEFAULTS[key], key).toEqual(d.train[key]);
    // Every default a file can hold is itself inside its range (readConfig accepts the defaults as a file).
    expect(readConfig(JSON.parse(JSON.stringify(d)), zoo)).toEqual(d);
    expect(SETTING_FLAGS.find((f) => f.flag === 'patience')!.fallback).toBe(d.train.earlyStopping!.patience);
    // A file's schedule that leaves a number out takes the schema's.
    expect(readConfig({ version: 1, train: { lrSchedule: { kind: 'step' } } }, zoo).train.lrSchedule).toEqual({ kind: 'step', everyEpochs: SCHEDULE_DEFAULTS.everyEpochs, gamma: SCHEDULE_DEFAULTS.gamma });
    expect(readConfig({ version: 1, train: { lrSchedule: { kind: 'cosine' } } }, zoo).train.lrSchedule).toEqual({ kind: 'cosine', warmup: SCHEDULE_DEFAULTS.warmup, unit: 'epoch' });
  });
});

describe('resolveTrainConfig', () => {
  it('fills every optional setting from the defaults and keeps what the config gives', () => {
    const bare: TrainConfig = { dataset: demo, model: 'simple_cnn', epochs: 2, batchSize: 8, learningRate: 3e-3, seed: 1 };
    const full = resolveTrainConfig(bare);
    expect(full).toEqual({ ...bare, ...TRAIN_DEFAULTS });
    expect(full.earlyStopping).not.toBe(DEFAULT_EARLY_STOPPING);
    expect(bare).not.toHaveProperty('tta');
    const given = resolveTrainConfig({ ...bare, earlyStopping: null, tta: 'flip', clipNorm: 0, labelSmoothing: 0.1, keepEpoch: 'last' });
    expect(given).toMatchObject({ earlyStopping: null, tta: 'flip', clipNorm: 0, labelSmoothing: 0.1, keepEpoch: 'last', saveEveryEpochs: 0 });
  });
});

describe('trainConfigOf (the train form and the CLI)', () => {
  it('leaves options at their "off" value out, and trainable blocks and probe epochs to finetune', () => {
    const s = settingsFromConfig(defaultConfig(zoo), zoo);
    const plain = trainConfigOf(s, demo);
    expect(plain).not.toHaveProperty('lrSchedule');
    expect(plain).not.toHaveProperty('trainableBlocks');
    expect(plain).not.toHaveProperty('probeEpochs');
    const ft = settingsFromConfig(readConfig({ version: 1, train: { model: 'mobilenet_v2_0.35_224', strategy: 'finetune', trainableBlocks: 3, probeEpochs: 2, epochs: 5, lrSchedule: { kind: 'cosine', warmup: 1 } } }, zoo), zoo);
    expect(trainConfigOf(ft, demo)).toMatchObject({ strategy: 'finetune', trainableBlocks: 3, probeEpochs: 2, lrSchedule: { kind: 'cosine', warmup: 1, unit: 'epoch' } });
    const noProbe = settingsFromConfig(configFromSettings({ ...ft, train: { ...ft.train, probeEpochs: 0 } }), zoo);
    expect(trainConfigOf(noProbe, demo)).not.toHaveProperty('probeEpochs');
  });
});

describe('generated CLI docs', () => {
  it('docs/cli.md holds the schema\'s settings table (run `npm run docs:cli` after changing the schema)', () => {
    const doc = readFileSync(resolve(__dirname, '../../docs/cli.md'), 'utf8');
    expect(withSettingsTable(doc), 'docs/cli.md is stale: run npm run docs:cli').toBe(doc);
    expect(doc).toContain(settingsMarkdown());
  });

  it('lists every settings flag with its range and default in the usage text', () => {
    const usage = settingsUsage('');
    expect(usage.split('\n')).toHaveLength(SETTING_FLAGS.length);
    expect(usage).toContain('--epochs N            [1, 10000]       (5): training epochs');
    expect(usage).toContain('--label-smoothing X   [0, 1)           (0): cross-entropy label smoothing');
    expect(() => withSettingsTable('# CLI\n')).toThrow(/lacks the markers/);
  });
});
