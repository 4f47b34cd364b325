import { expect, test } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunRecord } from '../../src/engine/types';
import { studio } from '../fixtures/cli';
import { gotoStep } from '../fixtures/studio-ui';

// "Bring back a cluster run": what train.py sends back (model.pth, metrics.json) is written at test time by Debian's
// PyTorch for a run the studio just trained (tests/fixtures/cluster_state_dict.py), then brought back by the CLI and
// by the runs page. The numeric parity of the imported network with PyTorch is checked in tests/unit/cluster-import.test.ts.
const PYTHON = '/usr/bin/python3';
const probe = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
const skipWhy = `cluster import e2e skipped: ${PYTHON} cannot import torch and torchvision (apt-get install python3-torch python3-torchvision)`;
if (probe.status !== 0) console.log(skipWhy);
test.skip(probe.status !== 0, skipWhy);

/** The fixture's output folder for `run` (simple CNN at 32 px, the run's classes); `runId` overrides metrics.json's. */
function clusterFolder(run: Pick<RunRecord, 'runId' | 'classes'>, runId = run.runId): string {
  const dir = mkdtempSync(join(tmpdir(), 'studio-cluster-'));
  const r = spawnSync(PYTHON, [fileURLToPath(new URL('../fixtures/cluster_state_dict.py', import.meta.url)), 'simple_cnn', 'none', runId, run.classes.join(','), '32', '3', '4', dir], { encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  // Only what train.py writes: the fixture's parity file is for the unit test.
  rmSync(join(dir, 'parity.json'));
  return dir;
}

test('import-cluster: a new run beside the trained one, evaluated on its test split and registered with its provenance', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'studio-cli-cluster-'));
  // IndexedDB belongs to the origin: every invocation uses the same port.
  const common = ['--profile', join(dir, 'profile'), '--port', String(Number(process.env.STUDIO_TEST_PORT ?? 4173) + 1)];
  const trained = studio('train', '--demo', '--epochs', '1', '--image-size', '32', '--per-class', '6', '--out', join(dir, 'run.json'), ...common);
  expect(trained.code, trained.stderr.join('\n')).toBe(0);
  const source = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as RunRecord;
  const folder = clusterFolder(source);

  // Neither --name/--version nor --no-register: refused before any browser starts.
  const unnamed = studio('import-cluster', '--run', source.runId, '--dir', folder, ...common);
  expect(unnamed.code).toBe(2);
  expect(unnamed.stderr[0]).toContain('import-cluster (or --no-register) needs --name NAME');
  // A folder without metrics.json.
  const empty = mkdtempSync(join(tmpdir(), 'studio-cluster-empty-'));
  const missing = studio('import-cluster', '--run', source.runId, '--dir', empty, '--no-register', ...common);
  expect(missing.code).toBe(2);
  expect(missing.stderr[0]).toContain('model.pth and metrics.json are missing');
  // The metrics of another run: refused by the engine, nothing imported.
  const other = studio('import-cluster', '--run', source.runId, '--dir', clusterFolder(source, 'run-elsewhere'), '--no-register', ...common);
  expect(other.code).toBe(1);
  expect(other.stderr[0]).toContain(`E_CONFIG: metrics.json belongs to run run-elsewhere, not ${source.runId}`);

  const out = join(dir, 'cluster.json');
  const r = studio('import-cluster', '--run', source.runId, '--dir', folder, '--name', 'cluster-cnn', '--version', '1.0.0', '--override-reason', 'a fixture, not a trained model', '--latency-samples', '2', '--out', out, ...common);
  expect(r.code, r.stderr.join('\n')).toBe(0);
  const result = JSON.parse(readFileSync(out, 'utf8'));
  expect(result).toMatchObject({ runId: `${source.runId}-cluster`, sourceRunId: source.runId, version: 'cluster-cnn@1.0.0', epochs: 2, best: { epoch: 2, valAccuracy: 0.75 }, cluster: { sourceRunId: source.runId, worldSize: 2, device: 'cpu', amp: false } });
  expect(result.test.images).toBe(source.split.test);
  expect(r.stdout).toContain(`imported run ${result.runId} from run ${source.runId}'s cluster training (PyTorch DDP on 2 × cpu, torch ${result.cluster.torch}, AMP off): 2 epochs, best val accuracy 75.0% at epoch 2`);
  expect(r.stdout).toMatch(new RegExp(`test split \\(${source.split.test} images\\): accuracy \\d+\\.\\d%`));
  expect(r.stdout).toContain(`registered cluster-cnn@1.0.0 from run ${result.runId}`);

  // The registered version's card carries the provenance; the runs list holds both runs.
  const exported = join(dir, 'export');
  expect(studio('export', '--model', 'cluster-cnn@1.0.0', '--format', 'tfjs', '--out', exported, ...common).code).toBe(0);
  expect(readFileSync(join(exported, 'MODEL_CARD.md'), 'utf8')).toContain(`trained with PyTorch DDP on 2 × cpu, torch ${result.cluster.torch}, AMP off, from run ${source.runId}`);
  const listed = studio('runs', ...common);
  expect(listed.stdout).toContain(source.runId);
  expect(listed.stdout).toContain(result.runId);
});

