import { expect, test } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { phantomFolder } from '../fixtures/folders';
import { chooseModel, gotoStep, importFolder } from '../fixtures/studio-ui';
import { hasPretrained, PRETRAINED_DIR, servePretrained } from '../fixtures/pretrained';

const MODEL = 'mobilenet_v2_0.35_224';
const skipWhy = `pretrained strategies skipped: ../shared/pretrained/${MODEL} is absent (tests never download weights)`;
// Said on the console too: the list reporter shows a skipped test without its reason.
if (!hasPretrained(MODEL)) console.log(skipWhy);
test.skip(!hasPretrained(MODEL), skipWhy);

test('each strategy trains a pretrained MobileNetV2 on WebGPU, with weights served locally for the official URL', async ({ page, context }) => {
  const served = await servePretrained(context);
  // Forced: auto mode would route the work off this software adapter (see routing.spec.ts).
  await page.goto('/?backend=webgpu');
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
  await importFolder(page, phantomFolder(['glioma', 'meningioma', 'pituitary'], 8));

  await chooseModel(page, MODEL);
  await gotoStep(page, 'train');
  await page.getByTestId('epochs').fill('1');
  for (const strategy of ['frozen', 'medical', 'finetune']) {
    await gotoStep(page, 'model');
    await page.getByTestId('strategy').selectOption(strategy);
    await gotoStep(page, 'train');
    await page.getByTestId('train-demo').click();
    await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'training');
    await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 5 * 60_000 });
    await expect(page.getByTestId('epoch-row')).toHaveCount(1);
    const run = await page.evaluate(async () => (await window.studio!.engine.runs())[0]);
    expect(run).toMatchObject({ status: 'completed', model: MODEL, strategy, backend: 'webgpu', routing: { forward: 'webgpu', train: 'webgpu', routed: false }, checkpoint: { best: 1, last: 1 } });
    expect(run.optimizer).toBe(strategy === 'finetune' ? 'adamax' : 'adamw');
    // Augmentation is off, so a frozen backbone's features were computed once and cached.
    expect(Boolean(run.featureCache)).toBe(strategy !== 'finetune');
  }
  // Downloaded once: later runs came from the IndexedDB cache.
  expect(served.filter((u) => u.endsWith('model.json'))).toHaveLength(1);
});

test('the CLI trains a pretrained backbone from --models-dir and reports strategy, optimiser and checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'studio-cli-'));
  const out = join(dir, 'run.json');
  const r = spawnSync('npx', ['tsx', 'cli/studio.ts', 'train', '--data', phantomFolder(['a', 'b'], 8), '--image-size', '32', '--model', MODEL, '--strategy', 'medical', '--epochs', '1', '--models-dir', PRETRAINED_DIR, '--out', out, '--port', '0', '--profile', join(dir, 'profile')], { encoding: 'utf8', timeout: 5 * 60_000 });
  expect(r.status, r.stderr).toBe(0);
  const run = JSON.parse(readFileSync(out, 'utf8'));
  expect(run).toMatchObject({ model: MODEL, strategy: 'medical', optimizer: 'adamw', checkpoint: { best: 1, last: 1 } });
});
