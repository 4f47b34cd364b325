import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { StudioEngine } from '../../workers/engine';
import { demoImage } from '../../src/core/dataset/demo';
import { analyzeWith, decodeFolder, splitDecoded, type ImageAnalyzer, type ImportOptions } from '../../src/core/dataset/importer';
import type { FolderInput } from '../../src/engine/types';

// The real engine and importer on a small synthetic folder; the decoder copies each file's bytes (raw pixels) into
// place, and a counting wrapper says how many files were handed to it.
const SIZE = 8;
const decoder = analyzeWith(async (_file, bytes, _size, _channels, out) => out.set(bytes));

function counting(): ImageAnalyzer & { files: number } {
  const a = {
    parallelism: 1,
    files: 0,
    analyze(files: Blob[], size: number, channels: 1 | 3) {
      a.files += files.length;
      return decoder.analyze(files, size, channels);
    },
  };
  return a;
}

/** Three classes of 12 images, plus an exact copy within a class and one filed under two classes. */
function folder(): FolderInput & { kind: 'files' } {
  const paths: string[] = [];
  const files: File[] = [];
  const add = (path: string, pixels: Uint8Array) => {
    paths.push(`data/${path}`);
    files.push(new File([pixels as Uint8Array<ArrayBuffer>], path.split('/').at(-1)!));
  };
  ['glioma', 'meningioma', 'pituitary'].forEach((c, k) => {
    for (let i = 0; i < 12; i++) add(`${c}/${i}.png`, demoImage(k, i, 7, SIZE));
  });
  add('glioma/copy.png', demoImage(0, 3, 7, SIZE));
  add('pituitary/conflict.png', demoImage(1, 5, 7, SIZE));
  return { kind: 'files', name: 'data', files, paths };
}

const opts = (over: Partial<ImportOptions> = {}): ImportOptions => ({ imageSize: SIZE, channels: 3, split: { train: 0.6, val: 0.2, test: 0.2 }, seed: 1, dedupe: 'keep-together', ...over });
const splitOf = ({ split, seed, dedupe, groupPattern, labelConflicts, nearThreshold }: ImportOptions) => ({ split, seed, dedupe, groupPattern, labelConflicts, nearThreshold });

async function engineWith(analyzer: ImageAnalyzer): Promise<StudioEngine> {
  const engine = new StudioEngine(analyzer);
  await engine.init('cpu');
  return engine;
}

