import { describe, expect, it } from 'vitest';
import { demoImage } from '../../src/core/dataset/demo';
import { analyzeWith, ImportCancelled, importDataset, splitId, type FolderSource, type ImageDecoder, type ImportOptions } from '../../src/core/dataset/importer';

// Files whose bytes are raw 8×8 RGB pixels: the fake decoder hands them back, so the test exercises the importer's
// bookkeeping (layout, failures, hashes, split, stats) without a browser. Real decoding is tested in Chromium.
const SIZE = 8;
const fakeDecode: ImageDecoder = async (_file, bytes, _size, _channels, out) => {
  if (bytes.length !== SIZE * SIZE * 3) throw Object.assign(new Error('not an image: the file starts with text'), { reason: 'not-an-image' });
  out.set(bytes);
};
const decode = analyzeWith(fakeDecode);

function folder(files: Record<string, Uint8Array | string>): FolderSource {
  return {
    entries: Object.entries(files).map(([path, v]) => ({ path, size: typeof v === 'string' ? v.length : v.length })),
    read: async (path) => new Blob([files[path] as BlobPart]),
  };
}

const opts = (over: Partial<ImportOptions> = {}): ImportOptions => ({ imageSize: SIZE, channels: 3, split: { train: 0.6, val: 0.2, test: 0.2 }, seed: 42, dedupe: 'off', ...over });

function dataset(perClass: number, extra: Record<string, Uint8Array | string> = {}) {
  const files: Record<string, Uint8Array | string> = {};
  ['glioma', 'meningioma', 'pituitary'].forEach((c, k) => {
    for (let i = 0; i < perClass; i++) files[`brain/${c}/img (${i}).png`] = demoImage(k, i, 1, SIZE);
  });
  return { ...files, ...extra };
}

