import { expect, test, type Page } from '@playwright/test';
import type { RunRecord } from '../../src/engine/types';
import { startLongDemoRun } from '../fixtures/studio-ui';

const runs = (page: Page) => page.evaluate(() => window.studio!.engine.runs()) as Promise<RunRecord[]>;

test('the WebGPU device is lost mid-run: E_WORKER_LOST names it, a fresh engine takes over and the run resumes', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
  // Forced, WebGPU does all the work (a software adapter would otherwise route this run's training to WASM).
  expect((await page.evaluate(() => window.studio!.ui.selectBackend('webgpu').then(() => window.studio!.ready()))).available).toEqual(['webgpu']);
  await startLongDemoRun(page);
  const [cut] = await runs(page);

  // A driver reset or a GPU process crash, as the worker sees it: the device TF.js records its next commands on is
  // destroyed, and its `lost` promise settles. Nothing else in the worker is touched.
  const worker = page.workers().find((w) => w.url().includes('engine.worker'))!;
  await worker.evaluate(() => {
    const encode = GPUDevice.prototype.createCommandEncoder;
    GPUDevice.prototype.createCommandEncoder = function (this: GPUDevice, ...args: Parameters<GPUDevice['createCommandEncoder']>) {
      this.destroy();
      return encode.apply(this, args);
    };
  });
  await expect(page.getByTestId('engine-lost')).toContainText('E_WORKER_LOST', { timeout: 30_000 });
  await expect(page.getByTestId('train-error')).toContainText('the GPU device was lost (destroyed');
  await expect(page.getByTestId('train-demo')).toBeEnabled({ timeout: 60_000 });
  await expect(page.getByTestId('resumable')).toContainText(`Run ${cut.runId}`);
  // Interrupted, not failed: the GPU work the loss cut short failed too, but the run's checkpoints stand.
  expect((await runs(page)).find((r) => r.runId === cut.runId)!.status).toBe('interrupted');

  // The fresh worker has a fresh device: the run resumes there and completes (through window.studio; the runs
  // list's Resume button is worker-lost.spec.ts's).
  expect(await page.evaluate((id) => window.studio!.engine.resume(id, window.studio!.events).then((r) => r.status), cut.runId)).toBe('completed');
  const resumed = (await runs(page)).find((r) => r.runId === cut.runId)!;
  expect(resumed.status).toBe('completed');
  expect(resumed.epochs.map((m) => m.epoch)).toEqual(Array.from({ length: resumed.epochs.length }, (_, i) => i + 1));
});
