/**
 * Folder-per-class layout detection over a flat list of relative paths, as a directory walk or
 * `<input webkitdirectory>` lists them. Accepts `root/<class>/*` and pre-split `root/{Training,Testing,...}/<class>/*`,
 * tolerates wrapping folders above the root, and accounts for every file it does not use in `skipped`.
 */
import type { SplitName } from './split';

export interface PathEntry {
  /** Relative, '/' or '\' separated, as listed (the dataset's folder name may or may not come first). */
  path: string;
  size: number;
}

export interface LayoutFile {
  /** As given, to read the file back. */
  path: string;
  /**
   * Relative to the detected dataset root, '/' separated, Unicode NFC: the same file gets the same key whichever
   * folder was picked and whichever OS listed it (macOS lists names decomposed), so it is the split key.
   */
  key: string;
  className: string;
  presetSplit?: SplitName;
}

export type SkipReason = 'hidden' | 'unsupported-type' | 'empty-file' | 'no-class' | 'too-deep' | 'outside-split-folders' | 'unreadable' | 'not-evaluated';

export interface SkippedFile {
  path: string;
  reason: SkipReason;
  detail: string;
}

export interface DatasetLayout {
  kind: 'flat' | 'presplit';
  /** The wrapping folders that were stripped ('' when none), '/' separated. */
  root: string;
  /** Sorted by code unit, so class indices are the same on every machine and locale. */
  classes: string[];
  /** Class folders without a single usable image; they are not classes. */
  emptyClasses: string[];
  /** Sorted by key. */
  files: LayoutFile[];
  /** Sorted by path. */
  skipped: SkippedFile[];
}

const IMAGE_EXTENSIONS = new Set(['jpg', 'jpeg', 'png', 'bmp', 'webp', 'gif']);
const SYSTEM_FILES = new Set(['thumbs.db', 'desktop.ini', '__macosx']);
const SPLIT_FOLDERS: Record<string, SplitName> = {
  train: 'train',
  training: 'train',
  val: 'val',
  valid: 'val',
  validation: 'val',
  test: 'test',
  testing: 'test',
};

function segmentsOf(path: string): string[] {
  return path.split(/[\\/]+/).filter((s) => s !== '' && s !== '.');
}

function isHiddenSegment(segment: string): boolean {
  return segment.startsWith('.') || SYSTEM_FILES.has(segment.toLowerCase());
}

export function isImagePath(path: string): boolean {
  const dot = path.lastIndexOf('.');
  return dot > 0 && IMAGE_EXTENSIONS.has(path.slice(dot + 1).toLowerCase());
}

