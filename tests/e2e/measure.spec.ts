import { expect, test } from '@playwright/test';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { studio } from '../fixtures/cli';
import type { TrainConfig, TrainEvent } from '../../src/engine/types';
import { gotoStep } from '../fixtures/studio-ui';
import { smallCnnConfig } from '../fixtures/demo-config';

// Chromium here has a SwiftShader WebGPU adapter, where auto mode measures nothing by default (the fixed order of
// src/core/routing.ts holds there); `measureBackends: 'on'` asks for the measurement a real GPU gets on a model's
// first run: WebGPU, WebGL and WASM each time a few training steps (workers/measure.ts).

const cfg = (over: Partial<TrainConfig> = {}): TrainConfig => smallCnnConfig({ measureBackends: 'on', ...over });

test('the first auto run of a model measures the backends, trains on the fastest and shows the figures; a second run uses them; Re-measure replaces them', async ({ page }) => {
  const events: TrainEvent[] = [];
  await page.exposeFunction('onStudioEvent', (e: TrainEvent) => void events.push(e));
  await page.goto('/');
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
  await expect(page.getByTestId('backend-measurement')).toHaveCount(0);

  const first = await page.evaluate((c) => window.studio!.ui.train(c, window.onStudioEvent), cfg());
  const measuring = events.filter((e) => e.type === 'measure');
  expect(measuring.map((e) => [e.backend, e.index, e.of])).toEqual([['webgpu', 1, 3], ['webgl', 2, 3], ['wasm', 3, 3]]);
  // Measured before the run started: its start event carries the measured route.
  expect(events.findIndex((e) => e.type === 'start')).toBeGreaterThan(events.lastIndexOf(measuring.at(-1)!));
  const m = first.routing!.measured!;
  expect(first.status).toBe('completed');
  expect(m).toMatchObject({ model: 'simple_cnn', strategy: 'scratch', imageSize: 16, channels: 3, batchSize: 8, failed: [] });
  expect(m.key).toMatch(/\|simple_cnn\|scratch\|16x16x3\|batch 8$/);
  expect(m.figures.map((f) => f.backend).sort()).toEqual(['wasm', 'webgl', 'webgpu']);
  expect(m.figures.every((f) => f.secondsPerStep > 0 && f.firstStepSeconds > 0)).toBe(true);
  expect(first.routing).toMatchObject({ forward: m.fastest, train: m.fastest });
  // The measurement's tensors were disposed: the run's tensor count is flat from epoch to epoch.
  const tensors = events.filter((e) => e.type === 'epoch').map((e) => e.numTensors);
  expect(tensors).toHaveLength(2);
  expect(new Set(tensors).size, `tensors after each epoch: ${tensors.join(', ')}`).toBe(1);

  // The figures, in the routing banner and in the settings.
  const label = { webgpu: 'WebGPU', webgl: 'WebGL', wasm: 'WASM', cpu: 'CPU' };
  await expect(page.getByTestId('routing')).toContainText(`Measured here: ${label[m.figures[0].backend]} `);
  await expect(page.getByTestId('routing')).toContainText(`→ ${label[m.fastest]}: training and validation on ${label[m.fastest]}`);
  await gotoStep(page, 'settings');
  const row = page.getByTestId('backend-measurement');
  await expect(row).toHaveCount(1);
  await expect(row.getByTestId('measurement-figures')).toHaveText(new RegExp(`^${label[m.figures[0].backend]} [\\d.]+ m?s/step, ${label[m.figures[1].backend]} [\\d.]+ m?s/step, ${label[m.figures[2].backend]} [\\d.]+ m?s/step → ${label[m.fastest]}$`));
  await expect(row).toContainText('simple_cnn (scratch, 16 px, batch 8) on');
  await expect(row.getByTestId('measured-at')).toContainText('measured ');

  // A second run of the same model, input and batch: the stored choice, no measuring.
  events.length = 0;
  const second = await page.evaluate((c) => window.studio!.ui.train(c, window.onStudioEvent), cfg({ epochs: 1, seed: 8 }));
  expect(events.filter((e) => e.type === 'measure')).toEqual([]);
  expect(second.routing).toMatchObject({ train: m.fastest, measured: { key: m.key, measuredAt: m.measuredAt } });

  // Another batch size is another key; by default (on a software adapter) it is not measured: the fixed order.
  events.length = 0;
  const other = await page.evaluate((c) => window.studio!.ui.train(c, window.onStudioEvent), cfg({ epochs: 1, batchSize: 4, measureBackends: undefined }));
  expect(events.filter((e) => e.type === 'measure')).toEqual([]);
  expect(other.routing).toMatchObject({ train: 'wasm', reason: 'Software adapter (SwiftShader): training and validation on WASM — faster here' });
  expect(other.routing!.measured).toBeUndefined();

  // Re-measure: the figures are taken again and replace the stored ones, in the settings too.
  const shown = await row.getByTestId('measured-at').textContent();
  await row.getByTestId('remeasure').click();
  await expect.poll(async () => (await page.evaluate(() => window.studio!.engine.backendMeasurements())).map((x) => [x.key, x.measuredAt > m.measuredAt]), { timeout: 5 * 60_000 }).toEqual([[m.key, true]]);
  await expect(page.getByTestId('measure-error')).toHaveCount(0);
  await expect(page.getByTestId('measure-progress')).toHaveCount(0);
  await expect(page.getByTestId('backend-measurement')).toHaveCount(1);
  await expect(row.getByTestId('measured-at')).not.toHaveText(shown!);
});

