import { expect, test } from '@playwright/test';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { studio } from '../fixtures/cli';
import { addBadInputs, phantomFolder } from '../fixtures/folders';

// The CLI drives the built studio in its own Chromium; it needs no page from the test runner.

test('train --demo writes the run contract, and the run survives in the profile', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'studio-cli-'));
  const out = join(dir, 'run.json');
  // A fixed port: IndexedDB belongs to the origin, so the second invocation must use the same one.
  const common = ['--profile', join(dir, 'profile'), '--port', '5291'];
  const r = studio('train', '--demo', '--epochs', '1', '--image-size', '16', '--per-class', '20', '--seed', '3', '--out', out, ...common);
  expect(r.code, r.stderr.join('\n')).toBe(0);
  expect(r.stdout).toContain('routing: Software adapter (SwiftShader): training and validation on WASM — faster here');
  expect(r.stdout).toMatch(/epoch 1\/1: train loss [\d.]+ acc [\d.]+% · val loss [\d.]+ acc [\d.]+%/);

  const run = JSON.parse(readFileSync(out, 'utf8'));
  expect(Object.keys(run)).toEqual(expect.arrayContaining(['runId', 'backend', 'adapter', 'model', 'classes', 'split', 'epochs', 'best']));
  expect(run.backend).toBe('webgpu');
  expect(run.routing).toMatchObject({ forward: 'wasm', train: 'wasm', routed: true });
  expect(run.adapter).toMatchObject({ vendor: expect.any(String), architecture: expect.any(String), isSoftware: true });
  expect(run.model).toBe('simple_cnn');
  expect(run.classes).toEqual(['glioma', 'meningioma', 'pituitary']);
  expect(run.split).toEqual({ train: 42, val: 9, test: 9 });
  expect(run.epochs).toHaveLength(1);
  expect(Object.keys(run.epochs[0]).sort()).toEqual(['epoch', 'imagesPerSecond', 'learningRate', 'seconds', 'trainAccuracy', 'trainLoss', 'valAccuracy', 'valLoss'].sort());
  expect(run.best).toEqual({ epoch: 1, valAccuracy: run.epochs[0].valAccuracy });

  const listed = studio('runs', ...common);
  expect(listed.code, listed.stderr.join('\n')).toBe(0);
  expect(listed.stdout).toContain(run.runId);

  // A completed run has nothing to resume: a one-line reason, not a crash.
  const resumed = studio('resume', '--run', run.runId, ...common);
  expect(resumed.code).toBe(1);
  expect(resumed.stderr).toEqual([expect.stringMatching(/^studio: .*has completed; there is nothing to resume$/)]);
});

test('bad arguments exit non-zero with a one-line reason', () => {
  for (const [args, reason] of [
    [['train', '--demo', '--epochs', '0', '--out', '/tmp/x.json'], /^studio: --epochs must be a whole number from 1 to 10000 \(got "0"\)$/],
    [['train', '--demo', '--backend', 'tpu', '--out', '/tmp/x.json'], /^studio: --backend must be one of webgpu, webgl, wasm, cpu \(got "tpu"\)$/],
    [['train', '--epochs', '1', '--out', '/tmp/x.json'], /^studio: train needs a dataset: pass --demo or --data DIR$/],
    [['train', '--demo', '--out', '/tmp/x.json', '--browser', '/nonexistent/chrome'], /^studio: no browser at \/nonexistent\/chrome/],
    [['fly'], /^studio: unknown command "fly"$/],
    [['resume'], /^studio: resume needs --run ID/],
  ] as const) {
    const r = studio(...args);
    expect(r.code, args.join(' ')).not.toBe(0);
    expect(r.stderr[0], args.join(' ')).toMatch(reason);
  }
});

test('train --data imports a folder through the page, leaves a class out, and reports the dataset', async () => {
  const root = phantomFolder(['glioma', 'meningioma', 'notumor', 'pituitary'], 10);
  addBadInputs(root, 'glioma');
  const out = join(mkdtempSync(join(tmpdir(), 'studio-cli-')), 'run.json');
  const r = studio('train', '--data', root, '--classes', 'glioma,meningioma,pituitary', '--split', '60/20/20', '--image-size', '16', '--epochs', '1', '--dedupe', 'drop', '--out', out, '--port', '0');
  expect(r.code, r.stderr.join('\n')).toBe(0);
  expect(r.stdout).toMatch(/imported \d+ images/);
  const run = JSON.parse(readFileSync(out, 'utf8'));
  expect(run.classes).toEqual(['glioma', 'meningioma', 'pituitary']);
  expect(Object.keys(run.dataset).sort()).toEqual(['classes', 'counts', 'duplicates', 'fingerprint', 'normalization', 'skipped']);
  expect(run.dataset.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  expect(Object.keys(run.dataset.duplicates).sort()).toEqual(['crossSplit', 'exactGroups', 'nearGroups']);
  expect(run.dataset.skipped.map((s: { path: string }) => s.path.split('/').pop())).toEqual(expect.arrayContaining(['corrupt.jpg', 'empty.jpg', 'text-as-jpg.jpg', '.DS_Store', 'Thumbs.db', 'notes.txt']));
  expect(run.dataset.normalization.mean).toHaveLength(3);
  expect(run.dataset.counts.train.notumor).toBeUndefined();
  expect(run.split.train + run.split.val + run.split.test).toBe(Object.values(run.dataset.counts).reduce((n: number, c) => n + Object.values(c as Record<string, number>).reduce((a, b) => a + b, 0), 0));
});

test('train --data with fewer than two classes fails with a one-line reason, before any browser starts', () => {
  const root = phantomFolder(['glioma', 'meningioma'], 4);
  const r = studio('train', '--data', root, '--classes', 'glioma', '--epochs', '1', '--out', '/tmp/x.json', '--browser', '/nonexistent/chrome');
  expect(r.code).toBe(2);
  expect(r.stderr[0]).toBe('studio: --classes: a classifier needs at least two classes, but only one class (glioma) was chosen');
  const unknown = studio('train', '--data', root, '--classes', 'glioma,notumor', '--epochs', '1', '--out', '/tmp/x.json', '--browser', '/nonexistent/chrome');
  expect(unknown.stderr[0]).toBe('studio: --classes: unknown class notumor; the dataset has glioma, meningioma');
  const missing = studio('train', '--data', '/nonexistent/folder', '--epochs', '1', '--out', '/tmp/x.json');
  expect(missing.code).toBe(2);
  expect(missing.stderr[0]).toBe('studio: --data /nonexistent/folder: no such folder');
});
