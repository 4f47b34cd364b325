/**
 * Dataset import: scan a folder listing, decode every image at the model's input size into one uint8 buffer, hash
 * for leakage, split (seeded, stratified, group-aware), and compute normalisation statistics on the training split.
 * The file system and the image decoder are injected: the worker passes browser ones, tests pass Node ones.
 */
import { deriveSeed } from '../random';
import { dHash, dropDuplicates, duplicateReport, duplicateSplitGroups, findDuplicateGroups, sha256Hex, type DuplicateReport, type PerceptualHash } from './duplicates';
import { datasetFingerprint } from './fingerprint';
import { detectLayout, selectClasses, type DatasetLayout, type PathEntry, type SkippedFile } from './layout';
import { buildSplitManifest, combineGroups, compileGroupPattern, groupedSplit, groupFromPattern, splitOfEach, type SplitFractions, type SplitIndices, type SplitManifest, type SplitName } from './split';
import { imageChannelSums, statsFromSums, type ChannelStats } from './stats';

export interface FolderSource {
  /** Every file under the picked folder, paths relative to it. */
  entries: PathEntry[];
  /** Folders seen while listing (lets empty class folders be reported); optional. */
  directories?: string[];
  read(path: string): Promise<Blob>;
}

export interface DecodedPixels {
  pixels: Uint8Array;
}

/**
 * Throws an error with a `reason` and a person-readable message when a file is not a usable image. `bytes`, when
 * given, are the whole file, already read (the decoder may sniff them instead of reading the file again).
 */
export type ImageDecoder = (file: Blob, size: number, channels: 1 | 3, bytes?: Uint8Array) => Promise<DecodedPixels>;

/** Everything the import needs from one file, computed where the pixels are (possibly in another worker). */
export interface AnalyzedImage {
  pixels: Uint8Array;
  contentHash: string;
  phash: PerceptualHash;
  /** Per-channel sums of values and squares (see imageChannelSums). */
  sums: Float64Array;
}

export type ImageAnalyzer = (file: Blob, size: number, channels: 1 | 3) => Promise<AnalyzedImage>;

