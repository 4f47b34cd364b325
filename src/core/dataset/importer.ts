/**
 * Dataset import: scan a folder listing, decode every image at the model's input size into one uint8 buffer, hash
 * for leakage, split (seeded, stratified, group-aware), and compute normalisation statistics on the training split.
 * The file system and the image decoder are injected: the worker passes browser ones, tests pass Node ones.
 */
import { deriveSeed } from '../random';
import { NEAR_THRESHOLD, dHash, dropDuplicates, duplicateReport, duplicateSplitGroups, findDuplicateGroups, sha256Hex, type DuplicateGroups, type DuplicateReport } from './duplicates';
import { DEFAULT_LABEL_CONFLICTS, importChecks, resolveLabelConflicts, type DataCheck, type LabelConflict, type LabelConflictMode } from './checks';
import { datasetFingerprint } from './fingerprint';
import { detectLayout, evaluationLayout, selectClasses, type DatasetLayout, type PathEntry, type SkippedFile } from './layout';
import { buildSplitManifest, combineGroups, compileGroupPattern, groupedSplit, groupFromPattern, splitOfEach, type SplitFractions, type SplitIndices, type SplitManifest, type SplitName } from './split';
import type { ImageDigest } from './pixels';
import { imageChannelSums, statsFromSums, type ChannelStats } from './stats';

export interface FolderSource {
  /** Every file under the picked folder, paths relative to it. */
  entries: PathEntry[];
  /** Folders seen while listing (lets empty class folders be reported); optional. */
  directories?: string[];
  read(path: string): Promise<Blob>;
}

/** What the import derives from one file besides its pixels. */
export interface ImageFacts extends ImageDigest {
  contentHash: string;
}

/** Why a file could not be used: `reason` is the decoder's (e.g. 'corrupt'), the message a person can act on. */
export interface AnalyzeFailure {
  error: { reason?: string; message: string };
}

export interface AnalyzedBatch {
  /** files.length × size × size × channels bytes: file k's pixels at k × that stride (zeros where it failed). */
  pixels: Uint8Array;
  items: (ImageFacts | AnalyzeFailure)[];
}

/** The per-file work of an import (read, hash, decode, digest), a batch of files at a time, possibly in other workers. */
export interface ImageAnalyzer {
  /** Batches it can work on at once to good effect: the importer keeps that many in flight. */
  readonly parallelism: number;
  analyze(files: Blob[], size: number, channels: 1 | 3): Promise<AnalyzedBatch>;
}

/**
 * Decodes one file into `out` (exactly size × size × channels bytes, RGB or luma). `bytes` are the whole file, already
 * read. Returns the image's digest when it computed it while writing the pixels; otherwise the analyzer computes it.
 * Throws an error with a `reason` and a person-readable message when the file is not a usable image.
 */
export type ImageDecoder = (file: Blob, bytes: Uint8Array, size: number, channels: 1 | 3, out: Uint8Array) => Promise<ImageDigest | void>;

/** Files of one batch a lane decodes at once: the browser decodes off-thread, so a few overlap with the lane's own work. */
const FILES_AT_ONCE = 3;

const failure = (err: unknown): AnalyzeFailure => ({
  error: { reason: (err as { reason?: string }).reason, message: err instanceof Error ? err.message : String(err) },
});

/** The per-file work on one thread, a batch at a time. */
export function analyzeWith(decode: ImageDecoder, parallelism = 1): ImageAnalyzer {
  async function readAll(files: Blob[], total: number): Promise<Uint8Array | undefined> {
    // Each read of a browser File is a round trip to another process, which costs more than hashing its bytes: one
    // read of the batch as a single Blob serves every file. A batch that cannot be read whole (a file gone or changed
    // since the listing) is read file by file instead, so the failure lands on the file that caused it.
    try {
      const all = new Uint8Array(await new Blob(files).arrayBuffer());
      return all.length === total ? all : undefined;
    } catch {
      return undefined;
    }
  }

  return {
    parallelism,
    async analyze(files, size, channels) {
      const stride = size * size * channels;
      const pixels = new Uint8Array(files.length * stride);
      const starts = [0];
      for (const f of files) starts.push(starts[starts.length - 1] + f.size);
      const all = await readAll(files, starts[files.length]);
      const items: AnalyzedBatch['items'] = new Array(files.length);
      const one = async (k: number): Promise<ImageFacts | AnalyzeFailure> => {
        try {
          const bytes = all ? all.subarray(starts[k], starts[k + 1]) : new Uint8Array(await files[k].arrayBuffer());
          const out = pixels.subarray(k * stride, (k + 1) * stride);
          const [contentHash, digest] = await Promise.all([sha256Hex(bytes), decode(files[k], bytes, size, channels, out)]);
          const { phash, sums } = digest ?? { phash: dHash(out, size, size, channels), sums: imageChannelSums(out, channels) };
          return { contentHash, phash, sums };
        } catch (err) {
          return failure(err);
        }
      };
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(FILES_AT_ONCE, files.length) }, async () => {
          while (next < files.length) {
            const k = next++;
            items[k] = await one(k);
          }
        }),
      );
      return { pixels, items };
    },
  };
}

