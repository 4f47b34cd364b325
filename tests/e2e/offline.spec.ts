import { expect, test } from '@playwright/test';
import { gotoStep, chooseModel } from '../fixtures/studio-ui';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveStatic } from '../../cli/serve';
import { hasPretrained, PRETRAINED_DIR } from '../fixtures/pretrained';

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist');

test('after one visit the studio loads and trains the demo with its server gone', async ({ page }) => {
  const server = await serveStatic(DIST, 0);
  await page.goto(server.url);
  // The header says so only once the service worker holds every file of the build.
  await expect(page.getByTestId('offline-ready')).toBeVisible({ timeout: 60_000 });
  await server.close();
  const down = await page.evaluate((url) => fetch(url, { cache: 'no-store', mode: 'no-cors' }).then(() => 'reachable', () => 'down'), `${server.url}precache.json?probe`);
  // The probe goes through the service worker too; a URL it never cached must fail now.
  expect(down).toBe('down');

  await page.reload();
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
  await gotoStep(page, 'train');
  await page.getByTestId('epochs').fill('1');
  await page.getByTestId('image-size').fill('16');
  await page.getByTestId('train-demo').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 5 * 60_000 });
});

test('a backbone trained with once trains again with the server gone (its weights are kept in IndexedDB)', async ({ page }) => {
  const model = 'mobilenet_v2_0.35_224';
  test.skip(!hasPretrained(model), `../shared/pretrained/${model} is absent`);
  // The weights come from the studio's own models folder, as an offline install has them; the first run keeps them
  // in the backbone cache (IndexedDB), which the engine reads before any URL.
  const server = await serveStatic(DIST, 0, '127.0.0.1', { '/models/': PRETRAINED_DIR });
  const trainMobilenet = async () => {
    await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
    await chooseModel(page, model);
    await page.getByTestId('strategy').selectOption('frozen');
    await gotoStep(page, 'train');
    await page.getByTestId('epochs').fill('1');
    await page.getByTestId('image-size').fill('32');
    await page.getByTestId('train-demo').click();
    await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 5 * 60_000 });
  };
  await page.goto(server.url);
  await expect(page.getByTestId('offline-ready')).toBeVisible({ timeout: 60_000 });
  await trainMobilenet();
  await server.close();
  expect(await page.evaluate((url) => fetch(url, { cache: 'no-store' }).then((r) => r.status, () => 'down'), `${server.url}models/${model}/model.json?probe`)).toBe('down');

  await page.reload();
  await trainMobilenet();
});
