import { describe, expect, it } from 'vitest';
import { importChecks, resolveLabelConflicts, scanChecks } from '../../src/core/dataset/checks';
import { demoImage } from '../../src/core/dataset/demo';
import { analyzeWith, importDataset, splitId, type FolderSource, type ImageDecoder, type ImportOptions } from '../../src/core/dataset/importer';
import { detectLayout } from '../../src/core/dataset/layout';

// Files whose bytes are raw 8×8 RGB pixels, handed back by a fake decoder (as in importer.test.ts): the checks are
// about the importer's bookkeeping, not decoding.
const SIZE = 8;
const fakeDecode: ImageDecoder = async (_file, bytes, _size, _channels, out) => {
  out.set(bytes);
};
const decode = analyzeWith(fakeDecode);

function folder(files: Record<string, Uint8Array>): FolderSource {
  return { entries: Object.entries(files).map(([path, v]) => ({ path, size: v.length })), read: async (path) => new Blob([files[path] as BlobPart]) };
}
const opts = (over: Partial<ImportOptions> = {}): ImportOptions => ({ imageSize: SIZE, channels: 3, split: { train: 0.6, val: 0.2, test: 0.2 }, seed: 42, dedupe: 'keep-together', ...over });

function dataset(perClass: Record<string, number>): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  Object.entries(perClass).forEach(([c, n], k) => {
    for (let i = 0; i < n; i++) files[`brain/${c}/img (${i}).png`] = demoImage(k % 3, i + 50 * k, 1, SIZE);
  });
  return files;
}

const scan = (paths: string[], name: string) => scanChecks(detectLayout(paths.map((path) => ({ path, size: 10 }))), paths, name);