export function splitOfFolder(name: string): SplitName | undefined {
  return Object.hasOwn(SPLIT_FOLDERS, name.toLowerCase()) ? SPLIT_FOLDERS[name.toLowerCase()] : undefined;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Wrapping folders are those shared by every image that still leave images inside folders below them: the folder
 * `<input webkitdirectory>` prefixes to every path, or a parent the user picked by mistake. A split folder is never a
 * wrapper: picking only `Training` must keep its split.
 */
function findRoot(imagePaths: readonly string[][]): string[] {
  const root: string[] = [];
  for (;;) {
    const depth = root.length;
    const top = imagePaths[0]?.[depth];
    if (top === undefined || splitOfFolder(top) !== undefined) return root;
    if (!imagePaths.every((segs) => segs.length > depth + 1 && segs[depth] === top)) return root;
    if (!imagePaths.some((segs) => segs.length > depth + 2)) return root;
    root.push(top);
  }
}

function relativeTo(root: readonly string[], segs: readonly string[]): string[] | undefined {
  if (segs.length <= root.length) return undefined;
  for (let i = 0; i < root.length; i++) if (segs[i] !== root[i]) return undefined;
  return segs.slice(root.length);
}

/**
 * Detects the layout. `directories` (optional, relative like the paths) lets a walker that sees empty folders report
 * empty class folders too; a file list alone only shows folders that contain files.
 */
export function detectLayout(entries: readonly PathEntry[], directories: readonly string[] = []): DatasetLayout {
  const parsed = entries.map((entry) => ({ entry, segs: segmentsOf(entry.path) }));
  const images = parsed.filter(({ entry, segs }) => isImagePath(entry.path) && !segs.some(isHiddenSegment)).map(({ segs }) => segs);
  const root = findRoot(images);
  const kind = images.some((segs) => segs.length >= root.length + 3 && splitOfFolder(segs[root.length]) !== undefined) ? 'presplit' : 'flat';
  const classDepth = kind === 'presplit' ? 1 : 0;

  /** The class folder a relative path lies under, or why it has none. */
  const place = (rel: readonly string[]): { className: string; presetSplit?: SplitName } | { reason: SkipReason; detail: string } => {
    const preset = kind === 'presplit' ? splitOfFolder(rel[0]) : undefined;
    if (kind === 'presplit' && preset === undefined) {
      return { reason: 'outside-split-folders', detail: 'not inside a train/val/test folder of a pre-split dataset' };
    }
    const below = rel.length - classDepth;
    if (below < 2) return { reason: 'no-class', detail: kind === 'presplit' ? `directly in the ${rel[0]} folder, not in a class folder` : 'at the dataset root, not in a class folder' };
    if (below > 3) return { reason: 'too-deep', detail: `nested ${below - 2} folders deep inside class folder ${rel[classDepth]} (at most one level is read)` };
    const className = rel[classDepth].normalize('NFC');
    return preset === undefined ? { className } : { className, presetSplit: preset };
  };

  /** The class folder that a folder (relative segments) is or lies in, whether or not it holds usable images. */
  const classFolderOf = (folder: readonly string[]): string | undefined => {
    if (folder.length <= classDepth || (kind === 'presplit' && splitOfFolder(folder[0]) === undefined)) return undefined;
    return folder[classDepth].normalize('NFC');
  };

  const files: LayoutFile[] = [];
  const skipped: SkippedFile[] = [];
  const classFolders = new Set<string>();
  for (const { entry, segs } of parsed) {
    const skip = (reason: SkipReason, detail: string) => skipped.push({ path: entry.path, reason, detail });
    const rel = relativeTo(root, segs);
    // A folder holding only `.DS_Store` still shows that the class folder exists.
    const folder = rel && !segs.slice(0, -1).some(isHiddenSegment) ? classFolderOf(rel.slice(0, -1)) : undefined;
    if (folder !== undefined) classFolders.add(folder);
    if (segs.some(isHiddenSegment)) skip('hidden', 'hidden or system file');
    else if (!isImagePath(entry.path)) skip('unsupported-type', `not an image (accepted: ${[...IMAGE_EXTENSIONS].join(', ')})`);
    else if (entry.size <= 0) skip('empty-file', 'zero-byte file');
    else {
      // Every image lies under the root, which is a prefix shared by all of them.
      const where = place(rel as string[]);
      if ('reason' in where) skip(where.reason, where.detail);
      else files.push({ path: entry.path, key: (rel as string[]).join('/').normalize('NFC'), ...where });
    }
  }
  for (const dir of directories) {
    const segs = segmentsOf(dir);
    const rel = relativeTo(root, segs);
    const folder = !segs.some(isHiddenSegment) && rel ? classFolderOf(rel) : undefined;
    if (folder !== undefined) classFolders.add(folder);
  }

  const classes = [...new Set(files.map((f) => f.className))].sort(compareStrings);
  const emptyClasses = [...classFolders].filter((c) => !classes.includes(c)).sort(compareStrings);
  files.sort((a, b) => compareStrings(a.key, b.key));
  skipped.sort((a, b) => compareStrings(a.path, b.path));
  return { kind, root: root.join('/'), classes, emptyClasses, files, skipped };
}

export class DatasetError extends Error {
  constructor(
    readonly code: 'too-few-classes' | 'unknown-class',
    message: string,
  ) {
    super(message);
    this.name = 'DatasetError';
  }
}

/**
 * Keeps the chosen classes (all of them when `chosen` is omitted). Throws a DatasetError for a class that does not
 * exist and when fewer than two classes remain, since a classifier needs at least two.
 */
export function selectClasses(layout: DatasetLayout, chosen?: readonly string[]): DatasetLayout {
  const wanted = chosen === undefined ? layout.classes : [...new Set(chosen.map((c) => c.normalize('NFC')))];
  const unknown = wanted.filter((c) => !layout.classes.includes(c));
  if (unknown.length > 0) {
    const empty = unknown.filter((c) => layout.emptyClasses.includes(c));
    const why = empty.length > 0 ? ` (${empty.join(', ')} ${empty.length === 1 ? 'has' : 'have'} no usable images)` : '';
    throw new DatasetError('unknown-class', `unknown class${unknown.length === 1 ? '' : 'es'} ${unknown.join(', ')}${why}; the dataset has ${layout.classes.join(', ') || 'no classes'}`);
  }
  if (wanted.length < 2) {
    const found = wanted.length === 0 ? 'no class was' : `only one class (${wanted[0]}) was`;
    throw new DatasetError('too-few-classes', `a classifier needs at least two classes, but ${found} ${chosen === undefined ? 'found' : 'chosen'}`);
  }
  const keep = new Set(wanted);
  return {
    ...layout,
    classes: [...keep].sort(compareStrings),
    files: layout.files.filter((f) => keep.has(f.className)),
  };
}

/**
 * The files of a folder imported as an external test set (a dataset without a split: every image is evaluated). A
 * folder picked as `Testing` (or `Training`, `val`) is pre-split with one split folder, and all of it is kept; a
 * pre-split folder with a test folder beside others (`X/Training`, `X/Testing`) keeps the test folder's images only,
 * the set a public dataset is meant to be tested on (its training images may be what the model was trained on), and
 * lists the others as skipped ('not-evaluated').
 */
export function evaluationLayout(layout: DatasetLayout): DatasetLayout {
  if (layout.kind !== 'presplit' || !layout.files.some((f) => f.presetSplit === 'test') || layout.files.every((f) => f.presetSplit === 'test')) return layout;
  const skipped: SkippedFile[] = layout.files
    .filter((f) => f.presetSplit !== 'test')
    .map((f) => ({ path: f.path, reason: 'not-evaluated' as const, detail: `in the ${segmentsOf(f.key)[0]} folder: only the test folder's images are evaluated (pick the ${segmentsOf(f.key)[0]} folder itself to evaluate on it)` }));
  const files = layout.files.filter((f) => f.presetSplit === 'test');
  return { ...layout, classes: layout.classes.filter((c) => files.some((f) => f.className === c)), files, skipped: [...layout.skipped, ...skipped].sort((a, b) => compareStrings(a.path, b.path)) };
}
