import { expect, test, type Download } from '@playwright/test';
import { gotoStep } from '../fixtures/studio-ui';
import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
import { strFromU8 } from 'fflate';
import { ONNX_INPUT, ONNX_OUTPUT, readOnnxMetadata } from '../../src/core/export/onnx';
import { generateDemoDataset } from '../../src/core/dataset/demo';
import { stratifiedSplit } from '../../src/core/dataset/split';
import { maxAbsDifference, paritySample, PARITY_TOLERANCE } from '../../src/core/export/parity';
import { unzipFiles } from '../../src/core/export/tfjs';

const bytesOf = async (download: Download) => new Uint8Array(readFileSync((await download.path())!));

// The whole registry through the studio's own buttons: a tiny demo run is registered under the gate with an
// override reason, listed with its card, downloaded as TF.js and ONNX (checked here, in Node), imported back, and
// the storage view shows the numbers.
test('register demo@1.0.0 as champion through the UI, download TF.js and ONNX, import it back, see the storage', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('backend-name')).not.toBeEmpty({ timeout: 60_000 });
  await gotoStep(page, 'train');
  await page.getByTestId('epochs').fill('2');
  await page.getByTestId('image-size').fill('32');
  await page.getByTestId('per-class').fill('20');
  await page.getByTestId('train-demo').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 8 * 60_000 });

  await gotoStep(page, 'use');
  const form = page.getByTestId('register-form');
  await form.getByTestId('register-name').fill('demo');
  // The version is checked as it is typed.
  await form.getByTestId('register-version').fill('1.0');
  await expect(form.getByTestId('register-problems')).toContainText('"1.0" is not a semantic version: it needs three numbers, MAJOR.MINOR.PATCH (e.g. 1.0.0)');
  await expect(form.getByTestId('register-submit')).toBeDisabled();
  await form.getByTestId('register-version').fill('1.0.0');
  await form.getByTestId('register-tags').fill('data=demo, size=32');
  await form.getByTestId('register-aliases').fill('');
  await form.getByTestId('register-stage').selectOption('Production');
  await expect(form.getByTestId('register-preview')).toContainText('Aliases: champion (stage Production)');
  await expect(form.getByTestId('register-problems').locator('li')).toHaveCount(0);

  // Two epochs on phantoms rarely reach 85 %: raise the gate to 100 % so the refusal and the override always show.
  await form.getByTestId('register-threshold').fill('100');
  await expect(form.getByTestId('register-gate')).toHaveAttribute('data-passed', 'false');
  await expect(form.getByTestId('register-refused')).toContainText('is below the 100.0 % threshold; give an override reason to register it anyway');
  await expect(form.getByTestId('register-submit')).toBeDisabled();
  await form.getByTestId('register-override').check();
  await expect(form.getByTestId('register-submit')).toBeDisabled();
  await form.getByTestId('register-override-reason').fill('e2e: two demo epochs');
  await expect(form.getByTestId('register-submit')).toBeEnabled();
  await form.getByTestId('register-submit').click();

  const row = page.locator('[data-testid="model-version"][data-id="demo@1.0.0"]');
  await expect(row).toBeVisible({ timeout: 2 * 60_000 });
  await expect(row.getByTestId('version-aliases')).toContainText('champion');
  await expect(row.getByTestId('version-gate')).toContainText('overridden: “e2e: two demo epochs”');
  await expect(row.getByTestId('version-metrics')).toContainText('95 % CI');
  // The same version again is refused before the click.
  await expect(form.getByTestId('register-problems')).toContainText('demo@1.0.0 is already registered');

  const panel = page.getByTestId('registry-panel');
  await panel.getByTestId('show-card').click();
  await expect(panel.getByTestId('model-card')).toContainText('## Split protocol and leakage status');
  await expect(panel.getByTestId('model-card')).toContainText('“e2e: two demo epochs”');
  const [card] = await Promise.all([page.waitForEvent('download'), panel.getByTestId('download-card').click()]);
  expect(card.suggestedFilename()).toBe('demo-1.0.0-MODEL_CARD.md');
  expect(strFromU8(await bytesOf(card))).toContain('**Accuracy gate overridden**');

  // TF.js: one zip holding the model, its weights and its metadata.
  const [tfjs] = await Promise.all([page.waitForEvent('download', { timeout: 2 * 60_000 }), panel.getByTestId('download-tfjs').click()]);
  expect(tfjs.suggestedFilename()).toBe('demo-1.0.0-tfjs.zip');
  const zipBytes = await bytesOf(tfjs);
  const files = unzipFiles(zipBytes);
  expect(Object.keys(files)).toEqual(expect.arrayContaining(['model.json', 'metadata.json', 'MODEL_CARD.md', 'group1-shard1of1.bin']));
  expect(JSON.parse(strFromU8(files['model.json'])).format).toBe('layers-model');
  expect(JSON.parse(strFromU8(files['metadata.json']))).toMatchObject({ name: 'demo', version: '1.0.0', inputSize: 32, channels: 3, labels: ['glioma', 'meningioma', 'pituitary'] });

  // TF.js into a folder, and a folder picked for import: a native dialog needs a person, so the picker hands out
  // folders of the origin-private file system (the same kind of handle).
  await page.evaluate(() => {
    (window as unknown as { showDirectoryPicker: () => Promise<FileSystemDirectoryHandle> }).showDirectoryPicker = () => navigator.storage.getDirectory();
  });
  await panel.getByTestId('export-tfjs-folder').click();
  await expect(panel.getByTestId('registry-saved')).toContainText('TF.js files written to');
  const written = await page.evaluate(async () => {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('demo-1.0.0-tfjs');
    const names: string[] = [];
    for await (const key of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(key);
    return names.sort();
  });
  expect(written).toEqual(Object.keys(files).sort());
  await page.evaluate(() => {
    (window as unknown as { showDirectoryPicker: () => Promise<FileSystemDirectoryHandle> }).showDirectoryPicker = async () => (await navigator.storage.getDirectory()).getDirectoryHandle('demo-1.0.0-tfjs');
  });
  await panel.getByTestId('import-model').locator('summary').click();
  await panel.getByTestId('import-model-pick').click();
  await expect(panel.getByTestId('import-picked')).toContainText(`demo-1.0.0-tfjs: ${written.length} files`);
  // Name and version come from the folder's metadata.json.
  await expect(panel.getByTestId('import-name')).toHaveValue('demo');
  await expect(panel.getByTestId('import-version')).toHaveValue('1.0.0');

  // ONNX: the parity check shows next to the download; onnxruntime-node gives the probabilities the page shows.
  const [onnxDownload] = await Promise.all([page.waitForEvent('download', { timeout: 4 * 60_000 }), panel.getByTestId('download-onnx').click()]);
  expect(onnxDownload.suggestedFilename()).toBe('demo-1.0.0.onnx');
  const parity = panel.getByTestId('onnx-parity');
  await expect(parity).toHaveAttribute('data-passed', 'true');
  // A demo run's version is checked on the run's own held-out phantoms.
  await expect(parity).toContainText('held-out images of your dataset');
  expect(Number(await parity.getAttribute('data-max-difference'))).toBeLessThanOrEqual(PARITY_TOLERANCE);
  const shown = await parity.getByTestId('parity-probabilities').locator('tbody tr').evaluateAll((rows) => rows.map((r) => Array.from(r.querySelectorAll('td'), (td) => Number(td.textContent))));
  expect(shown.length).toBeGreaterThan(0);
  const onnxBytes = await bytesOf(onnxDownload);
  expect(readOnnxMetadata(onnxBytes)).toMatchObject({ name: 'demo', version: '1.0.0', inputSize: 32 });
  const session = await ort.InferenceSession.create(onnxBytes);
  // The same images, regenerated here from the run's recorded demo settings as the engine does.
  const [run] = await page.evaluate(() => window.studio!.engine.runs());
  if (run.config.dataset.kind !== 'demo') throw new Error('the run is not a demo run');
  const demo = generateDemoDataset(run.config.dataset);
  const split = stratifiedSplit(demo.keys.map((key, i) => ({ key, label: demo.labels[i] })), run.config.dataset.split, run.config.seed);
  const sample = paritySample(demo.images, 32 * 32 * 3, split, shown.length)!;
  expect(sample.count).toBe(shown.length);
  const out = await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', Float32Array.from(sample.pixels), [shown.length, 32, 32, 3]) });
  const difference = maxAbsDifference(shown.flat(), out[ONNX_OUTPUT].data as Float32Array);
  console.log(`onnxruntime-node vs the probabilities the page showed (6 decimals) on ${shown.length} images: max |Δp| = ${difference.toExponential(2)}`);
  expect(difference).toBeLessThanOrEqual(PARITY_TOLERANCE);
  await session.release();

  // The downloaded zip goes back in as a new version; an alias moves to it.
  await panel.getByTestId('import-model-zip').setInputFiles({ name: 'demo-1.0.0-tfjs.zip', mimeType: 'application/zip', buffer: Buffer.from(zipBytes) });
  await expect(panel.getByTestId('import-picked')).toContainText('demo-1.0.0-tfjs.zip: 1 file');
  await panel.getByTestId('import-name').fill('demo');
  await panel.getByTestId('import-version').fill('1.0.1');
  await panel.getByTestId('import-override-reason').fill('e2e: re-import');
  await panel.getByTestId('import-submit').click();
  const imported = page.locator('[data-testid="model-version"][data-id="demo@1.0.1"]');
  await expect(imported).toBeVisible({ timeout: 60_000 });
  await panel.getByTestId('alias-input').first().fill('champion');
  await panel.getByTestId('alias-set').first().click();
  await expect(imported.getByTestId('version-aliases')).toContainText('champion');
  await expect(row.getByTestId('version-aliases')).not.toContainText('champion');

  // Storage: the browser's usage and quota, the studio's share by kind, and the persistence request.
  await gotoStep(page, 'storage');
  const storage = page.getByTestId('storage-panel');
  await storage.getByTestId('storage-refresh').click();
  const models = storage.locator('[data-testid="storage-group"][data-group="models"]');
  await expect(models).toHaveAttribute('data-items', '2');
  const twoVersions = Number(await models.getAttribute('data-bytes'));
  // Deleting a version (after the confirmation) frees its bytes; the other version and the run stay.
  page.once('dialog', (d) => void d.accept());
  await storage.getByTestId('storage-delete-version').first().click();
  await expect(imported).toHaveCount(0);
  await expect(models).toHaveAttribute('data-items', '1');
  expect(Number(await models.getAttribute('data-bytes'))).toBeLessThan(twoVersions);
  // The other version stays in the registry (on the Use & export screen, not shown while Storage is).
  await expect(row).toHaveCount(1);
  const estimate = storage.getByTestId('storage-estimate');
  expect(Number(await estimate.getAttribute('data-usage'))).toBeGreaterThan(0);
  expect(Number(await estimate.getAttribute('data-quota'))).toBeGreaterThan(Number(await estimate.getAttribute('data-usage')));
  const groups = await storage.getByTestId('storage-group').evaluateAll((els) => els.map((e) => [e.getAttribute('data-group'), Number(e.getAttribute('data-bytes'))]));
  expect(groups.map(([g]) => g)).toEqual(['runs', 'checkpoints', 'datasets', 'models', 'backbones']);
  for (const [group, bytes] of groups) if (group !== 'backbones' && group !== 'datasets') expect(bytes, `${group} bytes`).toBeGreaterThan(0);
  const persist = storage.getByTestId('persist-storage');
  if (await persist.isVisible()) await persist.click();
  // Either answer is the browser's to give; the view states it.
  await expect(storage.getByTestId('storage-persisted')).toHaveAttribute('data-persisted', /^(true|false)$/);
  console.log(`storage: ${await estimate.textContent()} · ${JSON.stringify(groups)} · persisted ${await storage.getByTestId('storage-persisted').getAttribute('data-persisted')}`);
});