describe('importDataset', () => {
  it('decodes into one tightly packed uint8 buffer, lists what it skipped, and splits by class', async () => {
    const events: string[] = [];
    const d = await importDataset(folder(dataset(10, { 'brain/glioma/notes.jpg': 'hello', 'brain/.DS_Store': 'x' })), opts(), decode, (e) => events.push(e.type));
    expect(d.classes).toEqual(['glioma', 'meningioma', 'pituitary']);
    expect(d.keys).toHaveLength(30);
    expect(d.images.byteLength).toBe(30 * SIZE * SIZE * 3);
    expect(d.skipped.map((s) => [s.path, s.reason])).toEqual([
      ['brain/.DS_Store', 'hidden'],
      ['brain/glioma/notes.jpg', 'unreadable'],
    ]);
    expect(d.skipped[1].detail).toMatch(/not-an-image: not an image/);
    expect(d.counts).toEqual({ train: { glioma: 6, meningioma: 6, pituitary: 6 }, val: { glioma: 2, meningioma: 2, pituitary: 2 }, test: { glioma: 2, meningioma: 2, pituitary: 2 } });
    expect(events[0]).toBe('scanned');
    expect(events.at(-1)).toBe('analysing');
    // The image at key k really is that file's pixels.
    const k = d.keys.indexOf('meningioma/img (3).png');
    expect(Array.from(d.images.subarray(k * 192, (k + 1) * 192))).toEqual(Array.from(demoImage(1, 3, 1, SIZE)));
    expect(d.normalization.mean).toHaveLength(3);
  });

  it('gives the same split, fingerprint and stats whatever order the files are listed in', async () => {
    const files = dataset(8);
    const a = await importDataset(folder(files), opts(), decode);
    const reversed = Object.fromEntries(Object.entries(files).reverse());
    const b = await importDataset(folder(reversed), opts(), decode);
    expect(b.fingerprint).toBe(a.fingerprint);
    expect(b.manifest).toEqual(a.manifest);
    expect(b.normalization).toEqual(a.normalization);
    expect(splitId(b)).toBe(splitId(a));
  });

  it('finds exact duplicates and keeps each group in one split, or drops the copies', async () => {
    const files = dataset(10);
    const copy = files['brain/glioma/img (0).png'];
    Object.assign(files, { 'brain/glioma/copy a.png': copy, 'brain/glioma/copy b.png': copy });
    const together = await importDataset(folder(files), opts({ dedupe: 'keep-together' }), decode);
    expect(together.duplicates.exactGroups).toContainEqual(['glioma/copy a.png', 'glioma/copy b.png', 'glioma/img (0).png']);
    expect(together.duplicates.crossSplit).toEqual([]);
    const dropped = await importDataset(folder(files), opts({ dedupe: 'drop' }), decode);
    expect(dropped.keys).toHaveLength(30);
    expect(dropped.duplicates.dropped).toEqual([
      { path: 'glioma/copy b.png', duplicateOf: 'glioma/copy a.png' },
      { path: 'glioma/img (0).png', duplicateOf: 'glioma/copy a.png' },
    ]);
  });

  it('finds near duplicates within the chosen Hamming threshold, and keys the split by a threshold other than the default', async () => {
    const files = dataset(10);
    // The same slice a little brighter: a different content hash, nearly the same perceptual hash.
    const brighter = Uint8Array.from(files['brain/glioma/img (0).png'] as Uint8Array, (v) => Math.min(255, v + 3));
    files['brain/glioma/brighter.png'] = brighter;
    const near = (nearThreshold?: number, dedupe: ImportOptions['dedupe'] = 'keep-together') => importDataset(folder(files), opts({ dedupe, nearThreshold }), decode);
    const byDefault = await near();
    expect(byDefault.duplicates.nearGroups).toContainEqual(['glioma/brighter.png', 'glioma/img (0).png']);
    // At 64 bits every image is near every other; reported only, since keeping them together would leave no split.
    expect((await near(64, 'off')).duplicates.nearGroups.flat().length).toBeGreaterThan(byDefault.duplicates.nearGroups.flat().length);
    expect(splitId(await near(5))).toBe(splitId(byDefault));
    expect(splitId(await near(0))).not.toBe(splitId(byDefault));
    await expect(near(65)).rejects.toThrow(/threshold must be an integer in 0\.\.64/);
  });

  it('keeps the chosen classes only and refuses fewer than two', async () => {
    const d = await importDataset(folder(dataset(6)), opts({ classes: ['glioma', 'pituitary'] }), decode);
    expect(d.classes).toEqual(['glioma', 'pituitary']);
    expect(d.keys.every((k) => !k.startsWith('meningioma'))).toBe(true);
    await expect(importDataset(folder(dataset(6)), opts({ classes: ['glioma'] }), decode)).rejects.toThrow(/at least two classes/);
  });

  it('puts every image of a group (from a filename pattern) in one split', async () => {
    const files: Record<string, Uint8Array> = {};
    ['a', 'b'].forEach((c, k) => {
      for (let p = 0; p < 10; p++) for (let s = 0; s < 3; s++) files[`${c}/patient${p}_slice${s}.png`] = demoImage(k, p * 3 + s, 2, SIZE);
    });
    const d = await importDataset(folder(files), opts({ groupPattern: '(patient\\d+)_' }), decode);
    const where = new Map<string, Set<string>>();
    for (const e of d.manifest.entries) {
      const g = `${e.className}/${e.group}`;
      where.set(g, (where.get(g) ?? new Set()).add(e.split));
    }
    expect([...where.values()].every((s) => s.size === 1)).toBe(true);
  });

  it('reads each batch once, and file by file when a file in it cannot be read, skipping only that file', async () => {
    const files = dataset(10);
    const source = folder(files);
    const gone = 'brain/meningioma/img (4).png';
    // A file deleted since the listing: its reads fail, so the batch holding it cannot be read as one Blob either.
    const vanished = { size: 192, type: '', arrayBuffer: async () => Promise.reject(new Error('the file could not be read')) } as unknown as Blob;
    const d = await importDataset({ ...source, read: async (path) => (path === gone ? vanished : source.read(path)) }, opts(), decode);
    expect(d.keys).toHaveLength(29);
    expect(d.skipped).toEqual([{ path: gone, reason: 'unreadable', detail: 'the file could not be read' }]);
    const k = d.keys.indexOf('meningioma/img (5).png');
    expect(Array.from(d.images.subarray(k * 192, (k + 1) * 192))).toEqual(Array.from(demoImage(1, 5, 1, SIZE)));
  });

  it('skips the files of a batch whose analysis fails as a whole, and imports the others', async () => {
    let batches = 0;
    const flaky = { parallelism: 1, analyze: (...args: Parameters<typeof decode.analyze>) => (++batches === 1 ? Promise.reject(new Error('the decoder worker stopped')) : decode.analyze(...args)) };
    const d = await importDataset(folder(dataset(10)), opts(), flaky);
    expect(d.skipped).toHaveLength(16);
    expect(d.skipped.every((s) => s.reason === 'unreadable' && s.detail === 'the decoder worker stopped')).toBe(true);
    expect(d.keys).toHaveLength(14);
  });

  it('stops when cancelled and reports it as a cancellation', async () => {
    let decoded = 0;
    const counting = analyzeWith(async (...args) => {
      decoded += 1;
      return fakeDecode(...args);
    });
    const files = dataset(20);
    await expect(importDataset(folder(files), opts({ concurrency: 1 }), counting, () => {}, () => decoded >= 5)).rejects.toBeInstanceOf(ImportCancelled);
    expect(decoded).toBeLessThan(60);
  });
});

