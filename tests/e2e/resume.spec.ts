import { expect, test } from '@playwright/test';
import { gotoStep, pauseAfterFirstEpoch } from '../fixtures/studio-ui';

test('after a page reload mid-run, the run resumes from its last checkpoint and loses at most one epoch', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
  await gotoStep(page, 'train');
  await page.getByTestId('epochs').fill('4');
  await page.getByTestId('image-size').fill('16');
  // Held after its first epoch: the whole 16 px run can end within Playwright's polling interval.
  await pauseAfterFirstEpoch(page);
  await page.getByTestId('train-demo').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'paused', { timeout: 5 * 60_000 });
  // The worker dies with the page, in epoch 2.
  await page.reload();

  await gotoStep(page, 'train');
  const banner = page.getByTestId('resumable');
  await expect(banner).toContainText('when the page closed', { timeout: 60_000 });
  const before = await page.evaluate(async () => (await window.studio!.engine.runs())[0]);
  // Nobody holds its lock any more: the listing stores it as interrupted.
  expect(before.status).toBe('interrupted');
  expect(before.checkpoint.last).toBeGreaterThanOrEqual(1); // at most one finished epoch lost
  await page.getByTestId('resume-run').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 5 * 60_000 });
  await expect(page.getByTestId('epoch-row')).toHaveCount(4);

  const after = await page.evaluate(async () => (await window.studio!.engine.runs())[0]);
  expect(after.runId).toBe(before.runId);
  expect(after.epochs.map((m) => m.epoch)).toEqual([1, 2, 3, 4]);
  expect(after.resumes).toEqual([{ at: expect.any(String), fromEpoch: before.checkpoint.last }]);
  await expect(page.getByTestId('resumable')).toHaveCount(0);
});
