import { describe, expect, it } from 'vitest';
import {
  buildSplitManifest,
  combineGroups,
  compileGroupPattern,
  GroupPatternError,
  groupedSplit,
  groupFromPattern,
  manifestToCsv,
  manifestToJson,
  splitOfEach,
  stratifiedSplit,
  type GroupedSplitItem,
  type SplitIndices,
} from '../../src/core/dataset/split';
import { mulberry32, shuffle } from '../../src/core/random';

const FRACTIONS = { train: 0.7, val: 0.15, test: 0.15 };

/** The split as key → split name, which is what must not depend on input order. */
function byKey(items: readonly GroupedSplitItem[], split: SplitIndices): Record<string, string> {
  const of = splitOfEach(split, items.length);
  return Object.fromEntries(items.map((item, i) => [item.key, of[i] as string]).sort());
}

function makeItems(perClass: number[], groupSize = 1): GroupedSplitItem[] {
  const items: GroupedSplitItem[] = [];
  perClass.forEach((n, label) => {
    for (let k = 0; k < n; k++) {
      const key = `c${label}/img${String(k).padStart(4, '0')}.jpg`;
      items.push(groupSize > 1 ? { key, label, group: `c${label}-p${Math.floor(k / groupSize)}` } : { key, label });
    }
  });
  return items;
}

describe('stratifiedSplit', () => {
  it('keeps its behaviour: per-class cuts by rounded fractions', () => {
    const items = makeItems([100, 40]);
    const split = stratifiedSplit(items, FRACTIONS, 42);
    expect([split.train.length, split.val.length, split.test.length]).toEqual([70 + 28, 15 + 6, 15 + 6]);
  });
});

describe('groupedSplit', () => {
  it('is deterministic for the same keys and seed whatever the input order', () => {
    const items = makeItems([120, 80, 60], 3);
    const reference = byKey(items, groupedSplit(items, FRACTIONS, 42));
    for (let s = 0; s < 5; s++) {
      const shuffled = shuffle([...items], mulberry32(s));
      expect(byKey(shuffled, groupedSplit(shuffled, FRACTIONS, 42))).toEqual(reference);
    }
    expect(byKey(items, groupedSplit(items, FRACTIONS, 43))).not.toEqual(reference);
  });

  it('stratifies ungrouped items exactly', () => {
    const items = makeItems([300, 200, 100]);
    const of = splitOfEach(groupedSplit(items, FRACTIONS, 7), items.length);
    [300, 200, 100].forEach((n, label) => {
      for (const [split, share] of Object.entries(FRACTIONS)) {
        const count = items.filter((item, i) => item.label === label && of[i] === split).length;
        expect(Math.abs(count - n * share)).toBeLessThanOrEqual(1);
      }
    });
  });

  it('never lets a group straddle splits and stays close to the fractions', () => {
    const rand = mulberry32(3);
    const items: GroupedSplitItem[] = [];
    for (let p = 0; p < 150; p++) {
      // patients with 1..8 slices; most patients have one diagnosis, some have two
      const label = p % 3;
      const slices = 1 + Math.floor(rand() * 8);
      for (let s = 0; s < slices; s++) items.push({ key: `p${p}/s${s}.png`, label: s === 7 ? (label + 1) % 3 : label, group: `patient-${p}` });
    }
    const split = groupedSplit(items, FRACTIONS, 42);
    const of = splitOfEach(split, items.length);
    const splitOfGroup = new Map<string, string>();
    items.forEach((item, i) => {
      const seen = splitOfGroup.get(item.group as string);
      if (seen !== undefined) expect(of[i]).toBe(seen);
      splitOfGroup.set(item.group as string, of[i] as string);
    });
    expect(split.train.length + split.val.length + split.test.length).toBe(items.length);
    for (let label = 0; label < 3; label++) {
      const n = items.filter((item) => item.label === label).length;
      for (const [name, share] of Object.entries(FRACTIONS)) {
        const count = items.filter((item, i) => item.label === label && of[i] === name).length;
        // within the size of about one group of the target
        expect(Math.abs(count - n * share)).toBeLessThanOrEqual(8);
      }
    }
  });

  it('never uses preset test items for training or validation, and carves validation from training', () => {
    const items: GroupedSplitItem[] = [];
    for (let label = 0; label < 2; label++) {
      for (let k = 0; k < 200; k++) items.push({ key: `Training/c${label}/${k}.jpg`, label, presetSplit: 'train' });
      for (let k = 0; k < 50; k++) items.push({ key: `Testing/c${label}/${k}.jpg`, label, presetSplit: 'test' });
    }
    const split = groupedSplit(items, FRACTIONS, 42);
    const of = splitOfEach(split, items.length);
    items.forEach((item, i) => expect(of[i] === 'test').toBe(item.presetSplit === 'test'));
    // the configured 70:15 train:val ratio is kept within the training pool
    expect(split.val.length).toBe(2 * Math.round((200 * 15) / 85));
    expect(split.overridden).toEqual([]);
  });

  it('carves test from the pool too when nothing is preset to test', () => {
    const items = makeItems([100, 100]).map((item) => ({ ...item, presetSplit: 'train' as const }));
    const split = groupedSplit(items, FRACTIONS, 42);
    expect([split.train.length, split.val.length, split.test.length]).toEqual([140, 30, 30]);
  });

  it('pulls a group that touches the preset test split into test, and says so', () => {
    const items: GroupedSplitItem[] = [
      ...makeItems([40, 40]).map((item) => ({ ...item, presetSplit: 'train' as const })),
      { key: 'Training/c0/patient7-a.jpg', label: 0, group: 'patient7', presetSplit: 'train' },
      { key: 'Testing/c0/patient7-b.jpg', label: 0, group: 'patient7', presetSplit: 'test' },
      { key: 'Testing/c1/x.jpg', label: 1, presetSplit: 'test' },
    ];
    const split = groupedSplit(items, FRACTIONS, 42);
    expect(split.test).toEqual([80, 81, 82]);
    expect(split.overridden).toEqual([80]);
  });

  it('validates fractions', () => {
    expect(() => groupedSplit(makeItems([5, 5]), { train: 0.5, val: 0.2, test: 0.2 }, 1)).toThrow(/add up to 1/);
  });
});

