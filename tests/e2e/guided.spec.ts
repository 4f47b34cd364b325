import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Locator, type Page, type TestInfo } from '@playwright/test';
import { gotoStep, type Route } from '../fixtures/studio-ui';

const STEPS: Route[] = ['data', 'model', 'train', 'evaluate', 'use'];
const PAGES: Route[] = ['runs', 'registry', 'storage', 'settings'];
const VIEWPORTS = [
  { width: 1366, height: 768 },
  { width: 1280, height: 720 },
];
/** Also kept outside test-results (which the next run empties), for the note and the README. */
const SCREENS = 'e2e-screens';

async function backendUp(page: Page): Promise<void> {
  await expect(page.getByTestId('backend-name')).not.toHaveText(/^(—|starting…)$/, { timeout: 60_000 });
}

/** Serious and critical axe violations on the page as it is shown now, one line each. */
async function axeProblems(page: Page): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** Presses Tab (only Tab) until `target` has the focus; fails if it is not reachable within `max` presses. */
async function tabTo(page: Page, target: Locator, max = 250): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await target.evaluate((el) => el === document.activeElement)) return;
  }
  throw new Error(`${target} is not reachable with the Tab key`);
}

async function typeInto(page: Page, target: Locator, text: string): Promise<void> {
  await tabTo(page, target);
  await page.keyboard.press('Control+A');
  await page.keyboard.type(text);
}

async function screenshots(page: Page, testInfo: TestInfo, label: string): Promise<void> {
  for (const vp of VIEWPORTS) {
    await page.setViewportSize(vp);
    const dir = join(SCREENS, `${vp.width}x${vp.height}`);
    mkdirSync(dir, { recursive: true });
    for (const route of [...STEPS, ...PAGES]) {
      await gotoStep(page, route);
      await page.evaluate(() => window.scrollTo(0, 0));
      const body = await page.screenshot({ path: join(dir, `${label}-${route}.png`) });
      await testInfo.attach(`${label} ${route} ${vp.width}×${vp.height}`, { body, contentType: 'image/png' });
    }
  }
}

test('each step and side page has its own route and tab title, back and reload keep it, and axe finds nothing serious', async ({ page }, testInfo) => {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('response', (r) => r.status() === 404 && errors.push(`404 ${r.url()}`));
  await page.goto('/');
  await backendUp(page);
  await expect(page).toHaveTitle('1. Data · MRI Studio');
  await expect(page.getByTestId('data-hint')).toContainText('must be picked again');

  for (const route of [...STEPS, ...PAGES]) {
    await gotoStep(page, route);
    await expect(page).toHaveTitle(new RegExp(`· MRI Studio$`));
    expect(await axeProblems(page), `axe on #/${route}`).toEqual([]);
  }
  // The Advanced section's fields too.
  await gotoStep(page, 'model', { advanced: true });
  expect(await axeProblems(page), 'axe on #/model with Advanced open').toEqual([]);

  // The stepper marks the current step; the browser's back button returns to the previous screen.
  await page.getByTestId('step-train').click();
  await expect(page.getByTestId('step-train')).toHaveAttribute('aria-current', 'step');
  await expect(page).toHaveTitle('3. Train · MRI Studio');
  await page.getByTestId('step-evaluate').click();
  await page.goBack();
  await expect(page.getByTestId('screen')).toHaveAttribute('data-route', 'train');
  await page.reload();
  await expect(page.getByTestId('screen')).toHaveAttribute('data-route', 'train');
  await expect(page.getByTestId('epochs')).toBeVisible();
  // Placeholders, not empty chart frames, before any run.
  await expect(page.getByTestId('epoch-chart')).toContainText('appear here');
  await screenshots(page, testInfo, 'empty');
  // The favicon is served: no 404 (and no error) in the console on load.
  expect(errors).toEqual([]);
});

test('keyboard only: the demo trains, then is evaluated and its confusion cell opened, with no serious axe findings', async ({ page }, testInfo) => {
  test.setTimeout(12 * 60_000);
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto('/');
  await backendUp(page);

  await tabTo(page, page.getByTestId('step-train'));
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('screen')).toHaveAttribute('data-route', 'train');
  await typeInto(page, page.getByTestId('epochs'), '2');
  await typeInto(page, page.getByTestId('image-size'), '16');
  await typeInto(page, page.getByTestId('per-class'), '20');
  await tabTo(page, page.getByTestId('train-demo'));
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 8 * 60_000 });
  await expect(page.getByTestId('epoch-chart')).toHaveAttribute('data-points', '2');
  // Validation images with their predictions came with the epochs.
  await expect(page.getByTestId('val-sample')).toHaveCount(6);
  await expect(page.getByTestId('step-train')).toHaveAttribute('data-done', 'true');
  expect(await axeProblems(page), 'axe on #/train after a run').toEqual([]);

  await tabTo(page, page.getByTestId('step-evaluate'));
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('screen')).toHaveAttribute('data-route', 'evaluate');
  await tabTo(page, page.getByTestId('evaluate-run'));
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('verdict')).toBeVisible({ timeout: 5 * 60_000 });
  await tabTo(page, page.getByTestId('confusion-cell').and(page.locator(':enabled')).first());
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('cell-gallery')).toBeVisible();
  expect(await axeProblems(page), 'axe on #/evaluate with a result').toEqual([]);

  await screenshots(page, testInfo, 'trained');
});
