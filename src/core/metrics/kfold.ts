/**
 * Stratified, group-aware k-fold indices for cross-validation: items sharing a group (a patient, a duplicate cluster)
 * stay in one fold, and each fold's class counts are kept as close to 1/k of every class as the groups allow.
 */
import { deriveSeed, mulberry32, shuffle } from '../random';
import { groupedSplit, groupIndices, type GroupedSplitItem, type SplitIndices } from '../dataset/split';

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

type FoldItem = Pick<GroupedSplitItem, 'key' | 'label' | 'group'>;

/**
 * The split of cross-validation fold `fold` (1-based) of `folds` over `pool`, indices into `items` (the images the
 * dataset's own split does not hold out for test). The fold is the run's test split; validation, which picks the best
 * epoch and stops early, is carved from the other folds (stratified, group-aware, `valShare` of them), so the fold
 * that scores a checkpoint never chose it and the fold's score is not optimistically biased. Each list ascending.
 */
export function crossValidationSplit(items: readonly FoldItem[], pool: readonly number[], folds: number, fold: number, seed: number, valShare: number): SplitIndices {
  if (!Number.isInteger(fold) || fold < 1 || fold > folds) throw new RangeError(`fold must be a whole number from 1 to ${folds} (got ${fold})`);
  if (!(valShare > 0 && valShare < 1)) throw new RangeError(`the validation share must be between 0 and 1 (got ${valShare})`);
  const sub = pool.map((i) => items[i]);
  const { train: rest, test } = stratifiedGroupKFold(sub, folds, seed)[fold - 1];
  const carved = groupedSplit(rest.map((j) => ({ key: sub[j].key, label: sub[j].label, group: sub[j].group })), { train: 1 - valShare, val: valShare, test: 0 }, deriveSeed(seed, 'kfold-val', fold));
  const toItems = (js: number[]) => js.map((j) => pool[j]).sort((a, b) => a - b);
  return { train: toItems(carved.train.map((r) => rest[r])), val: toItems(carved.val.map((r) => rest[r])), test: toItems(test) };
}

/** Mean and standard deviation (population, numpy's default `std()`, as cross_val_score results are usually reported). */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  if (values.length === 0) throw new RangeError('mean ± std of no values');
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { mean, std: Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length) };
}
