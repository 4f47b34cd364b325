import { expect, test } from '@playwright/test';
import type { TrainEvent } from '../../src/engine/types';
import { phantomFolder } from '../fixtures/folders';
import { chooseModel, gotoStep, importFolder } from '../fixtures/studio-ui';
import { hasPretrained, servePretrained } from '../fixtures/pretrained';

// Chromium here has a SwiftShader WebGPU adapter: auto mode selects WebGPU, then routes each run's work to the
// backends measured fastest on a software adapter (src/core/routing.ts).

test('an auto run on the software adapter is routed to faster backends, trains, and the UI says so', async ({ page }) => {
  const tensors: number[] = [];
  await page.exposeFunction('onStudioEvent', (e: TrainEvent) => {
    if (e.type === 'epoch') tensors.push(e.numTensors);
  });
  await page.goto('/');
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
  await expect(page.getByTestId('software-banner')).toContainText("In auto mode each run's work goes where the benchmark measured it fastest on a software adapter (WASM), unless the backends were measured here for that model");
  await expect(page.getByTestId('available-backends')).toHaveText('available: webgpu, webgl, wasm, cpu');
  // One XNNPACK thread per logical core (TF.js alone would give half: one on this 2-core machine), up to its 8.
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  const threads = Math.min(cores, 8);
  await expect(page.getByTestId('wasm-threads')).toHaveText(`WASM on ${threads} ${threads === 1 ? 'thread' : 'threads'}`);
  expect((await page.evaluate(() => window.studio!.engine.backend())).wasmThreads).toBe(threads);
  await expect(page.getByTestId('routing')).toHaveCount(0);

  const run = await page.evaluate(() =>
    window.studio!.ui.train(
      {
        dataset: { kind: 'demo', seed: 7, imageSize: 16, perClass: 20, split: { train: 0.7, val: 0.15, test: 0.15 } },
        model: 'simple_cnn',
        epochs: 3,
        batchSize: 8,
        learningRate: 3e-3,
        seed: 7,
        earlyStopping: null,
      },
      window.onStudioEvent,
    ),
  );
  expect(run).toMatchObject({ status: 'completed', backend: 'webgpu', routing: { forward: 'wasm', train: 'wasm', routed: true } });
  await expect(page.getByTestId('routing')).toHaveText('Software adapter (SwiftShader): training and validation on WASM — faster here.');
  await expect(page.getByTestId('epoch-row')).toHaveCount(3);
  // Convolution gradients on WASM (src/core/kernels/wasm-gradients.ts) leave no tensor behind from epoch to epoch.
  expect(tensors).toHaveLength(3);
  expect(new Set(tensors).size, `tensors after each epoch: ${tensors.join(', ')}`).toBe(1);
  // The best epoch's validation predictions, as a confusion matrix over the 9 validation images.
  expect(run.bestValidation?.epoch).toBe(run.best?.epoch);
  expect(run.bestValidation!.confusion.flat().reduce((a, b) => a + b, 0)).toBe(run.split.val);
  const diagonal = run.bestValidation!.confusion.reduce((a, row, k) => a + row[k], 0);
  expect(diagonal / run.split.val).toBeCloseTo(run.best!.valAccuracy, 6);
});

test('a forced WASM run trains convolutions from scratch', async ({ page }) => {
  await page.goto('/?backend=wasm');
  await expect(page.getByTestId('backend-name')).toHaveText('wasm', { timeout: 60_000 });
  await gotoStep(page, 'train');
  await page.getByTestId('epochs').fill('1');
  await page.getByTestId('image-size').fill('16');
  await page.getByTestId('train-demo').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 5 * 60_000 });
  const run = await page.evaluate(async () => (await window.studio!.engine.runs())[0]);
  expect(run).toMatchObject({ strategy: 'scratch', routing: { forward: 'wasm', train: 'wasm', routed: false } });
});

const MODEL = 'mobilenet_v2_0.35_224';
test('a medical run computes its features and trains its head on WASM', async ({ page, context }) => {
  const skipWhy = `routing of a pretrained run skipped: ../shared/pretrained/${MODEL} is absent (tests never download weights)`;
  if (!hasPretrained(MODEL)) console.log(skipWhy);
  test.skip(!hasPretrained(MODEL), skipWhy);
  await servePretrained(context);
  await page.goto('/');
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
  await importFolder(page, phantomFolder(['glioma', 'meningioma', 'pituitary'], 8));
  await chooseModel(page, MODEL);
  await page.getByTestId('strategy').selectOption('medical');
  await gotoStep(page, 'train');
  await page.getByTestId('epochs').fill('2');
  await page.getByTestId('train-demo').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 5 * 60_000 });
  await expect(page.getByTestId('routing')).toHaveText('Software adapter (SwiftShader): features, head training and validation on WASM — faster here.');
  const run = await page.evaluate(async () => (await window.studio!.engine.runs())[0]);
  expect(run).toMatchObject({ strategy: 'medical', routing: { forward: 'wasm', train: 'wasm' } });
  // Features are cached for the training and validation images only; the test split is never touched in training.
  expect(run.featureCache?.images).toBe(run.split.train + run.split.val);
});

test('a forced-WASM fine-tune of MobileNetV2-0.35 at 64 px completes and its training loss falls', async ({ page, context }) => {
  const skipWhy = `forced-WASM fine-tuning skipped: ../shared/pretrained/${MODEL} is absent (tests never download weights)`;
  if (!hasPretrained(MODEL)) console.log(skipWhy);
  test.skip(!hasPretrained(MODEL), skipWhy);
  await servePretrained(context);
  await page.goto('/?backend=wasm');
  await expect(page.getByTestId('backend-name')).toHaveText('wasm', { timeout: 60_000 });
  await chooseModel(page, MODEL);
  await page.getByTestId('strategy').selectOption('finetune');
  // A few demo phantoms at 64 px: 10 per class.
  await gotoStep(page, 'train');
  await page.getByTestId('image-size').fill('64');
  await page.getByTestId('per-class').fill('10');
  await page.getByTestId('epochs').fill('3');
  await page.getByTestId('train-demo').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 8 * 60_000 });
  const run = await page.evaluate(async () => (await window.studio!.engine.runs())[0]);
  expect(run).toMatchObject({ strategy: 'finetune', backend: 'wasm', routing: { train: 'wasm' } });
  const losses = run.epochs.map((e) => e.trainLoss);
  expect(losses).toHaveLength(3);
  expect(losses[2], `training losses ${losses.join(', ')}`).toBeLessThan(losses[0]);
});