test('a forced backend is never measured, and a measurement asked for says why', async ({ page }) => {
  const events: TrainEvent[] = [];
  await page.exposeFunction('onStudioEvent', (e: TrainEvent) => void events.push(e));
  await page.goto('/?backend=wasm');
  await expect(page.getByTestId('backend-name')).toHaveText('wasm', { timeout: 60_000 });
  const run = await page.evaluate((c) => window.studio!.ui.train(c, window.onStudioEvent), cfg({ epochs: 1 }));
  expect(events.filter((e) => e.type === 'measure')).toEqual([]);
  expect(run.routing).toEqual({ forward: 'wasm', train: 'wasm', routed: false, reason: 'training and validation on WASM, as chosen' });
  await expect(page.evaluate((c) => window.studio!.engine.measureBackends(c), cfg())).rejects.toThrow('E_CONFIG: the WASM backend was chosen, so every run stays on it: choose auto to measure the backends');
  expect(await page.evaluate(() => window.studio!.engine.backendMeasurements())).toEqual([]);
});

test('the CLI measures with --measure-backends on, prints the figures in its routing line, and lists the measurements', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'studio-measure-'));
  // IndexedDB belongs to the origin: both commands use the same profile and port (offset from this checkout's test port).
  const common = ['--profile', join(dir, 'profile'), '--port', String(Number(process.env.STUDIO_TEST_PORT ?? 4173) + 7)];
  const out = join(dir, 'run.json');
  const r = studio('train', '--demo', '--epochs', '1', '--image-size', '16', '--per-class', '12', '--batch-size', '8', '--measure-backends', 'on', '--out', out, ...common);
  expect(r.code, r.stderr.join('\n')).toBe(0);
  expect(r.stdout).toContain('  measuring the backends for this model: webgpu (1 of 3)');
  expect(r.stdout).toContain('  measuring the backends for this model: wasm (3 of 3)');
  const run = JSON.parse(readFileSync(out, 'utf8'));
  const fastest = { webgpu: 'WebGPU', webgl: 'WebGL', wasm: 'WASM' }[run.routing.train as 'webgpu' | 'webgl' | 'wasm'];
  expect(r.stdout).toMatch(new RegExp(`routing: Measured here: (WebGPU|WebGL|WASM) [\\d.]+ m?s/step, (WebGPU|WebGL|WASM) [\\d.]+ m?s/step, (WebGPU|WebGL|WASM) [\\d.]+ m?s/step → ${fastest}: training and validation on ${fastest}`));

  const listed = studio('measurements', ...common);
  expect(listed.code, listed.stderr.join('\n')).toBe(0);
  expect(listed.stdout).toMatch(new RegExp(`simple_cnn \\(scratch, 16 px, batch 8\\) on .*: (webgpu|webgl|wasm) [\\d.]+ s/step \\(first [\\d.]+ s\\), .* → ${run.routing.train}`));
  expect(studio('train', '--demo', '--epochs', '1', '--measure-backends', 'always', '--out', out).stderr[0]).toBe('studio: --measure-backends must be one of auto, on, off (got "always")');
});
