import { expect, test } from '@playwright/test';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { studio } from '../fixtures/cli';
import type { TrainEvent } from '../../src/engine/types';
import { smallCnnConfig } from '../fixtures/demo-config';

// Compiling a run's first step ahead on WebGPU (TrainConfig.compileAhead, src/core/train/compile-ahead.ts). Chromium
// here has a SwiftShader adapter, where `auto` leaves it off (it measured no faster there); `on` asks for it.


test('a WebGPU run compiles its first step ahead when asked, shows it, and trains exactly as a run that does not', async ({ page }) => {
  const events: TrainEvent[] = [];
  await page.exposeFunction('onStudioEvent', (e: TrainEvent) => void events.push(e));
  await page.goto('/?backend=webgpu');
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });

  const ahead = await page.evaluate((c) => window.studio!.ui.train(c, window.onStudioEvent), smallCnnConfig({ compileAhead: 'on' }));
  expect(ahead.status).toBe('completed');
  const compile = events.filter((e) => e.type === 'compile');
  expect(compile).toHaveLength(2);
  expect(compile[0].compiled).toBeNull();
  // Before the first batch: the compiling is part of the first step.
  expect(events.indexOf(compile[1])).toBeLessThan(events.findIndex((e) => e.type === 'batch'));
  expect(compile[1].compiled!.programs).toBeGreaterThan(20);
  expect(ahead.compiledAhead).toEqual(compile[1].compiled);
  await expect(page.getByTestId('compiled-ahead')).toHaveText(new RegExp(`^${ahead.compiledAhead!.programs} WebGPU shaders compiled in parallel before the first step, in \\d+\\.\\d s$`));
  const tensors = events.filter((e) => e.type === 'epoch').map((e) => e.numTensors);
  expect(new Set(tensors).size, `tensors after each epoch: ${tensors.join(', ')}`).toBe(1);

  // The default on this software adapter: no compiling ahead. The same run gives the same losses, to the last bit:
  // the trace's updates were thrown away and the weights put back.
  events.length = 0;
  const plain = await page.evaluate((c) => window.studio!.ui.train(c, window.onStudioEvent), smallCnnConfig());
  expect(events.filter((e) => e.type === 'compile')).toEqual([]);
  expect(plain.compiledAhead).toBeUndefined();
  await expect(page.getByTestId('compiled-ahead')).toHaveCount(0);
  expect(plain.epochs.map((m) => [m.trainLoss, m.valLoss, m.valAccuracy])).toEqual(ahead.epochs.map((m) => [m.trainLoss, m.valLoss, m.valAccuracy]));
});

test('the CLI compiles ahead with --compile-ahead on, says so, records it, and refuses another word', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'studio-compile-'));
  const out = join(dir, 'run.json');
  const common = ['--profile', join(dir, 'profile'), '--port', String(Number(process.env.STUDIO_TEST_PORT ?? 4173) + 8)];
  const r = studio('train', '--demo', '--backend', 'webgpu', '--epochs', '1', '--image-size', '16', '--per-class', '12', '--batch-size', '8', '--compile-ahead', 'on', '--out', out, ...common);
  expect(r.code, r.stderr.join('\n')).toBe(0);
  expect(r.stdout).toContain("  compiling the first step's WebGPU shaders in parallel");
  const run = JSON.parse(readFileSync(out, 'utf8'));
  expect(run.compiledAhead.programs).toBeGreaterThan(20);
  expect(r.stdout).toContain(`  ${run.compiledAhead.programs} WebGPU shaders compiled in parallel in ${run.compiledAhead.seconds.toFixed(1)} s`);
  expect(studio('train', '--demo', '--epochs', '1', '--compile-ahead', 'always', '--out', out).stderr[0]).toBe('studio: --compile-ahead must be one of auto, on, off (got "always")');
});
