/**
 * "Train at scale" end to end, as a user does it: train a run with the CLI on a folder of PNGs at the model's size,
 * export its recipe (`studio export-recipe`), run the exported train.py under torchrun with Debian's PyTorch on the
 * CPU (gloo), and read what it wrote. Reusable: the round-trip test (import-cluster) starts from exportAndTrain.
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoImage } from '../../../src/core/dataset/demo';
import type { HeadKind } from '../../../src/core/models/heads';
import { buildSimpleCnn } from '../../../src/core/models/simple_cnn';
import { buildClassifier } from '../../../src/core/models/strategies';
import { torchvisionBackbone } from '../../../src/core/models/torch/backbone';
import { readCheckpoint, type StateDict } from '../../../src/core/models/torch/checkpoint';
import { BUILTIN_ZOO } from '../../../src/core/models/zoo';
import { normalizeWith } from '../../../src/core/train/trainer';
import { rgbPng } from '../../fixtures/png';

export const PYTHON = '/usr/bin/python3';

/** Why the recipe tests cannot run here (no PyTorch and torchvision under /usr/bin/python3), or null when they can. */
export function torchMissing(): string | null {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
  return probe.status === 0 ? null : `recipe e2e skipped: ${PYTHON} cannot import torch and torchvision (apt-get install python3-torch python3-torchvision)`;
}

/** A folder of PNGs, with each file's pixels by split.csv key: its path, and `sha256:` of its bytes. */
export interface PngFolder {
  root: string;
  pixels: Map<string, Uint8Array>;
}

/** `perClass` demo phantoms per class as PNGs of exactly `size` px (so no resampling differs between the two sides). */
export function pngFolder(classes: string[], perClass: number, size: number, seed = 1): PngFolder {
  const root = join(mkdtempSync(join(tmpdir(), 'studio-recipe-data-')), 'scans');
  const pixels = new Map<string, Uint8Array>();
  classes.forEach((c, k) => {
    mkdirSync(join(root, c), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const image = demoImage(k % 3, i + 100 * k, seed, size);
      const png = rgbPng(image, size, size);
      writeFileSync(join(root, c, `case ${i}.png`), png);
      pixels.set(`${c}/case ${i}.png`, image).set(`sha256:${createHash('sha256').update(png).digest('hex')}`, image);
    }
  });
  return { root, pixels };
}

/** A random-init torchvision state_dict (tests never download ImageNet weights), as tests/fixtures/torchvision_parity.py writes it. */
export function torchvisionPth(architecture: string, size: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'studio-recipe-pth-'));
  const r = spawnSync(PYTHON, [fileURLToPath(new URL('../../fixtures/torchvision_parity.py', import.meta.url)), architecture, String(size), '0', dir], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`writing ${architecture}.pth failed: ${r.stderr}`);
  return join(dir, `${architecture}.pth`);
}

/**
 * The CLI's page is served at this port for both the training and the export: a profile's IndexedDB belongs to the
 * page's origin, so the export must open the page where the run was trained. Beside the suite's own server.
 */
export const CLI_PORT = String(Number(process.env.STUDIO_TEST_PORT ?? 4173) + 1);

