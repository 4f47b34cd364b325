/**
 * The benchmarks' command line, read once here so every benchmark sees the same data and models folders:
 * `--data DIR` (a folder-per-class dataset; ../shared's MRI Training folder by default, synthetic phantoms when it
 * is absent), `--models DIR` (pretrained backbones served as /models/; ../shared/pretrained by default) and `--full`
 * (the full-size runs; by default the heavy benchmarks scale down so the whole suite fits in about 15 minutes).
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PRETRAINED_DIR } from '../tests/fixtures/pretrained';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const { values: options } = parseArgs({
  options: {
    only: { type: 'string' },
    size: { type: 'string' },
    backends: { type: 'string' },
    architectures: { type: 'string' },
    'per-class': { type: 'string' },
    epochs: { type: 'string' },
    images: { type: 'string' },
    data: { type: 'string' },
    models: { type: 'string' },
    full: { type: 'boolean', default: false },
  },
});

export const FULL = options.full ?? false;
export const DATA_DIR = resolve(options.data ?? resolve(ROOT, '../shared/datasets/brain-mri-224/Training'));
export const MODELS_DIR = resolve(options.models ?? PRETRAINED_DIR);
export const hasData = (): boolean => existsSync(DATA_DIR);

/** `--NAME` as a number, or `fallback` (its full-size value with --full, else the scaled-down one). */
export function numberOption(name: 'size' | 'per-class' | 'epochs' | 'images', fallback: { full: number; quick: number }): number {
  const given = options[name];
  if (given === undefined) return FULL ? fallback.full : fallback.quick;
  const n = Number(given);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`bench: --${name} must be a whole number above 0 (got "${given}")`);
    process.exit(2);
  }
  return n;
}