/** The per-file work of an import on one thread: one read serves the content hash and the decoder. */
export function analyzeWith(decode: ImageDecoder): ImageAnalyzer {
  return async (file, size, channels) => {
    // Each read of a browser File is a round trip to another process: read once, hash and sniff the same bytes.
    const bytes = new Uint8Array(await file.arrayBuffer());
    const [contentHash, decoded] = await Promise.all([sha256Hex(bytes), decode(file, size, channels, bytes)]);
    const { pixels } = decoded;
    return { pixels, contentHash, phash: dHash(pixels, size, size, channels), sums: imageChannelSums(pixels, channels) };
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
  /** Hamming distance (of 64 bits) under which two dHashes are near duplicates. */
  nearThreshold?: number;
  /** Decodes in flight at once: the browser decodes off-thread, so a few overlap I/O and decoding. */
  concurrency?: number;
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

export interface ImportedDataset {
  fingerprint: string;
  layout: DatasetLayout['kind'];
  classes: string[];
  emptyClasses: string[];
  imageSize: number;
  channels: 1 | 3;
  /** uint8, image-major, channels-last: exactly keys.length × size × size × channels bytes. */
  images: Uint8Array;
  labels: Int32Array;
  keys: string[];
  split: SplitIndices;
  manifest: SplitManifest;
  counts: SplitCountsByClass;
  skipped: SkippedFile[];
  duplicates: DuplicateSummary;
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

export async function importDataset(
  source: FolderSource,
  opts: ImportOptions,
  analyze: ImageAnalyzer,
  onEvent: (e: ImportEvent) => void = () => {},
  shouldStop: () => boolean = () => false,
): Promise<ImportedDataset> {
  const pattern = opts.groupPattern ? compileGroupPattern(opts.groupPattern) : undefined;
  const layout = selectClasses(scanFolder(source), opts.classes);
  const files = layout.files;
  onEvent({ type: 'scanned', files: files.length, skipped: layout.skipped.length, classes: layout.classes });

  const { imageSize: size, channels } = opts;
  const stride = size * size * channels;
  // One buffer for every image, allocated once: images that fail to decode are compacted away in place below.
  const images = new Uint8Array(files.length * stride);
  const ok = new Array<boolean>(files.length).fill(false);
  const hashes: string[] = new Array(files.length);
  const phashes: PerceptualHash[] = new Array(files.length);
  const sizes: number[] = new Array(files.length);
  const pixelSums: Float64Array[] = new Array(files.length);
  const skipped: SkippedFile[] = [...layout.skipped];

  const started = performance.now();
  let done = 0;
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      if (shouldStop()) throw new ImportCancelled();
      const i = next++;
      const f = files[i];
      try {
        const blob = await source.read(f.path);
        sizes[i] = blob.size;
        const a = await analyze(blob, size, channels);
        hashes[i] = a.contentHash;
        images.set(a.pixels, i * stride);
        phashes[i] = a.phash;
        // Summed per image while decoding: statistics need no second pass over every pixel.
        pixelSums[i] = a.sums;
        ok[i] = true;
      } catch (err) {
        const reason = (err as { reason?: string }).reason;
        skipped.push({ path: f.path, reason: 'unreadable', detail: `${reason ? `${reason}: ` : ''}${err instanceof Error ? err.message : String(err)}` });
      }
      done += 1;
      if (done % 25 === 0 || done === files.length) {
        const seconds = (performance.now() - started) / 1000;
        const rate = done / Math.max(seconds, 1e-3);
        onEvent({ type: 'progress', done, total: files.length, imagesPerSecond: rate, etaSeconds: (files.length - done) / rate });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 6) }, worker));
  onEvent({ type: 'analysing' });

  // Compact: keep decoded images in listing (key) order, dropping failures without a second buffer.
  const kept: number[] = [];
  for (let i = 0; i < files.length; i++) {
    if (!ok[i]) continue;
    if (kept.length !== i) images.copyWithin(kept.length * stride, i * stride, (i + 1) * stride);
    kept.push(i);
  }
  let keep = kept;
  const keysAll = kept.map((i) => files[i].key);
  const groups = findDuplicateGroups(
    kept.map((i) => ({ key: files[i].key, contentHash: hashes[i], phash: phashes[i] })),
    { threshold: opts.nearThreshold ?? 5 },
  );
  const dropped: DuplicateSummary['dropped'] = [];
  let dupGroupIds: (string | undefined)[] = new Array(kept.length).fill(undefined);
  let survivors = kept.map((_, j) => j); // indices into `kept`
  if (opts.dedupe === 'drop') {
    const d = dropDuplicates(groups, keysAll);
    for (const x of d.dropped) dropped.push({ path: keysAll[x.index], duplicateOf: keysAll[x.keptAs] });
    survivors = d.keep.sort((a, b) => a - b);
  } else if (opts.dedupe === 'keep-together') {
    dupGroupIds = duplicateSplitGroups(groups, keysAll);
  }
  if (survivors.length !== kept.length) {
    survivors.forEach((j, n) => {
      if (j !== n) images.copyWithin(n * stride, j * stride, (j + 1) * stride);
    });
    keep = survivors.map((j) => kept[j]);
  }
  const n = keep.length;
  const finalImages = images.subarray(0, n * stride);
  const keys = keep.map((i) => files[i].key);
  const classIndex = new Map(layout.classes.map((c, k) => [c, k]));
  const labels = Int32Array.from(keep, (i) => classIndex.get(files[i].className)!);
  const patientGroups = keep.map((i) => (pattern ? groupFromPattern(files[i].key, pattern) : undefined));
  const groupIds = combineGroups(keys, patientGroups, survivors.map((j) => dupGroupIds[j]));
  const split = groupedSplit(
    keep.map((i, k) => ({ key: keys[k], label: labels[k], group: groupIds[k], presetSplit: files[i].presetSplit })),
    opts.split,
    opts.seed,
  );
  for (const [name, idx] of Object.entries({ train: split.train, val: split.val })) {
    if (idx.length === 0) throw new RangeError(`the ${name === 'train' ? 'training' : 'validation'} split is empty: ${n} usable image${n === 1 ? '' : 's'} is too few for a ${Math.round(opts.split.train * 100)}/${Math.round(opts.split.val * 100)}/${Math.round(opts.split.test * 100)} split`);
  }

  // The leakage report is about the dataset as the user has it, so it covers every decoded file, dropped or not.
  const splitOfKept: (SplitName | undefined)[] = new Array(kept.length).fill(undefined);
  const splitOfKeep = splitOfEach(split, n);
  survivors.forEach((j, k) => (splitOfKept[j] = splitOfKeep[k]));
  const report: DuplicateReport = duplicateReport(groups, splitOfKept);
  const named = (members: number[]) => members.map((j) => keysAll[j]);

  const fingerprint = await datasetFingerprint(kept.map((i) => ({ path: files[i].key, size: sizes[i], contentHash: hashes[i] })));
  return {
    fingerprint,
    layout: layout.kind,
    classes: layout.classes,
    emptyClasses: layout.emptyClasses,
    imageSize: size,
    channels,
    images: finalImages,
    labels,
    keys,
    split,
    manifest: buildSplitManifest(keys.map((key, k) => ({ path: key, className: layout.classes[labels[k]], group: groupIds[k] })), split, opts.seed, opts.split),
    counts: countBySplit(layout.classes, labels, split),
    skipped: skipped.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    duplicates: {
      exactGroups: report.exactGroups.map((g) => named(g.members)),
      nearGroups: report.nearGroups.map((g) => named(g.members)),
      crossSplit: report.crossSplit.map((g) => ({ kind: g.kind, members: named(g.members), splits: g.splits })),
      dropped,
      keptTogether: opts.dedupe === 'keep-together' ? groups.clusters.length : 0,
    },
    normalization: statsFromSums(keep.map((i) => pixelSums[i]), split.train, size * size, channels),
    options: opts,
  };
}

/** A stable id for one split of one dataset: the key under which its statistics are stored. */
export function splitId(d: Pick<ImportedDataset, 'fingerprint' | 'options' | 'classes'>): string {
  const o = d.options;
  return `${d.fingerprint}:${deriveSeed(o.seed, d.classes.join(','), o.split.train, o.split.val, o.split.test, o.groupPattern ?? '', o.dedupe, o.imageSize, o.channels).toString(16)}`;
}
