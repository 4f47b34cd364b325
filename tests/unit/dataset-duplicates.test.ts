import { describe, expect, it } from 'vitest';
import { demoImage } from '../../src/core/dataset/demo';
import {
  dHash,
  dropDuplicates,
  duplicateReport,
  duplicateSplitGroups,
  findDuplicateGroups,
  hammingDistance,
  sha256Hex,
  type DuplicateCandidate,
  type PerceptualHash,
} from '../../src/core/dataset/duplicates';
import { datasetFingerprint } from '../../src/core/dataset/fingerprint';
import { combineGroups, groupedSplit, splitOfEach } from '../../src/core/dataset/split';
import { gaussian, mulberry32, shuffle } from '../../src/core/random';

const SIZE = 96;

function withNoise(image: Uint8Array, sd: number, seed: number): Uint8Array {
  const rand = mulberry32(seed);
  return image.map((v) => Math.max(0, Math.min(255, Math.round(v + gaussian(rand) * sd))));
}

function randomHash(rand: () => number): PerceptualHash {
  return { hi: Math.floor(rand() * 2 ** 32), lo: Math.floor(rand() * 2 ** 32) };
}

describe('sha256Hex', () => {
  it('matches the FIPS 180-2 test vector', async () => {
    expect(await sha256Hex(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('hashes a view into a larger buffer by its own bytes only', async () => {
    const buffer = new Uint8Array([9, 97, 98, 99, 9]);
    expect(await sha256Hex(buffer.subarray(1, 4))).toBe(await sha256Hex(new Uint8Array([97, 98, 99])));
  });
});

describe('dHash', () => {
  it('sets a bit where the left cell is brighter', () => {
    const w = 45;
    const h = 16;
    const falling = new Uint8Array(w * h).map((_, p) => 255 - (p % w) * 5);
    const rising = new Uint8Array(w * h).map((_, p) => (p % w) * 5);
    expect(dHash(falling, w, h, 1)).toEqual({ hi: 0xffffffff, lo: 0xffffffff });
    expect(dHash(rising, w, h, 1)).toEqual({ hi: 0, lo: 0 });
  });

  it('gives the same hash for grey, RGB and RGBA versions of an image, and for images smaller than the grid', () => {
    const rgb = demoImage(0, 1, 42, 37);
    const grey = new Uint8Array(37 * 37).map((_, p) => rgb[p * 3]);
    const rgba = new Uint8Array(37 * 37 * 4).map((_, q) => (q % 4 === 3 ? (q * 7) % 256 : rgb[Math.floor(q / 4) * 3]));
    expect(dHash(rgb, 37, 37, 3)).toEqual(dHash(grey, 37, 37, 1));
    expect(dHash(rgba, 37, 37, 4)).toEqual(dHash(grey, 37, 37, 1));
    const tiny = new Uint8Array([10, 200, 30, 40, 250, 60]);
    expect(() => dHash(tiny, 3, 2, 1)).not.toThrow();
  });

  it('is stable under resizing', () => {
    const small = demoImage(1, 3, 42, 48);
    const large = new Uint8Array(96 * 96 * 3);
    for (let y = 0; y < 96; y++) for (let x = 0; x < 96; x++) for (let c = 0; c < 3; c++) large[(y * 96 + x) * 3 + c] = small[((y >> 1) * 48 + (x >> 1)) * 3 + c];
    expect(dHash(large, 96, 96, 3)).toEqual(dHash(small, 48, 48, 3));
  });

  it('puts a noisy copy within the default threshold and a different image outside it', () => {
    const image = demoImage(0, 5, 42, SIZE);
    const hash = dHash(image, SIZE, SIZE, 3);
    expect(hammingDistance(hash, dHash(withNoise(image, 6, 1), SIZE, SIZE, 3))).toBeLessThanOrEqual(5);
    expect(hammingDistance(hash, dHash(demoImage(0, 6, 42, SIZE), SIZE, SIZE, 3))).toBeGreaterThan(5);
    expect(hammingDistance(hash, dHash(demoImage(2, 5, 42, SIZE), SIZE, SIZE, 3))).toBeGreaterThan(5);
  });

  it('sets no bit in a uniform image of any size: cells are exact integer sums, so no rounding decides a bit', () => {
    for (const [w, h] of [[224, 224], [37, 23], [100, 7]]) {
      for (const v of [0, 1, 128, 255]) {
        expect(dHash(new Uint8Array(w * h * 3).fill(v), w, h, 3)).toEqual({ hi: 0, lo: 0 });
      }
    }
  });

  it('rejects inconsistent sizes', () => {
    expect(() => dHash(new Uint8Array(10), 4, 4, 1)).toThrow(/too few/);
    expect(() => dHash(new Uint8Array(10), 0, 4, 1)).toThrow(/invalid image size/);
    expect(() => dHash(new Uint8Array(80), 4, 4, 5)).toThrow(/1 to 4 channels/);
  });
});

describe('findDuplicateGroups', () => {
  async function candidates(images: Uint8Array[]): Promise<DuplicateCandidate[]> {
    return Promise.all(
      images.map(async (pixels, i) => ({ key: `img${i}.png`, contentHash: await sha256Hex(pixels), phash: dHash(pixels, SIZE, SIZE, 3) })),
    );
  }

  it('groups exact and near duplicates on synthetic images', async () => {
    const a = demoImage(0, 1, 42, SIZE);
    const b = demoImage(1, 2, 42, SIZE);
    const c = demoImage(2, 3, 42, SIZE);
    // 0, 2 and 4 are one picture (2 a byte-identical copy, 4 a noisy re-save); 1 and 5 are identical; 3 is unique
    const noisy = withNoise(a, 12, 9);
    const items = await candidates([a, b, a.slice(), c, noisy, b.slice()]);
    const distance = hammingDistance(items[0].phash as PerceptualHash, items[4].phash as PerceptualHash);
    expect(distance).toBeGreaterThan(0);
    const groups = findDuplicateGroups(items);
    expect(groups.exact).toEqual([[0, 2], [1, 5]]);
    expect(groups.near).toEqual([[0, 2, 4]]);
    expect(groups.clusters).toEqual([[0, 2, 4], [1, 5]]);
    expect(findDuplicateGroups(items, { threshold: distance - 1 }).near).toEqual([]);
  });

  it('uses exact matching alone for items without a perceptual hash', () => {
    const items: DuplicateCandidate[] = [
      { key: 'a', contentHash: 'h1' },
      { key: 'b', contentHash: 'h1' },
      { key: 'c', contentHash: 'h2', phash: { hi: 1, lo: 0 } },
      { key: 'd', contentHash: 'h3', phash: { hi: 0, lo: 0 } },
    ];
    expect(findDuplicateGroups(items)).toEqual({ exact: [[0, 1]], near: [[2, 3]], clusters: [[0, 1], [2, 3]] });
  });

  it('links near duplicates transitively', () => {
    const items: DuplicateCandidate[] = [
      { key: 'a', contentHash: 'a', phash: { hi: 0, lo: 0 } },
      { key: 'b', contentHash: 'b', phash: { hi: 0, lo: 0b11111 } },
      { key: 'c', contentHash: 'c', phash: { hi: 0b1111, lo: 0b11111 } },
    ];
    expect(findDuplicateGroups(items).near).toEqual([[0, 1, 2]]);
  });

  it('finds a planted pair among 6000 hashes', () => {
    const rand = mulberry32(11);
    const items: DuplicateCandidate[] = Array.from({ length: 6000 }, (_, i) => ({ key: `k${i}`, contentHash: `c${i}`, phash: randomHash(rand) }));
    const base = items[123].phash as PerceptualHash;
    items[4567].phash = { hi: (base.hi ^ 0x80000001) >>> 0, lo: (base.lo ^ 0x00010100) >>> 0 };
    expect(findDuplicateGroups(items).near).toEqual([[123, 4567]]);
  });

  it('rejects a bad threshold', () => {
    expect(() => findDuplicateGroups([], { threshold: 65 })).toThrow(/0\.\.64/);
  });
});

describe('duplicate handling', () => {
  const items: DuplicateCandidate[] = [
    { key: 'glioma/x.jpg', contentHash: 'same' },
    { key: 'glioma/a.jpg', contentHash: 'same' },
    { key: 'glioma/b.jpg', contentHash: 'u1', phash: { hi: 0, lo: 0 } },
    { key: 'glioma/c.jpg', contentHash: 'u2', phash: { hi: 0, lo: 1 } },
    { key: 'glioma/d.jpg', contentHash: 'u3', phash: { hi: 0xffffffff, lo: 0xffffffff } },
  ];
  const groups = findDuplicateGroups(items);
  const keys = items.map((item) => item.key);

  it('reports groups with their splits and flags those across splits', () => {
    const report = duplicateReport(groups, ['train', 'test', 'val', 'val', 'train']);
    expect(report.exactGroups).toEqual([{ members: [0, 1], splits: ['train', 'test'] }]);
    expect(report.nearGroups).toEqual([{ members: [2, 3], splits: ['val'] }]);
    expect(report.crossSplit).toEqual([{ members: [0, 1], splits: ['train', 'test'], kind: 'exact' }]);
    expect(duplicateReport(groups, [undefined, 'test', 'val', 'val', 'train']).crossSplit).toEqual([]);
  });

  it('drops all but the member with the smallest key', () => {
    expect(dropDuplicates(groups, keys)).toEqual({
      keep: [1, 2, 4],
      dropped: [
        { index: 0, keptAs: 1 },
        { index: 3, keptAs: 2 },
      ],
    });
  });

  it('keeps duplicate clusters inside one split through the group-aware split', async () => {
    const rand = mulberry32(5);
    const n = 400;
    const list: (DuplicateCandidate & { label: number })[] = [];
    for (let i = 0; i < n; i++) list.push({ key: `c${i % 2}/img${i}.jpg`, label: i % 2, contentHash: `h${i}`, phash: randomHash(rand) });
    // 30 byte-identical copies and 30 near copies of random earlier images
    for (let k = 0; k < 60; k++) {
      const src = list[Math.floor(rand() * n)];
      const phash = k < 30 ? src.phash : { hi: ((src.phash as PerceptualHash).hi ^ 1) >>> 0, lo: (src.phash as PerceptualHash).lo };
      list.push({ key: `${src.key}.copy${k}.jpg`, label: src.label, contentHash: k < 30 ? src.contentHash : `copy${k}`, phash });
    }
    for (const order of [list, shuffle([...list], rand)]) {
      const found = findDuplicateGroups(order);
      const keyList = order.map((item) => item.key);
      const patientGroups = keyList.map(() => undefined);
      const groupsForSplit = combineGroups(keyList, patientGroups, duplicateSplitGroups(found, keyList));
      const split = groupedSplit(order.map((item, i) => ({ key: item.key, label: item.label, group: groupsForSplit[i] })), { train: 0.7, val: 0.15, test: 0.15 }, 42);
      const report = duplicateReport(found, splitOfEach(split, order.length));
      expect(found.clusters.length).toBeGreaterThan(40);
      expect(report.crossSplit).toEqual([]);
      // without keep-together the same duplicates do leak
      const naive = groupedSplit(order.map((item) => ({ key: item.key, label: item.label })), { train: 0.7, val: 0.15, test: 0.15 }, 42);
      expect(duplicateReport(found, splitOfEach(naive, order.length)).crossSplit.length).toBeGreaterThan(0);
    }
  });
});

describe('datasetFingerprint', () => {
  const entries = [
    { path: 'glioma/a (1).jpg', size: 100, contentHash: 'aa' },
    { path: 'glioma/Gliom_ä.png', size: 7, contentHash: 'bb' },
    { path: 'meningioma/c.jpg', size: 42, contentHash: 'cc' },
  ];

  it('is a SHA-256 hex digest that does not depend on order', async () => {
    const fp = await datasetFingerprint(entries);
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    expect(await datasetFingerprint([...entries].reverse())).toBe(fp);
    expect(await datasetFingerprint([entries[1], entries[2], entries[0]])).toBe(fp);
  });

  it('changes with any path, size or content', async () => {
    const fp = await datasetFingerprint(entries);
    const changed = await Promise.all([
      datasetFingerprint([{ ...entries[0], path: 'glioma/a (2).jpg' }, entries[1], entries[2]]),
      datasetFingerprint([{ ...entries[0], size: 101 }, entries[1], entries[2]]),
      datasetFingerprint([{ ...entries[0], contentHash: 'ab' }, entries[1], entries[2]]),
      datasetFingerprint(entries.slice(1)),
    ]);
    for (const other of changed) expect(other).not.toBe(fp);
  });
});
