import { expect, test } from '@playwright/test';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright';
import { DEFAULT_CHROMIUM } from '../../cli/browser';
import { studio } from '../fixtures/cli';

// The CLI's own Chromium, started through a wrapper that also opens a DevTools port, so the test can reach the page
// the CLI drives and end its engine worker as a crash or an out-of-memory kill would: no reply, no error event.
const DEBUG_PORT = 9341;
const CLI_PORT = '4421';

test('the CLI exits non-zero with E_WORKER_LOST when the engine worker dies mid-run, and the run resumes from its checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'studio-cli-worker-lost-'));
  const browser = join(dir, 'chromium-with-devtools');
  writeFileSync(browser, `#!/bin/sh\nexec ${DEFAULT_CHROMIUM} --remote-debugging-port=${DEBUG_PORT} "$@"\n`);
  chmodSync(browser, 0o755);
  const profile = join(dir, 'profile');
  const session = ['--browser', browser, '--profile', profile, '--port', CLI_PORT];

  const child = spawn('npx', ['tsx', 'cli/studio.ts', 'train', '--demo', '--epochs', '30', '--image-size', '16', '--per-class', '16', '--no-early-stopping', '--out', join(dir, 'run.json'), ...session]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => void (stdout += b));
  child.stderr.on('data', (b) => void (stderr += b));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  let code: number | null;
  try {
    await expect.poll(() => /^epoch 1\//m.test(stdout), { timeout: 5 * 60_000 }).toBe(true);
    const devtools = await chromium.connectOverCDP(`http://127.0.0.1:${DEBUG_PORT}`);
    // A worker that existed before this connection is not among the page's workers: reach it as a DevTools target.
    const cdp = await devtools.newBrowserCDPSession();
    const { targetInfos } = (await cdp.send('Target.getTargets')) as { targetInfos: { targetId: string; type: string; url: string }[] };
    const target = targetInfos.find((t) => t.type === 'worker' && t.url.includes('engine.worker'));
    expect(target, JSON.stringify(targetInfos.map((t) => [t.type, t.url]))).toBeDefined();
    const { sessionId } = (await cdp.send('Target.attachToTarget', { targetId: target!.targetId, flatten: false })) as { sessionId: string };
    await cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id: 1, method: 'Runtime.evaluate', params: { expression: 'setTimeout(() => self.close(), 0)' } }) });
    code = await exited;
    await devtools.close().catch(() => undefined);
  } finally {
    child.kill();
  }

  expect(code, stdout).toBe(1);
  const lines = stderr.split('\n').filter((l) => l && !l.startsWith('npm warn'));
  expect(lines.at(-1)).toMatch(/^studio: E_WORKER_LOST: the engine worker stopped: .*a run it was training can be resumed from its last checkpoint/);

  // The next invocation finds the run interrupted, at a checkpoint, and resumes it to the end.
  const listed = studio('runs', ...session);
  expect(listed.code, listed.stderr.join('\n')).toBe(0);
  const row = listed.stdout.split('\n').find((l) => /\binterrupted\b/.test(l));
  expect(row, listed.stdout).toBeDefined();
  const runId = row!.split(/\s+/)[0];
  const resumed = studio('resume', '--run', runId, ...session);
  expect(resumed.code, resumed.stderr.join('\n')).toBe(0);
  expect(resumed.stdout).toMatch(/resumed after epoch \d+/);
  expect(resumed.stdout).toMatch(/^completed: /m);
});