describe('group patterns', () => {
  it('takes the group id from the first capture group', () => {
    expect(groupFromPattern('glioma/P012_slice3.jpg', /(P\d+)_/)).toBe('P012');
    expect(groupFromPattern('glioma/patient 4/img (1).jpg', '/patient (\\d+)/')).toBe('4');
    expect(groupFromPattern('glioma/Gliom_ä-07.png', '([^/]+)-\\d+\\.png$')).toBe('Gliom_ä');
    expect(groupFromPattern('glioma/other.jpg', /(P\d+)_/)).toBeUndefined();
  });

  it('is not affected by a global flag', () => {
    const re = /(P\d+)_/g;
    expect(groupFromPattern('P1_a.jpg', re)).toBe('P1');
    expect(groupFromPattern('P2_a.jpg', re)).toBe('P2');
  });

  it('rejects invalid patterns and patterns without a capture group', () => {
    expect(() => compileGroupPattern('(P\\d+')).toThrow(GroupPatternError);
    expect(() => compileGroupPattern('(P\\d+')).toThrow(/invalid group pattern "\(P\\\\d\+"/);
    expect(() => groupFromPattern('a.jpg', 'P\\d+')).toThrow(/has no capture group/);
    expect(() => groupFromPattern('a.jpg', '(?:P\\d+)_')).toThrow(/has no capture group/);
    expect(compileGroupPattern('(?<patient>P\\d+)').exec('x/P3.jpg')?.[1]).toBe('P3');
  });
});

describe('combineGroups', () => {
  it('merges groupings transitively and names each component by its smallest key', () => {
    const keys = ['d', 'b', 'c', 'a', 'e'];
    const patients = ['p1', 'p1', undefined, 'p2', undefined];
    const duplicates = [undefined, 'x', 'x', 'y', undefined];
    expect(combineGroups(keys, patients, duplicates)).toEqual(['b', 'b', 'b', undefined, undefined]);
    expect(() => combineGroups(keys, ['a'])).toThrow(/1 entries for 5 items/);
  });
});

describe('split manifest', () => {
  const files = [
    { path: 'meningioma/b, "quoted".jpg', className: 'meningioma' },
    { path: 'glioma/a (1).jpg', className: 'glioma', group: 'P1' },
    { path: 'glioma/dropped.jpg', className: 'glioma' },
    { path: 'glioma/Gliom_ä.png', className: 'glioma' },
  ];
  const manifest = buildSplitManifest(files, { train: [0, 1], val: [], test: [3] }, 42, FRACTIONS);

  it('maps each file in a split to its split, sorted by path', () => {
    expect(manifest.entries).toEqual([
      { path: 'glioma/Gliom_ä.png', className: 'glioma', split: 'test' },
      { path: 'glioma/a (1).jpg', className: 'glioma', split: 'train', group: 'P1' },
      { path: 'meningioma/b, "quoted".jpg', className: 'meningioma', split: 'train' },
    ]);
  });

  it('serialises to CSV with quoting', () => {
    expect(manifestToCsv(manifest)).toBe(
      'path,class,split,group\r\nglioma/Gliom_ä.png,glioma,test,\r\nglioma/a (1).jpg,glioma,train,P1\r\n"meningioma/b, ""quoted"".jpg",meningioma,train,\r\n',
    );
  });

  it('serialises to JSON that reads back to the same manifest', () => {
    expect(JSON.parse(manifestToJson(manifest))).toEqual(manifest);
  });

  it('rejects an item placed in two splits', () => {
    expect(() => buildSplitManifest(files, { train: [0], val: [0], test: [] }, 42, FRACTIONS)).toThrow(/both the train and the val split/);
  });
});
