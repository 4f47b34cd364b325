import { describe, expect, it } from 'vitest';
import { defaultConfig, readConfig, recommendedConfig, settingsFromConfig } from '../../src/core/config';
import { BUILTIN_ZOO as zoo } from '../../src/core/models/zoo';
import { DEFAULT_BUDGET_SECONDS, MIN_EPOCHS, RECOMMENDED_HEAD, RECOMMENDED_MODEL, recommendRecipe, type DatasetShape, type DeviceSpeed } from '../../src/core/train/recommend';

const MRI: DatasetShape = {
  classes: [
    { name: 'glioma', count: 1321 },
    { name: 'meningioma', count: 1339 },
    { name: 'notumor', count: 1591 },
    { name: 'pituitary', count: 1457 },
  ],
  presetTest: false,
};
/** About what the 2-core machine measures on WASM: 30 backbone images/s, 150 head steps/s. */
const CPU: DeviceSpeed = { backend: 'wasm', backboneImagesPerSecond: 30, headStepsPerSecond: 150 };

describe('recommended recipe', () => {
  it('picks frozen MobileNetV2-0.35 with the MLP head, Adam 1e-3, batch 16, no class weights and no early stopping for the MRI folder', () => {
    const r = recommendRecipe(MRI, CPU);
    expect(r.settings).toMatchObject({ model: RECOMMENDED_MODEL, strategy: 'mlp', optimizer: 'adam', learningRate: 1e-3, batchSize: 16, epochs: 50, classWeights: 'off', earlyStopping: null, keepEpoch: 'last', tta: 'flip', mirrorTraining: true, clipNorm: 0, imageSize: 224, channels: 3 });
    expect(r.reasons.some((x) => /also trains mirrored left to right, every epoch, and each image is answered with its mirror too/.test(x))).toBe(true);
    expect(r.settings.split).toEqual({ train: 0.7, val: 0.15, test: 0.15 });
    expect(r.reasons.some((x) => /balanced/.test(x))).toBe(true);
    expect(r.estimate.withinBudget).toBe(true);
  });

  it('estimates each stage from the measured speeds, and the total is their sum', () => {
    const r = recommendRecipe(MRI, { ...CPU, importImagesPerSecond: 100 });
    const by = Object.fromEntries(r.estimate.stages.map((s) => [s.stage, s.seconds]));
    expect(by.import).toBeCloseTo(5708 / 100);
    // Every image once, and the 70 % training and 15 % validating once more, mirrored.
    expect(by.features).toBeCloseTo((5708 + Math.round(5708 * 0.7) + Math.round(5708 * 0.15)) / 30);
    // 70 % of 5,708 images, each as it is and mirrored, in batches of 16, 50 epochs, at 150 steps/s.
    expect(by.training).toBeCloseTo((50 * Math.ceil((2 * Math.round(5708 * 0.7)) / 16)) / 150);
    // Test and validation images, each with its mirror.
    expect(by.evaluation).toBeCloseTo((2 * (Math.round(5708 * 0.15) + Math.round(5708 * 0.15))) / 30);
    expect(r.estimate.seconds).toBeCloseTo(by.import! + by.features! + by.training! + by.evaluation!);
    // A device twice as fast halves every stage.
    const fast = recommendRecipe(MRI, { ...CPU, importImagesPerSecond: 200, backboneImagesPerSecond: 60, headStepsPerSecond: 300 });
    expect(fast.estimate.seconds).toBeCloseTo(r.estimate.seconds / 2);
  });

  it('leaves the import out of the estimate until an import has measured it', () => {
    const r = recommendRecipe(MRI, CPU);
    expect(r.estimate.stages.find((s) => s.stage === 'import')!.seconds).toBeNull();
    expect(r.estimate.seconds).toBeCloseTo(r.estimate.stages.reduce((a, s) => a + (s.seconds ?? 0), 0));
  });

  it('trains on 85 % and carves no test split when the folder brings its own test images', () => {
    const r = recommendRecipe({ ...MRI, presetTest: true }, CPU);
    expect(r.settings.split).toEqual({ train: 0.85, val: 0.15, test: 0 });
    expect(r.estimate.stages.find((s) => s.stage === 'evaluation')!.seconds).toBe(0);
    expect(r.reasons.some((x) => /85\/15\/0/.test(x))).toBe(true);
  });

  it('keeps class weights off on an imbalanced folder and says why', () => {
    const r = recommendRecipe({ classes: [{ name: 'a', count: 800 }, { name: 'b', count: 800 }, { name: 'c', count: 200 }], presetTest: false }, CPU);
    expect(r.settings.classWeights).toBe('off');
    expect(r.reasons.find((x) => /Class weights off/.test(x))).toMatch(/a has 4\.0× the images of c/);
  });

  it('cuts epochs to fit the budget on a slow device, never below the minimum, and says when even that is over', () => {
    const slowHead = recommendRecipe(MRI, { ...CPU, headStepsPerSecond: 10 });
    expect(slowHead.settings.epochs).toBeLessThan(RECOMMENDED_HEAD.epochs);
    expect(slowHead.settings.epochs).toBeGreaterThanOrEqual(MIN_EPOCHS);
    expect(slowHead.estimate.seconds).toBeLessThanOrEqual(DEFAULT_BUDGET_SECONDS);
    expect(slowHead.reasons.some((x) => /would not fit/.test(x))).toBe(true);
    const hopeless = recommendRecipe(MRI, { ...CPU, backboneImagesPerSecond: 2, headStepsPerSecond: 5 });
    expect(hopeless.settings.epochs).toBe(MIN_EPOCHS);
    expect(hopeless.estimate.withinBudget).toBe(false);
    expect(hopeless.reasons.some((x) => /over the 30 min budget/.test(x))).toBe(true);
  });

  it('warns about a class with few images, and ignores empty class folders', () => {
    const r = recommendRecipe({ classes: [{ name: 'cat', count: 40 }, { name: 'dog', count: 12 }, { name: 'empty', count: 0 }], presetTest: false }, CPU);
    expect(r.reasons.some((x) => /Only 12 images of dog/.test(x))).toBe(true);
    expect(r.settings.epochs).toBe(50);
  });

  it('refuses a folder with fewer than two classes, and speeds that are not measurements', () => {
    expect(() => recommendRecipe({ classes: [{ name: 'a', count: 10 }, { name: 'b', count: 0 }], presetTest: false }, CPU)).toThrow(/at least two classes/);
    expect(() => recommendRecipe(MRI, { ...CPU, backboneImagesPerSecond: 0 })).toThrow(/backbone speed/);
    expect(() => recommendRecipe(MRI, { ...CPU, headStepsPerSecond: Number.NaN })).toThrow(/head speed/);
  });

  it('becomes a config file the studio reads back unchanged', () => {
    const r = recommendRecipe({ ...MRI, presetTest: true }, CPU);
    const c = recommendedConfig(r.settings, defaultConfig(zoo));
    expect(readConfig(JSON.parse(JSON.stringify(c)), zoo)).toEqual(c);
    const s = settingsFromConfig(c, zoo);
    expect(s.train).toMatchObject({ model: RECOMMENDED_MODEL, strategy: 'mlp', optimizer: 'adam', epochs: 50, batchSize: 16, learningRate: 1e-3, classWeights: 'off', earlyStopping: null, clipNorm: 0 });
    expect(s.dataset).toMatchObject({ imageSize: 224, channels: 3, split: { train: 0.85, val: 0.15, test: 0 } });
    expect(s.augment.enabled).toBe(false);
  });
});
