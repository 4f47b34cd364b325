import { expect, test } from '@playwright/test';
import { gotoStep, chooseModel } from '../fixtures/studio-ui';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_VERSION } from '../../src/core/config';
import { tinyOnnxClassifier } from '../fixtures/tiny-onnx';

test('an ONNX CNN imports as a backbone with its parity shown, and trains frozen on the demo at 32 px', async ({ page }) => {
  const dir = mkdtempSync(join(tmpdir(), 'studio-onnx-'));
  const file = join(dir, 'tiny-cnn.onnx');
  // Written by the studio's own ONNX exporter, in Node, at test time.
  writeFileSync(file, await tinyOnnxClassifier(32));
  writeFileSync(join(dir, 'broken.onnx'), Buffer.from('not a protobuf at all'));

  await page.goto('/');
  await expect(page.getByTestId('backend-name')).not.toBeEmpty({ timeout: 60_000 });
  await gotoStep(page, 'model');
  await page.getByTestId('onnx-import').locator('summary').click();

  // A file that is not ONNX: a clear message, nothing listed.
  await page.getByTestId('onnx-input').setInputFiles(join(dir, 'broken.onnx'));
  await page.getByTestId('onnx-id').fill('broken');
  await page.getByTestId('onnx-import-button').click();
  await expect(page.getByTestId('onnx-error')).toContainText('not an ONNX model');
  await expect(page.getByTestId('model').locator('[data-model="broken"]')).toHaveCount(0);

  await page.getByTestId('onnx-input').setInputFiles(file);
  await page.getByTestId('onnx-id').fill('tiny_onnx');
  await page.getByTestId('onnx-import-button').click();
  const status = page.getByTestId('onnx-status');
  await expect(status).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('onnx-error')).toHaveCount(0);
  expect(Number(await status.getAttribute('data-difference'))).toBeLessThanOrEqual(1e-3);
  await expect(page.getByTestId('onnx-ops')).toContainText('Conv ×');
  await expect(page.getByTestId('onnx-parity')).toContainText('largest logit difference');
  console.log(`ONNX import parity: ${await page.getByTestId('onnx-parity').innerText()}`);

  // Listed with the models; trains with a frozen backbone on the demo phantoms.
  await chooseModel(page, 'tiny_onnx');
  await page.getByTestId('strategy').selectOption('frozen');
  await gotoStep(page, 'train');
  await page.getByTestId('epochs').fill('1');
  await page.getByTestId('image-size').fill('32');
  await page.getByTestId('train-demo').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 5 * 60_000 });
  const run = await page.evaluate(async () => (await window.studio!.engine.runs())[0]);
  expect(run).toMatchObject({ status: 'completed', model: 'tiny_onnx', strategy: 'frozen', checkpoint: { best: 1, last: 1 } });
  expect(Number.isFinite(run.epochs[0].trainLoss)).toBe(true);

  // Still in the zoo after a reload (the entry lives with the weights in IndexedDB).
  await page.reload();
  await expect(page.getByTestId('model').locator('[data-model="tiny_onnx"]')).toHaveCount(1, { timeout: 60_000 });
});

test('the CLI imports an ONNX backbone into its profile, then trains it with the medical head', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'studio-onnx-cli-'));
  const file = join(dir, 'tiny-cnn.onnx');
  writeFileSync(file, await tinyOnnxClassifier(32));
  // IndexedDB belongs to the profile and the port: both commands use the same ones.
  const common = ['--profile', join(dir, 'profile'), '--port', String(5336)];
  const studio = (...args: string[]) => spawnSync('npx', ['tsx', 'cli/studio.ts', ...args, ...common], { encoding: 'utf8', timeout: 5 * 60_000 });

  const missing = studio('import-onnx', '--file', join(dir, 'absent.onnx'), '--id', 'x');
  expect(missing.status).toBe(2);
  expect(missing.stderr).toContain('does not exist');

  const imported = studio('import-onnx', '--file', file, '--id', 'tiny_cli', '--out', join(dir, 'import.json'));
  expect(imported.status, imported.stderr).toBe(0);
  expect(imported.stdout).toMatch(/largest logit difference \d\.\d+e-\d+/);
  const record = JSON.parse(readFileSync(join(dir, 'import.json'), 'utf8'));
  expect(record.parity.outputDifference).toBeLessThanOrEqual(1e-3);

  const out = join(dir, 'run.json');
  const trained = studio('train', '--demo', '--image-size', '32', '--per-class', '8', '--model', 'tiny_cli', '--strategy', 'medical', '--epochs', '1', '--out', out);
  expect(trained.status, trained.stderr).toBe(0);
  expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ model: 'tiny_cli', strategy: 'medical' });

  // A config file naming the imported backbone: Node's check cannot know it, so the page, which does, reads the file.
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ version: CONFIG_VERSION, train: { model: 'tiny_cli', strategy: 'medical', epochs: 1 } }));
  const fromConfig = studio('train', '--demo', '--image-size', '32', '--per-class', '8', '--config', config, '--out', join(dir, 'run-config.json'));
  expect(fromConfig.status, fromConfig.stderr).toBe(0);
  expect(JSON.parse(readFileSync(join(dir, 'run-config.json'), 'utf8'))).toMatchObject({ model: 'tiny_cli', strategy: 'medical' });
  // An id the profile does not have either is refused with the page's list, imported backbones included.
  writeFileSync(config, JSON.stringify({ version: CONFIG_VERSION, train: { model: 'tiny_typo', strategy: 'medical' } }));
  const typo = studio('train', '--demo', '--config', config, '--out', join(dir, 'run-typo.json'));
  expect(typo.status).toBe(2);
  expect(typo.stderr).toMatch(/--config .*config\.json: .*"tiny_typo".*known: .*tiny_cli/);
});