test('runs page: "Bring back a cluster run" on a run adds the cluster run and compares the two side by side', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('backend-name')).not.toBeEmpty({ timeout: 60_000 });
  await gotoStep(page, 'train');
  await page.getByTestId('epochs').fill('1');
  await page.getByTestId('image-size').fill('32');
  await page.getByTestId('per-class').fill('10');
  await page.getByTestId('train-demo').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 5 * 60_000 });
  const [source] = await page.evaluate(() => window.studio!.engine.runs());
  const folder = clusterFolder(source);

  await gotoStep(page, 'runs');
  const rows = page.getByTestId('run-row');
  await expect(rows).toHaveCount(1);
  const bring = rows.first().getByTestId('cluster-import');
  await bring.locator('summary').click();
  // One of the two files alone is refused in the page, naming the other.
  await bring.getByTestId('cluster-import-files').setInputFiles(join(folder, 'model.pth'));
  await expect(bring.getByTestId('cluster-import-problem')).toContainText('metrics.json is not among the picked files');
  // Metrics of another run: the engine's refusal, and no new run.
  const elsewhere = clusterFolder(source, 'run-elsewhere');
  await bring.getByTestId('cluster-import-files').setInputFiles([join(elsewhere, 'model.pth'), join(elsewhere, 'metrics.json')]);
  await expect(page.getByTestId('runs-error')).toContainText(`metrics.json belongs to run run-elsewhere, not ${source.runId}`);
  await expect(rows).toHaveCount(1);

  // The folder train.py wrote.
  await bring.getByTestId('cluster-import-folder').setInputFiles(folder);
  const id = `${source.runId}-cluster`;
  await expect(page.getByTestId('runs-notice')).toContainText(`Brought back ${id}: trained with PyTorch DDP on 2 × cpu`);
  await expect(rows).toHaveCount(2);
  const row = page.locator(`[data-testid="run-row"][data-run-id="${id}"]`);
  await expect(row).toContainText('cluster');
  await expect(row).toContainText('PyTorch 2 × cpu');
  await expect(row).toHaveAttribute('data-epochs', '2');
  // Compared side by side with its browser run.
  const compare = page.getByTestId('runs-comparison');
  await expect(compare).toContainText(source.runId);
  await expect(compare).toContainText(id);

  // Evaluated and registered on the evaluation and registry pages, like any run.
  await gotoStep(page, 'evaluate');
  await page.getByTestId('evaluate-run-select').selectOption(id);
  await page.getByTestId('evaluate-run').click();
  await expect(page.getByTestId('verdict')).toBeVisible({ timeout: 2 * 60_000 });
  await expect(page.getByTestId('confusion-cell')).toHaveCount(9);
  await gotoStep(page, 'use');
  const form = page.getByTestId('register-form');
  await form.getByTestId('register-run').selectOption(id);
  await form.getByTestId('register-name').fill('cluster-ui');
  await form.getByTestId('register-version').fill('1.0.0');
  await form.getByTestId('register-threshold').fill('0');
  await form.getByTestId('register-submit').click();
  const version = page.locator('[data-testid="model-version"][data-id="cluster-ui@1.0.0"]');
  await expect(version).toBeVisible({ timeout: 2 * 60_000 });
  // The only version: its actions row follows it.
  await page.getByTestId('registry-panel').getByTestId('show-card').click();
  await expect(page.getByTestId('model-card')).toContainText(`trained with PyTorch DDP on 2 × cpu`);
  await expect(page.getByTestId('model-card')).toContainText(`from run ${source.runId}`);
});
