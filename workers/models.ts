/** Builds the network a TrainConfig asks for, with pretrained weights loaded the browser's way. */
import * as tf from '@tensorflow/tfjs';
import type { ChannelStats } from '../src/core/dataset/stats';
import { buildArchitecture } from '../src/core/models/architectures/builders';
import { loadBackbone, withCache, type BackboneLoader } from '../src/core/models/backbone';
import { kerasH5InitialArtifacts } from '../src/core/models/keras-backbones';
import { buildSimpleCnn } from '../src/core/models/simple_cnn';
import { buildClassifier, strategyDefaults, type Classifier } from '../src/core/models/strategies';
import { torchvisionBackbone } from '../src/core/models/torch/backbone';
import { WeightMappingError } from '../src/core/models/torch/torchvision';
import { normalizationFor, type Zoo, type ZooEntry } from '../src/core/models/zoo';
import { resolveTrainConfig } from '../src/core/settings/resolve';
import { idbBackboneCache } from '../src/core/store/backbones';
import { StorageFullError } from '../src/core/registry/quota';
import { restoreCheckpoint, type Checkpoint } from '../src/core/store/checkpoints';
import type { StudioDB } from '../src/core/store/db';
import type { StateDict } from '../src/core/models/torch/checkpoint';
import { createOptimizer, type OptimizerName } from '../src/core/train/optimizers';
import type { RunRecord, Strategy, TrainConfig } from '../src/core/train/types';
import { EngineError } from '../src/engine/errors';
import { loadTorchvisionState } from './torch-weights';
import { fetchWeightsFile } from './weights-file';

/**
 * Weights come from, in order: the IndexedDB cache (downloaded once), a folder served with the app at
 * `/models/<id>/` (offline installs, conferences, the CLI's --models-dir), then the model's official URL. A model
 * whose weights are one file (Xception's .h5) is read by weights-file.ts; a file the user picked is already cached.
 */
export function browserBackboneLoader(db: StudioDB): BackboneLoader {
  const fetchOnce: BackboneLoader = async (url, entry) => {
    if (entry.source.kind === 'torchvision') throw new Error(`"${entry.id}" loads torchvision weights, not a TF.js model`);
    if (entry.source.kind === 'imported') throw new Error(`"${entry.id}" was imported from ${entry.source.file} and is no longer in this browser's backbone cache; import it again`);
    if (entry.source.kind === 'keras-h5') return { load: () => fetchWeightsFile(entry) };
    const local = new URL(`/models/${entry.id}/model.json`, self.location.origin).href;
    const res = await fetch(local).catch(() => null);
    // An app server answers unknown paths with its index page: only JSON means the folder is really there.
    if (res?.ok && (res.headers.get('content-type') ?? '').includes('json')) return tf.io.http(local);
    return tf.io.http(url);
  };
  return withCache(fetchOnce, idbBackboneCache(db));
}

export interface BuiltModel {
  model: tf.LayersModel;
  /** A pretrained backbone's classifier (its blocks, to unfreeze per phase); null for the CNN trained from scratch. */
  classifier: Classifier | null;
  entry: ZooEntry;
  strategy: Strategy;
  optimizer: OptimizerName;
  /** The per-channel normalisation the model's input expects (dataset statistics, or [-1, 1] for MobileNets). */
  normalization: ChannelStats;
}

/** The optimiser a run trains with: the config's, else its strategy's default (the model's own from scratch). */
export function resolveOptimizer(cfg: TrainConfig, entry: ZooEntry, strategy: Strategy): OptimizerName {
  return cfg.optimizer ?? (strategy === 'scratch' ? entry.defaults : strategyDefaults(entry, strategy)).optimizer;
}

export function resolveStrategy(cfg: TrainConfig, entry: ZooEntry): Strategy {
  // A pretrained backbone's default head is the MLP: 1.4 points of k-fold accuracy and 3.6 of the lowest tumour
  // sensitivity ahead of the linear head on the MRI folder, all else equal (docs/quality.md).
  const strategy = cfg.strategy ?? (entry.source.kind === 'builtin' ? 'scratch' : 'mlp');
  if (entry.source.kind === 'builtin' && strategy !== 'scratch') throw new EngineError('E_CONFIG', `${entry.name} has no pretrained weights: it trains from scratch, not with the ${strategy} strategy`);
  if (entry.source.kind !== 'builtin' && strategy === 'scratch') throw new EngineError('E_CONFIG', `${entry.name} is a pretrained backbone: choose frozen, medical, mlp or finetune`);
  return strategy;
}

