import { describe, expect, it } from 'vitest';
import { DatasetError, detectLayout, selectClasses, type PathEntry } from '../../src/core/dataset/layout';

const entries = (...paths: string[]): PathEntry[] => paths.map((path) => ({ path, size: 100 }));

describe('detectLayout', () => {
  it('reads root/<class>/* with classes sorted by folder name', () => {
    const layout = detectLayout(entries('pituitary/p1.jpg', 'glioma/g1.png', 'glioma/g2.JPG', 'meningioma/m1.jpeg'));
    expect(layout.kind).toBe('flat');
    expect(layout.root).toBe('');
    expect(layout.classes).toEqual(['glioma', 'meningioma', 'pituitary']);
    expect(layout.files.map((f) => [f.key, f.className, f.presetSplit])).toEqual([
      ['glioma/g1.png', 'glioma', undefined],
      ['glioma/g2.JPG', 'glioma', undefined],
      ['meningioma/m1.jpeg', 'meningioma', undefined],
      ['pituitary/p1.jpg', 'pituitary', undefined],
    ]);
    expect(layout.skipped).toEqual([]);
  });

  it('reads pre-split Training/Testing folders in any case and split-name spelling', () => {
    const layout = detectLayout(
      entries('Training/glioma/a.jpg', 'Training/notumor/b.jpg', 'TESTING/glioma/c.jpg', 'testing/notumor/d.png', 'Val/glioma/e.bmp', 'validation/notumor/f.webp', 'train/notumor/g.gif'),
    );
    expect(layout.kind).toBe('presplit');
    expect(layout.classes).toEqual(['glioma', 'notumor']);
    expect(Object.fromEntries(layout.files.map((f) => [f.key, `${f.className}:${f.presetSplit}`]))).toEqual({
      'Training/glioma/a.jpg': 'glioma:train',
      'Training/notumor/b.jpg': 'notumor:train',
      'TESTING/glioma/c.jpg': 'glioma:test',
      'testing/notumor/d.png': 'notumor:test',
      'Val/glioma/e.bmp': 'glioma:val',
      'validation/notumor/f.webp': 'notumor:val',
      'train/notumor/g.gif': 'notumor:train',
    });
  });

  it('strips the folder that <input webkitdirectory> puts first, keeping keys independent of it', () => {
    const direct = detectLayout(entries('Training/glioma/a.jpg', 'Testing/glioma/b.jpg', 'Training/pituitary/c.jpg'));
    const wrapped = detectLayout(entries('brain-mri/Training/glioma/a.jpg', 'brain-mri/Testing/glioma/b.jpg', 'brain-mri/Training/pituitary/c.jpg'));
    expect(wrapped.root).toBe('brain-mri');
    expect(wrapped.kind).toBe('presplit');
    expect(wrapped.files.map((f) => f.key)).toEqual(direct.files.map((f) => f.key));
    expect(wrapped.files[0].path).toBe('brain-mri/Testing/glioma/b.jpg');

    const flat = detectLayout(entries('data/glioma/a.jpg', 'data/meningioma/b.jpg', 'data/.DS_Store', 'README.txt'));
    expect(flat.root).toBe('data');
    expect(flat.classes).toEqual(['glioma', 'meningioma']);
  });

  it('keeps a lone split folder as a split instead of stripping it', () => {
    const layout = detectLayout(entries('Training/glioma/a.jpg', 'Training/meningioma/b.jpg'));
    expect(layout.kind).toBe('presplit');
    expect(layout.root).toBe('');
    expect(layout.files.every((f) => f.presetSplit === 'train')).toBe(true);
  });

  it('treats a class named like a split as a class when it holds images directly', () => {
    const layout = detectLayout(entries('car/a.jpg', 'bus/b.jpg', 'train/c.jpg'));
    expect(layout.kind).toBe('flat');
    expect(layout.classes).toEqual(['bus', 'car', 'train']);
  });

  it('puts images nested one level deeper into their class and skips deeper ones', () => {
    const layout = detectLayout(entries('glioma/patient 1/a.jpg', 'glioma/b.jpg', 'meningioma/p2/c.jpg', 'meningioma/p2/series/d.jpg'));
    expect(layout.files.map((f) => [f.key, f.className])).toEqual([
      ['glioma/b.jpg', 'glioma'],
      ['glioma/patient 1/a.jpg', 'glioma'],
      ['meningioma/p2/c.jpg', 'meningioma'],
    ]);
    expect(layout.skipped).toEqual([{ path: 'meningioma/p2/series/d.jpg', reason: 'too-deep', detail: expect.stringContaining('meningioma') }]);
  });

  it('handles spaces, parentheses, non-ASCII letters, backslashes and decomposed Unicode', () => {
    const decomposed = 'Gliom_a\u0308';
    const layout = detectLayout(entries(`${decomposed}/image (1).jpg`, 'Gliom_ä/Gliom_ä.png', 'Ménin giome\\scan (2).JPEG'));
    expect(layout.classes).toEqual(['Gliom_ä', 'Ménin giome']);
    expect(layout.files.map((f) => f.key)).toEqual(['Gliom_ä/Gliom_ä.png', 'Gliom_ä/image (1).jpg', 'Ménin giome/scan (2).JPEG']);
    expect(layout.files[1].path).toBe(`${decomposed}/image (1).jpg`);
  });

  it('lists every file it does not use, with the reason', () => {
    const layout = detectLayout([
      { path: 'glioma/a.jpg', size: 10 },
      { path: 'glioma/.DS_Store', size: 10 },
      { path: 'glioma/._a.jpg', size: 10 },
      { path: 'glioma/Thumbs.db', size: 10 },
      { path: 'meningioma/desktop.ini', size: 10 },
      { path: '__MACOSX/glioma/a.jpg', size: 10 },
      { path: '.git/config', size: 10 },
      { path: 'meningioma/b.PNG', size: 10 },
      { path: 'meningioma/notes.txt', size: 10 },
      { path: 'meningioma/scan.dcm', size: 10 },
      { path: 'meningioma/empty.jpg', size: 0 },
      { path: 'loose.jpg', size: 10 },
    ]);
    expect(layout.classes).toEqual(['glioma', 'meningioma']);
    expect(layout.skipped.map((s) => [s.path, s.reason])).toEqual([
      ['.git/config', 'hidden'],
      ['__MACOSX/glioma/a.jpg', 'hidden'],
      ['glioma/.DS_Store', 'hidden'],
      ['glioma/._a.jpg', 'hidden'],
      ['glioma/Thumbs.db', 'hidden'],
      ['loose.jpg', 'no-class'],
      ['meningioma/desktop.ini', 'hidden'],
      ['meningioma/empty.jpg', 'empty-file'],
      ['meningioma/notes.txt', 'unsupported-type'],
      ['meningioma/scan.dcm', 'unsupported-type'],
    ]);
    expect(layout.skipped.every((s) => s.detail.length > 0)).toBe(true);
  });

  it('skips files with no class in a pre-split layout', () => {
    const layout = detectLayout(entries('Training/glioma/a.jpg', 'Training/stray.jpg', 'Testing/glioma/b.jpg', 'extras/glioma/c.jpg'));
    expect(layout.skipped.map((s) => [s.path, s.reason])).toEqual([
      ['Training/stray.jpg', 'no-class'],
      ['extras/glioma/c.jpg', 'outside-split-folders'],
    ]);
  });

  it('reports class folders without usable images as empty, not as classes', () => {
    const layout = detectLayout(
      [
        { path: 'glioma/a.jpg', size: 10 },
        { path: 'meningioma/b.jpg', size: 10 },
        { path: 'pituitary/.DS_Store', size: 10 },
        { path: 'notumor/zero.jpg', size: 0 },
      ],
      ['glioma', 'meningioma', 'empty folder', '.hidden'],
    );
    expect(layout.classes).toEqual(['glioma', 'meningioma']);
    expect(layout.emptyClasses).toEqual(['empty folder', 'notumor', 'pituitary']);
  });

  it('reports empty class folders of a pre-split layout from the directory list', () => {
    const layout = detectLayout(entries('Training/glioma/a.jpg', 'Training/notumor/b.jpg'), ['Training', 'Training/pituitary', 'Testing/pituitary']);
    expect(layout.emptyClasses).toEqual(['pituitary']);
  });

  it('is independent of listing order', () => {
    const paths = entries('Training/glioma/a.jpg', 'Testing/glioma/b.jpg', 'Training/pituitary/c.jpg', 'x.txt', 'Training/.DS_Store');
    expect(detectLayout([...paths].reverse())).toEqual(detectLayout(paths));
  });
});

