/**
 * Import benchmark: the studio's real import (scan, decode + resize in the worker, hashes, split, stats) of a real
 * folder, against a bare decode of the same files (createImageBitmap, nothing else) in the same browser and run, and
 * separately against a decode that also resizes and reads the pixels back (createImageBitmap + canvas).
 */
import type { FolderInput } from '../src/engine/types';
import { browserCpuSeconds } from './cpu';
import type { BenchRow } from './row';
import { withStudioPage } from './studio-page';

declare global {
  interface Window {
    /** The benchmark's folder, read into the page once and decoded by each pass. */
    benchFolder?: FolderInput & { kind: 'files' };
  }
}

export async function importBenchmark(dir: string, size: number): Promise<BenchRow[]> {
  // A flag only this browser has, to find its processes and their CPU time.
  const marker = `--studio-bench=${process.pid}`;
  const cpuSince = (start: number | null) => {
    const now = browserCpuSeconds(marker);
    return start === null || now === null ? null : now - start;
  };
  return withStudioPage('cpu', async ({ page, share }) => {
    const t0 = Date.now();
    await page.evaluate(async (url) => void (window.benchFolder = await window.studio!.folder(url)), share(dir));
    const listSeconds = (Date.now() - t0) / 1000;

    // Bare decode first (it also warms the OS file cache for the import, which would otherwise be penalised).
    let cpu0 = browserCpuSeconds(marker);
    const bare = await page.evaluate(async () => {
      const files = window.benchFolder!.files.filter((f) => /\.(jpe?g|png|bmp|webp|gif)$/i.test(f.name));
      const start = performance.now();
      let next = 0;
      // Inline lanes: tsx names const arrow functions with a helper that does not exist inside the page.
      await Promise.all(
        Array.from({ length: 6 }, async () => {
          while (next < files.length) (await createImageBitmap(files[next++])).close();
        }),
      );
      return { files: files.length, seconds: (performance.now() - start) / 1000 };
    });
    const bareCpu = cpuSince(cpu0);

    cpu0 = browserCpuSeconds(marker);
    const toPixels = await page.evaluate(async (s) => {
      const files = window.benchFolder!.files.filter((f) => /\.(jpe?g|png|bmp|webp|gif)$/i.test(f.name));
      const ctx = new OffscreenCanvas(s, s).getContext('2d', { willReadFrequently: true })!;
      const start = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: 6 }, async () => {
          while (next < files.length) {
            const bitmap = await createImageBitmap(files[next++], { resizeWidth: s, resizeHeight: s, resizeQuality: 'high' });
            ctx.drawImage(bitmap, 0, 0);
            ctx.getImageData(0, 0, s, s);
            bitmap.close();
          }
        }),
      );
      return { seconds: (performance.now() - start) / 1000 };
    }, size);
    const toPixelsCpu = cpuSince(cpu0);

    // Chromium breaks storage usage down by kind; the import keeps its statistics and split manifest in IndexedDB.
    const idbBytes = () => page.evaluate(async () => ((await navigator.storage.estimate()) as { usageDetails?: { indexedDB?: number } }).usageDetails?.indexedDB ?? null);
    const idb0 = await idbBytes();
    cpu0 = browserCpuSeconds(marker);
    const summary = await page.evaluate(
      async (s) => {
        const studio = window.studio!;
        await studio.engine.scanFolder(window.benchFolder!);
        return studio.engine.importDataset({ imageSize: s, channels: 3, split: { train: 0.7, val: 0.15, test: 0.15 }, seed: 42, dedupe: 'keep-together' }, studio.events);
      },
      size,
    );
    const importCpu = cpuSince(cpu0);
    const idb1 = await idbBytes();
    const ratio = summary.seconds / bare.seconds;
    const cpuNote = (c: number | null) => (c === null ? '' : `${c.toFixed(1)} CPU s (browser, all processes)`);
    return [
      { benchmark: 'import', metric: 'files', value: bare.files, unit: 'files', note: dir },
      { benchmark: 'import', metric: 'folder read into the page (served by the CLI\'s server)', value: listSeconds.toFixed(1), unit: 's' },
      { benchmark: 'import', metric: 'bare decode', value: bare.seconds.toFixed(2), unit: 's', note: [`${(bare.files / bare.seconds).toFixed(0)} images/s, createImageBitmap only`, cpuNote(bareCpu)].filter(Boolean).join('; ') },
      { benchmark: 'import', metric: `bare decode to pixels at ${size}px`, value: toPixels.seconds.toFixed(2), unit: 's', note: ['createImageBitmap with resize + canvas readback', cpuNote(toPixelsCpu)].filter(Boolean).join('; ') },
      { benchmark: 'import', metric: `studio import at ${size}px`, value: summary.seconds.toFixed(2), unit: 's', note: [`${summary.imagesPerSecond.toFixed(0)} images/s`, cpuNote(importCpu)].filter(Boolean).join('; ') },
      { benchmark: 'import', metric: 'import / bare decode', value: ratio.toFixed(2), unit: '×', note: 'goal ≤ 1.5' },
      { benchmark: 'import', metric: 'import / bare decode to pixels', value: (summary.seconds / toPixels.seconds).toFixed(2), unit: '×', note: 'a second baseline, not the goal' },
      ...(importCpu !== null && bareCpu !== null
        ? [{ benchmark: 'import', metric: 'import / bare decode, CPU seconds', value: (importCpu / bareCpu).toFixed(2), unit: '×', note: 'less moved by other load on the machine than the wall-clock ratio' }]
        : []),
      { benchmark: 'import', metric: 'bytes held per pixel-channel', value: summary.bytesPerPixelChannel.toFixed(3), unit: 'B', note: `${(summary.bytesHeld / 2 ** 20).toFixed(0)} MiB for ${summary.images} images; goal ≤ 1.1` },
      { benchmark: 'import', metric: 'bytes held per stored image (worker memory)', value: (summary.bytesHeld / summary.images).toFixed(0), unit: 'B', note: `${size}×${size}×3 = ${size * size * 3} B of pixels an image` },
      ...(idb0 !== null && idb1 !== null
        ? [{ benchmark: 'import', metric: 'IndexedDB bytes per stored image', value: ((idb1 - idb0) / summary.images).toFixed(0), unit: 'B', note: 'growth of IndexedDB usage over the import (statistics, split manifest; pixels stay in memory)' }]
        : []),
      { benchmark: 'import', metric: 'exact-duplicate groups', value: summary.duplicates.exactGroups.length, unit: 'groups' },
      { benchmark: 'import', metric: 'near-duplicate groups', value: summary.duplicates.nearGroups.length, unit: 'groups', note: 'dHash, Hamming ≤ 5' },
      { benchmark: 'import', metric: 'groups across splits (kept together)', value: summary.duplicates.crossSplit.length, unit: 'groups' },
      { benchmark: 'import', metric: 'skipped files', value: summary.skipped.length, unit: 'files' },
    ];
  }, { extraBrowserArgs: [marker] });
}
