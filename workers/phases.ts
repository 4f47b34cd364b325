/**
 * Trains a run phase by phase (see src/core/train/phases.ts). Each phase unfreezes its blocks, takes a fresh
 * optimiser (or, resuming inside the phase, the checkpoint's), runs the schedule from its own rate and, with
 * augmentation off, caches the frozen part's activations once, so that each epoch runs only the trainable part
 * forward and backward: what makes partial fine-tuning practical without a fast GPU.
 */
import * as tf from '@tensorflow/tfjs';
import { computeFeatures, findFrozenBoundary, splitAtFrozenBoundary } from '../src/core/models/features';
import { setTrainableBlocks, type Classifier } from '../src/core/models/strategies';
import { restoreCheckpoint, type Checkpoint } from '../src/core/store/checkpoints';
import { BestCheckpoint, EarlyStopping, type EarlyStoppingOptions } from '../src/core/train/callbacks';
import { createOptimizer, type OptimizerName } from '../src/core/train/optimizers';
import { featureCachePlacement, phaseOf, phaseScheduler, type PlannedPhase } from '../src/core/train/phases';
import type { LrScheduleConfig } from '../src/core/train/schedules';
import { featureBatchSource, imageBatchSource, normalizeWith, trainClassifier, type BatchSource, type TensorDataset, type TrainerOptions, type TrainerState, type TrainResult, type CompileAhead } from '../src/core/train/trainer';
import type { FeatureCacheInfo } from '../src/core/train/types';

type Save = NonNullable<TrainerOptions['checkpoint']>['save'];
type Split = { train: number[]; val: number[] };

export interface PhasedTraining {
  /** The whole classifier: checkpoints capture it, whichever part a phase trains. */
  model: tf.LayersModel;
  /** A pretrained backbone's classifier, whose blocks phases unfreeze; null for a model trained from scratch. */
  classifier: Classifier | null;
  phases: PlannedPhase[];
  optimizer: OptimizerName;
  lrSchedule?: LrScheduleConfig;
  data: TensorDataset;
  split: Split;
  /** What every phase shares; epochs, schedule, early stopping and checkpoints are set per phase. */
  trainer: Omit<TrainerOptions, 'epochs' | 'startEpoch' | 'lrScheduler' | 'earlyStopping' | 'checkpoint' | 'compileAhead'>;
  /** Compiles each phase's first step ahead (its scratch optimiser is the phase's kind); absent: kernels compile as they run. */
  compileAhead?: Omit<CompileAhead, 'scratchOptimizer'>;
  /** null: no early stopping. */
  earlyStopping: EarlyStoppingOptions | null;
  saveEveryEpochs: number;
  /** Which epoch the `best` checkpoint holds (TrainConfig.keepEpoch). */
  keepEpoch: 'best' | 'last';
  /** Stores a checkpoint of `model` with the phase's optimiser (`best` tracks the run's best epoch); absent: none. */
  save?: (optimizer: tf.Optimizer, best: BestCheckpoint) => Save;
  resumeFrom: Checkpoint | null;
  /** Cache the frozen part's activations where a phase has a frozen part (never with augmentation). */
  cacheFeatures: boolean;
  /** Runs forward-only work (the frozen part's activations) on the backend routed for it; in place when absent. */
  onForward?: <T>(work: () => Promise<T>) => Promise<T>;
  /** Makes the backend routed for training the active one, before each phase trains. */
  onTrain?: () => Promise<void>;
  /** Hears the frozen part's pass over the images while it caches their activations (images done, of total). */
  onFeatureProgress?: (done: number, total: number) => void;
  /** Hears each phase as it starts, with its feature cache when it has one. */
  onPhase?: (phase: PlannedPhase, cache: FeatureCacheInfo | null) => void | Promise<void>;
}

interface FrozenCache {
  /** The classifier's layers after the frozen boundary: training it trains the classifier. */
  trainable: tf.LayersModel;
  source: BatchSource;
  /** The run's split, renumbered to rows of the cache. */
  split: Split;
  info: FeatureCacheInfo;
  dispose(): void;
}

