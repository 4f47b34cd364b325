import { expect, test } from '@playwright/test';
import type { RunRecord } from '../../src/engine/types';
import { gotoStep } from '../fixtures/studio-ui';

test('auto mode: a run whose shaders WebGL cannot build moves to another backend and completes there, saying why', async ({ page }) => {
  // The WASM backend's binaries do not load, so it cannot start, and auto mode on SwiftShader trains convolutions on
  // WebGL (routing's next choice), as a browser whose WASM backend fails would.
  await page.context().route('**/*.wasm', (route) => route.abort());
  await page.goto('/');
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
  const info = await page.evaluate(() => window.studio!.ready());
  expect(info.available).not.toContain('wasm');
  expect(info.available).toContain('webgl');

  // A driver that cannot link the programs of this model (issue 20: WebGL gave out after several models in one page):
  // every program linked from now on reports a failed link, as TF.js reads it.
  const worker = page.workers().find((w) => w.url().includes('engine.worker'))!;
  await worker.evaluate(() => {
    const status = WebGL2RenderingContext.prototype.getProgramParameter;
    WebGL2RenderingContext.prototype.getProgramParameter = function (this: WebGL2RenderingContext, program: WebGLProgram, pname: GLenum) {
      return pname === this.LINK_STATUS ? false : status.call(this, program, pname);
    };
  });

  await gotoStep(page, 'train');
  await page.getByTestId('epochs').fill('3');
  await page.getByTestId('image-size').fill('16');
  await page.getByTestId('per-class').fill('10');
  await page.getByTestId('train-demo').click();
  await expect(page.getByTestId('routing')).toContainText('WebGL failed a run on this page and is left out: training and validation on CPU', { timeout: 5 * 60_000 });
  await expect(page.getByTestId('train-demo')).toBeEnabled({ timeout: 5 * 60_000 });
  await expect(page.getByTestId('train-error')).toHaveCount(0);
  await expect(page.getByTestId('refused-backends')).toContainText('Left out until you choose a backend again: webgl. WebGL could not build the shaders that simple_cnn needs');

  const [run] = (await page.evaluate(() => window.studio!.engine.runs())) as RunRecord[];
  expect(run.status).toBe('completed');
  expect(run.routing).toMatchObject({ forward: 'cpu', train: 'cpu' });
  // It failed before its first checkpoint, so it started again from its first epoch, once, on the CPU backend.
  expect(run.resumes).toEqual([{ at: expect.any(String), fromEpoch: 0, reason: expect.stringContaining('WebGL could not build the shaders that simple_cnn needs') }]);
  expect(run.resumes![0].reason).toContain('Failed to link vertex and fragment shaders');
  expect(run.epochs.map((m) => m.epoch)).toEqual([1, 2, 3]);
  // Later work on this page keeps off WebGL: evaluation included.
  expect((await page.evaluate(() => window.studio!.ready())).refused?.map((r) => r.name)).toEqual(['webgl']);
});
