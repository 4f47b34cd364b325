import { expect, test } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { phantomFolder } from '../fixtures/folders';
import { chooseModel, gotoStep } from '../fixtures/studio-ui';

// Keras's smallest input for Xception, to keep its three trainings short; the weights file is the full network.
const SIZE = 71;
const PYTHON = '/usr/bin/python3';
const probe = spawnSync(PYTHON, ['-c', 'import h5py, numpy'], { encoding: 'utf8' });
const skipWhy = probe.status === 0 ? '' : `Xception e2e skipped: ${PYTHON} cannot import h5py (apt-get install python3-h5py), which writes its test weights`;
if (skipWhy) console.log(skipWhy);
test.skip(Boolean(skipWhy), skipWhy);

/** A Keras-layout Xception .h5 with seeded random weights (83 MB, in a temporary folder). */
function weightsFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'xception-e2e-'));
  const r = spawnSync(PYTHON, ['tests/fixtures/xception_h5.py', dir, '--no-reference'], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return join(dir, 'xception.h5');
}

test('Xception: a blocked official URL says how to get the file; a picked .h5 trains frozen, medical and finetune', async ({ page, context }) => {
  const h5 = weightsFile();
  const requested: string[] = [];
  // Tests never reach the internet: the official host is unreachable here, as offline.
  await context.route('https://storage.googleapis.com/**', (route) => (requested.push(route.request().url()), route.abort('internetdisconnected')));
  await page.goto('/?backend=wasm');
  await expect(page.getByTestId('backend-name')).toHaveText('wasm', { timeout: 60_000 });
  await page.getByTestId('folder-input').setInputFiles(phantomFolder(['glioma', 'meningioma'], 4));
  await page.getByTestId('import-size').fill(String(SIZE));
  await page.getByTestId('import').click();
  await expect(page.getByTestId('dataset-summary')).toBeVisible({ timeout: 60_000 });

  await chooseModel(page, 'xception');
  await page.getByTestId('strategy').selectOption('frozen');
  await gotoStep(page, 'train');
  await page.getByTestId('epochs').fill('1');
  await page.getByTestId('batch-size').fill('4');
  await page.getByTestId('train-demo').click();
  const error = page.getByTestId('train-error');
  await expect(error).toContainText('could not download https://storage.googleapis.com/tensorflow/keras-applications/xception/xception_weights_tf_dim_ordering_tf_kernels_notop.h5', { timeout: 60_000 });
  await expect(error).toContainText('pick it with "Choose weights file…"');
  expect(requested).toEqual(['https://storage.googleapis.com/tensorflow/keras-applications/xception/xception_weights_tf_dim_ordering_tf_kernels_notop.h5']);

  await gotoStep(page, 'model');
  const panel = page.getByTestId('weights-file');
  await panel.locator('summary').click();
  await expect(panel.getByTestId('weights-model')).toHaveValue('xception');
  await expect(panel.getByTestId('weights-url')).toHaveAttribute('href', requested[0]);
  await panel.getByTestId('weights-file-input').setInputFiles(h5);
  await expect(panel.getByTestId('weights-status')).toContainText('234 weights in 80 layers', { timeout: 120_000 });

  for (const strategy of ['frozen', 'medical', 'finetune']) {
    await gotoStep(page, 'model', { advanced: strategy === 'finetune' });
    await page.getByTestId('strategy').selectOption(strategy);
    if (strategy === 'finetune') await page.getByTestId('trainable-blocks').fill('2');
    await gotoStep(page, 'train');
    const known = new Set(await page.evaluate(async () => (await window.studio!.engine.runs()).map((r) => r.runId)));
    await page.getByTestId('train-demo').click();
    // A frozen epoch on eight images at 71 px can end before a status check would see it training: find the new run.
    const newRun = async () => (await page.evaluate(async () => window.studio!.engine.runs())).find((r) => !known.has(r.runId));
    await expect.poll(async () => (await newRun())?.status ?? 'not started', { timeout: 5 * 60_000 }).toBe('completed');
    const run = (await newRun())!;
    expect(run).toMatchObject({ status: 'completed', model: 'xception', strategy, checkpoint: { best: 1, last: 1 } });
    // Xception's own defaults are the seed's Xception-Medical optimiser.
    expect(run.optimizer).toBe('adamax');
  }
  // The picked file was cached: no later run asked the official host again.
  expect(requested).toHaveLength(1);
});

test('the CLI trains Xception from --weights FILE at a size below 299, frozen, medical and finetune', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'studio-cli-'));
  const [data, h5] = [phantomFolder(['a', 'b'], 3), weightsFile()];
  for (const strategy of ['frozen', 'medical', 'finetune']) {
    const out = join(dir, `${strategy}.json`);
    const blocks = strategy === 'finetune' ? ['--trainable-blocks', '2', '--probe-epochs', '0'] : [];
    const args = ['tsx', 'cli/studio.ts', 'train', '--data', data, '--image-size', String(SIZE), '--model', 'xception', '--strategy', strategy, ...blocks, '--weights', h5, '--epochs', '1', '--batch-size', '4', '--backend', 'wasm', '--out', out, '--port', '0', '--profile', join(dir, 'profile')];
    const r = spawnSync('npx', args, { encoding: 'utf8', timeout: 8 * 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('Xception (299): xception.h5 loaded, 234 weights in 80 layers');
    const run = JSON.parse(readFileSync(out, 'utf8'));
    expect(run).toMatchObject({ model: 'xception', strategy, optimizer: 'adamax', checkpoint: { best: 1, last: 1 } });
  }
});