export type DedupeMode = 'keep-together' | 'drop' | 'off';

export interface ImportOptions {
  imageSize: number;
  channels: 1 | 3;
  /** Classes to keep (all when omitted); at least two. */
  classes?: string[];
  split: SplitFractions;
  seed: number;
  /** A regex whose first capture is a group (patient) id: every image of a group lands in one split. */
  groupPattern?: string;
  dedupe: DedupeMode;
  /** What to do with identical files filed under two or more classes (default drop-all: no copy is trained on). */
  labelConflicts?: LabelConflictMode;
  /** Hamming distance (of 64 bits) under which two dHashes are near duplicates. */
  nearThreshold?: number;
  /** Batches of files in flight at once (default: as many as the analyzer can work on). */
  concurrency?: number;
  /**
   * 'evaluation': a folder imported only to be evaluated on (an external test set): no split, every image is in
   * `split.test` (see layout.ts's evaluationLayout for a pre-split folder), and `split` is not used.
   */
  purpose?: 'training' | 'evaluation';
}

export type ImportEvent =
  | { type: 'scanned'; files: number; skipped: number; classes: string[] }
  | { type: 'progress'; done: number; total: number; imagesPerSecond: number; etaSeconds: number }
  | { type: 'analysing' };

export interface SplitCountsByClass {
  /** counts[split][className] */
  train: Record<string, number>;
  val: Record<string, number>;
  test: Record<string, number>;
}

export interface DuplicateSummary {
  /** Each group as its members' keys (paths relative to the dataset root). */
  exactGroups: string[][];
  nearGroups: string[][];
  crossSplit: { kind: 'exact' | 'near'; members: string[]; splits: SplitName[] }[];
  /** What the dedupe option did: files dropped (with the file each duplicates), or groups kept in one split. */
  dropped: { path: string; duplicateOf: string }[];
  keptTogether: number;
}

/** What a decoded folder and each split of it share: the folder's identity, input shape and pixels. */
interface FolderPixels {
  fingerprint: string;
  layout: DatasetLayout['kind'];
  classes: string[];
  emptyClasses: string[];
  imageSize: number;
  channels: 1 | 3;
  /** uint8, image-major, channels-last: one size × size × channels block per image. */
  images: Uint8Array;
}

export interface ImportedDataset extends FolderPixels {
  /** One block per entry of `keys`. */
  images: Uint8Array;
  labels: Int32Array;
  keys: string[];
  /** SHA-256 (hex) of each key's file, in `keys` order. */
  contentHashes: string[];
  split: SplitIndices;
  manifest: SplitManifest;
  counts: SplitCountsByClass;
  skipped: SkippedFile[];
  duplicates: DuplicateSummary;
  /** Identical files under two or more classes, and what the import did with them. */
  labelConflicts: LabelConflict[];
  /** Warnings on this import (label conflicts, classes missing from a split), in words. */
  checks: DataCheck[];
  normalization: ChannelStats;
  options: ImportOptions;
}

export class ImportCancelled extends Error {
  constructor() {
    super('import cancelled');
    this.name = 'ImportCancelled';
  }
}

/** Folder listing → layout with the chosen classes. Cheap (no decoding): the UI shows it before the import. */
export function scanFolder(source: Pick<FolderSource, 'entries' | 'directories'>): DatasetLayout {
  return detectLayout(source.entries, source.directories ?? []);
}

function countBySplit(classes: string[], labels: Int32Array, split: SplitIndices): SplitCountsByClass {
  const make = (idx: number[]) => {
    const out: Record<string, number> = Object.fromEntries(classes.map((c) => [c, 0]));
    for (const i of idx) out[classes[labels[i]]] += 1;
    return out;
  };
  return { train: make(split.train), val: make(split.val), test: make(split.test) };
}

/** Files handed to the analyzer at once: one message and one read per batch instead of one per file. */
const BATCH_FILES = 16;
const PROGRESS_EVERY_MS = 250;

