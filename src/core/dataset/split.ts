import { deriveSeed, mulberry32, shuffle } from '../random';
import { UnionFind } from './unionfind';
import { csvText } from '../csv';

export interface SplitFractions {
  train: number;
  val: number;
  test: number;
}

export interface SplitItem {
  /** Stable identity (a file path, or a demo image id): the split depends on keys, never on listing order. */
  key: string;
  label: number;
}

export interface SplitIndices {
  train: number[];
  val: number[];
  test: number[];
}

export function validateFractions(f: SplitFractions): string | null {
  const parts = [f.train, f.val, f.test];
  if (parts.some((p) => !Number.isFinite(p) || p < 0)) return 'split fractions must be non-negative numbers';
  if (f.train <= 0) return 'the training split must not be empty';
  if (Math.abs(parts.reduce((a, b) => a + b, 0) - 1) > 1e-6) return `split fractions must add up to 1 (got ${parts.join(' + ')})`;
  return null;
}

/**
 * Stratified, seeded split: within each class, items are sorted by key, shuffled with a seed derived from
 * (seed, class) and cut by the fractions. Returns indices into `items`, each list sorted ascending.
 */
export function stratifiedSplit(items: readonly SplitItem[], fractions: SplitFractions, seed: number): SplitIndices {
  const problem = validateFractions(fractions);
  if (problem) throw new RangeError(problem);
  const byClass = new Map<number, number[]>();
  items.forEach((item, i) => {
    const list = byClass.get(item.label) ?? [];
    list.push(i);
    byClass.set(item.label, list);
  });
  const out: SplitIndices = { train: [], val: [], test: [] };
  for (const [label, indices] of [...byClass.entries()].sort((a, b) => a[0] - b[0])) {
    indices.sort((a, b) => (items[a].key < items[b].key ? -1 : items[a].key > items[b].key ? 1 : 0));
    shuffle(indices, mulberry32(deriveSeed(seed, 'split', label)));
    const n = indices.length;
    const nVal = Math.round(n * fractions.val);
    const nTest = Math.round(n * fractions.test);
    const nTrain = n - nVal - nTest;
    out.train.push(...indices.slice(0, nTrain));
    out.val.push(...indices.slice(nTrain, nTrain + nVal));
    out.test.push(...indices.slice(nTrain + nVal));
  }
  for (const list of [out.train, out.val, out.test]) list.sort((a, b) => a - b);
  return out;
}

export type SplitName = 'train' | 'val' | 'test';

export const SPLIT_NAMES: readonly SplitName[] = ['train', 'val', 'test'];

export interface GroupedSplitItem extends SplitItem {
  /** Items sharing a group id (a patient, a duplicate cluster) always land in the same split. */
  group?: string;
  /**
   * From a pre-split folder layout. 'test' items only ever go to test and 'val' items only to val; 'train' items are
   * the pool that the remaining splits are carved from, exactly like items without a preset.
   */
  presetSplit?: SplitName;
}

export interface GroupedSplit extends SplitIndices {
  /** Items that left their preset pool because a group-mate was preset into a held-out split (val or test). */
  overridden: number[];
}

const PRESET_RANK: Record<SplitName, number> = { train: 0, val: 1, test: 2 };

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Item indices by group: an item without a group is a group of its own (keyed apart, so ids never collide). */
export function groupIndices(items: readonly Pick<GroupedSplitItem, 'key' | 'group'>[]): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  items.forEach((item, i) => {
    const id = item.group !== undefined ? `g\u0000${item.group}` : `k\u0000${item.key}`;
    const list = groups.get(id);
    if (list) list.push(i);
    else groups.set(id, [i]);
  });
  return groups;
}

/**
 * Group-aware, stratified, seeded split.
 *
 * Groups with a member preset to test (or else val) go there whole: a held-out preset is never used for training, so
 * a group that straddles presets is pulled into the stricter split rather than leaking. A split that has preset items
 * is not carved from the pool; the remaining fractions are rescaled, so validation is carved from training keeping
 * the configured train:val ratio.
 *
 * The pool's groups are placed largest first (ties in a seeded order) into the split whose per-class counts move
 * closest to their targets, which is exact stratification when every group is a single item and as close as the
 * groups allow otherwise. Groups are identified by id and items by key, so the result does not depend on input order.
 */
export function groupedSplit(items: readonly GroupedSplitItem[], fractions: SplitFractions, seed: number): GroupedSplit {
  const problem = validateFractions(fractions);
  if (problem) throw new RangeError(problem);
  const groups = groupIndices(items);

  const out: GroupedSplit = { train: [], val: [], test: [], overridden: [] };
  const pool: number[][] = [];
  const presetUsed = { val: false, test: false };
  for (const id of [...groups.keys()].sort(compareStrings)) {
    const members = groups.get(id) as number[];
    const rank = Math.max(...members.map((i) => PRESET_RANK[items[i].presetSplit ?? 'train']));
    if (rank === 0) {
      pool.push(members);
      continue;
    }
    const split: SplitName = rank === 2 ? 'test' : 'val';
    presetUsed[split] = true;
    out[split].push(...members);
    for (const i of members) if ((items[i].presetSplit ?? 'train') !== split) out.overridden.push(i);
  }

  const share: Record<SplitName, number> = {
    train: fractions.train,
    val: presetUsed.val ? 0 : fractions.val,
    test: presetUsed.test ? 0 : fractions.test,
  };
  const total = share.train + share.val + share.test;
  const open = SPLIT_NAMES.filter((s) => share[s] > 0);

  const poolCounts = new Map<number, number>();
  for (const members of pool) for (const i of members) poolCounts.set(items[i].label, (poolCounts.get(items[i].label) ?? 0) + 1);
  const assigned: Record<SplitName, Map<number, number>> = { train: new Map(), val: new Map(), test: new Map() };

  shuffle(pool, mulberry32(deriveSeed(seed, 'group-split')));
  // Array.prototype.sort is stable, so equal-sized groups keep their seeded order.
  pool.sort((a, b) => b.length - a.length);
  for (const members of pool) {
    const counts = new Map<number, number>();
    for (const i of members) counts.set(items[i].label, (counts.get(items[i].label) ?? 0) + 1);
    let best = open[0];
    let bestCost = Infinity;
    for (const s of open) {
      // Change in the squared distance between this split's class counts and their targets if the group joins it.
      let cost = 0;
      for (const [label, g] of counts) {
        const gap = (assigned[s].get(label) ?? 0) - ((poolCounts.get(label) as number) * share[s]) / total;
        cost += g * (2 * gap + g);
      }
      if (cost < bestCost) {
        bestCost = cost;
        best = s;
      }
    }
    for (const [label, g] of counts) assigned[best].set(label, (assigned[best].get(label) ?? 0) + g);
    out[best].push(...members);
  }
  for (const list of [out.train, out.val, out.test, out.overridden]) list.sort((a, b) => a - b);
  return out;
}

