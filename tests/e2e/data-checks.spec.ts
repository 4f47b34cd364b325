import { expect, test, type Page } from '@playwright/test';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { studio } from '../fixtures/cli';
import { phantomFolder } from '../fixtures/folders';
import { asShown, liveProblems, renderMarkdown } from '../fixtures/markdown-safety';

// Data checks before training (label conflicts, classes missing from a split, empty folders, loose images), the
// CLI's argument checks before any browser starts, and exports that show hostile names as text.

async function openStudio(page: Page) {
  await page.goto('/');
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
}

/** Two classes of 6 phantoms, a copy of one glioma image under meningioma, and a class with a single image. */
function problemFolder(): string {
  const root = phantomFolder(['glioma', 'meningioma'], 6);
  copyFileSync(join(root, 'glioma', 'image (2).png'), join(root, 'meningioma', 'same as glioma.png'));
  const single = phantomFolder(['pituitary'], 1, 2); // another seed: not a copy of a glioma phantom
  mkdirSync(join(root, 'pituitary'));
  copyFileSync(join(single, 'pituitary', 'Gliom_ä.png'), join(root, 'pituitary', 'only.png'));
  return root;
}

test('the dataset summary lists a label conflict and a class without validation or test images; the user chooses what happens to the copies', async ({ page }) => {
  const root = problemFolder();
  await openStudio(page);
  await page.getByTestId('folder-input').setInputFiles(root);
  await expect(page.getByTestId('label-conflicts')).toHaveValue('drop-all');
  await page.getByTestId('import-size').fill('32');
  await page.getByTestId('import').click();
  await expect(page.getByTestId('dataset-summary')).toBeVisible({ timeout: 120_000 });

  // Default: both copies left out, and said so.
  await expect(page.getByTestId('data-check').and(page.locator('[data-check="label-conflicts"]'))).toContainText('glioma/image (2).png = meningioma/same as glioma.png): every copy was left out');
  await page.getByTestId('label-conflict-list').locator('summary').click();
  await expect(page.getByTestId('label-conflict')).toContainText('every copy left out');
  const total = (cls: string) => page.locator(`[data-testid="counts-row"][data-class="${cls}"] td`).nth(4);
  await expect(total('glioma')).toHaveText('5');
  await expect(total('meningioma')).toHaveText('6');
  // The single pituitary image trains "1/0/0": the summary says what that means.
  await expect(page.locator('[data-testid="data-check"][data-check="no-validation"]')).toContainText('no validation image for pituitary (1/0/0)');
  await expect(page.locator('[data-testid="data-check"][data-check="no-test"]')).toContainText('no test image for pituitary (1/0/0)');

  // Keep the first copy by path: glioma's.
  await page.getByTestId('label-conflicts').selectOption('keep-first');
  await page.getByTestId('import').click();
  await expect(page.locator('[data-testid="data-check"][data-check="label-conflicts"]')).toContainText('the copies in the class of the first copy by path were kept', { timeout: 120_000 });
  await expect(total('glioma')).toHaveText('6');
  await expect(total('meningioma')).toHaveText('6');
});

