/**
 * Leakage check: exact duplicates by content hash and near duplicates by a perceptual hash (dHash), grouped into
 * clusters, so duplicates can be reported within and across splits, kept inside one split, or dropped.
 */
import { SPLIT_NAMES, type SplitName } from './split';
import { UnionFind } from './unionfind';
import { DEFAULTS } from '../settings/schema';

/** SHA-256 of the file's bytes, lowercase hex. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  // WebCrypto refuses views of a SharedArrayBuffer; copying is the only way to hash one.
  const data = bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/** 64 bits as two uint32 words: bitwise work on numbers is far faster than on BigInt. */
export interface PerceptualHash {
  /** Rows 0..3 of the comparison grid, first comparison in the most significant bit. */
  hi: number;
  /** Rows 4..7. */
  lo: number;
}

/**
 * Source-to-cell overlaps for an area-averaging resize along one axis, in whole units of 1/cells of a source pixel
 * (cell c spans [c·srcLen, (c+1)·srcLen) of them): cell[k] += weight[k] * source[from[k]]. Entries run by cell, then
 * by source index, so the source indices never decrease.
 */
type AreaWeights = { from: Int32Array; cell: Int32Array; weight: Int32Array };
const areaWeightCache = new Map<string, AreaWeights>();

function areaWeights(srcLen: number, cells: number): AreaWeights {
  const key = `${srcLen}:${cells}`;
  const cached = areaWeightCache.get(key);
  if (cached) return cached;
  const from: number[] = [];
  const cell: number[] = [];
  const weight: number[] = [];
  for (let c = 0; c < cells; c++) {
    const a = c * srcLen;
    const b = (c + 1) * srcLen;
    for (let s = Math.floor(a / cells); s * cells < b; s++) {
      const overlap = Math.min(b, (s + 1) * cells) - Math.max(a, s * cells);
      if (overlap <= 0) continue;
      from.push(s);
      cell.push(c);
      weight.push(overlap);
    }
  }
  // Every image of an import has the same size: build the table once.
  const weights = { from: Int32Array.from(from), cell: Int32Array.from(cell), weight: Int32Array.from(weight) };
  areaWeightCache.set(key, weights);
  return weights;
}

/** Grey level as dHash weighs a pixel: ITU-R 601 luma × 1000, an integer, so no rounding ever decides a bit. */
export const GREY_SCALE = 1000;

/** Tallest image DHashRows takes: its column sums (height × 255 × GREY_SCALE at most) stay 32-bit integers. */
const MAX_HASH_HEIGHT = 8000;

/**
 * dHash built one row at a time: fill `grey` with a row's grey levels (299·R + 587·G + 114·B, or GREY_SCALE × a grey
 * value) and call `addRow()`; after the last row read `hash()`. A decoder can so hash an image while it writes its
 * pixels, without a second pass over them. Every sum is an integer, so the cells (area sums rather than means: all
 * cells have the same area) are exact whatever order they are added in.
 */
export class DHashRows {
  /** The current row's grey levels, one per column. */
  readonly grey: Int32Array;
  /** Per grid row (8 of them, `width` apart), the weighted sum of each source column over the rows added so far. */
  readonly columns: Int32Array;
  private readonly width: number;
  private readonly cols: AreaWeights;
  private readonly rows: AreaWeights;
  private y = 0;
  private r = 0;