/** For each of `n` items, the split it landed in (undefined for items in no split, e.g. dropped duplicates). */
export function splitOfEach(split: SplitIndices, n: number): (SplitName | undefined)[] {
  const of: (SplitName | undefined)[] = new Array(n).fill(undefined);
  for (const s of SPLIT_NAMES) {
    for (const i of split[s]) {
      if (of[i] !== undefined) throw new RangeError(`item ${i} is in both the ${of[i]} and the ${s} split`);
      of[i] = s;
    }
  }
  return of;
}

export class GroupPatternError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GroupPatternError';
  }
}

/** Compiles a group pattern, rejecting one that is not a valid regex or has no capture group to take the id from. */
export function compileGroupPattern(pattern: string | RegExp): RegExp {
  let re: RegExp;
  try {
    // Without 'g' and 'y', exec keeps no lastIndex state between paths.
    re = typeof pattern === 'string' ? new RegExp(pattern) : new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
  } catch (err) {
    throw new GroupPatternError(`invalid group pattern ${JSON.stringify(String(pattern))}: ${err instanceof Error ? err.message : String(err)}`);
  }
  // An alternative that matches the empty string reveals how many capture groups the pattern has.
  const captures = (new RegExp(`${re.source}|`, re.flags).exec('') as RegExpExecArray).length - 1;
  if (captures < 1) {
    throw new GroupPatternError(`group pattern ${JSON.stringify(re.source)} has no capture group: put the group id in parentheses, e.g. "^(P\\d+)_"`);
  }
  return re;
}

/**
 * The group id in a path: the first capture group of `pattern`, matched against the whole path (so a patient folder
 * counts as well as a file name prefix). Undefined when the pattern does not match or the capture is empty.
 */
export function groupFromPattern(path: string, pattern: string | RegExp): string | undefined {
  const id = compileGroupPattern(pattern).exec(path)?.[1];
  return id ? id : undefined;
}

/**
 * Merges several groupings of the same items (patient ids, duplicate clusters): items connected through any of them
 * get one group id, the smallest key in their component so it does not depend on input order. Items alone in their
 * component get undefined.
 */
export function combineGroups(keys: readonly string[], ...groupings: readonly (readonly (string | undefined)[])[]): (string | undefined)[] {
  const uf = new UnionFind(keys.length);
  for (const grouping of groupings) {
    if (grouping.length !== keys.length) throw new RangeError(`a grouping has ${grouping.length} entries for ${keys.length} items`);
    const first = new Map<string, number>();
    grouping.forEach((id, i) => {
      if (id === undefined) return;
      const j = first.get(id);
      if (j === undefined) first.set(id, i);
      else uf.union(i, j);
    });
  }
  const out: (string | undefined)[] = new Array(keys.length).fill(undefined);
  for (const members of uf.components(2)) {
    const id = members.map((i) => keys[i]).reduce((a, b) => (b < a ? b : a));
    for (const i of members) out[i] = id;
  }
  return out;
}

export interface SplitManifestEntry {
  /** Relative to the dataset root. */
  path: string;
  className: string;
  split: SplitName;
  group?: string;
}

export interface SplitManifest {
  seed: number;
  fractions: SplitFractions;
  /** Sorted by path, so the same split always serialises to the same bytes. */
  entries: SplitManifestEntry[];
}

export function buildSplitManifest(
  files: readonly { path: string; className: string; group?: string }[],
  split: SplitIndices,
  seed: number,
  fractions: SplitFractions,
): SplitManifest {
  const of = splitOfEach(split, files.length);
  const entries: SplitManifestEntry[] = [];
  files.forEach((f, i) => {
    const s = of[i];
    if (s === undefined) return;
    entries.push(f.group === undefined ? { path: f.path, className: f.className, split: s } : { path: f.path, className: f.className, split: s, group: f.group });
  });
  entries.sort((a, b) => compareStrings(a.path, b.path));
  return { seed, fractions: { ...fractions }, entries };
}

/** RFC 4180 CSV with a header row: path,class,split,group. */
export function manifestToCsv(manifest: SplitManifest): string {
  return csvText(['path', 'class', 'split', 'group'], manifest.entries.map((e) => [e.path, e.className, e.split, e.group ?? '']));
}

export function manifestToJson(manifest: SplitManifest): string {
  return JSON.stringify(manifest, null, 2) + '\n';
}