test('an empty folder and loose images each get their own message, and a scan that finds nothing clears the previous one', async ({ page }) => {
  const good = phantomFolder(['a', 'b'], 4);
  const empty = join(mkdtempSync(join(tmpdir(), 'studio-empty-')), 'nothing here');
  mkdirSync(empty);
  const loose = join(mkdtempSync(join(tmpdir(), 'studio-loose-')), 'scans');
  mkdirSync(loose);
  for (const f of ['Gliom_ä.png', 'image (1).png']) copyFileSync(join(good, 'a', f), join(loose, f));
  const mixed = phantomFolder(['a', 'b'], 3);
  copyFileSync(join(good, 'a', 'Gliom_ä.png'), join(mixed, 'stray.png'));

  await openStudio(page);
  await page.getByTestId('folder-input').setInputFiles(good);
  await expect(page.getByTestId('scan')).toContainText('8 images in 2 class folders');

  await page.getByTestId('folder-input').setInputFiles(loose);
  await expect(page.getByTestId('scan-error')).toContainText('2 images in "scans" lie loose, not in class folders, and the studio needs one folder per class');
  await expect(page.getByTestId('scan')).toHaveCount(0);

  await page.getByTestId('folder-input').setInputFiles(good);
  await expect(page.getByTestId('scan')).toContainText('8 images in 2 class folders');
  await expect(page.getByTestId('scan-error')).toHaveCount(0);
  await page.getByTestId('folder-input').setInputFiles(empty);
  await expect(page.getByTestId('scan-error')).toContainText('is empty: there is nothing to import');
  await expect(page.getByTestId('scan')).toHaveCount(0);

  // Loose images beside class folders: the folder can be imported, and the scan says those images are not used.
  await page.getByTestId('folder-input').setInputFiles(mixed);
  await expect(page.getByTestId('scan')).toContainText('6 images in 2 class folders');
  await expect(page.locator('[data-testid="scan-check"][data-check="loose-images"]')).toContainText('1 image outside the class folders will not be used (brain scans/stray.png): one folder per class');
});

