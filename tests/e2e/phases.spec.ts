import { expect, test, type Page } from '@playwright/test';
import type { RunRecord } from '../../src/engine/types';
import { phantomFolder } from '../fixtures/folders';
import { chooseModel, gotoStep, importFolder, pauseAfterFirstEpoch } from '../fixtures/studio-ui';
import { hasPretrained, servePretrained } from '../fixtures/pretrained';

const MODEL = 'mobilenet_v2_0.35_224';
const skipWhy = `probe-then-fine-tune tests skipped: ../shared/pretrained/${MODEL} is absent (tests never download weights)`;

const latestRun = (page: Page): Promise<RunRecord> => page.evaluate(async () => (await window.studio!.engine.runs())[0]);


/** The form set for "probe 1 epoch, then the last 2 blocks for 2 at a tenth of the rate", cosine without warm-up. */
async function probeThenFinetune(page: Page, folder: string): Promise<void> {
  // The official weight URLs are answered from ../shared/pretrained: tests never download.
  await servePretrained(page.context());
  await page.goto('/');
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
  await importFolder(page, folder);
  await chooseModel(page, MODEL);
  await page.getByTestId('strategy').selectOption('finetune');
  await gotoStep(page, 'train');
  await page.getByTestId('epochs').fill('3');
  await gotoStep(page, 'model', { advanced: true });
  await page.getByTestId('trainable-blocks').fill('2');
  await page.getByTestId('probe-epochs').fill('1');
  await page.getByTestId('schedule').selectOption('cosine');
  await page.getByTestId('cosine-warmup').fill('0');
}

/** Phases, their caches and the rate of every epoch, as "probe 1, then 2 blocks for 2 on a cosine" must leave them. */
function expectProbeThenFinetune(run: RunRecord): void {
  const lr = run.config.learningRate;
  expect(run.phases?.map((p) => [p.name, p.fromEpoch, p.toEpoch, p.trainableBlocks, p.learningRate, p.featureCache?.boundary, p.featureCache?.keep])).toEqual([
    ['probe', 1, 1, 0, lr, 'head_pool', 'backend'],
    ['finetune', 2, 3, 2, lr * 0.1, 'block_15_add', 'backend'],
  ]);
  expect(run.epochs.map((m) => m.phase)).toEqual(['probe', 'finetune', 'finetune']);
  // Each phase runs its own cosine: the probe's one epoch at its full rate, the fine-tune phase from lr/10 to half that.
  const rates = run.epochs.map((m) => m.learningRate!);
  expect(rates[0]).toBeCloseTo(lr, 10);
  expect(rates[1]).toBeCloseTo(lr * 0.1, 10);
  expect(rates[2]).toBeCloseTo(lr * 0.1 * 0.5 * (1 + Math.cos(Math.PI / 2)), 10);
}