describe('scan checks', () => {
  it('refuses an empty folder, saying so and the layout expected', () => {
    expect(scan([], 'scans').refusal).toBe('the folder "scans" is empty: there is nothing to import. The studio reads one sub-folder per class, named after the class (e.g. scans/glioma/*.jpg and scans/meningioma/*.jpg), or Training/ and Testing/ folders of such class sub-folders');
    expect(scan([], '').refusal).toMatch(/^the picked folder is empty: .* FOLDER\/glioma\/\*\.jpg/);
  });

  it('refuses loose images at the root, listed by the page (name first) or by a folder handle, with "one folder per class"', () => {
    // <input webkitdirectory> lists "scans/a.jpg": without the check, that is one class named "scans".
    expect(detectLayout([{ path: 'scans/a.jpg', size: 1 }, { path: 'scans/b.jpg', size: 1 }]).classes).toEqual(['scans']);
    for (const paths of [['scans/a.jpg', 'scans/b.jpg'], ['a.jpg', 'b.jpg']]) {
      const { refusal } = scan(paths, 'scans');
      expect(refusal).toMatch(/^2 images in "scans" lie loose, not in class folders, and the studio needs one folder per class: the folder's name is the label\. Move them into one sub-folder per class/);
    }
  });

  it('warns of loose images beside class folders, which are not used', () => {
    const { refusal, warnings } = scan(['scans/loose.jpg', 'scans/glioma/1.jpg', 'scans/meningioma/2.jpg'], 'scans');
    expect(refusal).toBeNull();
    expect(warnings).toEqual([{ id: 'loose-images', message: '1 image outside the class folders will not be used (scans/loose.jpg): one folder per class, each image inside its class\'s folder' }]);
  });

  it('refuses a folder of files that are not images, and passes a good folder without a word', () => {
    expect(scan(['scans/notes/readme.txt'], 'scans').refusal).toMatch(/^no images found in "scans": 1 file, none of them an image in a class folder/);
    expect(scan(['scans/glioma/1.jpg', 'scans/meningioma/2.jpg'], 'scans')).toEqual({ refusal: null, warnings: [] });
    // A class folder that happens to be named like the picked folder is still a class when the listing has no prefix.
    expect(scan(['scans/1.jpg', 'other/2.jpg'], 'scans')).toEqual({ refusal: null, warnings: [] });
  });
});

describe('label conflicts', () => {
  const keys = ['a/x.png', 'b/x copy.png', 'a/y.png', 'a/y2.png', 'c/z.png', 'b/z.png', 'a/z.png'];
  const classOf = (i: number) => keys[i].split('/')[0];
  const exact = [[0, 1], [2, 3], [4, 5, 6]];

  it('lists identical files under two or more classes (not same-class copies) and drops every copy by default', () => {
    const { conflicts, drop } = resolveLabelConflicts(exact, keys, classOf, 'drop-all');
    expect(conflicts).toEqual([
      { members: [{ key: 'a/x.png', className: 'a' }, { key: 'b/x copy.png', className: 'b' }], kept: [] },
      { members: [{ key: 'a/z.png', className: 'a' }, { key: 'b/z.png', className: 'b' }, { key: 'c/z.png', className: 'c' }], kept: [] },
    ]);
    expect([...drop].sort()).toEqual([0, 1, 4, 5, 6]);
  });

  it('keeps the first copy by path, or every copy, when asked', () => {
    const first = resolveLabelConflicts(exact, keys, classOf, 'keep-first');
    expect(first.conflicts.map((c) => c.kept)).toEqual([['a/x.png'], ['a/z.png']]);
    expect([...first.drop].sort()).toEqual([1, 4, 5]);
    const all = resolveLabelConflicts(exact, keys, classOf, 'keep-all');
    expect(all.drop.size).toBe(0);
    expect(all.conflicts).toHaveLength(2);
  });

  it('import: a copy of one image under two classes is a label conflict, listed and left out; keep-first and keep-all do as they say', async () => {
    const files = dataset({ glioma: 10, meningioma: 10 });
    files['brain/meningioma/copy.png'] = files['brain/glioma/img (3).png'];
    const dropped = await importDataset(folder(files), opts(), decode);
    expect(dropped.labelConflicts).toEqual([{ members: [{ key: 'glioma/img (3).png', className: 'glioma' }, { key: 'meningioma/copy.png', className: 'meningioma' }], kept: [] }]);
    expect(dropped.keys).not.toContain('glioma/img (3).png');
    expect(dropped.keys).not.toContain('meningioma/copy.png');
    expect(dropped.keys).toHaveLength(19);
    expect(dropped.options.labelConflicts).toBe('drop-all');
    expect(dropped.checks.map((c) => c.id)).toEqual(['label-conflicts']);
    expect(dropped.checks[0].message).toBe('1 image is filed under two or more classes with identical bytes (glioma/img (3).png = meningioma/copy.png): every copy was left out (label conflicts: drop-all, the default)');
    // Still reported as the exact duplicate it is: the leakage report covers every decoded file.
    expect(dropped.duplicates.exactGroups).toEqual([['glioma/img (3).png', 'meningioma/copy.png']]);

    const first = await importDataset(folder(files), opts({ labelConflicts: 'keep-first' }), decode);
    expect(first.keys).toContain('glioma/img (3).png');
    expect(first.keys).not.toContain('meningioma/copy.png');
    const all = await importDataset(folder(files), opts({ labelConflicts: 'keep-all' }), decode);
    expect(all.keys).toHaveLength(21);
    expect(all.checks[0].message).toMatch(/every copy was kept, so the same image trains under two labels/);
    // Each choice is its own split; a folder without conflicts keeps the split id it had before the option existed.
    expect(new Set([splitId(dropped), splitId(first), splitId(all)]).size).toBe(3);
    const clean = await importDataset(folder(dataset({ glioma: 10, meningioma: 10 })), opts(), decode);
    expect(clean.labelConflicts).toEqual([]);
    expect(splitId(clean)).toBe(splitId({ ...clean, options: { ...clean.options, labelConflicts: 'keep-all' } }));
  });

  it('import with dedupe "drop": a dropped conflict leaves the same-class copies to dedupe, which keeps one of them', async () => {
    const files = dataset({ glioma: 10, meningioma: 10 });
    const img = files['brain/glioma/img (3).png'];
    Object.assign(files, { 'brain/glioma/again.png': img, 'brain/meningioma/copy.png': img });
    const d = await importDataset(folder(files), opts({ dedupe: 'drop', labelConflicts: 'keep-first' }), decode);
    // keep-first keeps both glioma copies (the first by path is glioma/again.png); dedupe then keeps one of those.
    expect(d.labelConflicts[0].kept).toEqual(['glioma/again.png', 'glioma/img (3).png']);
    expect(d.keys.filter((k) => k === 'glioma/again.png' || k === 'glioma/img (3).png' || k === 'meningioma/copy.png')).toEqual(['glioma/again.png']);
    expect(d.duplicates.dropped).toEqual([{ path: 'glioma/img (3).png', duplicateOf: 'glioma/again.png' }]);
  });
});

describe('classes missing from a split', () => {
  it('a class with a single image trains "1/0/0": the import warns that it has no validation or test image', async () => {
    const d = await importDataset(folder(dataset({ glioma: 10, meningioma: 10, pituitary: 1 })), opts(), decode);
    expect([d.counts.train.pituitary, d.counts.val.pituitary, d.counts.test.pituitary]).toEqual([1, 0, 0]);
    expect(d.checks).toEqual([
      { id: 'no-validation', message: 'no validation image for pituitary (1/0/0) (train/val/test): validation accuracy says nothing about this class, and the best epoch is chosen without it; add images (a class needs at least 3 for a train/val/test split)' },
      { id: 'no-test', message: 'no test image for pituitary (1/0/0) (train/val/test): the evaluation will not measure this class' },
    ]);
  });

  it('says nothing of a test split the user did not ask for, and names a class with no training image', () => {
    const counts = { train: { a: 5, b: 0 }, val: { a: 1, b: 2 }, test: { a: 0, b: 0 } };
    expect(importChecks([], 'drop-all', ['a', 'b'], counts, 0).map((c) => c.id)).toEqual(['no-training']);
    expect(importChecks([], 'drop-all', ['a', 'b'], counts, 0)[0].message).toBe('no training image for b (0/2/0) (train/val/test): the model cannot learn this class; add images or leave it out');
    expect(importChecks([], 'drop-all', ['a', 'b'], counts, 0.2).map((c) => c.id)).toEqual(['no-training', 'no-test']);
  });
});