const npx = (args: string[], minutes: number) => spawnSync('npx', args, { encoding: 'utf8', timeout: minutes * 60_000 });
const failed = (what: string, r: SpawnSyncReturns<string>) => new Error(`${what} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);

export interface StudioRunOptions {
  data: string;
  size: number;
  model: string;
  /** CLI train flags besides data, size, model, epochs (e.g. --strategy medical --weights FILE). */
  flags?: string[];
  epochs?: number;
  profile: string;
}

/** Trains a run with the CLI in `profile`; its id. */
export function trainStudioRun(o: StudioRunOptions): string {
  const out = join(o.profile, '..', `run-${Date.now()}.json`);
  const r = npx(['tsx', 'cli/studio.ts', 'train', '--data', o.data, '--image-size', String(o.size), '--split', '60/20/20', '--model', o.model, '--epochs', String(o.epochs ?? 1), ...(o.flags ?? []), '--out', out, '--port', CLI_PORT, '--profile', o.profile], 8);
  if (r.status !== 0) throw failed('studio train', r);
  return JSON.parse(readFileSync(out, 'utf8')).runId;
}

/** `studio export-recipe`; the CLI's result (the caller checks it: refusals are expected for some models). */
export function exportRecipeCli(runId: string, out: string, profile: string, fileNames: boolean) {
  return npx(['tsx', 'cli/studio.ts', 'export-recipe', '--run', runId, '--out', out, ...(fileNames ? ['--file-names'] : []), '--port', CLI_PORT, '--profile', profile], 4);
}

/**
 * The exported train.py under torchrun (`python3 -m torch.distributed.run`: Debian has no `torchrun` on PATH), on the
 * CPU. `--redirects 2 --tee 2`: PyTorch 1.13's launcher reads its default "0" as no setting at all on Python 3.11
 * ('NoneType' object has no attribute 'get'); stderr teed to the console is the same output with a value it can read.
 */
export function runTrainPy(recipe: string, dataRoot: string, out: string, opts: { nproc?: number; extra?: string[] } = {}) {
  // nproc 0: `python3 train.py` alone, one process without torchrun (its exit code is train.py's own).
  const launcher = opts.nproc === 0 ? [] : ['-m', 'torch.distributed.run', '--standalone', `--nproc_per_node=${opts.nproc ?? 2}`, '--redirects', '2', '--tee', '2'];
  return spawnSync(PYTHON, [...launcher, join(recipe, 'train.py'), '--data-root', dataRoot, '--out', out, '--epochs', '1', '--no-pretrained', '--workers', '0', ...(opts.extra ?? [])], { encoding: 'utf8', timeout: 8 * 60_000 });
}

export interface TrainedRecipe {
  runId: string;
  profile: string;
  data: string;
  /** Each image's pixels by split.csv key. */
  pixels: Map<string, Uint8Array>;
  recipe: string;
  out: string;
  /** model.pth's keys and shapes. */
  state: Record<string, number[]>;
  metrics: Record<string, unknown> & { epochs: Record<string, number>[] };
  predictions: { classes: string[]; items: { key: string; label: number; probs: number[] }[] };
  /** split.csv's rows, header left out. */
  split: string[][];
}

/** The state_dict's keys and shapes, read by PyTorch. */
export function stateDictShapes(file: string): Record<string, number[]> {
  const r = spawnSync(PYTHON, ['-c', 'import json, sys, torch; print(json.dumps({k: list(v.shape) for k, v in torch.load(sys.argv[1]).items()}))', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`reading ${file}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/**
 * Trains a studio run on a fresh PNG folder, exports its recipe and trains it for one epoch with 2 processes: what
 * train.py wrote, for the caller's assertions (and the round trip's import).
 */
export function exportAndTrain(o: Omit<StudioRunOptions, 'data' | 'profile'> & { classes: string[]; perClass: number; fileNames: boolean }): TrainedRecipe {
  const dir = mkdtempSync(join(tmpdir(), 'studio-recipe-'));
  const profile = join(dir, 'profile');
  const { root: data, pixels } = pngFolder(o.classes, o.perClass, o.size);
  const runId = trainStudioRun({ ...o, data, profile });
  const recipe = join(dir, 'recipe');
  const exported = exportRecipeCli(runId, recipe, profile, o.fileNames);
  if (exported.status !== 0) throw failed('studio export-recipe', exported);
  const out = join(dir, 'out');
  const trained = runTrainPy(recipe, data, out);
  if (trained.status !== 0) throw failed('train.py', trained);
  return {
    runId,
    profile,
    data,
    pixels,
    recipe,
    out,
    state: stateDictShapes(join(out, 'model.pth')),
    metrics: JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')),
    predictions: JSON.parse(readFileSync(join(out, 'predictions.json'), 'utf8')),
    split: readFileSync(join(recipe, 'split.csv'), 'utf8').trimEnd().split(/\r?\n/).slice(1).map((l) => l.split(',')),
  };
}

/**
 * What the studio's own TF.js graph for the run (the simple CNN, or the torchvision backbone with the studio's head,
 * as models/ builds them) answers on the test images with model.pth's weights: class probabilities per
 * predictions.json item. The contract's semantics, checked without the import (CPU backend, in this process).
 */
export async function studioProbabilities(t: TrainedRecipe): Promise<number[][]> {
  await tf.setBackend('cpu');
  const config = JSON.parse(readFileSync(join(t.recipe, 'config.json'), 'utf8'));
  const { imageSize: size, channels, classes } = config;
  const state = readCheckpoint(new Uint8Array(readFileSync(join(t.out, 'model.pth'))));
  const tensor = (key: string, perm?: number[]) => {
    const v = state.get(key);
    if (!v?.data) throw new Error(`model.pth has no float tensor ${key}`);
    const x = tf.tensor(v.data, v.shape);
    return perm ? x.transpose(perm) : x;
  };
  let model: tf.LayersModel;
  let head: string;
  if (config.architecture === 'simple_cnn') {
    model = buildSimpleCnn({ imageSize: size, channels, numClasses: classes.length, seed: 1 });
    for (let i = 1; i <= 3; i++) {
      model.getLayer(`conv${i}`).setWeights([tensor(`conv${i}.weight`, [2, 3, 1, 0]), tensor(`conv${i}.bias`)]);
      model.getLayer(`bn${i}`).setWeights(['weight', 'bias', 'running_mean', 'running_var'].map((n) => tensor(`bn${i}.${n}`)));
    }
    head = '';
  } else {
    const backbone: StateDict = new Map([...state].filter(([k]) => !k.startsWith('studio_head.')));
    const kind = config.head as HeadKind;
    model = buildClassifier(torchvisionBackbone(BUILTIN_ZOO.entry(config.model), backbone, size), { strategy: kind === 'linear' ? 'frozen' : kind, numClasses: classes.length, seed: 1 }).model;
    if (kind !== 'linear') model.getLayer('head_dense').setWeights([tensor('studio_head.head_dense.weight', [1, 0]), tensor('studio_head.head_dense.bias')]);
    head = 'studio_head.';
  }
  model.getLayer('logits').setWeights([tensor(`${head}logits.weight`, [1, 0]), tensor(`${head}logits.bias`)]);
  const items = t.predictions.items;
  const x = tf.tensor4d(
    items.flatMap((p) => Array.from(t.pixels.get(p.key)!)),
    [items.length, size, size, channels],
  );
  const input = normalizeWith(config.normalization)(x as tf.Tensor4D) as tf.Tensor4D;
  const logits = model.predict(input) as tf.Tensor2D;
  const answered = config.tta === 'flip' ? logits.add(model.predict(tf.reverse(input, 2)) as tf.Tensor2D).div(2) : logits;
  const probs = (await tf.softmax(answered).array()) as number[][];
  model.dispose();
  return probs;
}
