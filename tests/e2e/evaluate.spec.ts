import { expect, test } from '@playwright/test';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { studio } from '../fixtures/cli';
import { phantomFolder } from '../fixtures/folders';

// The CLI in its own Chromium (WebGPU on SwiftShader): train on a tiny folder, then evaluate the run in a second
// invocation, which finds the folder the first one recorded, imports it with the run's settings and writes the report.

test('evaluate --run writes evaluation_metrics.json, medical_validation.json and evaluation_report.md', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'studio-eval-'));
  const data = phantomFolder(['glioma', 'meningioma', 'notumor', 'pituitary'], 12);
  // A fixed port (IndexedDB belongs to the origin), offset from this checkout's test port so that checkouts (whose test ports are neighbours) do not collide.
  const common = ['--profile', join(dir, 'profile'), '--port', String(Number(process.env.STUDIO_TEST_PORT ?? 4173) + 1000)];
  const trained = studio('train', '--data', data, '--image-size', '16', '--split', '50/25/25', '--epochs', '2', '--out', join(dir, 'run.json'), ...common);
  expect(trained.code, trained.stderr.join('\n')).toBe(0);
  const run = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));

  const out = join(dir, 'report');
  const r = studio('evaluate', '--run', run.runId, '--out', out, '--latency-samples', '10', '--robustness', ...common);
  expect(r.code, r.stderr.join('\n')).toBe(0);
  expect(r.stdout).toMatch(/evaluating run .* on 12 test images; temperature on 12 validation images/);
  expect(r.stdout).toMatch(/^(Excellent|Good|Needs improvement): accuracy [\d.]+%/m);

  const metrics = JSON.parse(readFileSync(join(out, 'evaluation_metrics.json'), 'utf8'));
  for (const key of ['accuracy', 'per_class', 'macro_avg', 'weighted_avg', 'confusion_matrix', 'roc_auc', 'ece', 'ece_after_temperature', 'ci95', 'latency_ms']) expect(metrics).toHaveProperty(key);
  expect(Object.keys(metrics.per_class)).toEqual(['glioma', 'meningioma', 'notumor', 'pituitary']);
  expect(Object.keys(metrics.per_class.glioma).sort()).toEqual(['f1', 'precision', 'recall', 'specificity', 'support']);
  expect(metrics.confusion_matrix.flat().reduce((a: number, b: number) => a + b, 0)).toBe(12);
  expect(metrics.latency_ms.p95).toBeGreaterThanOrEqual(metrics.latency_ms.p50);
  expect(metrics.ci95.accuracy[0]).toBeLessThanOrEqual(metrics.accuracy);
  // --robustness: accuracy under each corruption at three severities, in the JSON, the report and on stdout.
  expect(Object.keys(metrics.robustness.perturbations)).toEqual(['noise', 'blur', 'brightness', 'rotation']);
  expect(metrics.robustness.baseline_accuracy).toBe(metrics.accuracy);
  // WebGPU on SwiftShader: the forward-only passes are routed to WASM.
  expect(metrics.robustness.backend).toBe('wasm');
  for (const p of Object.values(metrics.robustness.perturbations) as { severities: { severity: number; accuracy: number }[] }[]) {
    expect(p.severities.map((s) => s.severity)).toEqual([1, 2, 3]);
    expect(p.severities.every((s) => s.accuracy >= 0 && s.accuracy <= 1)).toBe(true);
  }
  expect(r.stdout).toMatch(/^robustness \(accuracy at severity 1 \/ 2 \/ 3; clean [\d.]+%\): noise [\d.]+% \/ [\d.]+% \/ [\d.]+%, blur /m);
  const medical = JSON.parse(readFileSync(join(out, 'medical_validation.json'), 'utf8'));
  expect(['Excellent', 'Good', 'Needs improvement']).toContain(medical.verdict);
  expect(medical.thresholds.tumour_classes).toEqual(['glioma', 'meningioma', 'pituitary']);
  const md = readFileSync(join(out, 'evaluation_report.md'), 'utf8');
  expect(md).toMatch(/^# Evaluation report\n/);
  expect(md).toContain(`Run \`${run.runId}\``);
  expect(md).toMatch(/\| notumor \| [\d.]+ \|/);
  expect(md).toMatch(/## Robustness \(accuracy on the 12 test images/);
  expect(md).toMatch(/\| Rotation \| degrees \| [\d.]+ % \(10\) \| [\d.]+ % \(20\) \| [\d.]+ % \(30\) \|/);
  // Patient file names stay out of the report files.
  expect(md + JSON.stringify(metrics) + JSON.stringify(medical)).not.toMatch(/\.png/);

  // A folder that is not the one the run was trained on is refused, with the reason.
  const other = phantomFolder(['glioma', 'meningioma', 'notumor', 'pituitary'], 12, 2);
  writeFileSync(join(other, 'glioma', 'extra.txt'), 'not an image');
  const refused = studio('evaluate', '--run', run.runId, '--data', other, '--out', join(dir, 'other'), ...common);
  expect(refused.code).toBe(2);
  expect(refused.stderr[0]).toMatch(/^studio: .* is not the dataset run .* was trained on \(fingerprint/);
});

test('in the studio: evaluate the demo run, then click a confusion cell for exactly its images', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
  await page.getByTestId('epochs').fill('2');
  await page.getByTestId('image-size').fill('16');
  await page.getByTestId('per-class').fill('20');
  await page.getByTestId('train-demo').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 8 * 60_000 });

  await page.getByTestId('evaluate-robustness').check();
  await page.getByTestId('evaluate-run').click();
  await expect(page.getByTestId('verdict')).toBeVisible({ timeout: 5 * 60_000 });
  const robustness = page.getByTestId('robustness-table');
  await expect(robustness.locator('tbody tr')).toHaveCount(4);
  await expect(robustness.locator('tbody tr[data-kind="noise"] td')).toHaveCount(1 + 3);
  await expect(robustness.locator('tbody tr[data-kind="rotation"] td').nth(3)).toHaveText(/^\d+\.\d % \(30\)$/);
  await expect(page.getByTestId('robustness-chart').locator('canvas')).toHaveCount(1);
  await expect(page.getByTestId('report-table').locator('tbody tr')).toHaveCount(3 + 2);
  await expect(page.getByTestId('roc-chart').locator('canvas')).toHaveCount(1);
  await expect(page.getByTestId('reliability-chart').locator('canvas')).toHaveCount(1);

  const cells = page.getByTestId('confusion-cell');
  await expect(cells).toHaveCount(9);
  const counts = await cells.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-count'))));
  expect(counts.reduce((a, b) => a + b, 0)).toBe(9); // 15 % of 60 demo images
  const busiest = counts.indexOf(Math.max(...counts));
  await cells.nth(busiest).click();
  const gallery = page.getByTestId('cell-gallery');
  await expect(gallery).toHaveAttribute('data-count', String(counts[busiest]));
  await expect(gallery.getByTestId('gallery-image')).toHaveCount(counts[busiest]);
  await expect(gallery.getByTestId('thumb')).toHaveCount(counts[busiest]);
  // Each image's key is a demo image of the cell's true class.
  const trueClass = await cells.nth(busiest).getAttribute('data-true');
  const keys = await gallery.getByTestId('thumb').evaluateAll((els) => els.map((e) => e.getAttribute('data-key')));
  expect(keys.every((k) => k!.startsWith(`${trueClass}/`))).toBe(true);

  // Click an image: it opens with its Grad-CAM heat-map over it, for the predicted class, then for another.
  await gallery.getByTestId('gallery-open').first().click();
  const view = page.getByTestId('gradcam-view');
  await expect(view).toHaveAttribute('data-key', keys[0]!);
  const overlay = view.getByTestId('gradcam-overlay');
  await expect(overlay).toBeVisible({ timeout: 2 * 60_000 });
  // WebGPU on SwiftShader is a software adapter: the gradients go where convolution training goes, WebGL.
  await expect(view.getByTestId('gradcam-info')).toContainText('gradients on webgl');
  const painted = () => overlay.evaluate((c: HTMLCanvasElement) => {
    const { data } = c.getContext('2d')!.getImageData(0, 0, c.width, c.height);
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
    return { n, total: c.width * c.height };
  });
  const first = await painted();
  expect(first.total).toBe(16 * 16);
  expect(first.n).toBeGreaterThan(0);
  const explained = Number(await overlay.getAttribute('data-class'));
  const other = (explained + 1) % 3;
  await view.getByTestId('gradcam-class').selectOption(String(other));
  await expect(overlay).toHaveAttribute('data-class', String(other), { timeout: 60_000 });
  await view.getByTestId('gradcam-opacity').fill('0.8');
  await expect(overlay).toHaveCSS('opacity', '0.8');
  await expect(view.getByTestId('gradcam-probs').locator('tr')).toHaveCount(3);

  await page.getByTestId('confusion-normalized').check();
  await expect(cells.nth(busiest)).toHaveText(/%$/);
});
