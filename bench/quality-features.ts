/**
 * The quality bench's data: a folder-per-class dataset read in Node (JPEG decoded with jpeg-js), its exact and near
 * duplicates grouped with the importer's own code (SHA-256 of the bytes, dHash within NEAR_THRESHOLD), and frozen
 * backbone features computed ONCE per (backbone, view) on the TF.js WASM backend and cached under /tmp, so that the
 * many k-fold head trainings run on cached features. Both poolings of the last feature map are kept (global average,
 * as the studio's head_pool, and global max), so a pooling comparison needs no second pass.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import jpeg from 'jpeg-js';
import { dHash, duplicateSplitGroups, findDuplicateGroups, NEAR_THRESHOLD, type DuplicateCandidate } from '../src/core/dataset/duplicates';
import { loadBackbone } from '../src/core/models/backbone';
import { BUILTIN_ZOO } from '../src/core/models/zoo';
import { folderHandler } from '../tests/fixtures/pretrained';

export interface QualityData {
  dir: string;
  classes: string[];
  /** Relative paths (class/file), sorted: the k-fold keys. */
  keys: string[];
  labels: Int32Array;
  /** Duplicate cluster per image (undefined when it has none), the importer's grouping. */
  groups: (string | undefined)[];
  /** Each image's SHA-256 and dHash, as the importer computes them. */
  candidates: DuplicateCandidate[];
  duplicateClusters: number;
}

const SIZE = 224;
const CACHE = '/tmp/studio-quality-cache';

function listFolder(dir: string): { classes: string[]; keys: string[]; labels: number[] } {
  const classes = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  const keys: string[] = [];
  const labels: number[] = [];
  for (const [k, c] of classes.entries()) {
    for (const f of readdirSync(join(dir, c)).filter((f) => /\.jpe?g$/i.test(f)).sort()) {
      keys.push(`${c}/${f}`);
      labels.push(k);
    }
  }
  return { classes, keys, labels };
}

/** One image's RGB pixels (224 × 224 × 3, as ../shared's are), decoded by jpeg-js. */
function decodeRgb(bytes: Uint8Array, key: string, into: Uint8Array): void {
  const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
  if (img.width !== SIZE || img.height !== SIZE) throw new Error(`${key} is ${img.width}×${img.height}; the quality bench reads ${SIZE}×${SIZE} images`);
  for (let p = 0, q = 0; p < into.length; p += 3, q += 4) {
    into[p] = img.data[q];
    into[p + 1] = img.data[q + 1];
    into[p + 2] = img.data[q + 2];
  }
}

const listId = (dir: string, keys: readonly string[]) => createHash('sha256').update(`${dir}\n${keys.join('\n')}`).digest('hex').slice(0, 16);

/**
 * Lists a folder-per-class dataset and groups its exact and near duplicates as the importer does (SHA-256 of the
 * bytes, dHash of the decoded pixels within `threshold` bits, clusters linked transitively). The hashes are cached in
 * /tmp, so only the first call decodes every image.
 */
export function loadFolder(dir: string, threshold = NEAR_THRESHOLD): QualityData {
  const { classes, keys, labels } = listFolder(dir);
  const index = join(CACHE, `${listId(dir, keys)}-hashes.json`);
  let candidates: DuplicateCandidate[];
  if (existsSync(index)) candidates = JSON.parse(readFileSync(index, 'utf8'));
  else {
    const rgb = new Uint8Array(SIZE * SIZE * 3);
    candidates = keys.map((key) => {
      const bytes = readFileSync(join(dir, key));
      decodeRgb(bytes, key, rgb);
      return { key, contentHash: createHash('sha256').update(bytes).digest('hex'), phash: dHash(rgb, SIZE, SIZE, 3) };
    });
    mkdirSync(CACHE, { recursive: true });
    writeFileSync(index, JSON.stringify(candidates));
  }
  const dup = findDuplicateGroups(candidates, { threshold });
  return { dir, classes, keys, labels: Int32Array.from(labels), groups: duplicateSplitGroups(dup, keys), candidates, duplicateClusters: dup.clusters.length };
}

/**
 * The folder with its duplicates grouped at `threshold`, or, when null, at the largest threshold up to the importer's
 * (NEAR_THRESHOLD) whose transitive clusters stay small (none above 1 % of the folder): at 5 bits, dHash links chain
 * thousands of different MRI slices into one cluster, which no fold can hold. Prints every threshold's clusters.
 */