test('CLI: every flag is checked before the browser starts, negative numbers get the range message, folders are checked first', () => {
  const noBrowser = ['--browser', '/nonexistent/chrome', '--out', '/tmp/x.json'];
  const empty = mkdtempSync(join(tmpdir(), 'studio-empty-'));
  const loose = mkdtempSync(join(tmpdir(), 'studio-loose-'));
  writeFileSync(join(loose, 'a.png'), 'x');
  // Each refusal comes before the (missing) browser would be started: a browser start would fail with "no browser at".
  for (const [args, reason] of [
    [['train', '--demo', '--epochs', '-3'], /^studio: --epochs must be a whole number from 1 to 10000 \(got "-3"\)$/],
    [['train', '--demo', '--epochs', '2', '--lr', '-0.5'], /^studio: --lr must be a positive number below 10 \(got "-0.5"\)$/],
    [['train', '--demo', '--epochs', '2', '--label-smoothing', '5'], /^studio: --label-smoothing must be a number from 0 up to \(not including\) 1 \(got "5"\)$/],
    [['train', '--demo', '--epochs', '2', '--label-smoothing', '-0.1'], /^studio: --label-smoothing must be a number from 0 up to \(not including\) 1 \(got "-0.1"\)$/],
    [['train', '--data', empty, '--epochs', '1'], /^studio: --data .*: the folder "studio-empty-\w+" is empty: there is nothing to import\. The studio reads one sub-folder per class/],
    [['train', '--data', loose, '--epochs', '1'], /^studio: --data .*: 1 image in "studio-loose-\w+" lies loose, not in class folders, and the studio needs one folder per class/],
    [['train', '--data', phantomFolder(['a', 'b'], 2), '--epochs', '1', '--label-conflicts', 'keep-last'], /^studio: --label-conflicts must be one of drop-all, keep-first, keep-all \(got "keep-last"\)$/],
    [['train', '--data', phantomFolder(['a', 'b'], 2), '--epochs', '1', '--group-pattern', '(unclosed'], /^studio: --group-pattern: .*\(unclosed/],
    [['train', '--demo', '--epochs', '1', '--label-conflicts', 'drop-all'], /^studio: --label-conflicts applies to --data, not --demo$/],
    [['register', '--run', 'run-x', '--name', 'Brain MRI', '--version', '1.0.0'], /^studio: --name: model name "Brain MRI" must be 1 to 64 characters/],
    [['register', '--run', 'run-x', '--name', 'brain', '--version', '1.0'], /^studio: --version: .*MAJOR\.MINOR\.PATCH/],
    [['register', '--run', 'run-x', '--name', 'brain', '--version', '1.0.0', '--tag', 'site'], /^studio: --tag: tag "site" must be key=value$/],
    [['export', '--model', 'Brain MRI@1.0.0', '--format', 'tfjs'], /^studio: --model Brain MRI@1\.0\.0: model name "Brain MRI" must be 1 to 64 characters/],
  ] as const) {
    const r = studio(...args, ...noBrowser);
    expect(r.code, args.join(' ')).toBe(2);
    expect(r.stderr[0], args.join(' ')).toMatch(reason);
  }
});

test('CLI: train --data says what the data checks found: the label conflict dropped, the class without validation images', () => {
  const root = problemFolder();
  const out = join(mkdtempSync(join(tmpdir(), 'studio-cli-')), 'run.json');
  const r = studio('train', '--data', root, '--image-size', '16', '--epochs', '1', '--out', out, '--port', '4441');
  expect(r.code, r.stderr.join('\n')).toBe(0);
  expect(r.stdout).toContain('warning: 1 image is filed under two or more classes with identical bytes (glioma/image (2).png = meningioma/same as glioma.png): every copy was left out (label conflicts: drop-all, the default)');
  expect(r.stdout).toContain('warning: no validation image for pituitary (1/0/0) (train/val/test)');
  const run = JSON.parse(readFileSync(out, 'utf8'));
  expect(run.dataset.counts.train.pituitary + run.dataset.counts.val.pituitary + run.dataset.counts.test.pituitary).toBe(1);
  expect(Object.values(run.dataset.counts).reduce((n: number, c) => n + (c as Record<string, number>).glioma, 0)).toBe(5);
});

const HOSTILE = '<img src=x onerror=alert(1)>';

test('a class folder named <img src=x onerror=alert(1)> and a hostile description, tag and reason: the report and the model card render it as text', async ({ page }) => {
  const root = phantomFolder([HOSTILE, 'notumor'], 6);
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await openStudio(page);
  await page.getByTestId('folder-input').setInputFiles(root);
  await expect(page.getByTestId('scan')).toContainText('2 class folders');
  const { report, card, overridden } = await page.evaluate(async (hostile) => {
    const s = window.studio!;
    const data = await s.engine.importDataset({ imageSize: 16, channels: 3, split: { train: 0.5, val: 0.25, test: 0.25 }, seed: 1, dedupe: 'keep-together' }, s.events);
    const run = await s.engine.train({ dataset: { kind: 'folder', fingerprint: data.fingerprint }, model: 'simple_cnn', epochs: 1, batchSize: 4, learningRate: 0.003, seed: 1 }, s.events);
    await s.engine.evaluate({ runId: run.runId, latencySamples: 5 }, s.events);
    const files = await s.engine.evaluationReport(run.runId, { includeFileNames: true });
    // A 100 % gate: the reason is recorded unless this tiny run happens to score every validation image right.
    const v = await s.engine.register({ runId: run.runId, name: 'hostile', version: '1.0.0', description: `${hostile} [x](javascript:alert(1))`, tags: [`site=${hostile}`], overrideReason: `${hostile} | ${hostile}`, aliases: ['candidate'], threshold: 1 });
    const exported = await s.engine.exportModel('hostile@1.0.0', 'tfjs');
    return { overridden: !v.gate.passed, report: files.find((f) => f.name === 'evaluation_report.md')!.text!, card: new TextDecoder().decode(exported.files.find((f) => f.name === 'MODEL_CARD.md')!.bytes) };
  }, HOSTILE);
  for (const [name, md] of [['evaluation_report.md', report], ['MODEL_CARD.md', card]]) {
    const rendered = renderMarkdown(md);
    expect(liveProblems(rendered), name).toEqual([]);
    expect(rendered.text, name).toContain(asShown(HOSTILE));
  }
  expect(renderMarkdown(card).text).toContain(`${HOSTILE} [x](javascript:alert(1))`);
  expect(renderMarkdown(card).text).toContain(`site=${HOSTILE}`);
  if (overridden) expect(renderMarkdown(card).text).toContain(`“${HOSTILE} | ${HOSTILE}”`);
  expect(pageErrors).toEqual([]);
});
