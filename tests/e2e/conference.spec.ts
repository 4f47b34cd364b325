import { expect, test } from '@playwright/test';

test('conference mode: one big button, no settings, a result, then it resets for the next visitor', async ({ page }) => {
  await page.goto('/?conference&epochs=1&size=16&per-class=20&reset=4');
  const stand = page.getByTestId('conference');
  await expect(stand).toHaveAttribute('data-stage', 'welcome');
  // Locked: none of the studio's settings are on screen.
  await expect(page.getByTestId('backend-select')).toHaveCount(0);
  await expect(page.getByTestId('folder-input')).toHaveCount(0);
  await expect(page.getByTestId('epochs')).toHaveCount(0);

  await expect(page.getByTestId('conference-start')).toBeEnabled({ timeout: 60_000 });
  // Every stage is recorded as it is set: this tiny run can train and reach its result between two polls.
  await stand.evaluate((el) => {
    const stages: string[] = [];
    Object.assign(window, { conferenceStages: stages });
    new MutationObserver(() => stages.push(el.getAttribute('data-stage') ?? '')).observe(el, { attributes: true, attributeFilter: ['data-stage'] });
  });
  await page.getByTestId('conference-start').click();
  await expect(page.getByTestId('conference-result')).toContainText(/Best validation accuracy: \d+ %/, { timeout: 5 * 60_000 });
  expect(await page.evaluate(() => (window as unknown as { conferenceStages: string[] }).conferenceStages)).toEqual(['training', 'result']);
  // A visitor sees loss and accuracy per epoch and a few validation images, not the learning rate.
  await expect(page.getByTestId('epoch-chart')).toHaveAttribute('data-points', '1');
  await expect(page.getByTestId('lr-chart')).toHaveCount(0);
  await expect(page.getByTestId('val-sample').first()).toBeVisible();
  await expect(stand).toHaveAttribute('data-stage', 'welcome', { timeout: 10_000 });
  // The next visitor starts from a clean screen, and their run trains again.
  await page.getByTestId('conference-start').click();
  await expect(page.getByTestId('conference-result')).toBeVisible({ timeout: 5 * 60_000 });
  await page.getByTestId('conference-reset').click();
  await expect(stand).toHaveAttribute('data-stage', 'welcome');
});
