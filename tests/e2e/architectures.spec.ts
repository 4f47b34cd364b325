import { expect, test } from '@playwright/test';
import { gotoStep, chooseModel } from '../fixtures/studio-ui';
import { useDevHarness } from '../fixtures/dev-harness';
import type { StepResult } from './harness/architectures-harness';

// The training step runs on a test-only page served by its own Vite dev server (as decode.spec.ts does): the built studio
// has no page that hands a test the model's weights before and after a step.

test.describe('built-in architectures on WebGPU', () => {
  const harnessUrl = useDevHarness('architectures-harness.html');

  // One step of each at 32 px, batch 4 (the tiny configurations of ViT and Swin): SwiftShader emulates the GPU on the
  // CPU and compiles every new kernel shape, so even these take tens of seconds each.
  for (const id of ['resnet18', 'resnet50', 'efficientnet_b0', 'vit_ti16', 'swin_nano']) {
    test(`${id}: a training step at 32 px changes every trainable weight, with a finite loss`, async ({ page }) => {
      await page.goto(harnessUrl());
      await page.waitForFunction(() => typeof window.trainStep === 'function', undefined, { timeout: 120_000 });
      const r: StepResult = await page.evaluate((arch) => window.trainStep(arch, { backend: 'webgpu', imageSize: 32, batch: 4 }), id);
      console.log(`${id}: loss ${r.loss.toFixed(4)}, ${r.changed}/${r.variables} variables changed, ${r.seconds.toFixed(1)} s on ${r.backend}`);
      expect(r.backend).toBe('webgpu');
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(r.changed).toBe(r.variables);
      expect(r.leaked).toBe(0);
    });
  }
});

test('the train panel lists the architectures, estimates memory, and refuses a size Swin-T cannot take', async ({ page }) => {
  // A ResNet-50 built to walk its shapes, then a ViT epoch, on an emulated GPU.
  test.setTimeout(15 * 60_000);
  await page.goto('/');
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
  const options = await page.getByTestId('zoo-card').evaluateAll((cards) => cards.map((c) => (c as HTMLElement).dataset.model));
  expect(options).toEqual(expect.arrayContaining(['resnet18', 'resnet50', 'efficientnet_b0', 'vit_b16', 'vit_s16', 'vit_ti16', 'swin_t', 'swin_s', 'swin_nano']));

  await gotoStep(page, 'train');
  await page.getByTestId('image-size').fill('32');
  await chooseModel(page, 'swin_t');
  await expect(page.getByTestId('memory-estimate')).toContainText('Swin-T cannot take 32 px images', { timeout: 60_000 });
  await expect(page.getByTestId('memory-estimate')).toContainText('224');

  // ResNet-50 at 128 px and batch 4096 cannot fit: the panel says so and offers a batch that does.
  await chooseModel(page, 'resnet50');
  await gotoStep(page, 'train');
  await page.getByTestId('image-size').fill('128');
  await page.getByTestId('batch-size').fill('4096');
  await expect(page.getByTestId('memory-estimate')).toHaveAttribute('data-fits', 'false', { timeout: 120_000 });
  await expect(page.getByTestId('memory-estimate')).toContainText('At batch 4096');
  await page.getByTestId('use-suggested-batch').click();
  await expect(page.getByTestId('memory-estimate')).toHaveAttribute('data-fits', 'true', { timeout: 60_000 });

  // A tiny ViT trains one epoch through the studio's own engine path.
  await chooseModel(page, 'vit_ti16');
  await gotoStep(page, 'train');
  await page.getByTestId('image-size').fill('32');
  await page.getByTestId('per-class').fill('10');
  await page.getByTestId('epochs').fill('1');
  await page.getByTestId('train-demo').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 10 * 60_000 });
  const run = await page.evaluate(async () => (await window.studio!.engine.runs())[0]);
  expect(run).toMatchObject({ status: 'completed', model: 'vit_ti16', strategy: 'scratch', optimizer: 'adamw', backend: 'webgpu' });
  expect(Number.isFinite(run.epochs[0].trainLoss)).toBe(true);
});
