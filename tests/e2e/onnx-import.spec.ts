import { expect, test } from '@playwright/test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tinyOnnxClassifier } from '../fixtures/tiny-onnx';

test('an ONNX CNN imports as a backbone with its parity shown, and trains frozen on the demo at 32 px', async ({ page }) => {
  const dir = mkdtempSync(join(tmpdir(), 'studio-onnx-'));
  const file = join(dir, 'tiny-cnn.onnx');
  // Written by the studio's own ONNX exporter, in Node, at test time.
  writeFileSync(file, await tinyOnnxClassifier(32));
  writeFileSync(join(dir, 'broken.onnx'), Buffer.from('not a protobuf at all'));

  await page.goto('/');
  await expect(page.getByTestId('backend-name')).not.toBeEmpty({ timeout: 60_000 });
  await page.getByTestId('onnx-import').locator('summary').click();

  // A file that is not ONNX: a clear message, nothing listed.
  await page.getByTestId('onnx-input').setInputFiles(join(dir, 'broken.onnx'));
  await page.getByTestId('onnx-id').fill('broken');
  await page.getByTestId('onnx-import-button').click();
  await expect(page.getByTestId('onnx-error')).toContainText('not an ONNX model');
  await expect(page.getByTestId('model').locator('option[value="broken"]')).toHaveCount(0);

  await page.getByTestId('onnx-input').setInputFiles(file);
  await page.getByTestId('onnx-id').fill('tiny_onnx');
  await page.getByTestId('onnx-import-button').click();
  const status = page.getByTestId('onnx-status');
  await expect(status).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('onnx-error')).toHaveCount(0);
  expect(Number(await status.getAttribute('data-difference'))).toBeLessThanOrEqual(1e-3);
  await expect(page.getByTestId('onnx-ops')).toContainText('Conv ×');
  await expect(page.getByTestId('onnx-parity')).toContainText('largest logit difference');
  console.log(`ONNX import parity: ${await page.getByTestId('onnx-parity').innerText()}`);

  // Listed with the models; trains with a frozen backbone on the demo phantoms.
  await page.getByTestId('model').selectOption('tiny_onnx');
  await page.getByTestId('strategy').selectOption('frozen');
  await page.getByTestId('epochs').fill('1');
  await page.getByTestId('image-size').fill('32');
  await page.getByTestId('train-demo').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 5 * 60_000 });
  const run = await page.evaluate(async () => (await window.studio!.runs())[0]);
  expect(run).toMatchObject({ status: 'completed', model: 'tiny_onnx', strategy: 'frozen', checkpoint: { best: 1, last: 1 } });
  expect(Number.isFinite(run.epochs[0].trainLoss)).toBe(true);

  // Still in the zoo after a reload (the entry lives with the weights in IndexedDB).
  await page.reload();
  await expect(page.getByTestId('model').locator('option[value="tiny_onnx"]')).toHaveCount(1, { timeout: 60_000 });
});
