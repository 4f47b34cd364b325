import { expect, test, type Page } from '@playwright/test';
import { gotoStep } from '../fixtures/studio-ui';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addBadInputs, DECODED, phantomFolder, SKIPPED } from '../fixtures/folders';

async function openStudio(page: Page) {
  await page.goto('/');
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
}

test('a real folder with bad files imports with an honest summary, three of four classes, and trains', async ({ page }) => {
  const root = phantomFolder(['glioma', 'meningioma', 'notumor', 'pituitary'], 12);
  addBadInputs(root, 'glioma');
  // An exact duplicate across classes: the leakage check must find it, and as a label conflict both copies are left out.
  copyFileSync(join(root, 'meningioma', 'image (3).png'), join(root, 'pituitary', 'copy of image (3).png'));
  mkdirSync(join(root, 'empty class'));

  await openStudio(page);
  await page.getByTestId('folder-input').setInputFiles(root);
  await expect(page.getByTestId('scan')).toContainText('4 class folders');
  await page.locator('[data-testid="class-choice"][data-class="notumor"]').uncheck();
  await gotoStep(page, 'data');
  await page.getByTestId('import-size').fill('32');
  await page.getByTestId('import').click();

  const summary = page.getByTestId('dataset-summary');
  await expect(summary).toBeVisible({ timeout: 120_000 });
  const rows = page.getByTestId('counts-row');
  await expect(rows).toHaveCount(3);
  await expect(rows.nth(0)).toHaveAttribute('data-class', 'glioma');
  // glioma: 12 phantoms + 11 odd-but-valid images (16-bit, RGBA, CMYK, GIF, BMP, WebP, palette, grey, 1-bit, 8000², nested)
  const total = async (cls: string) => Number(await page.locator(`[data-testid="counts-row"][data-class="${cls}"] td`).nth(4).textContent());
  expect(await total('glioma')).toBe(12 + DECODED.length);
  expect(await total('meningioma')).toBe(11);
  expect(await total('pituitary')).toBe(12);
  await expect(page.locator('[data-testid="data-check"][data-check="label-conflicts"]')).toContainText('meningioma/image (3).png = pituitary/copy of image (3).png');

  // Every skipped file is listed with its path and reason; the import went on.
  await page.getByTestId('skipped').locator('summary').click();
  for (const [file, { reason, text }] of Object.entries(SKIPPED)) {
    await expect(page.getByTestId('skipped-item').filter({ hasText: `glioma/${file}` })).toHaveAttribute('data-reason', reason);
    await expect(page.getByTestId('skipped-item').filter({ hasText: `glioma/${file}` })).toContainText(text);
  }
  for (const hidden of ['.DS_Store', 'Thumbs.db']) await expect(page.getByTestId('skipped-item').filter({ hasText: hidden })).toHaveAttribute('data-reason', 'hidden');
  await expect(page.getByTestId('skipped-item').filter({ hasText: 'notes.txt' })).toHaveAttribute('data-reason', 'unsupported-type');

  // The planted copy, and palette.png with its copy nested/deeper.png.
  await expect(page.getByTestId('duplicates-line')).toContainText('2 exact-duplicate groups');
  await expect(page.getByTestId('dup-group').filter({ hasText: 'copy of image (3).png' })).toContainText('meningioma/image (3).png');
  // The summary's previews (the train panel's augmentation preview has thumbnails of its own).
  const thumbs = page.getByTestId('dataset-summary').getByTestId('thumb');
  expect(await thumbs.count()).toBeGreaterThanOrEqual(12);
  expect(await thumbs.count()).toBeLessThan(40); // a few per class, never every image

  await page.getByTestId('verify-stats').click();
  await expect(page.getByTestId('stats-verification')).toHaveAttribute('data-ok', 'true');

  // A bad re-import (invalid group pattern) says why and keeps the dataset the user had.
  await page.getByTestId('group-pattern').fill('(unclosed');
  await page.getByTestId('import').click();
  await expect(page.getByTestId('import-error')).toContainText('(unclosed');
  await expect(rows).toHaveCount(3);

  await expect(page.getByTestId('train-source')).toHaveValue('folder');
  await gotoStep(page, 'train');
  await page.getByTestId('epochs').fill('1');
  await page.getByTestId('train-demo').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 5 * 60_000 });
  await expect(page.getByTestId('epoch-row')).toHaveCount(1);
});

test('one class is not a dataset: a clear message, nothing imported', async ({ page }) => {
  const root = phantomFolder(['glioma'], 6);
  await openStudio(page);
  await page.getByTestId('folder-input').setInputFiles(root);
  await expect(page.getByTestId('scan')).toContainText('1 class folders');
  await expect(page.getByTestId('scan')).toContainText('Choose at least two classes');
  await gotoStep(page, 'data');
  await expect(page.getByTestId('import')).toBeDisabled();

  const two = phantomFolder(['a', 'b'], 6);
  await page.getByTestId('folder-input').setInputFiles(two);
  await page.locator('[data-testid="class-choice"][data-class="b"]').uncheck();
  await expect(page.getByTestId('import')).toBeDisabled();
});

test('a folder without images is refused with a message, and the previous folder\'s scan is cleared', async ({ page }) => {
  const good = phantomFolder(['a', 'b'], 4);
  const root = mkdtempSync(join(tmpdir(), 'studio-empty-'));
  mkdirSync(join(root, 'notes'));
  writeFileSync(join(root, 'notes', 'readme.txt'), 'no images here');
  await openStudio(page);
  await page.getByTestId('folder-input').setInputFiles(good);
  await expect(page.getByTestId('scan')).toContainText('8 images in 2 class folders');
  await page.getByTestId('folder-input').setInputFiles(root);
  await expect(page.getByTestId('scan-error')).toContainText('no images found');
  // The page no longer offers to import the folder the user moved away from.
  await expect(page.getByTestId('scan')).toHaveCount(0);
});

test('the near-duplicate threshold is a user option: out of range is refused, 64 bits links every image', async ({ page }) => {
  const root = phantomFolder(['a', 'b'], 6);
  await openStudio(page);
  await page.getByTestId('folder-input').setInputFiles(root);
  await gotoStep(page, 'data');
  await page.getByTestId('import-size').fill('32');
  await page.getByTestId('near-threshold').fill('65');
  await expect(page.getByTestId('scan')).toContainText('whole number of bits from 0 to 64');
  await expect(page.getByTestId('import')).toBeDisabled();

  await page.getByTestId('near-threshold').fill('64');
  await page.getByTestId('dedupe').selectOption('off');
  await page.getByTestId('import').click();
  await expect(page.getByTestId('duplicates-line')).toContainText('1 near-duplicate groups', { timeout: 120_000 });
});
