import { expect, test } from '@playwright/test';
import { gotoStep } from '../fixtures/studio-ui';

test('the demo trains 2 epochs on WebGPU in a worker, charting as it goes, without blocking the page', async ({ page }) => {
  // Forced: auto mode would route the work off this software adapter (see routing.spec.ts).
  await page.goto('/?backend=webgpu');
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
  await expect(page.getByTestId('adapter')).toContainText('swiftshader');
  await gotoStep(page, 'train');
  await expect(page.getByTestId('software-banner')).toBeVisible();
  await expect(page.getByTestId('not-webgpu-banner')).toHaveCount(0);

  await page.getByTestId('epochs').fill('2');
  await page.getByTestId('image-size').fill('32');

  // Long tasks on the main thread while training would mean training (or its event handling) blocks the page.
  await page.evaluate(() => {
    const w = window as unknown as { longTasks: number[] };
    w.longTasks = [];
    new PerformanceObserver((list) => list.getEntries().forEach((e) => w.longTasks.push(e.duration))).observe({ type: 'longtask' });
  });
  await page.getByTestId('train-demo').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'training');
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 8 * 60_000 });

  await expect(page.getByTestId('epoch-chart')).toHaveAttribute('data-points', '2');
  expect(Number(await page.getByTestId('batch-chart').getAttribute('data-points'))).toBeGreaterThan(2);
  // The plotted series really holds two epochs (uPlot draws into a canvas; its legend rows name the series).
  await expect(page.getByTestId('epoch-chart').locator('canvas')).toHaveCount(1);
  const rows = page.getByTestId('epoch-row');
  await expect(rows).toHaveCount(2);
  const finalVal = Number(await rows.nth(1).getAttribute('data-val-accuracy'));
  expect(finalVal, 'final validation accuracy above chance (1/3)').toBeGreaterThan(0.45);

  const longTasks = await page.evaluate(() => (window as unknown as { longTasks: number[] }).longTasks);
  expect(Math.max(0, ...longTasks), `main-thread long tasks during training: ${longTasks.join(', ')} ms`).toBeLessThan(200);
});

test('cancel stops the run within a batch and the studio stays usable', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
  await gotoStep(page, 'train');
  await page.getByTestId('epochs').fill('50');
  await page.getByTestId('image-size').fill('16');
  await page.getByTestId('train-demo').click();
  await expect(page.getByTestId('batch-chart')).not.toHaveAttribute('data-points', '0', { timeout: 120_000 });
  await page.getByTestId('cancel').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'cancelled', { timeout: 60_000 });
  // Usable again: a new short run completes.
  await page.getByTestId('epochs').fill('1');
  await page.getByTestId('train-demo').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 5 * 60_000 });
});