/**
 * Runs the classifier's frozen part once over the training and validation images (the test split is never used
 * here) and keeps its activations where featureCachePlacement says: one tensor on the backend when it is small
 * enough to bind and leave the GPU room to train, else worker memory. Null when nothing with weights is frozen or
 * the cache would be too large for either.
 */
async function cacheFrozenPart(model: tf.LayersModel, data: TensorDataset, split: Split, trainer: PhasedTraining['trainer'], onProgress?: (done: number, total: number) => void): Promise<FrozenCache | null> {
  const boundary = findFrozenBoundary(model);
  if (!boundary) return null;
  const featureShape = boundary.shape.slice(1) as number[];
  // Mirrored images after the rest (see mirrorRow below): the validation images with test-time mirroring, the
  // training images with mirrored training.
  const mirroredVal = trainer.tta === 'flip' ? split.val : [];
  const mirroredTrain = trainer.mirrorTraining ? split.train : [];
  const rows = [...split.train, ...split.val, ...mirroredVal, ...mirroredTrain];
  const bytes = rows.length * featureShape.reduce((a, b) => a * b, 1) * 4;
  const keep = featureCachePlacement(bytes);
  if (!keep) return null;
  const parts = splitAtFrozenBoundary(model);
  let features: tf.Tensor | Float32Array | null = null;
  try {
    const started = performance.now();
    const images = imageBatchSource(data);
    const preprocess = trainer.preprocess ?? normalizeWith(trainer.normalization!);
    const unmirrored = split.train.length + split.val.length;
    const batches = {
      count: rows.length,
      batch: (start: number, end: number) =>
        tf.tidy(() => {
          // Rows from `unmirrored` on are images mirrored; a batch may hold rows of both parts.
          const parts = [];
          if (start < unmirrored) parts.push(images.batch(rows.slice(start, Math.min(end, unmirrored))));
          if (end > unmirrored) parts.push(images.mirrored!(rows.slice(Math.max(start, unmirrored), end)));
          const x = parts.length === 1 ? parts[0].x : tf.concat(parts.map((b) => b.x));
          return preprocess(x as tf.Tensor4D) as tf.Tensor4D;
        }),
    };
    if (keep === 'backend') {
      const onBackend = await computeFeatures(parts.frozen, batches, { batchSize: trainer.batchSize, keep, onProgress });
      features = onBackend;
      // The backend runs asynchronously: wait until the activations exist, so the time is the frozen part's.
      const probe = tf.tidy(() => onBackend.sum());
      await probe.data();
      probe.dispose();
    } else {
      features = (await computeFeatures(parts.frozen, batches, { batchSize: trainer.batchSize, keep, onProgress })).data;
    }
    const held = features;
    const nTrain = split.train.length;
    return {
      trainable: parts.trainable,
      source: featureBatchSource({
        features: held,
        featureShape,
        labels: Int32Array.from(rows, (i) => data.labels[i]),
        numClasses: data.numClasses,
        // Validation row nTrain + k is mirrored at row unmirrored + k, training row k at unmirrored + |mirroredVal| + k.
        // The trainer asks for validation mirrors only with test-time mirroring and for training mirrors only with
        // mirrored training, exactly the parts cached.
        ...(mirroredVal.length || mirroredTrain.length ? { mirrorRow: (row: number) => unmirrored + (row < nTrain ? mirroredVal.length + row : row - nTrain) } : {}),
      }),
      split: { train: split.train.map((_, k) => k), val: split.val.map((_, k) => nTrain + k) },
      info: { images: rows.length, seconds: (performance.now() - started) / 1000, keep, bytes, boundary: boundary.sourceLayer.name, featureShape },
      dispose: () => {
        if (held instanceof tf.Tensor) held.dispose();
        parts.dispose();
      },
    };
  } catch (err) {
    if (features instanceof tf.Tensor) features.dispose();
    parts.dispose();
    throw err;
  }
}