/** What decoding a folder fixes: the files it reads (classes, purpose) and the shape of their pixels. */
export type DecodeOptions = Pick<ImportOptions, 'imageSize' | 'channels' | 'classes' | 'concurrency' | 'purpose'>;

/** What a split of decoded images decides: none of it needs an image decoded again. */
export type SplitOptions = Pick<ImportOptions, 'split' | 'seed' | 'groupPattern' | 'dedupe' | 'labelConflicts' | 'nearThreshold'>;

/** One decoded file: what a split needs of it besides its pixels. */
export interface DecodedFile extends ImageFacts {
  key: string;
  className: string;
  presetSplit?: SplitName;
  /** Bytes of the file (for the fingerprint). */
  size: number;
}

/** A folder decoded at one size and channel count, not yet split: any number of splits are made from it. */
export interface DecodedFolder extends FolderPixels {
  /** One block per entry of `files`. A split never writes to it. */
  images: Uint8Array;
  /** Every decoded file, in listing (key) order, parallel to `images`. */
  files: DecodedFile[];
  /** Files left out (not images, unreadable, …), sorted by path. */
  skipped: SkippedFile[];
  options: DecodeOptions;
}

/** Reads and decodes every file of the folder's chosen classes: the one pass over the pixels an import makes. */
export async function decodeFolder(
  source: FolderSource,
  opts: DecodeOptions,
  analyze: ImageAnalyzer,
  onEvent: (e: ImportEvent) => void = () => {},
  shouldStop: () => boolean = () => false,
): Promise<DecodedFolder> {
  const forEvaluation = opts.purpose === 'evaluation';
  const chosen = selectClasses(scanFolder(source), opts.classes);
  const layout = forEvaluation ? evaluationLayout(chosen) : chosen;
  const files = layout.files;
  onEvent({ type: 'scanned', files: files.length, skipped: layout.skipped.length, classes: layout.classes });

  const { imageSize: size, channels } = opts;
  const stride = size * size * channels;
  // One buffer for every image, allocated once: images that fail to decode are compacted away in place below.
  const images = new Uint8Array(files.length * stride);
  const facts: (ImageFacts & { size: number })[] = new Array(files.length);
  const skipped: SkippedFile[] = [...layout.skipped];

  const started = performance.now();
  let lastProgress = -Infinity;
  let done = 0;
  let next = 0;
  const skip = (i: number, { reason, message }: AnalyzeFailure['error']) => {
    skipped.push({ path: files[i].path, reason: 'unreadable', detail: `${reason ? `${reason}: ` : ''}${message}` });
  };
  const read = async (i: number): Promise<Blob | undefined> => {
    try {
      return await source.read(files[i].path);
    } catch (err) {
      skip(i, failure(err).error);
      return undefined;
    }
  };
  /** Analyzes the files at `indices` and puts what comes back in place. */
  const analyzeBatch = async (indices: number[], blobs: Blob[]) => {
    let result: AnalyzedBatch;
    try {
      result = await analyze.analyze(blobs, size, channels);
    } catch (err) {
      for (const i of indices) skip(i, failure(err).error);
      return;
    }
    indices.forEach((i, k) => {
      const item = result.items[k];
      if ('error' in item) {
        skip(i, item.error);
        return;
      }
      images.set(result.pixels.subarray(k * stride, (k + 1) * stride), i * stride);
      // The sums are taken per image while decoding: statistics of any split need no second pass over every pixel.
      facts[i] = { contentHash: item.contentHash, phash: item.phash, sums: item.sums, size: blobs[k].size };
    });
  };
  const worker = async () => {
    while (next < files.length) {
      if (shouldStop()) throw new ImportCancelled();
      const first = next;
      next = Math.min(files.length, next + BATCH_FILES);
      const batch = Array.from({ length: next - first }, (_, k) => first + k);
      const blobs = await Promise.all(batch.map(read));
      const readable = batch.filter((_, k) => blobs[k] !== undefined);
      if (readable.length > 0) await analyzeBatch(readable, readable.map((i) => blobs[i - first]!));
      done += batch.length;
      const now = performance.now();
      // A few updates a second are all a progress bar needs: each one is a repaint of the page.
      if (now - lastProgress >= PROGRESS_EVERY_MS || done === files.length) {
        lastProgress = now;
        const rate = done / Math.max((now - started) / 1000, 1e-3);
        onEvent({ type: 'progress', done, total: files.length, imagesPerSecond: rate, etaSeconds: (files.length - done) / rate });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? analyze.parallelism) }, worker));
  onEvent({ type: 'analysing' });

  // Compact: keep decoded images in listing (key) order, dropping failures without a second buffer.
  const decoded: DecodedFile[] = [];
  for (let i = 0; i < files.length; i++) {
    if (!facts[i]) continue;
    if (decoded.length !== i) images.copyWithin(decoded.length * stride, i * stride, (i + 1) * stride);
    const { key, className, presetSplit } = files[i];
    decoded.push({ key, className, ...(presetSplit ? { presetSplit } : {}), ...facts[i] });
  }
  if (forEvaluation && decoded.length === 0) throw new RangeError(`none of the ${files.length} images could be read, so there is nothing to evaluate`);
  return {
    fingerprint: await datasetFingerprint(decoded.map((f) => ({ path: f.key, size: f.size, contentHash: f.contentHash }))),
    layout: layout.kind,
    classes: layout.classes,
    emptyClasses: layout.emptyClasses,
    imageSize: size,
    channels,
    images: images.subarray(0, decoded.length * stride),
    files: decoded,
    skipped: skipped.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    options: opts,
  };
}

