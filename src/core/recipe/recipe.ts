/**
 * "Train at scale": a run as a folder a cluster can train with PyTorch DDP (torchrun): train.py (a real Python file,
 * ./train.py, that reads config.json at run time), config.json (the run's settings), split.csv (each image's class,
 * split and group, by relative path with the user's consent, else by SHA-256 of its bytes), requirements.txt,
 * README.md and slurm.sh. Pure: the engine hands in the run and its folder's stored split.
 */
import { csvText } from '../csv';
import { augmentDefault, isAugmentIdentity } from '../settings/augment';
import { resolveTrainConfig } from '../settings/resolve';
import type { SplitManifest } from '../dataset/split';
import { normalizationFor, type Zoo, type ZooEntry } from '../models/zoo';
import type { HeadKind } from '../models/heads';
import type { RunRecord } from '../train/types';

export interface RecipeFile {
  name: string;
  text: string;
}

export const RECIPE_FORMAT = 'mri-studio-recipe';
export const RECIPE_VERSION = 1;

/** A run that cannot be exported as a recipe, and why, in words a person can act on. */
export class RecipeRefusal extends Error {
  override name = 'RecipeRefusal';
}

/** The studio's architecture ids → torchvision's builder names (torchvision.models.<name>). */
const TORCHVISION_BUILDERS: Record<string, string> = { resnet18: 'resnet18', resnet50: 'resnet50', efficientnet_b0: 'efficientnet_b0', vit_b16: 'vit_b_16', swin_t: 'swin_t', swin_s: 'swin_s' };

/** What train.py builds for a zoo model: `simple_cnn`, a torchvision builder name, or null (no twin in torchvision). */
export function recipeArchitecture(entry: ZooEntry): string | null {
  if (entry.family === 'simple_cnn') return 'simple_cnn';
  if (entry.source.kind === 'torchvision') return TORCHVISION_BUILDERS[entry.source.architecture] ?? null;
  // The catalog's architectures trained from scratch: torchvision's without weights.
  if (entry.source.kind === 'builtin') return TORCHVISION_BUILDERS[entry.id] ?? null;
  return null;
}

/** The zoo models a recipe can train. */
export function exportableModels(zoo: Zoo): string[] {
  return zoo
    .entries()
    .filter((e) => recipeArchitecture(e) !== null)
    .map((e) => e.id);
}

export interface RecipeInput {
  run: RunRecord;
  /** The zoo the run's model is looked up in (the engine's: imported backbones included). */
  zoo: Zoo;
  /** The run's folder split, as stored at import (paths relative to the folder). */
  manifest: SplitManifest;
  /** SHA-256 (hex) of each manifest path's file; needed unless `fileNames`. */
  contentHashes?: Readonly<Record<string, string>>;
  /** The user consented to file names in split.csv; otherwise content hashes stand in for them. */
  fileNames: boolean;
  exportedAt?: string;
}

const HEAD: Record<string, HeadKind | null> = { scratch: null, frozen: 'linear', medical: 'medical', mlp: 'mlp', finetune: 'linear' };

/** Throws a RecipeRefusal when the run cannot be exported (a model without a torchvision twin, demo images, a fold). */
export function checkExportable(run: RunRecord, zoo: Zoo): { entry: ZooEntry; architecture: string } {
  let entry: ZooEntry | undefined;
  try {
    entry = zoo.entry(run.model);
  } catch {
    entry = undefined;
  }
  const architecture = entry && recipeArchitecture(entry);
  if (!entry || !architecture) {
    throw new RecipeRefusal(`${entry?.name ?? run.model} has no torchvision twin, so it cannot be trained as a PyTorch recipe; these models can: ${exportableModels(zoo).join(', ')}`);
  }
  if (run.config.dataset.kind !== 'folder') throw new RecipeRefusal(`run ${run.runId} trained on the built-in demo images, which exist only in the browser; export a run trained on a folder`);
  if (run.config.crossValidation) throw new RecipeRefusal(`run ${run.runId} is fold ${run.config.crossValidation.fold} of a cross-validation; export a run trained on the folder's own split`);
  if (!run.dataset?.splitId) throw new RecipeRefusal(`run ${run.runId} has no record of its folder's split; train it again on the folder`);
  return { entry, architecture };
}

