import { deriveSeed, mulberry32, shuffle } from '../random';

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