export async function buildModel(
  /** Where `cfg.model` is looked up: the engine's zoo holds the profile's imported backbones. */
  zoo: Zoo,
  cfg: TrainConfig,
  data: { imageSize: number; channels: number; numClasses: number },
  datasetStats: ChannelStats,
  load: BackboneLoader,
  /**
   * Where torchvision weights come from (see torch-weights.ts); `shapes` keeps the random initial weights of the
   * networks built here (torchvision's, Keras .h5 ones), for a memory estimate that needs only shapes: no download.
   */
  torchState?: ((entry: ZooEntry) => Promise<StateDict>) | 'shapes',
): Promise<BuiltModel> {
  let entry: ZooEntry;
  try {
    entry = zoo.entry(cfg.model);
  } catch (err) {
    throw new EngineError('E_CONFIG', (err as Error).message);
  }
  const strategy = resolveStrategy(cfg, entry);
  if (strategy === 'scratch') {
    const opts = { imageSize: data.imageSize, channels: data.channels, numClasses: data.numClasses, seed: cfg.seed };
    let model: tf.LayersModel;
    try {
      model = entry.family === 'simple_cnn' ? buildSimpleCnn(opts) : buildArchitecture(entry.id, opts);
    } catch (err) {
      // An input size the architecture cannot take (patches, windows): the message names sizes that work.
      if (err instanceof RangeError) throw new EngineError('E_CONFIG', err.message);
      throw err;
    }
    return { model, classifier: null, entry, strategy, optimizer: resolveOptimizer(cfg, entry, strategy), normalization: datasetStats };
  }
  if (data.channels !== entry.channels) throw new EngineError('E_CONFIG', `${entry.name} takes ${entry.channels}-channel images; import the dataset as RGB (not single-channel)`);
  let backbone;
  try {
    if (entry.source.kind === 'torchvision') {
      if (!torchState) throw new Error('no source of torchvision weights was given');
      backbone = torchvisionBackbone(entry, torchState === 'shapes' ? null : await torchState(entry), data.imageSize);
    } else {
      const initial: BackboneLoader = () => ({ load: () => kerasH5InitialArtifacts(entry) });
      backbone = await loadBackbone(entry, { load: torchState === 'shapes' && entry.source.kind === 'keras-h5' ? initial : load }, { inputSize: data.imageSize });
    }
  } catch (err) {
    if (err instanceof StorageFullError) throw new EngineError('E_QUOTA', err.message);
    if (err instanceof EngineError) throw err;
    if (err instanceof WeightMappingError) throw new EngineError('E_BACKBONE', `the cached weights of ${entry.name} do not fit it; clear them in the Storage panel and load them again`, err.message);
    // A size the architecture or its weights cannot take names the sizes that work.
    if (err instanceof RangeError && entry.source.kind === 'torchvision') throw new EngineError('E_CONFIG', err.message);
    const msg = (err as Error).message;
    throw new EngineError(msg.includes('input size') ? 'E_CONFIG' : 'E_BACKBONE', msg.includes('input size') ? msg : `could not load the pretrained weights of ${entry.name}: ${msg}`, 'url' in entry.source ? entry.source.url : undefined);
  }
  try {
    const classifier = buildClassifier(backbone, { strategy, numClasses: data.numClasses, seed: cfg.seed, ...(strategy === 'finetune' ? { trainableBlocks: resolveTrainConfig(cfg).trainableBlocks } : {}) });
    return { model: classifier.model, classifier, entry, strategy, optimizer: resolveOptimizer(cfg, entry, strategy), normalization: normalizationFor(entry, datasetStats) };
  } finally {
    backbone.model.dispose();
  }
}

/**
 * A run's network holding a checkpoint's weights, for inference (evaluation, registration, Grad-CAM). A checkpoint
 * restores weights and optimiser state together; the optimiser is only its vehicle here. Dispose the model.
 */
export async function restoredModel(db: StudioDB, zoo: Zoo, run: RunRecord, checkpoint: Checkpoint, data: { imageSize: number; channels: number; numClasses: number }, datasetStats: ChannelStats): Promise<BuiltModel> {
  const built = await buildModel(zoo, run.config, data, datasetStats, browserBackboneLoader(db), (entry) => loadTorchvisionState(entry, db));
  const optimizer = createOptimizer({ name: run.optimizer, learningRate: run.config.learningRate });
  try {
    await restoreCheckpoint(built.model, optimizer, checkpoint);
    return built;
  } catch (err) {
    built.model.dispose();
    throw err;
  } finally {
    optimizer.dispose();
  }
}
