/**
 * The CLI's modules in Node, without a browser: importing them runs nothing, each command's flags are checked before
 * any browser starts, and the server hands the page a folder read-only under an unguessable path.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main';
import { parseTrainArgs } from '../../cli/commands/train';
import { parseEvaluateArgs } from '../../cli/commands/evaluate';
import { parseCrossvalArgs } from '../../cli/commands/crossval';
import { serveStatic } from '../../cli/serve';
import type { SharedFolderListing } from '../../src/engine/automation';

afterEach(() => vi.restoreAllMocks());

describe('the CLI entry', () => {
  it('runs nothing when imported: main() runs only as the process entry', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const before = process.exitCode;
    await import('../../cli/studio');
    expect(process.exitCode).toBe(before);
    expect(log).not.toHaveBeenCalled();
    expect(error).not.toHaveBeenCalled();
  });

  it('dispatches by command name: usage without one, a one-line reason and exit 2 for an unknown one or a bad flag', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(await main([])).toBe(2);
    expect(log.mock.calls[0][0]).toMatch(/^usage: npm run studio -- <command> \[options\]/);
    expect(await main(['--help'])).toBe(0);
    expect(await main(['bogus'])).toBe(2);
    expect(error.mock.calls[0][0]).toBe('studio: unknown command "bogus"');
    error.mockClear();
    expect(await main(['train', '--demo', '--epochs', '-3', '--out', '/tmp/never.json'])).toBe(2);
    expect(error.mock.calls[0][0]).toBe('studio: --epochs must be a whole number from 1 to 10000 (got "-3")');
    error.mockClear();
    expect(await main(['runs', '--backend', 'tpu'])).toBe(2);
    expect(error.mock.calls[0][0]).toBe('studio: --backend must be one of webgpu, webgl, wasm, cpu (got "tpu")');
  });
});

describe('command flags', () => {
  it('train --demo: flags over the defaults; the model fills in learning rate and batch size in the page', async () => {
    const args = await parseTrainArgs(['--demo', '--epochs', '3', '--seed', '7', '--image-size', '16', '--out', 'run.json', '--port', '4751']);
    expect(args.cfg).toMatchObject({ model: 'simple_cnn', epochs: 3, seed: 7, dataset: { kind: 'demo', seed: 7, imageSize: 16 } });
    expect(args.cfg.learningRate).toBeNaN();
    expect(args.port).toBe(4751);
    expect(args.folder).toBeUndefined();
  });

  it('train --data: the folder is checked in Node, its import options come from the flags', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'cli-unit-')), 'scans');
    for (const c of ['glioma', 'notumor']) {
      mkdirSync(join(dir, c), { recursive: true });
      for (let k = 0; k < 3; k++) writeFileSync(join(dir, c, `${k}.png`), `not really a png ${c} ${k}`);
    }
    const args = await parseTrainArgs(['--data', dir, '--split', '60/20/20', '--image-size', '32', '--channels', '1', '--out', 'run.json']);
    expect(args.folder).toMatchObject({ dir, options: { imageSize: 32, channels: 1, split: { train: 0.6, val: 0.2, test: 0.2 }, dedupe: 'keep-together' } });
    await expect(parseTrainArgs(['--data', dir, '--classes', 'glioma,nope', '--out', 'run.json'])).rejects.toThrow(/^--classes: /);
    await expect(parseTrainArgs(['--data', join(dir, 'glioma'), '--out', 'run.json'])).rejects.toThrow(/^--data /);
  });

  it('crossval takes train\'s flags plus --folds; evaluate needs a run or a model folder', async () => {
    expect((await parseCrossvalArgs(['--demo', '--folds', '3', '--out', 'cv.json'])).folds).toBe(3);
    await expect(parseCrossvalArgs(['--demo', '--folds=1', '--out', 'cv.json'])).rejects.toThrow('--folds must be a whole number from 2 to 20 (got "1")');
    expect(() => parseEvaluateArgs(['--out', 'x'])).toThrow('evaluate needs --run ID (see "runs") or --model DIR (an exported TF.js model folder), one of them');
    expect(parseEvaluateArgs(['--run', 'run-1', '--out', 'x', '--target-sensitivity', '0.9']).request).toMatchObject({ latencySamples: 100, targetSensitivity: 0.9 });
  });
});

describe('a shared folder', () => {
  it('is listed and read under its random path only, read-only, and nothing outside it is reachable', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cli-serve-'));
    writeFileSync(join(root, 'index.html'), '<!doctype html>');
    const folder = join(root, 'Testing');
    mkdirSync(join(folder, 'glioma'), { recursive: true });
    writeFileSync(join(folder, 'glioma', 'a b.jpg'), 'bytes of a');
    writeFileSync(join(root, 'secret.txt'), 'not shared');
    const server = await serveStatic(root, 0);
    try {
      const path = server.share(folder);
      expect(path).toMatch(/^\/shared\/[0-9a-f]{32}\/$/);
      const url = new URL(path, server.url).href;
      const listing = (await (await fetch(url)).json()) as SharedFolderListing;
      expect(listing).toEqual({ name: 'Testing', paths: ['glioma/a b.jpg'] });
      expect(await (await fetch(`${url}glioma/a%20b.jpg`)).text()).toBe('bytes of a');
      expect((await fetch(`${url}..%2F..%2Fsecret.txt`)).status).toBe(404);
      expect((await fetch(new URL('/shared/0123456789abcdef0123456789abcdef/', server.url))).status).toBe(404);
      expect((await fetch(`${url}glioma/a%20b.jpg`, { method: 'PUT', body: 'x' })).status).toBe(405);
      const file = new URL(server.share(join(folder, 'glioma', 'a b.jpg')), server.url).href;
      expect(file).toMatch(/\/a%20b\.jpg$/);
      expect(await (await fetch(file)).text()).toBe('bytes of a');
    } finally {
      await server.close();
    }
  });
});
