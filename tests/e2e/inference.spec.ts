import { expect, test } from '@playwright/test';
import { gotoStep } from '../fixtures/studio-ui';
import { readFileSync } from 'node:fs';
import { demoImage } from '../../src/core/dataset/demo';
import { rgbPng } from '../fixtures/png';

// The inference panel on a tiny registered demo model (trained and registered through window.studio, as the CLI
// does): three picked files, one corrupt; probabilities, latency, the error, the CSV; the opt-in audit log; a paste.
const SIZE = 16;

test('the inference panel classifies picked images, shows a corrupt one\'s error, and downloads the CSV', async ({ page }) => {
  test.setTimeout(5 * 60_000);
  await page.goto('/');
  await page.waitForFunction(() => window.studio !== undefined);
  await page.evaluate(() => window.studio!.ready());
  const run = await page.evaluate((size) => window.studio!.ui.train({ dataset: { kind: 'demo', seed: 2, imageSize: size, perClass: 8, split: { train: 0.5, val: 0.25, test: 0.25 } }, model: 'simple_cnn', epochs: 1, batchSize: 8, learningRate: 0.003, seed: 2 }), SIZE);
  await page.evaluate((runId) => window.studio!.engine.register({ runId, name: 'tiny', version: '0.1.0', aliases: ['candidate'], overrideReason: 'e2e: one epoch' }), run.runId);

  await gotoStep(page, 'use');
  const panel = page.getByTestId('inference-panel');
  const files = [0, 1].map((k) => ({ name: `scan ${k}.png`, mimeType: 'image/png', buffer: rgbPng(demoImage(k, 300 + k, 4, SIZE), SIZE, SIZE) }));
  await panel.getByTestId('predict-files').setInputFiles([...files, { name: 'corrupt.png', mimeType: 'image/png', buffer: Buffer.from('\x89PNG\r\n\x1a\nrest', 'latin1') }]);
  await expect(panel.getByTestId('predict-choose-model')).toHaveText('3 image(s) ready: choose a model to classify them.');
  // The model list is read when the panel opens; the version registered since is there once it is asked again.
  await panel.getByTestId('predict-model').focus();
  await expect(panel.getByTestId('predict-model').locator('option')).toHaveText(['Choose a model…', 'tiny@candidate → 0.1.0', 'tiny@0.1.0 (below the gate, overridden)']);
  await panel.getByTestId('predict-model').selectOption('tiny@candidate');

  const cards = panel.getByTestId('prediction');
  await expect(cards).toHaveCount(3, { timeout: 2 * 60_000 });
  await expect(cards.nth(0)).toHaveAttribute('data-name', 'corrupt.png');
  await expect(cards.nth(0).getByTestId('prediction-error')).toHaveText('corrupt PNG: its header is cut short or damaged, so it has no image size');
  for (const k of [1, 2]) {
    const card = cards.nth(k);
    await expect(card).toHaveAttribute('data-name', `scan ${k - 1}.png`);
    await expect(card.getByTestId('prediction-bar')).toHaveCount(run.classes.length);
    const probs = await card.getByTestId('prediction-bar').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-probability'))));
    expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    await expect(card.getByTestId('prediction-top')).toContainText(run.classes[probs.indexOf(Math.max(...probs))]);
    await expect(card.getByTestId('prediction-latency')).toHaveText(/^\d+\.\d ms$/);
  }
  await expect(panel.getByTestId('predict-summary')).toContainText('2 of 3 images classified with tiny@0.1.0 (tiny@candidate)');

  // Grad-CAM of a classified image: the registered model explains the picked file, decoded as the prediction was.
  await cards.nth(1).getByTestId('prediction-gradcam').click();
  const view = panel.getByTestId('gradcam-view');
  await expect(view).toHaveAttribute('data-key', 'scan 0.png');
  const overlay = view.getByTestId('gradcam-overlay');
  await expect(overlay).toBeVisible({ timeout: 2 * 60_000 });
  await expect(view.getByTestId('gradcam-info')).toContainText('gradients on');
  const painted = await overlay.evaluate((c: HTMLCanvasElement) => {
    const { data } = c.getContext('2d')!.getImageData(0, 0, c.width, c.height);
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
    return n;
  });
  expect(painted).toBeGreaterThan(0);

  const download = page.waitForEvent('download');
  await panel.getByTestId('predict-csv').click();
  const csv = readFileSync((await (await download).path())!, 'utf8').trimEnd().split('\r\n');
  // The operating point's class sits beside the argmax's: the run keeps thresholds fitted on its validation split.
  expect(csv[0]).toBe(`file,top_class,operating_point_class,${run.classes.join(',')},latency_ms,error`);
  expect(csv.slice(1).map((r) => r.split(',')[0])).toEqual(['corrupt.png', 'scan 0.png', 'scan 1.png']);
  expect(csv[1]).toMatch(/^corrupt\.png,,+"corrupt: corrupt PNG: /);

  // Audit log: off by default, so nothing was recorded; on, each classified image is.
  await panel.getByTestId('audit').locator('summary').click();
  await panel.getByTestId('audit-view').click();
  await expect(panel.getByTestId('audit-empty')).toBeVisible();
  await panel.getByTestId('audit-mode').selectOption('names');
  await panel.getByTestId('predict-files').setInputFiles(files);
  await expect(panel.getByTestId('audit-table').locator('tbody tr')).toHaveCount(2, { timeout: 60_000 });
  await expect(panel.getByTestId('audit-table').locator('tbody tr').first()).toContainText('tiny@0.1.0 (tiny@candidate)');
  await expect(panel.getByTestId('audit-table').locator('tbody tr').first()).toContainText('scan 0.png');
  // A pasted image (clipboard files, as a screenshot tool gives them) is classified like a picked one.
  await page.evaluate((bytes) => {
    const clipboard = new DataTransfer();
    clipboard.items.add(new File([new Uint8Array(bytes)], 'image.png', { type: 'image/png' }));
    document.body.dispatchEvent(new ClipboardEvent('paste', { clipboardData: clipboard, bubbles: true }));
  }, [...files[0].buffer]);
  await expect(cards).toHaveCount(1);
  await expect(cards.first()).toHaveAttribute('data-name', /^pasted-[\dTZ-]+-1\.png$/);
  await expect(cards.first().getByTestId('prediction-bar')).toHaveCount(run.classes.length);
  await expect(panel.getByTestId('audit-table').locator('tbody tr')).toHaveCount(3);
  await panel.getByTestId('audit-clear').click();
  await expect(panel.getByTestId('audit-empty')).toBeVisible();
});