export async function trainInPhases(t: PhasedTraining): Promise<TrainResult> {
  const { model, phases, resumeFrom } = t;
  const startEpoch = resumeFrom ? resumeFrom.epoch + 1 : 1;
  const stepsPerEpoch = Math.ceil(((t.trainer.mirrorTraining ? 2 : 1) * t.split.train.length) / t.trainer.batchSize);
  const optimizerFor = (phase: PlannedPhase) => createOptimizer({ name: t.optimizer, learningRate: phase.learningRate });
  const last = phases[phases.length - 1];
  const total: TrainResult = { epochs: [], best: null, stopped: false, earlyStopped: false };
  let optimizer: tf.Optimizer | null = null;
  let restored: TrainerState | null = null;
  try {
    if (resumeFrom) {
      // The checkpoint holds the optimiser state of the phase it was written in, which carries on only if the run
      // resumes inside that phase; a run resuming at a phase's first epoch starts it afresh, as an unbroken run does.
      optimizer = optimizerFor(phaseOf(phases, resumeFrom.epoch) ?? last);
      restored = await restoreCheckpoint(model, optimizer, resumeFrom);
    }
    const best = new BestCheckpoint({ everyEpochs: t.saveEveryEpochs, keep: t.keepEpoch }, restored?.best ?? null);
    for (const phase of phases) {
      if (phase.toEpoch < startEpoch) continue;
      const inside = phase.fromEpoch < startEpoch;
      if (!inside || !optimizer) {
        // A fresh optimiser per phase, as Keras's fine-tuning recipe recompiles after unfreezing: moments gathered
        // for the head alone say nothing about the blocks just unfrozen, and TF.js's Adam and SGD pair their state
        // with variables by position, which a change of trainable set would scramble.
        optimizer?.dispose();
        optimizer = optimizerFor(phase);
      }
      if (phase.trainableBlocks !== null) {
        if (!t.classifier) throw new RangeError('only a pretrained backbone has blocks to unfreeze');
        setTrainableBlocks(t.classifier, phase.trainableBlocks);
      }
      const forward = t.onForward ?? ((work) => work());
      const cache = t.cacheFeatures ? await forward(() => cacheFrozenPart(model, t.data, t.split, t.trainer, t.onFeatureProgress)) : null;
      await t.onTrain?.();
      try {
        await t.onPhase?.(phase, cache?.info ?? null);
        const name = phase.name;
        const options: TrainerOptions = {
          ...t.trainer,
          epochs: phase.toEpoch,
          startEpoch: Math.max(phase.fromEpoch, startEpoch),
          lrScheduler: phaseScheduler(t.lrSchedule, phase, stepsPerEpoch, (inside && restored?.lrScheduler) || undefined),
          // Early stopping watches the last phase only: a linear probe always runs its epochs in full.
          earlyStopping: phase === last && t.earlyStopping ? new EarlyStopping(t.earlyStopping, (inside && restored?.earlyStopping) || undefined) : undefined,
          checkpoint: t.save ? { best, save: t.save(optimizer, best) } : undefined,
          onEpoch: name === null ? t.trainer.onEpoch : (m) => t.trainer.onEpoch?.({ ...m, phase: name }),
          ...(t.compileAhead ? { compileAhead: { ...t.compileAhead, scratchOptimizer: () => optimizerFor(phase) } } : {}),
        };
        const result = cache ? await trainClassifier(cache.trainable, optimizer, cache.source, cache.split, options) : await trainClassifier(model, optimizer, t.data, t.split, options);
        total.epochs.push(...result.epochs);
        if (result.best && !(total.best && total.best.valAccuracy >= result.best.valAccuracy)) total.best = result.best;
        if (result.stopped || result.earlyStopped) return { ...total, stopped: result.stopped, earlyStopped: result.earlyStopped };
      } finally {
        cache?.dispose();
      }
    }
    return total;
  } finally {
    optimizer?.dispose();
  }
}
