import { expect, test } from '@playwright/test';
import { gotoStep } from '../fixtures/studio-ui';
import { resolveBrowser } from '../../cli/browser';

// Without --enable-unsafe-webgpu this Chromium exposes navigator.gpu but hands out no adapter: WebGPU is unavailable.
test.use({ launchOptions: { executablePath: resolveBrowser(process.env.STUDIO_BROWSER), args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] } });

test('without WebGPU the studio trains on the next backend and says so', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('backend-name')).toHaveText('webgl', { timeout: 60_000 });
  await gotoStep(page, 'train');
  const banner = page.getByTestId('not-webgpu-banner');
  await expect(banner).toBeVisible();
  await expect(banner).toContainText('webgpu: WebGPU is present but no GPU adapter is available');

  await page.getByTestId('epochs').fill('1');
  await page.getByTestId('image-size').fill('16');
  await page.getByTestId('train-demo').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 5 * 60_000 });
  await expect(page.getByTestId('epoch-row')).toHaveCount(1);
});

test('?backend= forces a backend', async ({ page }) => {
  await page.goto('/?backend=cpu');
  await expect(page.getByTestId('backend-name')).toHaveText('cpu', { timeout: 60_000 });
  await expect(page.getByTestId('not-webgpu-banner')).toContainText('because you chose it');
});
