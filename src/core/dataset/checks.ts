/**
 * Data checks before training: problems in a picked folder or an imported split that would otherwise train
 * silently. A refusal stops the scan or the import with its reason; a warning goes with the scan or the dataset
 * summary, in the UI and the CLI alike. The words are the same everywhere because they are made here.
 */
import type { DatasetLayout } from './layout';
import type { SplitName } from './split';

export interface DataCheck {
  id: 'label-conflicts' | 'loose-images' | 'no-training' | 'no-validation' | 'no-test';
  message: string;
}

/** The layout the studio reads, in words, for messages about a folder named `name`. */
export const expectedLayout = (name: string) =>
  `one sub-folder per class, named after the class (e.g. ${name}/glioma/*.jpg and ${name}/meningioma/*.jpg), or Training/ and Testing/ folders of such class sub-folders`;

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const listed = (items: readonly string[], max = 5) => items.slice(0, max).join(', ') + (items.length > max ? ` and ${items.length - max} more` : '');

/**
 * Images lying directly in the picked folder (or directly in a Training/Testing folder) instead of in a class
 * folder. `name` is the picked folder's name; a listing whose every path starts with it (as `<input webkitdirectory>`
 * and a dropped folder list them) shows loose images as one class named after the folder.
 */
export function looseImages(layout: DatasetLayout, paths: readonly string[], name: string): string[] {
  const prefixed = paths.length > 0 && paths.every((p) => p.replace(/\\/g, '/').startsWith(`${name}/`));
  const asOneClass = prefixed && layout.kind === 'flat' && layout.root === '' ? layout.files.filter((f) => f.className === name.normalize('NFC')).map((f) => f.path) : [];
  return [...asOneClass, ...layout.skipped.filter((s) => s.reason === 'no-class').map((s) => s.path)];
}

export interface ScanChecks {
  /** Why nothing can be imported from this folder; null when it can be. */
  refusal: string | null;
  warnings: DataCheck[];
}

/** The checks on a folder listing, before anything is read: an empty folder, loose images, no images at all. */
export function scanChecks(layout: DatasetLayout, paths: readonly string[], name: string): ScanChecks {
  if (paths.length === 0) return { refusal: `${name ? `the folder "${name}"` : 'the picked folder'} is empty: there is nothing to import. The studio reads ${expectedLayout(name || 'FOLDER')}`, warnings: [] };
  const loose = looseImages(layout, paths, name);
  const isLoose = new Set(loose);
  const used = layout.files.filter((f) => !isLoose.has(f.path)).length;
  if (used === 0 && loose.length > 0) {
    return { refusal: `${plural(loose.length, 'image')} in "${name}" ${loose.length === 1 ? 'lies' : 'lie'} loose, not in class folders, and the studio needs one folder per class: the folder's name is the label. Move them into ${expectedLayout(name)}`, warnings: [] };
  }
  if (used === 0) return { refusal: `no images found in "${name}": ${plural(paths.length, 'file')}, none of them an image in a class folder. The studio reads ${expectedLayout(name)}`, warnings: [] };
  const warnings: DataCheck[] = loose.length
    ? [{ id: 'loose-images', message: `${plural(loose.length, 'image')} outside the class folders will not be used (${listed(loose)}): one folder per class, each image inside its class's folder` }]
    : [];
  return { refusal: null, warnings };
}

export type LabelConflictMode = 'drop-all' | 'keep-first' | 'keep-all';
export const LABEL_CONFLICT_MODES: readonly LabelConflictMode[] = ['drop-all', 'keep-first', 'keep-all'];
/** The safe choice: an image filed under two classes has no label the studio can trust, so no copy is trained on. */
export const DEFAULT_LABEL_CONFLICTS: LabelConflictMode = 'drop-all';

export interface LabelConflict {
  /** The identical files (same bytes), by key, with the class each is filed under; sorted by key. */
  members: { key: string; className: string }[];
  /** The keys the import kept: none (drop-all), those in the first copy's class (keep-first), or all (keep-all). */
  kept: string[];
}

/**
 * Groups of identical files (exact-duplicate groups, as indices) that are filed under more than one class, and
 * which of their items the mode drops. keep-first keeps the copies in the class of the copy whose key sorts first.
 */
export function resolveLabelConflicts(exact: readonly number[][], keys: readonly string[], classOf: (i: number) => string, mode: LabelConflictMode): { conflicts: LabelConflict[]; drop: Set<number> } {
  const conflicts: LabelConflict[] = [];
  const drop = new Set<number>();
  for (const group of exact) {
    if (new Set(group.map(classOf)).size < 2) continue;
    const sorted = [...group].sort((a, b) => (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : 0));
    const keep = mode === 'keep-all' ? sorted : mode === 'keep-first' ? sorted.filter((i) => classOf(i) === classOf(sorted[0])) : [];
    for (const i of sorted) if (!keep.includes(i)) drop.add(i);
    conflicts.push({ members: sorted.map((i) => ({ key: keys[i], className: classOf(i) })), kept: keep.map((i) => keys[i]) });
  }
  return { conflicts, drop };
}

const MODE_WORDS: Record<LabelConflictMode, string> = {
  'drop-all': 'every copy was left out (label conflicts: drop-all, the default)',
  'keep-first': 'the copies in the class of the first copy by path were kept, the others left out (label conflicts: keep-first)',
  'keep-all': 'every copy was kept, so the same image trains under two labels (label conflicts: keep-all)',
};

/** The warnings on an imported dataset: label conflicts, and classes missing from a split. */
export function importChecks(conflicts: readonly LabelConflict[], mode: LabelConflictMode, classes: readonly string[], counts: Record<SplitName, Record<string, number>>, testFraction: number): DataCheck[] {
  const out: DataCheck[] = [];
  if (conflicts.length) {
    const shown = conflicts.slice(0, 3).map((c) => c.members.map((m) => m.key).join(' = ')).join('; ');
    out.push({ id: 'label-conflicts', message: `${plural(conflicts.length, 'image')} ${conflicts.length === 1 ? 'is' : 'are'} filed under two or more classes with identical bytes (${shown}${conflicts.length > 3 ? '; …' : ''}): ${MODE_WORDS[mode]}` });
  }
  const split = (c: string) => `${counts.train[c] ?? 0}/${counts.val[c] ?? 0}/${counts.test[c] ?? 0}`;
  const missing = (s: SplitName) => classes.filter((c) => (counts[s][c] ?? 0) === 0).map((c) => `${c} (${split(c)})`);
  const noTrain = missing('train');
  if (noTrain.length) out.push({ id: 'no-training', message: `no training image for ${listed(noTrain, 20)} (train/val/test): the model cannot learn ${noTrain.length === 1 ? 'this class' : 'these classes'}; add images or leave ${noTrain.length === 1 ? 'it' : 'them'} out` });
  const noVal = missing('val');
  if (noVal.length) out.push({ id: 'no-validation', message: `no validation image for ${listed(noVal, 20)} (train/val/test): validation accuracy says nothing about ${noVal.length === 1 ? 'this class' : 'these classes'}, and the best epoch is chosen without ${noVal.length === 1 ? 'it' : 'them'}; add images (a class needs at least 3 for a train/val/test split)` });
  const noTest = testFraction > 0 ? missing('test') : [];
  if (noTest.length) out.push({ id: 'no-test', message: `no test image for ${listed(noTest, 20)} (train/val/test): the evaluation will not measure ${noTest.length === 1 ? 'this class' : 'these classes'}` });
  return out;
}