/**
 * Splits a decoded folder (seeded, stratified, group-aware) and derives everything that depends on the split: the
 * label-conflict and dedupe choices, the duplicates' cross-split report, the manifest and the training split's
 * statistics, from the hashes and per-image sums the decoding kept. No image is decoded again. The dataset shares
 * the decoded pixels when it keeps every image; when it drops some (dedupe 'drop', label conflicts), it holds its own
 * compacted copy, so `decoded` stays whole for the next split. A folder decoded for evaluation gets no split: every
 * image is in the test split.
 */
export function splitDecoded(decoded: DecodedFolder, opts: SplitOptions): ImportedDataset {
  const pattern = opts.groupPattern ? compileGroupPattern(opts.groupPattern) : undefined;
  const forEvaluation = decoded.options.purpose === 'evaluation';
  const { files, imageSize: size, channels } = decoded;
  const stride = size * size * channels;
  const keysAll = files.map((f) => f.key);
  const groups = findDuplicateGroups(files, { threshold: opts.nearThreshold ?? NEAR_THRESHOLD });
  const conflictMode = opts.labelConflicts ?? DEFAULT_LABEL_CONFLICTS;
  const { conflicts, drop: conflicting } = resolveLabelConflicts(groups.exact, keysAll, (j) => files[j].className, conflictMode);
  // Dedupe works on what the label-conflict choice left: a dropped copy represents no cluster and joins no group.
  const remaining = conflicting.size ? withoutItems(groups, conflicting) : groups;
  const dropped: DuplicateSummary['dropped'] = [];
  let dupGroupIds: (string | undefined)[] = new Array(files.length).fill(undefined);
  let keep = files.map((_, j) => j).filter((j) => !conflicting.has(j)); // indices into `files`
  if (opts.dedupe === 'drop') {
    const d = dropDuplicates(remaining, keysAll);
    for (const x of d.dropped) dropped.push({ path: keysAll[x.index], duplicateOf: keysAll[x.keptAs] });
    const deduped = new Set(d.keep);
    keep = keep.filter((j) => deduped.has(j));
  } else if (opts.dedupe === 'keep-together') {
    dupGroupIds = duplicateSplitGroups(remaining, keysAll);
  }
  let images = decoded.images;
  if (keep.length !== files.length) {
    images = new Uint8Array(keep.length * stride);
    keep.forEach((j, n) => images.set(decoded.images.subarray(j * stride, (j + 1) * stride), n * stride));
  }
  const n = keep.length;
  const keys = keep.map((j) => keysAll[j]);
  const classIndex = new Map(decoded.classes.map((c, k) => [c, k]));
  const labels = Int32Array.from(keep, (j) => classIndex.get(files[j].className)!);
  const patientGroups = keys.map((key) => (pattern ? groupFromPattern(key, pattern) : undefined));
  const groupIds = combineGroups(keys, patientGroups, keep.map((j) => dupGroupIds[j]));
  const split: SplitIndices = forEvaluation
    ? { train: [], val: [], test: keys.map((_, k) => k) }
    : groupedSplit(
        keep.map((j, k) => ({ key: keys[k], label: labels[k], group: groupIds[k], presetSplit: files[j].presetSplit })),
        opts.split,
        opts.seed,
      );
  for (const [name, idx] of Object.entries(forEvaluation ? {} : { train: split.train, val: split.val })) {
    if (idx.length === 0) throw new RangeError(`the ${name === 'train' ? 'training' : 'validation'} split is empty: ${n} usable image${n === 1 ? '' : 's'} is too few for a ${Math.round(opts.split.train * 100)}/${Math.round(opts.split.val * 100)}/${Math.round(opts.split.test * 100)} split`);
  }

  // The leakage report is about the dataset as the user has it, so it covers every decoded file, dropped or not.
  const splitOfFile: (SplitName | undefined)[] = new Array(files.length).fill(undefined);
  const splitOfKeep = splitOfEach(split, n);
  keep.forEach((j, k) => (splitOfFile[j] = splitOfKeep[k]));
  const report: DuplicateReport = duplicateReport(groups, splitOfFile);
  const named = (members: number[]) => members.map((j) => keysAll[j]);

  const counts = countBySplit(decoded.classes, labels, split);
  return {
    fingerprint: decoded.fingerprint,
    layout: decoded.layout,
    classes: decoded.classes,
    emptyClasses: decoded.emptyClasses,
    imageSize: size,
    channels,
    images,
    labels,
    keys,
    contentHashes: keep.map((j) => files[j].contentHash),
    split,
    manifest: buildSplitManifest(keys.map((key, k) => ({ path: key, className: decoded.classes[labels[k]], group: groupIds[k] })), split, opts.seed, opts.split),
    counts,
    skipped: decoded.skipped,
    labelConflicts: conflicts,
    // A folder imported to be evaluated has no split: only its label conflicts are worth a warning.
    checks: importChecks(conflicts, conflictMode, decoded.classes, counts, opts.split.test).filter((c) => !forEvaluation || c.id === 'label-conflicts'),
    duplicates: {
      exactGroups: report.exactGroups.map((g) => named(g.members)),
      nearGroups: report.nearGroups.map((g) => named(g.members)),
      crossSplit: report.crossSplit.map((g) => ({ kind: g.kind, members: named(g.members), splits: g.splits })),
      dropped,
      keptTogether: opts.dedupe === 'keep-together' ? remaining.clusters.length : 0,
    },
    // An evaluation import is never trained on: its statistics (shown, never used) cover every image.
    normalization: statsFromSums(keep.map((j) => files[j].sums), forEvaluation ? split.test : split.train, size * size, channels),
    // The choice made, default included: a run records it, and rebuilding its split must make the same one.
    options: { ...decoded.options, ...opts, labelConflicts: conflictMode },
  };
}

