import { expect, test } from '@playwright/test';
import { mkdirSync, mkdtempSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { studio } from '../fixtures/cli';
import { phantomFolder } from '../fixtures/folders';

const CLASSES = ['glioma', 'meningioma', 'notumor', 'pituitary'];

/** A phantom folder moved to `dir/name` (phantomFolder names its root "brain scans"). */
function folderNamed(dir: string, name: string, perClass: number, seed: number): string {
  const to = join(dir, name);
  mkdirSync(dirname(to), { recursive: true });
  renameSync(phantomFolder(CLASSES, perClass, seed), to);
  return to;
}

// The CLI in its own Chromium: a folder run, then another folder named like a split (`Testing`) as its external test
// set. It used to be imported as a 50/50/0 training dataset and refused; and its report said "n/a" for the
// temperature, which must be fitted on the run's own validation split, as the operating point is.
test('evaluate --external on a folder named Testing: every image evaluated, temperature and operating point from the run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'studio-ext-'));
  const common = ['--profile', join(dir, 'profile'), '--port', String(Number(process.env.STUDIO_TEST_PORT ?? 4173) + 1001)];
  const data = phantomFolder(CLASSES, 12);
  const trained = studio('train', '--data', data, '--image-size', '16', '--split', '50/25/25', '--epochs', '2', '--out', join(dir, 'run.json'), ...common);
  expect(trained.code, trained.stderr.join('\n')).toBe(0);
  const run = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));

  const testing = folderNamed(join(dir, 'ext'), 'Testing', 3, 4);
  const out = join(dir, 'report');
  const r = studio('evaluate', '--run', run.runId, '--external', testing, '--out', out, '--latency-samples', '3', '--target-sensitivity', '0.9', ...common);
  expect(r.code, r.stderr.join('\n')).toBe(0);
  expect(r.stdout).toMatch(/on 12 test images; temperature on 12 validation images/);
  expect(r.stdout).toMatch(/ECE [\d.]+ → [\d.]+,/);
  expect(r.stdout).toMatch(/^operating point \(target sensitivity 90\.0 %, thresholds fitted on 12 validation images\): accuracy [\d.]+ % \(argmax [\d.]+ %\), sensitivity glioma [\d.]+ % \([\d.]+ %\), meningioma .*, pituitary /m);

  const metrics = JSON.parse(readFileSync(join(out, 'evaluation_metrics.json'), 'utf8'));
  expect(metrics.evaluated_on).toBe('external');
  expect(metrics.confusion_matrix.map((row: number[]) => row.reduce((a, b) => a + b, 0))).toEqual([3, 3, 3, 3]);
  expect(metrics.temperature).toBeGreaterThan(0);
  expect(metrics.ece_after_temperature).toEqual(expect.any(Number));
  const op = metrics.operating_point;
  expect(op.target_sensitivity).toBe(0.9);
  expect(op.validation_images).toBe(12);
  expect(op.tumour_classes).toEqual(['glioma', 'meningioma', 'pituitary']);
  expect(op.thresholds.notumor).toBeNull();
  for (const c of op.tumour_classes) expect(op.thresholds[c]).toBeGreaterThan(0);
  expect(op.confusion_matrix.map((row: number[]) => row.reduce((a, b) => a + b, 0))).toEqual([3, 3, 3, 3]);
  expect(Object.keys(op.per_class)).toEqual(CLASSES);
  const md = readFileSync(join(out, 'evaluation_report.md'), 'utf8');
  expect(md).toContain('temperature and operating point fitted on the run\'s own 12 validation images');
  expect(md).toMatch(/after temperature scaling \(T = [\d.]+, fitted on validation/);
  expect(md).toContain('## Screening operating point (target sensitivity 90.0 % per tumour class, fitted on 12 validation images)');
  expect(md).toMatch(/\| glioma \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|/);
  expect(readFileSync(join(out, 'predictions.csv'), 'utf8').split('\r\n')[0]).toBe('image,true,predicted,predicted_operating_point,p_glioma,p_meningioma,p_notumor,p_pituitary');

  // X/ holding Training/ and Testing/: the Testing images only, the others counted as not evaluated.
  const x = join(dir, 'X');
  folderNamed(x, 'Training', 2, 5);
  folderNamed(x, 'Testing', 1, 6);
  const both = studio('evaluate', '--run', run.runId, '--external', x, '--out', join(dir, 'x-report'), '--latency-samples', '2', ...common);
  expect(both.code, both.stderr.join('\n')).toBe(0);
  const xm = JSON.parse(readFileSync(join(dir, 'x-report', 'evaluation_metrics.json'), 'utf8'));
  expect(xm.confusion_matrix.flat().reduce((a: number, b: number) => a + b, 0)).toBe(4);
  expect(xm.operating_point.target_sensitivity).toBe(0.95);
  expect(readFileSync(join(dir, 'x-report', 'evaluation_report.md'), 'utf8')).toContain('8 images in its other split folders were not evaluated (only its test folder is)');

  // A bad target: one line, before any browser starts.
  const bad = studio('evaluate', '--run', run.runId, '--external', testing, '--out', join(dir, 'bad'), '--target-sensitivity', '95', ...common);
  expect(bad.code).toBe(2);
  expect(bad.stderr[0]).toBe('studio: --target-sensitivity must be a fraction above 0 and at most 1, e.g. 0.95 (got "95")');
});
