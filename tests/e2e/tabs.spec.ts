import { chromium, expect, test, type Page } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM_FLAGS, resolveBrowser } from '../../cli/browser';
import type { RunRecord } from '../../src/engine/types';
import { gotoStep, pauseAfterFirstEpoch } from '../fixtures/studio-ui';

const runs = (page: Page) => page.evaluate(() => window.studio!.engine.runs()) as Promise<RunRecord[]>;

test('two tabs, one run: the second shows the first tab’s live run as running and offers no Resume; once the first closes it resumes it, and the record holds one trainer’s epochs', async ({ baseURL }) => {
  // Two pages of one persistent profile: one origin's IndexedDB and Web Locks, as two tabs of a user's browser.
  const profile = mkdtempSync(join(tmpdir(), 'studio-tabs-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: resolveBrowser(process.env.STUDIO_BROWSER), args: CHROMIUM_FLAGS, headless: true, baseURL });
  try {
    // Both tabs are open before the run starts, and the first pauses it: on a software adapter a 16 px epoch trains
    // in a fraction of a second, and a loaded machine can take longer than the whole run to open a tab.
    const first = await context.newPage();
    await first.goto('/');
    await expect(first.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
    const second = await context.newPage();
    await second.goto('/');
    await expect(second.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
    await gotoStep(first, 'train');
    await first.getByTestId('epochs').fill('12');
    await first.getByTestId('image-size').fill('16');
    await first.getByTestId('per-class').fill('16');
    await pauseAfterFirstEpoch(first);
    await first.getByTestId('train-demo').click();
    await expect(first.getByTestId('run-status')).toHaveAttribute('data-status', 'paused', { timeout: 60_000 });
    await expect(first.getByTestId('epoch-row')).not.toHaveCount(12);
    const [live] = await runs(first);
    expect(live.status).toBe('paused');
    const elsewhere = second.getByTestId('run-elsewhere');
    // Where the run is comes over the BroadcastChannel from the first tab's worker.
    await expect(elsewhere).toContainText(/training in another tab or window: +paused in epoch \d+ of 12, batch \d+ of \d+/, { timeout: 60_000 });
    await expect(elsewhere).toHaveAttribute('data-run-id', live.runId);
    await expect(second.getByTestId('resumable')).toHaveCount(0);
    await gotoStep(second, 'runs');
    const row = second.locator(`[data-testid="run-row"][data-run-id="${live.runId}"]`);
    await expect(row.getByTestId('run-state')).toHaveText('running in another tab');
    await expect(row.getByTestId('run-resume')).toHaveCount(0);
    await expect(row.getByTestId('run-delete')).toBeDisabled();
    // Listing the runs in the second tab does not mark the live run interrupted, and Resume is refused.
    expect((await runs(second)).find((r) => r.runId === live.runId)!.status).toBe('paused');
    expect(await second.evaluate((id) => window.studio!.engine.resume(id, window.studio!.events).then(() => 'resumed', (e: { code?: string }) => e.code), live.runId)).toBe('E_LOCKED');

    // The first tab closes mid-run: its worker, and the run's lock, go with it.
    await first.close();
    await expect(second.getByTestId('resumable')).toContainText(`Run ${live.runId}`, { timeout: 30_000 });
    await expect(elsewhere).toHaveCount(0);
    const cut = (await runs(second)).find((r) => r.runId === live.runId)!;
    expect(cut.status).toBe('interrupted');
    await expect(row.getByTestId('run-state')).toHaveText('interrupted');
    const from = cut.checkpoint.last!;
    expect(from).toBeGreaterThanOrEqual(1);
    expect(from).toBeLessThan(12);

    await gotoStep(second, 'train');
    await second.getByTestId('resume-run').click();
    await expect(second.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 5 * 60_000 });
    const done = (await runs(second)).find((r) => r.runId === live.runId)!;
    // One trainer's epochs: each epoch once, those up to the checkpoint as the first tab wrote them, the rest from
    // this tab's single resume (the table shows the same epochs).
    expect(done.epochs.map((m) => m.epoch)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(done.resumes).toEqual([{ at: expect.any(String), fromEpoch: from }]);
    expect(done.epochs.slice(0, from)).toEqual(cut.epochs.slice(0, from));
    await expect(second.getByTestId('epoch-row')).toHaveCount(12);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
});