/** config.json: what train.py builds and how it trains, read at run time (the run's settings at the top level). */
export function recipeConfig(input: RecipeInput) {
  const { run, manifest, fileNames } = input;
  const { entry: model, architecture } = checkExportable(run, input.zoo);
  const dataset = run.dataset!;
  const imageSize = run.input?.imageSize ?? dataset.importOptions?.imageSize;
  const channels = run.input?.channels ?? dataset.importOptions?.channels;
  if (!imageSize || !channels) throw new RecipeRefusal(`run ${run.runId} has no record of its image size; train it again on the folder`);
  if (channels !== 3 && architecture !== 'simple_cnn') throw new RecipeRefusal(`${model.name} is exported for RGB images only; import the folder as RGB (3 channels) and train again`);
  const cfg = resolveTrainConfig(run.config);
  const augment = cfg.augment === 'default' ? augmentDefault : cfg.augment;
  return {
    format: RECIPE_FORMAT,
    version: RECIPE_VERSION,
    runId: run.runId,
    model: run.model,
    modelName: model.name,
    architecture,
    pretrained: model.source.kind === 'torchvision',
    strategy: run.strategy,
    head: architecture === 'simple_cnn' ? null : (HEAD[run.strategy] ?? 'linear'),
    classes: run.classes.length ? run.classes : dataset.classes,
    imageSize,
    channels,
    // What the studio's graph takes: (pixel / 255 − mean) / std per channel.
    normalization: run.input?.normalization ?? normalizationFor(model, dataset.normalization),
    optimizer: run.optimizer,
    learningRate: cfg.learningRate,
    weightDecay: run.optimizer === 'adamw' ? 0.01 : 0,
    lrSchedule: cfg.lrSchedule,
    epochs: cfg.epochs,
    batchSize: cfg.batchSize,
    trainableBlocks: cfg.trainableBlocks,
    probeEpochs: cfg.probeEpochs,
    augment: augment && !isAugmentIdentity(augment) ? augment : null,
    clipNorm: cfg.clipNorm,
    labelSmoothing: cfg.labelSmoothing,
    classWeights: cfg.classWeights,
    classWeightValues: run.classWeights ?? null,
    earlyStopping: cfg.earlyStopping === null ? null : { monitor: 'valAccuracy', patience: cfg.earlyStopping.patience, minDelta: cfg.earlyStopping.minDelta },
    keepEpoch: cfg.keepEpoch,
    saveEveryEpochs: cfg.saveEveryEpochs,
    tta: cfg.tta,
    mirrorTraining: cfg.mirrorTraining,
    seed: cfg.seed,
    dataset: {
      name: fileNames ? (dataset.name ?? null) : null,
      fingerprint: dataset.fingerprint,
      keys: fileNames ? 'paths' : 'sha256',
      images: manifest.entries.length,
      counts: splitCounts(manifest),
      // Duplicates the import dropped (dedupe, label conflicts): in the folder, not in split.csv, and not "added".
      // By hash, train.py recognises them by content instead.
      leftOut: fileNames ? leftOut(run, manifest) : [],
    },
    exportedAt: input.exportedAt ?? new Date().toISOString(),
  };
}

export type RecipeConfig = ReturnType<typeof recipeConfig>;

function leftOut(run: RunRecord, manifest: SplitManifest): string[] {
  const kept = new Set(manifest.entries.map((e) => e.path));
  const d = run.dataset!.duplicates;
  return [...new Set([...d.exactGroups, ...d.nearGroups].flat())].filter((p) => !kept.has(p)).sort();
}

function splitCounts(manifest: SplitManifest): Record<'train' | 'val' | 'test', number> {
  const counts = { train: 0, val: 0, test: 0 };
  for (const e of manifest.entries) counts[e.split]++;
  return counts;
}

/**
 * key,class,split,group, one row per image, sorted by key. With hashes the group ids (the smallest path of each group)
 * become g1, g2, … in order of appearance, so no file name leaves with them.
 */
export function splitCsv(manifest: SplitManifest, hashes: Readonly<Record<string, string>> | null): string {
  const rows = manifest.entries.map((e) => ({ key: hashes ? `sha256:${hashes[e.path]}` : e.path, className: e.className, split: e.split, group: e.group ?? '' }));
  rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  if (hashes) {
    const ids = new Map<string, string>();
    for (const r of rows) if (r.group) r.group = ids.get(r.group) ?? ids.set(r.group, `g${ids.size + 1}`).get(r.group)!;
  }
  return csvText(['key', 'class', 'split', 'group'], rows.map((r) => [r.key, r.className, r.split, r.group]));
}
