import { expect, test } from '@playwright/test';
import { gotoStep } from '../fixtures/studio-ui';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from '../../src/engine/types';

const runs = (page: import('@playwright/test').Page) => page.evaluate(() => window.studio!.engine.runs()) as Promise<RunRecord[]>;

test('runs page: a demo run is exported (download), deleted, imported back with the same metrics, compared and cross-validated', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('backend-name')).not.toBeEmpty({ timeout: 60_000 });
  await gotoStep(page, 'train');
  await page.getByTestId('epochs').fill('1');
  await page.getByTestId('image-size').fill('32');
  await page.getByTestId('per-class').fill('30');
  await page.getByTestId('train-demo').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 8 * 60_000 });

  await gotoStep(page, 'runs');
  const rows = page.getByTestId('run-row');
  await expect(rows).toHaveCount(1);
  const [original] = await runs(page);
  await expect(rows.first()).toHaveAttribute('data-run-id', original.runId);
  await expect(rows.first()).toHaveAttribute('data-best', String(original.best!.valAccuracy));

  // Export: a download of one zip.
  const downloading = page.waitForEvent('download');
  await rows.first().getByTestId('run-export').click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe(`${original.runId}.mristudio-run.zip`);
  const file = await download.path();

  // Delete, after a confirmation that says registered models stay.
  page.once('dialog', (d) => {
    expect(d.message()).toMatch(/checkpoints and evaluation are deleted.*registered from it stay in the registry/s);
    void d.accept();
  });
  await rows.first().getByTestId('run-delete').click();
  await expect(rows).toHaveCount(0);
  expect(await runs(page)).toEqual([]);

  // Import: the same run, the same metrics.
  await page.getByTestId('runs-import').setInputFiles(file);
  await expect(page.getByTestId('runs-notice')).toContainText(`as ${original.runId}`);
  await expect(rows).toHaveCount(1);
  const [back] = await runs(page);
  const { imported, ...record } = back;
  expect(imported?.originalRunId).toBe(original.runId);
  expect(record).toEqual(original);

  // The same file again clashes; "import as a copy" gives it a new id.
  await page.getByTestId('runs-import').setInputFiles(file);
  await expect(page.getByTestId('runs-error')).toContainText('already in this studio');
  await page.getByTestId('runs-import-copy').click();
  await expect(page.getByTestId('runs-notice')).toContainText(`${original.runId}-copy1`);
  await expect(rows).toHaveCount(2);

  // A file that is not a run file is refused with the reason, and nothing changes.
  await page.getByTestId('runs-import').setInputFiles({ name: 'notes.zip', mimeType: 'application/zip', buffer: Buffer.from('not a zip') });
  await expect(page.getByTestId('runs-error')).toContainText('not an MRI Studio run file: it is not a zip archive');
  await expect(rows).toHaveCount(2);

  // Compare the two: one column and one curve each.
  for (const box of await page.getByTestId('run-select').all()) await box.check();
  await page.getByTestId('runs-compare').click();
  await expect(page.getByTestId('compare-best')).toHaveText([`${(original.best!.valAccuracy * 100).toFixed(1)} %`, `${(original.best!.valAccuracy * 100).toFixed(1)} %`]);
  await expect(page.getByTestId('compare-accuracy')).toHaveText(['not evaluated', 'not evaluated']);
  await expect(page.getByTestId('compare-acc-chart')).toHaveAttribute('data-series', '2');
  await expect(page.getByTestId('compare-acc-chart').locator('canvas')).toHaveCount(1);

  // Cross-validate the run's config with 3 folds.
  await page.getByTestId('crossval-source').selectOption(original.runId);
  await page.getByTestId('crossval-folds').fill('3');
  await page.getByTestId('crossval-start').click();
  await expect(page.getByTestId('crossval-summary')).toHaveAttribute('data-folds', '3', { timeout: 8 * 60_000 });
  await expect(page.getByTestId('crossval-summary')).toHaveAttribute('data-status', 'completed');
  await expect(page.getByTestId('crossval-summary')).toContainText(/accuracy [\d.]+ % ± [\d.]+ %/);
  await expect(page.getByTestId('crossval-row')).toHaveCount(3);
  await expect(rows).toHaveCount(5);
  await page.getByTestId('runs-filter').fill('fold');
  await expect(rows).toHaveCount(3);

  // Open a fold's run in the dashboard: its epochs in the table and chart.
  const foldRun = await rows.first().getAttribute('data-run-id');
  await rows.first().getByTestId('run-open').click();
  await expect(page.getByTestId('run-status')).toContainText(`Run ${foldRun}: completed`);
  await expect(page.getByTestId('epoch-row')).toHaveCount(1);
  await expect(page.getByTestId('epoch-chart')).toHaveAttribute('data-points', '1');
});

test('CLI crossval --demo --folds 3 writes mean ± std and the per-fold table', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'studio-cv-'));
  const port = String(Number(process.env.STUDIO_TEST_PORT ?? 4173) + 1000);
  const out = join(dir, 'cv.json');
  const r = spawnSync('npx', ['tsx', 'cli/studio.ts', 'crossval', '--demo', '--folds', '3', '--epochs', '1', '--image-size', '32', '--out', out, '--profile', join(dir, 'profile'), '--port', port], { encoding: 'utf8', timeout: 9 * 60_000 });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^cross-validation cv-\S+: 3 folds$/m);
  expect(r.stdout).toMatch(/^fold 3: accuracy [\d.]+%, macro F1 [\d.]+ on \d+ held-out images/m);
  expect(r.stdout).toMatch(/^completed: 3 of 3 folds; accuracy [\d.]+% ± [\d.]+%, macro F1 [\d.]+ ± [\d.]+ \(mean ± std\)/m);
  const result = JSON.parse(readFileSync(out, 'utf8'));
  expect(result.results).toHaveLength(3);
  const accs = result.results.map((f: { accuracy: number }) => f.accuracy);
  expect(result.accuracy.mean).toBeCloseTo(accs.reduce((a: number, b: number) => a + b, 0) / 3, 12);
  // Every image of the folds' pool is held out exactly once: the held-out sizes add up to the pool.
  const held = result.results.map((f: { split: { test: number } }) => f.split.test);
  expect(held.reduce((a: number, b: number) => a + b, 0)).toBe(result.results[0].split.train + result.results[0].split.val + result.results[0].split.test);

  const bad = spawnSync('npx', ['tsx', 'cli/studio.ts', 'crossval', '--demo', '--folds', '1', '--out', out], { encoding: 'utf8' });
  expect(bad.status).toBe(2);
  expect(bad.stderr).toContain('--folds must be a whole number from 2 to 20 (got "1")');
});
