import { expect, test } from '@playwright/test';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { studio } from '../fixtures/cli';
import { phantomFolder } from '../fixtures/folders';
import { gotoStep } from '../fixtures/studio-ui';
import { hasPretrained, PRETRAINED_DIR, servePretrained } from '../fixtures/pretrained';

const MODEL = 'mobilenet_v2_0.35_224';
const skipWhy = `the recommended recipe skipped: ../shared/pretrained/${MODEL} is absent (tests never download weights)`;
if (!hasPretrained(MODEL)) console.log(skipWhy);

test('train --recommended refuses the flags it decides itself, and needs a folder', () => {
  const root = phantomFolder(['a', 'b'], 4);
  for (const [args, reason] of [
    [['train', '--data', root, '--recommended', '--epochs', '3', '--out', '/tmp/x.json'], /^studio: --recommended picks the recipe itself; leave out --epochs$/],
    [['train', '--data', root, '--recommended', '--model', 'simple_cnn', '--split', '80/10/10', '--out', '/tmp/x.json'], /^studio: --recommended picks the recipe itself; leave out --model, --split$/],
    [['train', '--demo', '--recommended', '--out', '/tmp/x.json'], /^studio: --recommended needs --data DIR/],
    [['crossval', '--data', root, '--recommended', '--out', '/tmp/x.json'], /^studio: --recommended applies to train, not crossval$/],
  ] as const) {
    const r = studio(...args);
    expect(r.code, args.join(' ')).toBe(2);
    expect(r.stderr[0], args.join(' ')).toMatch(reason);
  }
});

test('train --recommended measures this machine, prints the recipe with its reasons and time, and trains it end to end', async () => {
  test.skip(!hasPretrained(MODEL), skipWhy);
  const root = phantomFolder(['glioma', 'meningioma', 'notumor', 'pituitary'], 8);
  const dir = mkdtempSync(join(tmpdir(), 'studio-recommended-'));
  const out = join(dir, 'run.json');
  const r = studio('train', '--data', root, '--recommended', '--models-dir', PRETRAINED_DIR, '--out', out, '--port', '4411', '--profile', join(dir, 'profile'));
  expect(r.code, r.stderr.join('\n')).toBe(0);
  expect(r.stdout).toMatch(/recommended recipe: mobilenet_v2_0\.35_224 mlp \(Dense 100 ReLU head\), adam lr 0\.001, batch 16, \d+ epochs, split 70\/15\/15, class weights off, no early stopping, last epoch kept, mirrored training, test-time mirroring, 224 px/);
  expect(r.stdout).toMatch(/ {2}- MobileNetV2 α 0\.35 with its ImageNet weights frozen: .* at the measured \d+ images\/s on /);
  expect(r.stdout).toContain('  - Only 8 images of glioma');
  expect(r.stdout).toMatch(/estimated time: \d+ s \(import not measured yet, features \d+ s, training \d+ s, evaluation \d+ s\)/);
  expect(r.stdout).toMatch(/imported 32 images/);

  const run = JSON.parse(readFileSync(out, 'utf8'));
  const rec = run.recommendation;
  expect(rec.settings).toMatchObject({ model: MODEL, strategy: 'mlp', optimizer: 'adam', batchSize: 16, earlyStopping: null, classWeights: 'off', keepEpoch: 'last', tta: 'flip', mirrorTraining: true, imageSize: 224 });
  expect(rec.estimate.stages.map((s: { stage: string }) => s.stage)).toEqual(['import', 'features', 'training', 'evaluation']);
  // The run is the recipe: its strategy and optimiser, every epoch (no early stopping), its cached features at 224 px.
  expect(run).toMatchObject({ model: MODEL, strategy: 'mlp', optimizer: 'adam', status: 'completed' });
  expect(run.epochs).toHaveLength(rec.settings.epochs);
  expect(run.split.train + run.split.val + run.split.test).toBe(32);
  // Cached features: the training and validation images, each as it is and mirrored (mirrored training, test-time mirroring).
  expect(run.featureCache).toMatchObject({ images: 2 * (run.split.train + run.split.val), featureShape: [1280] });
});

test('the train panel offers the recommended recipe first, with its reasons and time, and one click fills the forms', async ({ page, context }) => {
  test.skip(!hasPretrained(MODEL), skipWhy);
  await servePretrained(context);
  await page.goto('/');
  await expect(page.getByTestId('backend-name')).toHaveText(/webgpu|webgl|wasm|cpu/, { timeout: 60_000 });
  await page.getByTestId('folder-input').setInputFiles(phantomFolder(['glioma', 'meningioma', 'notumor'], 6));
  await expect(page.getByTestId('scan')).toBeVisible();
  // The Model step's first offer: above every model card.
  await gotoStep(page, 'model');
  const box = page.getByTestId('recommended-recipe');
  await expect(box).toBeVisible();
  expect(await box.evaluate((el) => Boolean(el.compareDocumentPosition(document.querySelector('[data-testid^="model-card-"]')!) & Node.DOCUMENT_POSITION_FOLLOWING))).toBe(true);
  await page.getByTestId('recommend').click();
  await expect(page.getByTestId('recommendation-summary')).toContainText('Dense 100 ReLU', { timeout: 120_000 });
  await expect(page.getByTestId('recommendation-summary')).toContainText('batch 16, 50 epochs, split 70/15/15, class weights off, no early stopping, last epoch kept, trained on mirrored images too, each image answered with its mirror too, 224 px');
  await expect(page.getByTestId('recommendation-estimate')).toContainText(/Estimated time on this machine: \d+ (s|min)/);
  await expect(page.getByTestId('recommendation-reasons').locator('li')).not.toHaveCount(0);
  await expect(page.getByTestId('recommendation-reasons')).toContainText('Only 6 images of glioma');

  await page.getByTestId('use-recommended').click();
  await expect(page.getByTestId('model')).toHaveAttribute('data-value', MODEL);
  await expect(page.getByTestId('strategy')).toHaveValue('mlp');
  await expect(page.getByTestId('optimizer')).toHaveValue('adam');
  await expect(page.getByTestId('epochs')).toHaveValue('50');
  await expect(page.getByTestId('batch-size')).toHaveValue('16');
  await expect(page.getByTestId('early-stopping')).not.toBeChecked();
  await expect(page.getByTestId('class-weights')).toHaveValue('off');
  await expect(page.getByTestId('keep-epoch')).toHaveValue('last');
  await expect(page.getByTestId('tta')).toHaveValue('flip');
  await expect(page.getByTestId('mirror-training')).toBeChecked();
  await expect(page.getByTestId('clip-norm')).toHaveValue('0');
  await expect(page.getByTestId('import-size')).toHaveValue('224');
});