  constructor(width: number, height: number) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new RangeError(`invalid image size ${width}×${height}`);
    if (height > MAX_HASH_HEIGHT) throw new RangeError(`images taller than ${MAX_HASH_HEIGHT} rows are not hashed (got ${height})`);
    this.width = width;
    this.grey = new Int32Array(width);
    this.cols = areaWeights(width, 9);
    this.rows = areaWeights(height, 8);
    this.columns = new Int32Array(8 * width);
  }

  /**
   * Where the current row goes when it lies within one grid row: that grid row's offset in `columns`, to which the
   * caller adds ROW_WEIGHT × each grey level itself before `skipRow()`. -1 for a row that straddles two grid rows:
   * fill `grey` and `addRow()` instead.
   */
  wholeRow(): number {
    const { rows, r } = this;
    const next = r + 1 < rows.from.length && rows.from[r + 1] === this.y;
    return next ? -1 : rows.cell[r] * this.width;
  }

  /** Moves past a row the caller added to `columns` itself (see wholeRow). */
  skipRow(): void {
    this.y++;
    this.r++;
  }

  addRow(): void {
    const { grey, columns, rows, width } = this;
    const y = this.y++;
    for (; this.r < rows.from.length && rows.from[this.r] === y; this.r++) {
      const at = rows.cell[this.r] * width;
      const w = rows.weight[this.r];
      for (let x = 0; x < width; x++) columns[at + x] += w * grey[x];
    }
  }

  hash(): PerceptualHash {
    const { from, cell, weight } = this.cols;
    const grid = new Float64Array(8 * 9);
    for (let y = 0; y < 8; y++) {
      const at = y * this.width;
      for (let k = 0; k < from.length; k++) grid[y * 9 + cell[k]] += weight[k] * this.columns[at + from[k]];
    }
    let hi = 0;
    let lo = 0;
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 8; x++) {
        const bit = grid[y * 9 + x] > grid[y * 9 + x + 1] ? 1 : 0;
        if (y < 4) hi = ((hi << 1) | bit) >>> 0;
        else lo = ((lo << 1) | bit) >>> 0;
      }
    }
    return { hi, lo };
  }
}

/** The weight of a source row that lies wholly within one grid row (see DHashRows.wholeRow). */
export const ROW_WEIGHT = 8;

/**
 * dHash of a decoded uint8 image (interleaved, 1 to 4 channels; colour is reduced to luma, alpha ignored): area-average
 * to 9×8 grey cells, then one bit per horizontal neighbour pair, set where the left cell is brighter.
 */
export function dHash(pixels: Uint8Array, width: number, height: number, channels: number): PerceptualHash {
  if (!Number.isInteger(channels) || channels < 1 || channels > 4) throw new RangeError(`images must have 1 to 4 channels (got ${channels})`);
  if (pixels.length < width * height * channels) throw new RangeError(`${pixels.length} bytes is too few for a ${width}×${height}×${channels} image`);
  const rows = new DHashRows(width, height);
  const { grey } = rows;
  for (let y = 0, p = 0; y < height; y++) {
    if (channels >= 3) for (let x = 0; x < width; x++, p += channels) grey[x] = 299 * pixels[p] + 587 * pixels[p + 1] + 114 * pixels[p + 2];
    else for (let x = 0; x < width; x++, p += channels) grey[x] = GREY_SCALE * pixels[p];
    rows.addRow();
  }
  return rows.hash();
}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

export function hammingDistance(a: PerceptualHash, b: PerceptualHash): number {
  return popcount32((a.hi ^ b.hi) >>> 0) + popcount32((a.lo ^ b.lo) >>> 0);
}

export interface DuplicateCandidate {
  /** The split key (path relative to the dataset root): picks representatives independently of input order. */
  key: string;
  contentHash: string;
  /** Absent when the image could not be decoded: it then takes part in exact matching only. */
  phash?: PerceptualHash;
}

export interface DuplicateGroups {
  /** Items with identical bytes, two or more per group. */
  exact: number[][];
  /** Clusters linked by perceptual hashes within the threshold that hold at least two different contents. */
  near: number[][];
  /** All clusters of two or more items linked either way: the unit to keep together or deduplicate. */
  clusters: number[][];
}

/** The default near-duplicate threshold (the settings schema's; see there why 5). */
export const NEAR_THRESHOLD: number = DEFAULTS.nearThreshold;

export interface DuplicateOptions {
  /** Largest Hamming distance between dHashes that counts as a near duplicate (of 64 bits). */
  threshold?: number;
}

/**
 * Groups exact and near duplicates. Near duplicates are linked transitively (A~B and B~C put A and C together).
 * Members are ascending indices and groups are ordered by their first member.
 */