export function duplicateAwareFolder(dir: string, threshold: number | null): QualityData {
  let chosen: QualityData | null = null;
  for (let t = 0; t <= NEAR_THRESHOLD; t++) {
    const d = loadFolder(dir, t);
    const sizes = new Map<string, number>();
    for (const g of d.groups) if (g) sizes.set(g, (sizes.get(g) ?? 0) + 1);
    const largest = Math.max(0, ...sizes.values());
    console.log(`near-duplicate threshold ${t} bits: ${d.duplicateClusters} clusters holding ${[...sizes.values()].reduce((a, b) => a + b, 0)} images, the largest ${largest}`);
    if (threshold === t || (threshold === null && largest <= 0.01 * d.keys.length)) chosen = d;
  }
  if (!chosen) throw new Error(`no threshold fits: pass --near-threshold`);
  return chosen;
}

/**
 * The views features are computed of: the image itself, its mirror image, and two mild geometric changes (a 90 %
 * centre crop resized back, a 10° rotation) of the kind an MRI slice tolerates.
 */
export type View = 'id' | 'flip' | 'zoom' | 'rot';
export const VIEWS: readonly View[] = ['id', 'flip', 'zoom', 'rot'];

function viewOf(x: tf.Tensor4D, view: View): tf.Tensor4D {
  switch (view) {
    case 'id':
      return x;
    case 'flip':
      return tf.image.flipLeftRight(x);
    case 'zoom': {
      const n = x.shape[0];
      const boxes = tf.tensor2d(Array.from({ length: n }, () => [0.05, 0.05, 0.95, 0.95]));
      const ind = tf.tensor1d(Array.from({ length: n }, (_, i) => i), 'int32');
      return tf.image.cropAndResize(x, boxes, ind, [SIZE, SIZE], 'bilinear');
    }
    case 'rot':
      return tf.image.rotateWithOffset(x, (10 * Math.PI) / 180, 0);
  }
}

export interface CachedFeatures {
  /** n × dim, global average pooling of the backbone's last feature map. */
  gap: Float32Array;
  /** n × dim, global max pooling. */
  gmp: Float32Array;
  dim: number;
  /** Seconds the extraction took (0 when it came from the cache; `cachedSeconds` is what it took then). */
  seconds: number;
  cachedSeconds: number;
}

let ready: Promise<void> | null = null;
export function useWasm(): Promise<void> {
  ready ??= tf.setBackend('wasm').then((ok) => {
    if (!ok) throw new Error('the TF.js WASM backend did not start');
  });
  return ready;
}

/**
 * Features of every image of `data` under `view`, through `backbone` (a zoo id whose folder is in `modelsDir`),
 * from /tmp when this exact file list was extracted before. Batches of 32, each disposed.
 */
export async function features(data: QualityData, backbone: string, view: View, modelsDir: string): Promise<CachedFeatures> {
  const base = join(CACHE, `${backbone}-${view}-${listId(data.dir, data.keys)}`);
  if (existsSync(`${base}.json`)) {
    const meta = JSON.parse(readFileSync(`${base}.json`, 'utf8')) as { dim: number; seconds: number };
    const read = (f: string) => {
      const b = readFileSync(f);
      return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    };
    return { gap: read(`${base}.gap.f32`), gmp: read(`${base}.gmp.f32`), dim: meta.dim, seconds: 0, cachedSeconds: meta.seconds };
  }
  await useWasm();
  const entry = BUILTIN_ZOO.entry(backbone);
  const { model } = await loadBackbone(entry, { load: () => folderHandler(join(modelsDir, backbone)) });
  const dim = model.outputs[0].shape[3] as number;
  const n = data.labels.length;
  const gap = new Float32Array(n * dim);
  const gmp = new Float32Array(n * dim);
  const stride = SIZE * SIZE * 3;
  const started = performance.now();
  for (let start = 0; start < n; start += 32) {
    const end = Math.min(start + 32, n);
    const [a, m] = tf.tidy(() => {
      const pixels = new Uint8Array((end - start) * stride);
      for (let i = start; i < end; i++) decodeRgb(readFileSync(join(data.dir, data.keys[i])), data.keys[i], pixels.subarray((i - start) * stride, (i - start + 1) * stride));
      const x = tf.tensor4d(Int32Array.from(pixels), [end - start, SIZE, SIZE, 3], 'int32').toFloat();
      const map = model.predict(viewOf(x, view).div(127.5).sub(1)) as tf.Tensor4D;
      return [map.mean([1, 2]), map.max([1, 2])];
    });
    gap.set(await a.data(), start * dim);
    gmp.set(await m.data(), start * dim);
    tf.dispose([a, m]);
    if ((start / 32) % 40 === 0) console.log(`  ${backbone} ${view}: ${end}/${n} images, ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
  const seconds = (performance.now() - started) / 1000;
  model.dispose();
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(`${base}.gap.f32`, new Uint8Array(gap.buffer));
  writeFileSync(`${base}.gmp.f32`, new Uint8Array(gmp.buffer));
  writeFileSync(`${base}.json`, JSON.stringify({ dim, seconds, images: n }));
  return { gap, gmp, dim, seconds, cachedSeconds: seconds };
}