test.describe('probe, then fine-tune on WebGPU', () => {
  if (!hasPretrained(MODEL)) console.log(skipWhy);
  test.skip(!hasPretrained(MODEL), skipWhy);

  test('a probe epoch, then the last 2 blocks on cached activations, each phase on its own cosine', async ({ page }) => {
    await probeThenFinetune(page, phantomFolder(['glioma', 'meningioma', 'pituitary'], 8));
    await gotoStep(page, 'train');
    await page.getByTestId('train-demo').click();
    await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 8 * 60_000 });
    await expect(page.getByTestId('epoch-row')).toHaveCount(3);
    const run = await latestRun(page);
    expect(run).toMatchObject({ status: 'completed', strategy: 'finetune', config: { probeEpochs: 1, trainableBlocks: 2, lrSchedule: { kind: 'cosine', warmup: 0, unit: 'epoch' } } });
    expectProbeThenFinetune(run);
  });

  test('after a reload in the fine-tune phase, the run resumes in that phase', async ({ page }) => {
    const folder = phantomFolder(['glioma', 'meningioma', 'pituitary'], 8);
    await probeThenFinetune(page, folder);
    await gotoStep(page, 'train');
    // Paused once the probe epoch is done: on a software adapter the two fine-tune epochs can end before a reload.
    await pauseAfterFirstEpoch(page);
    await page.getByTestId('train-demo').click();
    await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'paused', { timeout: 8 * 60_000 });
    // The probe epoch is done and the fine-tune phase has begun (its cache is recorded before its first epoch).
    // Polled from the click on: the run record may not be stored yet (a thrown error would end the poll at once).
    await expect.poll(async () => (await page.evaluate(async () => (await window.studio!.engine.runs())[0]?.phases?.length)) ?? 0, { timeout: 8 * 60_000 }).toBe(2);
    await page.reload();
    await expect(page.getByTestId('resumable')).toContainText('when the page closed', { timeout: 60_000 });
    const before = await latestRun(page);
    expect(before.checkpoint.last).toBeGreaterThanOrEqual(1);
    // Decoded images live only in the page's session: the same folder, imported again, is the same dataset.
    await importFolder(page, folder);
    await gotoStep(page, 'train');
    await page.getByTestId('resume-run').click();
    await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 8 * 60_000 });
    await expect(page.getByTestId('train-error')).toHaveCount(0);
    const after = await latestRun(page);
    expect(after.runId).toBe(before.runId);
    expect(after.resumes).toEqual([{ at: expect.any(String), fromEpoch: before.checkpoint.last }]);
    expectProbeThenFinetune(after);
  });
});

test('Pause holds the run between batches, shows it as paused, and Continue finishes it', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
  await gotoStep(page, 'train');
  await page.getByTestId('epochs').fill('2');
  await page.getByTestId('image-size').fill('16');
  await page.getByTestId('train-demo').click();
  const status = page.getByTestId('run-status');
  await expect(status).toContainText(/batch [1-9]\d* of/, { timeout: 60_000 });
  await page.getByTestId('pause').click();
  await expect(status).toHaveAttribute('data-status', 'paused', { timeout: 60_000 });
  await expect(page.getByTestId('pause')).toHaveText('Continue');
  // The loop delivered its loss reads in flight before it said "paused": from then on nothing moves.
  const held = await status.textContent();
  await page.waitForTimeout(2000);
  await expect(status).toHaveText(held!);
  expect((await latestRun(page)).status).toBe('paused');
  await page.getByTestId('pause').click();
  await expect(status).toHaveAttribute('data-status', 'completed', { timeout: 5 * 60_000 });
  await expect(page.getByTestId('epoch-row')).toHaveCount(2);
  expect((await latestRun(page)).status).toBe('completed');
});

test('CLI: bad --schedule and --probe-epochs values get one studio: line and exit 2', async () => {
  const { spawnSync } = await import('node:child_process');
  for (const [args, reason] of [
    [['--schedule', 'warp'], /^studio: --schedule must be constant, step:EVERY:GAMMA, cosine:WARMUP or plateau:PATIENCE:FACTOR \(got "warp"\)$/],
    [['--schedule', 'cosine:3'], /^studio: --schedule cosine WARMUP must be a whole number from 0 to 2 \(got "3"\)$/],
    [['--schedule', 'plateau:2:1.5'], /^studio: --schedule plateau: FACTOR must be above 0 and below 1 \(got "1.5"\)$/],
    [['--probe-epochs', '1'], /^studio: --probe-epochs applies to --strategy finetune$/],
    [['--strategy', 'finetune', '--probe-epochs', '4'], /^studio: --probe-epochs must be a whole number from 0 to 3 \(got "4"\)$/],
  ] as const) {
    const r = spawnSync('npx', ['tsx', 'cli/studio.ts', 'train', '--demo', '--epochs', '3', '--out', '/tmp/never.json', ...args], { encoding: 'utf8', timeout: 60_000 });
    const stderr = r.stderr.split('\n').filter((l) => l && !l.startsWith('npm warn'));
    expect(r.status, args.join(' ')).toBe(2);
    expect(stderr[0], args.join(' ')).toMatch(reason);
  }
});