/** Decodes the folder and splits it: one import, as `decodeFolder` then `splitDecoded`. */
export async function importDataset(
  source: FolderSource,
  opts: ImportOptions,
  analyze: ImageAnalyzer,
  onEvent: (e: ImportEvent) => void = () => {},
  shouldStop: () => boolean = () => false,
): Promise<ImportedDataset> {
  // A group pattern that does not compile is refused before anything is decoded.
  if (opts.groupPattern) compileGroupPattern(opts.groupPattern);
  return splitDecoded(await decodeFolder(source, opts, analyze, onEvent, shouldStop), opts);
}

/** The duplicate groups without the items in `drop` (groups left with fewer than two members are gone). */
function withoutItems(groups: DuplicateGroups, drop: ReadonlySet<number>): DuplicateGroups {
  const keep = (list: number[][]) => list.map((g) => g.filter((i) => !drop.has(i))).filter((g) => g.length > 1);
  return { exact: keep(groups.exact), near: keep(groups.near), clusters: keep(groups.clusters) };
}

/** A stable id for one split of one dataset: the key under which its statistics are stored. */
export function splitId(d: Pick<ImportedDataset, 'fingerprint' | 'options' | 'classes' | 'labelConflicts'>): string {
  const o = d.options;
  // The threshold shapes the split only through the dedupe option; at its default it is left out, so ids (and the
  // statistics stored under them) from before the option existed still match.
  const near = o.dedupe !== 'off' && (o.nearThreshold ?? NEAR_THRESHOLD) !== NEAR_THRESHOLD ? [o.nearThreshold!] : [];
  // Likewise the label-conflict choice, which changes the split only when the folder has conflicts.
  const conflicts = d.labelConflicts.length ? [o.labelConflicts ?? DEFAULT_LABEL_CONFLICTS] : [];
  return `${d.fingerprint}:${deriveSeed(o.seed, d.classes.join(','), o.split.train, o.split.val, o.split.test, o.groupPattern ?? '', o.dedupe, o.imageSize, o.channels, ...near, ...conflicts).toString(16)}`;
}