describe('selectClasses', () => {
  const layout = detectLayout(entries('glioma/a.jpg', 'meningioma/b.jpg', 'notumor/c.jpg', 'pituitary/d.jpg'));

  it('keeps the chosen classes and their files only', () => {
    const chosen = selectClasses(layout, ['pituitary', 'glioma', 'meningioma']);
    expect(chosen.classes).toEqual(['glioma', 'meningioma', 'pituitary']);
    expect(chosen.files.map((f) => f.className)).toEqual(['glioma', 'meningioma', 'pituitary']);
  });

  it('refuses fewer than two classes with a typed error', () => {
    expect(() => selectClasses(layout, ['glioma'])).toThrow(DatasetError);
    expect(() => selectClasses(layout, ['glioma'])).toThrow(/at least two classes.*only one class \(glioma\)/);
    expect(() => selectClasses(layout, ['glioma', 'glioma'])).toThrow(/at least two classes/);
    expect(() => selectClasses(layout, [])).toThrow(/at least two classes/);
    try {
      selectClasses(detectLayout(entries('glioma/a.jpg', 'glioma/b.jpg')));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(DatasetError);
      expect((err as DatasetError).code).toBe('too-few-classes');
      expect((err as DatasetError).message).toMatch(/only one class \(glioma\) was found/);
    }
  });

  it('names unknown and empty classes', () => {
    const withEmpty = detectLayout(entries('glioma/a.jpg', 'meningioma/b.jpg'), ['pituitary']);
    expect(() => selectClasses(withEmpty, ['glioma', 'pituitary'])).toThrow(/unknown class pituitary \(pituitary has no usable images\)/);
    expect(() => selectClasses(layout, ['glioma', 'Glioma'])).toThrow(expect.objectContaining({ code: 'unknown-class' }));
  });
});