describe('dataset session: scan → decode → split', () => {
  it('re-splits without decoding again, and a split equals a fresh import with the same options', async () => {
    const analyzer = counting();
    const engine = await engineWith(analyzer);
    const scan = await engine.scanFolder(folder());
    expect(scan.folderId).toMatch(/^folder-/);
    const decoded = await engine.decode(scan.folderId, { imageSize: SIZE, channels: 3 }, () => {});
    expect(decoded).toMatchObject({ folderId: scan.folderId, images: 38, imageSize: SIZE, channels: 3, evaluationOnly: false });
    expect(analyzer.files).toBe(38);

    const first = await engine.split(decoded.datasetId, splitOf(opts()));
    const variants = [opts({ seed: 7 }), opts({ seed: 7, split: { train: 0.5, val: 0.25, test: 0.25 } }), opts({ seed: 3, dedupe: 'drop', labelConflicts: 'keep-first' }), opts({ seed: 3, dedupe: 'off', nearThreshold: 0, labelConflicts: 'keep-all' })];
    const splits = [];
    for (const o of variants) splits.push({ o, summary: await engine.split(decoded.datasetId, splitOf(o)), manifest: await engine.exportManifest('csv'), stats: await engine.verifyStats() });
    // Four more splits, not one more image decoded.
    expect(analyzer.files).toBe(38);
    expect(new Set([first.splitId, ...splits.map((s) => s.summary.splitId)]).size).toBe(5);
    expect(splits[0].summary.datasetId).toBe(decoded.datasetId);
    // The stored statistics are the split's own training statistics.
    for (const s of splits) expect(s.stats.ok).toBe(true);

    // A fresh engine importing the folder with each variant's options makes the same split, statistics and manifest.
    for (const { o, summary, manifest } of splits) {
      const fresh = await engineWith(counting());
      await fresh.scanFolder(folder());
      const imported = await fresh.importDataset(o, () => {});
      expect(summary.splitId).toBe(imported.splitId);
      expect(summary.normalization).toEqual(imported.normalization);
      expect(summary.counts).toEqual(imported.counts);
      expect(summary.duplicates).toEqual(imported.duplicates);
      expect(summary.labelConflicts).toEqual(imported.labelConflicts);
      expect(summary.images).toBe(imported.images);
      expect(manifest).toBe(await fresh.exportManifest('csv'));
    }
    // A split that dropped images left the decoded images whole: the next split has them all again.
    expect(splits[2].summary.images).toBeLessThan(splits[3].summary.images);
    expect(splits[3].summary.images).toBe(38);
  });

  it('refuses bad split options with the schema’s words, and keeps the imported dataset', async () => {
    const engine = await engineWith(counting());
    const scan = await engine.scanFolder(folder());
    const { datasetId } = await engine.decode(scan.folderId, { imageSize: SIZE, channels: 3 }, () => {});
    await engine.split(datasetId, splitOf(opts()));
    const manifest = await engine.exportManifest('csv');
    await expect(engine.split(datasetId, splitOf(opts({ seed: -1 })))).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/seed/) });
    await expect(engine.split(datasetId, splitOf(opts({ split: { train: 0.5, val: 0, test: 0.5 } })))).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/validation fraction/) });
    await expect(engine.split(datasetId, splitOf(opts({ split: { train: 0.5, val: 0.3, test: 0.3 } })))).rejects.toMatchObject({ code: 'E_CONFIG' });
    await expect(engine.split(datasetId, splitOf(opts({ groupPattern: '(' })))).rejects.toMatchObject({ code: 'E_DATASET' });
    await expect(engine.split(datasetId, splitOf(opts({ dedupe: 'sometimes' as never })))).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/duplicates must be/) });
    // Too few images for the split: refused, and the imported dataset stays the one before.
    await expect(engine.split(datasetId, splitOf(opts({ split: { train: 0.01, val: 0.01, test: 0.98 } })))).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/split is empty/) });
    expect((await engine.verifyStats()).ok).toBe(true);
    expect(await engine.exportManifest('csv')).toBe(manifest);
    await expect(engine.split('nothing@8x3', splitOf(opts()))).rejects.toMatchObject({ code: 'E_NOT_FOUND', message: expect.stringMatching(/no longer held/) });
    await expect(engine.decode('folder-0', { imageSize: SIZE, channels: 3 }, () => {})).rejects.toMatchObject({ code: 'E_NOT_FOUND', message: expect.stringMatching(/not the last one picked/) });
    await expect(engine.decode(scan.folderId, { imageSize: 0, channels: 3 }, () => {})).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/image size/) });
  });

  it('an external test folder is decoded without a split, and cannot be split', async () => {
    const analyzer = counting();
    const engine = await engineWith(analyzer);
    const scan = await engine.scanFolder(folder());
    const decoded = await engine.decode(scan.folderId, { imageSize: SIZE, channels: 3, purpose: 'evaluation' }, () => {});
    expect(decoded.evaluationOnly).toBe(true);
    await expect(engine.split(decoded.datasetId, splitOf(opts()))).rejects.toMatchObject({ code: 'E_DATASET', message: expect.stringMatching(/without a split/) });
  });

  it('a run cancelled on one split is not resumed on another, and stays resumable', async () => {
    const engine = await engineWith(counting());
    const scan = await engine.scanFolder(folder());
    const decoded = await engine.decode(scan.folderId, { imageSize: SIZE, channels: 3 }, () => {});
    const first = await engine.split(decoded.datasetId, splitOf(opts()));
    let runId = '';
    const cancelled = await engine.train({ dataset: { kind: 'folder', fingerprint: first.fingerprint }, model: 'simple_cnn', epochs: 3, batchSize: 4, learningRate: 0.003, seed: 1, earlyStopping: null }, (e) => {
      if (e.type === 'start') runId = e.runId;
      if (e.type === 'batch' && e.epoch === 2) void engine.cancel(runId);
    });
    expect(cancelled).toMatchObject({ status: 'cancelled', checkpoint: { last: 1 } });

    await engine.split(decoded.datasetId, splitOf(opts({ seed: 2 })));
    await expect(engine.resume(runId, () => {})).rejects.toMatchObject({ code: 'E_DATASET', message: expect.stringMatching(/split differently/) });
    expect((await engine.runs()).find((r) => r.runId === runId)).toMatchObject({ status: 'cancelled', checkpoint: { last: 1 } });

    // Split back as the run was: it resumes from its checkpoint.
    await engine.split(decoded.datasetId, splitOf(opts()));
    expect(await engine.resume(runId, () => {})).toMatchObject({ runId, status: 'completed', resumes: [{ fromEpoch: 1 }] });
  });

  it('a split reads the decoded pixels and never writes them', async () => {
    const f = folder();
    const source = { entries: f.paths.map((path, i) => ({ path, size: f.files[i].size })), read: async (path: string) => f.files[f.paths.indexOf(path)] };
    const decoded = await decodeFolder(source, { imageSize: SIZE, channels: 3 }, decoder);
    const before = decoded.images.slice();
    const dropped = splitDecoded(decoded, splitOf(opts({ dedupe: 'drop' })));
    const whole = splitDecoded(decoded, splitOf(opts({ dedupe: 'off', labelConflicts: 'keep-all' })));
    expect(decoded.images).toEqual(before);
    expect(whole.images.buffer).toBe(decoded.images.buffer);
    expect(dropped.keys.length).toBeLessThan(whole.keys.length);
    // Each kept image's pixels are its decoded ones.
    const stride = SIZE * SIZE * 3;
    dropped.keys.forEach((key, k) => {
      const j = decoded.files.findIndex((file) => file.key === key);
      expect(dropped.images.subarray(k * stride, (k + 1) * stride)).toEqual(decoded.images.subarray(j * stride, (j + 1) * stride));
    });
  });
});
