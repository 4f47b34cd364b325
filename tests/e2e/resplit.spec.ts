import { expect, test } from '@playwright/test';
import { importFolder } from '../fixtures/studio-ui';
import { phantomFolder } from '../fixtures/folders';

// Re-split in the dataset panel: the real worker splits the decoded images again (Engine.split) without decoding.
test('Re-split splits the imported images again without decoding them, refuses bad input, and equals a fresh import', async ({ page }) => {
  const root = phantomFolder(['glioma', 'meningioma', 'pituitary'], 10);
  await page.goto('/');
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
  await importFolder(page, root);

  const summary = page.getByTestId('dataset-summary');
  const first = await summary.getAttribute('data-split-id');
  // The decoding's own figures: a re-split keeps them, as it decodes nothing.
  const decodedIn = await summary.locator('.meta').textContent();
  let progressShown = 0;
  await page.exposeFunction('progressShown', () => (progressShown += 1));
  await page.evaluate(() => {
    new MutationObserver(() => {
      if (document.querySelector('[data-testid="import-progress"]')) (window as unknown as { progressShown: () => void }).progressShown();
    }).observe(document.body, { childList: true, subtree: true });
  });

  await page.getByTestId('import-seed').fill('7');
  await page.getByTestId('split-train').fill('60');
  await page.getByTestId('split-val').fill('20');
  await page.getByTestId('split-test').fill('20');
  await page.getByTestId('resplit').click();
  await expect(summary).not.toHaveAttribute('data-split-id', first!);
  const second = await summary.getAttribute('data-split-id');
  expect(second?.split(':')[0]).toBe(first?.split(':')[0]); // the same images (fingerprint), another split
  await expect(summary.locator('.meta')).toHaveText(decodedIn!);
  expect(progressShown).toBe(0);
  // The stored statistics are the new split's.
  await page.getByTestId('verify-stats').click();
  await expect(page.getByTestId('stats-verification')).toHaveAttribute('data-ok', 'true');
  const counts = () => page.getByTestId('counts-row').locator('td[data-split]').allTextContents();
  const resplitCounts = await counts();

  // Bad input: a seed outside the schema's bounds is refused with its words, and the split stays.
  await page.getByTestId('import-seed').fill('-3');
  await page.getByTestId('resplit').click();
  await expect(page.getByTestId('import-error')).toContainText('seed');
  await expect(summary).toHaveAttribute('data-split-id', second!);
  // Percentages that do not add up to 100 cannot be sent.
  await page.getByTestId('import-seed').fill('7');
  await page.getByTestId('split-test').fill('30');
  await expect(page.getByTestId('resplit')).toBeDisabled();
  await page.getByTestId('split-test').fill('20');
  await expect(page.getByTestId('resplit')).toBeEnabled();
  // Another image size needs decoding again: Re-split says so and waits for an import.
  await page.getByTestId('import-size').fill('48');
  await expect(page.getByTestId('resplit')).toBeDisabled();
  await expect(page.getByTestId('resplit-note')).toContainText('Import to decode them again');
  await page.getByTestId('import-size').fill('32');
  await expect(page.getByTestId('resplit')).toBeEnabled();

  // A fresh import with the same options makes the same split (same splitId).
  await page.getByTestId('import').click();
  // This one decodes: its progress shows, and the panel is free again when it is done.
  await expect.poll(() => progressShown, { timeout: 60_000 }).toBeGreaterThan(0);
  await expect(page.getByTestId('import')).toBeEnabled({ timeout: 60_000 });
  await expect(page.getByTestId('import-error')).toHaveCount(0);
  await expect(summary).toHaveAttribute('data-split-id', second!);
  expect(await counts()).toEqual(resplitCounts);
});
