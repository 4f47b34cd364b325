import { expect, test } from '@playwright/test';
import { gotoStep } from '../fixtures/studio-ui';
import { demoImage } from '../../src/core/dataset/demo';
import { rgbPng } from '../fixtures/png';

// showDirectoryPicker needs a person at a native dialog; the origin-private file system gives the same kind of
// FileSystemDirectoryHandle, so the worker's handle walk and the remembered-folder path run for real here.
const files: Record<string, string> = {};
for (const [split, n] of [['Training', 10], ['Testing', 3]] as const) {
  ['glioma', 'pituitary'].forEach((c, k) => {
    for (let i = 0; i < n; i++) files[`${split}/${c}/${c}-${split}-${i}.png`] = rgbPng(demoImage(k, i + (split === 'Testing' ? 50 : 0), 9, 24), 24, 24).toString('base64');
  });
}

test('a directory handle is read in the worker, pre-split folders are honoured, and the folder can be reopened', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
  const scan = await page.evaluate(async (files) => {
    const root = await (await navigator.storage.getDirectory()).getDirectoryHandle('MRI export', { create: true });
    for (const [path, b64] of Object.entries(files)) {
      const parts = path.split('/');
      let dir = root;
      for (const p of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(p, { create: true });
      const w = await (await dir.getFileHandle(parts.at(-1)!, { create: true })).createWritable();
      await w.write(Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0)));
      await w.close();
    }
    await (await root.getDirectoryHandle('Training')).getDirectoryHandle('meningioma', { create: true }); // empty class folder
    // Through the page's own state, so the scan shows as a pick's would; a plain copy of that state for the driver.
    return window.studio!.ui.scanFolder({ kind: 'handle', handle: root }).then((scan) => JSON.parse(JSON.stringify(scan)));
  }, files);
  expect(scan).toMatchObject({ name: 'MRI export', layout: 'presplit', files: 26, emptyClasses: ['meningioma'] });
  expect(scan.classes).toEqual([{ name: 'glioma', count: 13 }, { name: 'pituitary', count: 13 }]);
  await expect(page.getByTestId('scan')).toContainText('Empty class folders, ignored: meningioma');

  await gotoStep(page, 'data');
  await page.getByTestId('import').click();
  await expect(page.getByTestId('dataset-summary')).toBeVisible({ timeout: 60_000 });
  // The Testing folder is the test split, whole and alone; validation is carved from Training.
  for (const c of ['glioma', 'pituitary']) {
    const row = page.locator(`[data-testid="counts-row"][data-class="${c}"]`);
    await expect(row.locator('[data-split="test"]')).toHaveText('3');
    expect(Number(await row.locator('[data-split="train"]').textContent()) + Number(await row.locator('[data-split="val"]').textContent())).toBe(10);
  }

  // A returning user re-grants the remembered folder instead of picking it again.
  await page.reload();
  await expect(page.getByTestId('reopen-folder')).toHaveText('Reopen “MRI export”', { timeout: 60_000 });
  await gotoStep(page, 'data');
  await page.getByTestId('reopen-folder').click();
  await expect(page.getByTestId('scan')).toContainText('“MRI export”: 26 images in 2 class folders (pre-split)');
});