describe('importDataset for evaluation (an external test set: no split)', () => {
  const classes = ['glioma', 'meningioma', 'pituitary'];
  const under = (prefix: string, perClass: number, seed = 1) =>
    Object.fromEntries(classes.flatMap((c, k) => Array.from({ length: perClass }, (_, i) => [`${prefix}/${c}/img (${i}).png`, demoImage(k, i, seed, SIZE)] as const)));
  const forEvaluation = opts({ split: { train: 0, val: 0, test: 1 }, purpose: 'evaluation' });

  it('puts every image of a folder named Testing, Training or val in the test split (refused as a 50/50/0 training split before)', async () => {
    for (const name of ['Testing', 'Training', 'val', 'TEST']) {
      const d = await importDataset(folder(under(name, 3)), forEvaluation, decode);
      expect(d.layout, name).toBe('presplit');
      expect(d.split.test, name).toHaveLength(9);
      expect(d.split.train).toEqual([]);
      expect(d.split.val).toEqual([]);
      expect(d.counts.test).toEqual({ glioma: 3, meningioma: 3, pituitary: 3 });
      expect(d.normalization.mean).toHaveLength(3);
    }
    // The same folder imported for training still needs its training split: the message the external import got.
    await expect(importDataset(folder(under('Testing', 3)), opts({ split: { train: 0.5, val: 0.5, test: 0 } }), decode)).rejects.toThrow(/the training split is empty: 9 usable images is too few for a 50\/50\/0 split/);
  });

  it('of X/ holding Training/ and Testing/, keeps the Testing images and lists the others as not evaluated', async () => {
    const d = await importDataset(folder({ ...under('X/Training', 4), ...under('X/Testing', 2, 2) }), forEvaluation, decode);
    expect(d.keys).toHaveLength(6);
    expect(d.keys.every((k) => k.startsWith('Testing/'))).toBe(true);
    const notEvaluated = d.skipped.filter((s) => s.reason === 'not-evaluated');
    expect(notEvaluated).toHaveLength(12);
    expect(notEvaluated[0].detail).toMatch(/in the Training folder: only the test folder's images are evaluated/);
    // X/ with Testing/ alone, and a flat folder: every image.
    expect((await importDataset(folder(under('X/Testing', 2)), forEvaluation, decode)).split.test).toHaveLength(6);
    expect((await importDataset(folder(under('X', 2)), forEvaluation, decode)).split.test).toHaveLength(6);
    // Without a test folder (Training/ and val/), every image is evaluated.
    expect((await importDataset(folder({ ...under('X/Training', 2), ...under('X/val', 1, 3) }), forEvaluation, decode)).split.test).toHaveLength(9);
  });

  it('says so when no image of the folder can be read', async () => {
    await expect(importDataset(folder({ 'Testing/glioma/a.png': 'text', 'Testing/meningioma/b.png': 'text' }), forEvaluation, decode)).rejects.toThrow(/none of the 2 images could be read, so there is nothing to evaluate/);
  });
});
