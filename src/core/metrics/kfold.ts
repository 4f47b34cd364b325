/**
 * Stratified, group-aware k-fold indices for cross-validation: items sharing a group (a patient, a duplicate cluster)
 * stay in one fold, and each fold's class counts are kept as close to 1/k of every class as the groups allow.
 */
import { deriveSeed, mulberry32, shuffle } from '../random';
import { groupIndices, type GroupedSplitItem } from '../dataset/split';

export interface Fold {
  train: number[];
  test: number[];
}

/**
 * Groups are placed largest first (equal sizes in a seeded order) into the fold whose class counts move closest to
 * their targets (the squared distance, as groupedSplit does for train/val/test); ties go to the smaller fold. With
 * no groups this is exact stratification: each class is dealt round the folds.
 */
export function stratifiedGroupKFold(items: readonly Pick<GroupedSplitItem, 'key' | 'label' | 'group'>[], k: number, seed: number): Fold[] {
  if (!Number.isInteger(k) || k < 2) throw new RangeError(`k-fold needs a whole number of folds from 2 (got ${k})`);
  const groups = groupIndices(items);
  if (groups.size < k) throw new RangeError(`${k} folds need at least ${k} groups of images; there are ${groups.size}`);
  const ids = [...groups.keys()].sort();
  shuffle(ids, mulberry32(deriveSeed(seed, 'kfold')));
  // Array.prototype.sort is stable, so equal-sized groups keep their seeded order.
  const ordered = ids.map((id) => groups.get(id) as number[]).sort((a, b) => b.length - a.length);
  const classTotals = new Map<number, number>();
  for (const item of items) classTotals.set(item.label, (classTotals.get(item.label) ?? 0) + 1);
  const assigned = Array.from({ length: k }, () => new Map<number, number>());
  const sizes = new Array<number>(k).fill(0);
  const tests: number[][] = Array.from({ length: k }, () => []);
  for (const members of ordered) {
    const counts = new Map<number, number>();
    for (const i of members) counts.set(items[i].label, (counts.get(items[i].label) ?? 0) + 1);
    let best = 0;
    let bestCost = Infinity;
    for (let f = 0; f < k; f++) {
      let cost = 0;
      for (const [label, g] of counts) {
        const gap = (assigned[f].get(label) ?? 0) - (classTotals.get(label) as number) / k;
        cost += g * (2 * gap + g);
      }
      if (cost < bestCost || (cost === bestCost && sizes[f] < sizes[best])) {
        bestCost = cost;
        best = f;
      }
    }
    for (const [label, g] of counts) assigned[best].set(label, (assigned[best].get(label) ?? 0) + g);
    sizes[best] += members.length;
    tests[best].push(...members);
  }
  return tests.map((test) => {
    const inTest = new Set(test);
    return { train: items.map((_, i) => i).filter((i) => !inTest.has(i)), test: test.sort((a, b) => a - b) };
  });
}
