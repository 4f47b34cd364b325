import { expect, test, type Page } from '@playwright/test';
import type { RunRecord } from '../../src/engine/types';
import { gotoStep, startLongDemoRun } from '../fixtures/studio-ui';

const runs = (page: Page) => page.evaluate(() => window.studio!.engine.runs()) as Promise<RunRecord[]>;

test('the engine worker dies mid-run: E_WORKER_LOST shows within seconds, a new run starts without a reload, and the interrupted run resumes', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
  await startLongDemoRun(page);
  const [cut] = await runs(page);

  // The worker ends itself, as an out-of-memory kill or a crash would end it: no reply, no error event.
  const worker = page.workers().find((w) => w.url().includes('engine.worker'))!;
  await worker.evaluate(() => void setTimeout(() => self.close(), 0));
  await expect(page.getByTestId('engine-lost')).toContainText('E_WORKER_LOST', { timeout: 10_000 });
  await expect(page.getByTestId('train-error')).toContainText('the engine worker stopped');
  await expect(page.getByTestId('train-demo')).toBeEnabled({ timeout: 60_000 });
  await expect(page.getByTestId('resumable')).toContainText(`Run ${cut.runId}`);
  const interrupted = (await runs(page)).find((r) => r.runId === cut.runId)!;
  expect(interrupted.status).toBe('interrupted');

  // A new run, in the fresh worker, without a reload.
  await page.getByTestId('epochs').fill('1');
  await page.getByTestId('train-demo').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 5 * 60_000 });
  await expect(page.getByTestId('engine-lost')).toHaveCount(0);

  // The interrupted run is still resumable, from the runs list.
  await gotoStep(page, 'runs');
  const row = page.locator(`[data-testid="run-row"][data-run-id="${cut.runId}"]`);
  await row.getByTestId('run-resume').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 5 * 60_000 });
  const resumed = (await runs(page)).find((r) => r.runId === cut.runId)!;
  expect(resumed.status).toBe('completed');
  // Each epoch once, in order, past the checkpoint it resumed from (early stopping may end it before epoch 20).
  expect(resumed.epochs.map((m) => m.epoch)).toEqual(Array.from({ length: resumed.epochs.length }, (_, i) => i + 1));
  expect(resumed.epochs.length).toBeGreaterThan(interrupted.checkpoint.last!);
  expect(resumed.resumes).toEqual([{ at: expect.any(String), fromEpoch: interrupted.checkpoint.last }]);
});