export function findDuplicateGroups(items: readonly DuplicateCandidate[], { threshold = NEAR_THRESHOLD }: DuplicateOptions = {}): DuplicateGroups {
  if (!Number.isInteger(threshold) || threshold < 0 || threshold > 64) throw new RangeError(`near-duplicate threshold must be an integer in 0..64 (got ${threshold})`);
  const uf = new UnionFind(items.length);
  const byContent = new Map<string, number[]>();
  items.forEach((item, i) => {
    const list = byContent.get(item.contentHash);
    if (list) list.push(i);
    else byContent.set(item.contentHash, [i]);
  });
  const exact = [...byContent.values()].filter((g) => g.length > 1);
  for (const group of exact) for (const i of group) uf.union(group[0], i);

  // Identical contents are already joined, so only one item per content needs comparing.
  const reps: number[] = [];
  for (const group of byContent.values()) {
    const rep = group.find((i) => items[i].phash !== undefined);
    if (rep !== undefined) reps.push(rep);
  }
  const m = reps.length;
  const hi = new Uint32Array(m);
  const lo = new Uint32Array(m);
  reps.forEach((i, k) => {
    const h = items[i].phash as PerceptualHash;
    hi[k] = h.hi;
    lo[k] = h.lo;
  });
  // All pairs, but on plain uint32 words: 6000 distinct images are 18M pairs, well under a second.
  for (let a = 0; a < m; a++) {
    const ha = hi[a];
    const la = lo[a];
    for (let b = a + 1; b < m; b++) {
      const d = popcount32(ha ^ hi[b]);
      if (d <= threshold && d + popcount32(la ^ lo[b]) <= threshold) uf.union(reps[a], reps[b]);
    }
  }

  const clusters = uf.components(2);
  const near = clusters.filter((c) => new Set(c.map((i) => items[i].contentHash)).size > 1);
  return { exact: exact.sort((a, b) => a[0] - b[0]), near, clusters };
}

export interface DuplicateGroup {
  members: number[];
  /** The splits its members are in, in train, val, test order; more than one means leakage. */
  splits: SplitName[];
}

export interface DuplicateReport {
  exactGroups: DuplicateGroup[];
  nearGroups: DuplicateGroup[];
  /** The exact and near groups that span more than one split. */
  crossSplit: (DuplicateGroup & { kind: 'exact' | 'near' })[];
}

/** Where each duplicate group landed; `splitOf[i]` is undefined for an item in no split (dropped, class left out). */
export function duplicateReport(groups: DuplicateGroups, splitOf: readonly (SplitName | undefined)[]): DuplicateReport {
  const locate = (members: number[]): DuplicateGroup => {
    const present = new Set(members.map((i) => splitOf[i]));
    return { members, splits: SPLIT_NAMES.filter((s) => present.has(s)) };
  };
  const exactGroups = groups.exact.map(locate);
  const nearGroups = groups.near.map(locate);
  const crossSplit = [
    ...exactGroups.filter((g) => g.splits.length > 1).map((g) => ({ ...g, kind: 'exact' as const })),
    ...nearGroups.filter((g) => g.splits.length > 1).map((g) => ({ ...g, kind: 'near' as const })),
  ];
  return { exactGroups, nearGroups, crossSplit };
}

/** The member with the smallest key: the same file represents a cluster whatever order the files were listed in. */
function representative(cluster: readonly number[], keys: readonly string[]): number {
  return cluster.reduce((best, i) => (keys[i] < keys[best] ? i : best));
}

/** Keep-together: a split group id per item (its cluster's smallest key), undefined for items with no duplicate. */
export function duplicateSplitGroups(groups: DuplicateGroups, keys: readonly string[]): (string | undefined)[] {
  const out: (string | undefined)[] = new Array(keys.length).fill(undefined);
  for (const cluster of groups.clusters) {
    const id = keys[representative(cluster, keys)];
    for (const i of cluster) out[i] = id;
  }
  return out;
}

/** Drop: keeps one representative per cluster; `dropped` says which kept item each dropped one duplicates. */
export function dropDuplicates(groups: DuplicateGroups, keys: readonly string[]): { keep: number[]; dropped: { index: number; keptAs: number }[] } {
  const dropped: { index: number; keptAs: number }[] = [];
  for (const cluster of groups.clusters) {
    const rep = representative(cluster, keys);
    for (const i of cluster) if (i !== rep) dropped.push({ index: i, keptAs: rep });
  }
  const gone = new Set(dropped.map((d) => d.index));
  dropped.sort((a, b) => a.index - b.index);
  return { keep: keys.map((_, i) => i).filter((i) => !gone.has(i)), dropped };
}
