import { expect, test } from '@playwright/test';
import { gotoStep } from '../fixtures/studio-ui';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { studio } from '../fixtures/cli';
import { strFromU8, unzipSync } from 'fflate';
import { CHART_FILES, CHART_SIZE } from '../../src/core/metrics/charts';
import { phantomFolder } from '../fixtures/folders';

const REPORT_FILES = ['evaluation_metrics.json', 'medical_validation.json', 'evaluation_report.md', 'predictions.csv', ...Object.values(CHART_FILES)];

/** A chart is a real PNG (signature, then the IHDR chunk's width and height) of the size the report promises. */
function expectChart(bytes: Uint8Array): void {
  expect([...bytes.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  expect(strFromU8(bytes.subarray(12, 16))).toBe('IHDR');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  expect([view.getUint32(16), view.getUint32(20)]).toEqual([CHART_SIZE.width, CHART_SIZE.height]);
  // Drawn, not blank: a white 800×600 PNG compresses to well under 2 kB.
  expect(bytes.length).toBeGreaterThan(8000);
}

/** The image column of predictions.csv. */
const imageColumn = (csv: string) => csv.trim().split('\r\n').slice(1).map((l) => (l.startsWith('"') ? l.slice(1, l.indexOf('"', 1)) : l.split(',')[0]));

// The CLI in its own Chromium (WebGPU on SwiftShader): train on a tiny folder, then evaluate the run in a second
// invocation, which finds the folder the first one recorded, imports it with the run's settings and writes the report.

test('evaluate --run writes the report files and PNG charts; image file names only with --include-file-names', async () => {
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
  expect(md).toContain(`Run ${run.runId} · model simple\\_cnn`);
  expect(md).toMatch(/\| notumor \| [\d.]+ \|/);
  expect(md).toMatch(/## Robustness \(accuracy on the 12 test images/);
  expect(md).toMatch(/\| Rotation \| degrees \| [\d.]+ % \(10\) \| [\d.]+ % \(20\) \| [\d.]+ % \(30\) \|/);
  for (const f of Object.values(CHART_FILES)) {
    expectChart(readFileSync(join(out, f)));
    expect(md).toContain(`](${f})`);
  }
  // Patient file names stay out of the report files: images are named by neutral ids.
  const csv = readFileSync(join(out, 'predictions.csv'), 'utf8');
  expect(md + csv + JSON.stringify(metrics) + JSON.stringify(medical)).not.toMatch(/image \(\d+\)\.png|Gliom_ä/);
  expect(imageColumn(csv)).toEqual(Array.from({ length: 12 }, (_, j) => `image-${String(j + 1).padStart(4, '0')}`));
  // With the opt-in, each image is named by its path in the dataset folder.
  const named = studio('evaluate', '--run', run.runId, '--out', join(dir, 'named'), '--latency-samples', '3', '--include-file-names', ...common);
  expect(named.code, named.stderr.join('\n')).toBe(0);
  const paths = imageColumn(readFileSync(join(dir, 'named', 'predictions.csv'), 'utf8'));
  expect(paths).toHaveLength(12);
  for (const p of paths) expect(p).toMatch(/^(glioma|meningioma|notumor|pituitary)\/(image \(\d+\)|Gliom_ä)\.png$/);

  // A folder that is not the one the run was trained on is refused, with the reason.
  const other = phantomFolder(['glioma', 'meningioma', 'notumor', 'pituitary'], 12, 2);
  writeFileSync(join(other, 'glioma', 'extra.txt'), 'not an image');
  const refused = studio('evaluate', '--run', run.runId, '--data', other, '--out', join(dir, 'other'), ...common);
  expect(refused.code).toBe(2);
  expect(refused.stderr[0]).toMatch(/^studio: .* is not the dataset run .* was trained on \(fingerprint/);

  // Another folder as an external test set: its known classes are evaluated, a class folder the model does not know
  // is reported with its image count rather than dropped.
  const external = phantomFolder(['pituitary', 'glioma', 'meningioma', 'notumor', 'calcification'], 3, 3);
  const ext = studio('evaluate', '--run', run.runId, '--external', external, '--out', join(dir, 'external'), '--latency-samples', '3', ...common);
  expect(ext.code, ext.stderr.join('\n')).toBe(0);
  expect(ext.stdout).toContain('not evaluated: class folders the model was not trained on: calcification (3 images)');
  const extMetrics = JSON.parse(readFileSync(join(dir, 'external', 'evaluation_metrics.json'), 'utf8'));
  expect(extMetrics.evaluated_on).toBe('external');
  expect(extMetrics.unknown_classes).toEqual({ calcification: 3 });
  // Labelled by class name, in the run's class order, whatever order the folder lists them in.
  expect(Object.keys(extMetrics.per_class)).toEqual(['glioma', 'meningioma', 'notumor', 'pituitary']);
  expect(extMetrics.confusion_matrix.map((row: number[]) => row.reduce((a, b) => a + b, 0))).toEqual([3, 3, 3, 3]);
  expect(readFileSync(join(dir, 'external', 'evaluation_report.md'), 'utf8')).toContain('**Not evaluated:** class folders the model was not trained on: calcification (3 images).');
  for (const f of Object.values(CHART_FILES)) expectChart(readFileSync(join(dir, 'external', f)));
  expect(studio('evaluate', '--run', run.runId, '--external', external, '--data', data, '--out', join(dir, 'x'), ...common).code).toBe(2);
});

test('in the studio: evaluate the demo run, then click a confusion cell for exactly its images', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
  await gotoStep(page, 'train');
  await page.getByTestId('epochs').fill('2');
  await page.getByTestId('image-size').fill('16');
  await page.getByTestId('per-class').fill('20');
  await page.getByTestId('train-demo').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 8 * 60_000 });

  await gotoStep(page, 'evaluate');
  // A target sensitivity that is not a fraction is refused in words, and nothing can start until it is one.
  await page.getByTestId('evaluate-target-sensitivity').fill('95');
  await expect(page.getByTestId('target-sensitivity-error')).toHaveText(/the target sensitivity must be a fraction above 0 and at most 1, e\.g\. 0\.95 \(got 95\)/);
  await expect(page.getByTestId('evaluate-run')).toBeDisabled();
  await expect(page.getByTestId('evaluate-external')).toBeDisabled();
  await page.getByTestId('evaluate-target-sensitivity').fill('0.9');
  await expect(page.getByTestId('target-sensitivity-error')).toHaveCount(0);
  await page.getByTestId('evaluate-robustness').check();
  await page.getByTestId('evaluate-run').click();
  await expect(page.getByTestId('verdict')).toBeVisible({ timeout: 5 * 60_000 });
  // The operating point beside the argmax figures: a row per class (every demo class is a tumour class) and its confusion.
  await expect(page.getByTestId('operating-point')).toContainText('target sensitivity 90.0 % per tumour class');
  await expect(page.getByTestId('operating-point-table').locator('tbody tr')).toHaveCount(3);
  await expect(page.getByTestId('operating-point-confusion').locator('tbody td')).toHaveCount(9);
  await expect(page.getByTestId('operating-point-accuracy')).toHaveText(/^accuracy [\d.]+ % at the operating point · [\d.]+ % at the argmax$/);
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
  // WebGPU on SwiftShader is a software adapter: the gradients go where convolution training goes, WASM.
  await expect(view.getByTestId('gradcam-info')).toContainText('gradients on wasm');
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

  // The report as one zip: every file, the JSON parses, the charts are PNGs; images named by ids unless opted in.
  const downloadReport = async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-report').click()]);
    expect(download.suggestedFilename()).toMatch(/^evaluation-run-.*\.zip$/);
    return unzipSync(new Uint8Array(readFileSync((await download.path())!)));
  };
  const zip = await downloadReport();
  expect(Object.keys(zip).sort()).toEqual([...REPORT_FILES].sort());
  const metrics = JSON.parse(strFromU8(zip['evaluation_metrics.json']));
  expect(metrics.confusion_matrix).toEqual(await cells.evaluateAll((els) => [0, 1, 2].map((t) => els.slice(t * 3, t * 3 + 3).map((e) => Number(e.getAttribute('data-count'))))));
  expect(['Excellent', 'Good', 'Needs improvement']).toContain(JSON.parse(strFromU8(zip['medical_validation.json'])).verdict);
  for (const f of Object.values(CHART_FILES)) expectChart(zip[f]);
  const text = ['evaluation_report.md', 'predictions.csv', 'evaluation_metrics.json'].map((f) => strFromU8(zip[f])).join('\n');
  expect(text).not.toMatch(/(glioma|meningioma|pituitary)\/\d+/);
  expect(imageColumn(strFromU8(zip['predictions.csv']))).toHaveLength(9);

  await page.getByTestId('report-include-file-names').check();
  const named = await downloadReport();
  for (const key of imageColumn(strFromU8(named['predictions.csv']))) expect(key).toMatch(/^(glioma|meningioma|pituitary)\/\d+$/);

  // "Evaluate on another folder…": the demo's classes plus one the model does not know, which is listed, not dropped.
  await page.getByTestId('external-folder-input').setInputFiles(phantomFolder(['glioma', 'meningioma', 'pituitary', 'extra'], 2, 5));
  await expect(page.getByTestId('unknown-classes')).toHaveText(/extra \(2 images\)/, { timeout: 5 * 60_000 });
  await expect(page.getByTestId('verdict')).toContainText('6 images of the external folder');
  await expect(cells).toHaveCount(9);
  const external = await cells.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-count'))));
  expect(external.reduce((a, b) => a + b, 0)).toBe(6);
  // Its gallery shows the external folder's images.
  const fullest = external.indexOf(Math.max(...external));
  await cells.nth(fullest).click();
  await expect(gallery.getByTestId('thumb')).toHaveCount(external[fullest]);
  const extKeys = await gallery.getByTestId('thumb').evaluateAll((els) => els.map((e) => e.getAttribute('data-key')));
  expect(extKeys.every((k) => /^(glioma|meningioma|pituitary)\/image \(\d+\)\.png$|Gliom_ä\.png$/.test(k!))).toBe(true);
});
