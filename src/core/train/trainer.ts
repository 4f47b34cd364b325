import * as tf from '@tensorflow/tfjs';
import type { ChannelStats } from '../dataset/stats';
import { augmentBatch } from '../image/augment';
import { isAugmentIdentity, validateAugmentConfig, type AugmentConfig } from '../settings/augment';
import { mirrorLeftRight } from '../inference/tta';
import { deriveSeed, mulberry32, shuffle } from '../random';
import type { BestCheckpoint, BestEpoch, EarlyStopping, EarlyStoppingState } from './callbacks';
import { clipByGlobalNorm } from './gradients';
import { softmaxCrossEntropyWithOptions, type CrossEntropyOptions } from './losses';
import { getLearningRate, setLearningRate } from './optimizers';
import type { LrScheduler, PlateauState } from './schedules';
import type { CompiledAhead, EpochMetrics, TestTimeAugmentation } from './types';

/** Images held as uint8 on the CPU; batches are uploaded and normalised on the backend, one at a time. */
export interface TensorDataset {
  images: Uint8Array;
  labels: Int32Array;
  imageSize: number;
  channels: number;
  numClasses: number;
}

export interface Batch {
  x: tf.Tensor;
  /** One-hot float labels [b, numClasses]. */
  y: tf.Tensor2D;
}

/** Where the loop gets its mini-batches from; it owns (and disposes) every batch it asks for. */
export interface BatchSource {
  readonly size: number;
  readonly numClasses: number;
  /**
   * 'images': x is [b, h, w, c] float pixels in [0, 255], which the loop augments and preprocesses.
   * 'features': x is already the model's input (e.g. cached backbone activations) and is used as it is.
   */
  readonly kind: 'images' | 'features';
  batch(indices: readonly number[]): Batch;
  /**
   * The same images mirrored left to right (what test-time augmentation averages with): the pixels flipped, or a
   * feature cache's rows of the mirrored images. Absent: a feature cache that holds no mirrored rows.
   */
  mirrored?(indices: readonly number[]): Batch;
}

function oneHot(labels: Int32Array, numClasses: number): tf.Tensor2D {
  return tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), numClasses).toFloat() as tf.Tensor2D);
}

function gatherLabels(labels: Int32Array, indices: readonly number[]): Int32Array {
  return Int32Array.from(indices, (i) => labels[i]);
}

/** The dataset's uint8 images, uploaded one batch at a time (as int32: TF.js has no uint8 tensors) and cast on the backend. */
export function imageBatchSource(data: TensorDataset): BatchSource {
  const { imageSize: s, channels: c } = data;
  const stride = s * s * c;
  const batch = (indices: readonly number[]): Batch => {
    const raw = new Int32Array(indices.length * stride);
    indices.forEach((idx, k) => raw.set(data.images.subarray(idx * stride, (idx + 1) * stride), k * stride));
    const x = tf.tidy(() => tf.tensor4d(raw, [indices.length, s, s, c], 'int32').toFloat());
    return { x, y: oneHot(gatherLabels(data.labels, indices), data.numClasses) };
  };
  return {
    size: data.labels.length,
    numClasses: data.numClasses,
    kind: 'images',
    batch,
    mirrored(indices) {
      const { x, y } = batch(indices);
      const flipped = mirrorLeftRight(x as tf.Tensor4D);
      x.dispose();
      return { x: flipped, y };
    },
  };
}

export interface FeatureDataset {
  /**
   * One row of features per image, [size, ...featureShape]. A tensor stays on the backend and batches are
   * gathered there (no upload per batch); the caller keeps ownership and disposes it after training.
   */
  features: tf.Tensor | Float32Array;
  featureShape: readonly number[];
  labels: Int32Array;
  numClasses: number;
  /** Where row i's mirrored image has its features (test-time augmentation), for the rows that have one. */
  mirrorRow?: (row: number) => number;
}

/** Precomputed features (e.g. a frozen backbone's output), so later epochs run only the trainable part. */
export function featureBatchSource(data: FeatureDataset): BatchSource {
  const rowSize = data.featureShape.reduce((a, b) => a * b, 1);
  const { features } = data;
  if (features instanceof Float32Array ? features.length !== data.labels.length * rowSize : features.shape[0] !== data.labels.length) {
    throw new RangeError('the features and the labels disagree on the number of images');
  }
  const source: BatchSource = {
    size: data.labels.length,
    numClasses: data.numClasses,
    kind: 'features',
    batch(indices) {
      const shape = [indices.length, ...data.featureShape];
      let x: tf.Tensor;
      if (features instanceof Float32Array) {
        const rows = new Float32Array(indices.length * rowSize);
        indices.forEach((idx, k) => rows.set(features.subarray(idx * rowSize, (idx + 1) * rowSize), k * rowSize));
        x = tf.tensor(rows, shape);
      } else {
        x = tf.tidy(() => tf.gather(features, tf.tensor1d([...indices], 'int32')));
      }
      return { x, y: oneHot(gatherLabels(data.labels, indices), data.numClasses) };
    },
  };
  const { mirrorRow } = data;
  return mirrorRow ? { ...source, mirrored: (indices) => source.batch(indices.map(mirrorRow)) } : source;
}

/** Maps a float pixel batch in [0, 255] to the model's input scale; called inside a tidy. */
export type Preprocess = (x: tf.Tensor4D) => tf.Tensor;

/** Per-channel standardisation with dataset statistics given on a [0, 1] scale (simple_cnn's input). */
export function normalizeWith(stats: ChannelStats): Preprocess {
  return (x) => tf.tidy(() => x.sub(tf.tensor1d(stats.mean.map((m) => m * 255))).div(tf.tensor1d(stats.std.map((d) => d * 255))));
}

/** [0, 255] → [−1, 1], the scaling the ImageNet MobileNets were trained with. */
export const scaleToSymmetric: Preprocess = (x) => tf.tidy(() => x.div(127.5).sub(1));

/** What a checkpoint stores, besides weights and optimiser state, to resume a run where it left off. */
export interface TrainerState {
  /** The last completed epoch (1-based); a resumed run starts at epoch + 1. */
  epoch: number;
  earlyStopping: EarlyStoppingState | null;
  best: BestEpoch | null;
  lrScheduler: PlateauState | null;
}

export type CheckpointKind = 'best' | 'periodic' | 'last';

export interface TrainerOptions {
  /** The last epoch to train (1-based, inclusive), also when resuming from `startEpoch`. */
  epochs: number;
  batchSize: number;
  seed: number;
  /** Image sources only: the default preprocessing, per-channel standardisation with these statistics. */
  normalization?: ChannelStats;
  /** Image sources only: the model's input scaling; overrides `normalization`. */
  preprocess?: Preprocess;
  /** Image sources only (cached features were computed without it); drawn per (seed, epoch, batch). */
  augment?: AugmentConfig;
  /** Sets the optimiser's rate before every step and hears every validated epoch. */
  lrScheduler?: LrScheduler;
  /** Clips gradients to this global L2 norm (the studio's configs default to 1.0); no clipping when absent. */
  clipNorm?: number;
  classWeights?: readonly number[];
  labelSmoothing?: number;
  earlyStopping?: EarlyStopping;
  /**
   * Called after each validated epoch, awaited: 'last' every epoch (the resume point, so a reload loses at most
   * one epoch), 'best' when `best` says so, 'periodic' every `best.everyEpochs`. `state` is what to store besides
   * the weights so that a resumed run continues exactly.
   */
  checkpoint?: { best: BestCheckpoint; save: (kind: CheckpointKind, epoch: number, metrics: EpochMetrics, state: TrainerState) => Promise<void> };
  /** 1-based; a resumed run passes its checkpoint's epoch + 1. */
  startEpoch?: number;
  onBatch?: (e: { epoch: number; batch: number; batchesPerEpoch: number; loss: number }) => void;
  onEpoch?: (m: EpochMetrics) => void | Promise<void>;
  /** Polled between batches: once true, the run stops after the batch in flight. */
  shouldStop?: () => boolean;
  /** Lets the host's event loop run between batches (to receive a cancel message). */
  yieldToHost?: () => Promise<void>;
  /**
   * Awaited between batches; a paused host returns a promise that settles on resume (or on cancel), after calling
   * `flush` (the loss reads in flight delivered as batch events) so that what it shows as paused holds still.
   */
  waitWhilePaused?: (flush: () => Promise<void>) => Promise<void>;
  /**
   * Every training image trains twice per epoch, as it is and mirrored left to right (the source's `mirrored`
   * batches: flipped pixels, or a feature cache's mirrored rows), in one shuffled order; an epoch takes twice the
   * steps. Off by default.
   */
  mirrorTraining?: boolean;
  /**
   * Validation answers as the trained model will (src/core/inference/tta.ts): `flip` averages the logits of each
   * image and its mirror, from the source's `mirrored` batches. `none` by default.
   */
  tta?: TestTimeAugmentation;
  /** Runs each validation pass (the engine moves it to the backend routed for forward work). */
  validateOn?: <T>(validate: () => Promise<T>) => Promise<T>;
  /**
   * Hears each epoch's predicted validation classes and logits (row-major), in `split.val` order, before the epoch's
   * checkpoints.
   */
  onValidation?: (epoch: number, predicted: Int32Array, logits: Float32Array) => void;
  /** Compiles the first step's kernels together before it runs (see CompileAhead); absent: as each first runs. */
  compileAhead?: CompileAhead;
}

/**
 * A backend's way to compile a step's kernels in parallel (the engine's for WebGPU: TF.js's compile-only pass). The
 * trainer traces its first step once through `compile`, with a scratch optimiser, then puts the weights back: the
 * trace's kernels are issued but never run, so what it writes (weights, moving statistics, optimiser state) is junk.
 */
export interface CompileAhead {
  /** Issues `trace`'s kernels without running them; settles once every one is compiled, with how many were new. */
  compile(trace: () => void): Promise<number>;
  /** A fresh optimiser of the run's kind, so the trace compiles its update; thrown away after the trace. */
  scratchOptimizer(): tf.Optimizer;
  onStart?(): void;
  onCompiled?(compiled: CompiledAhead): void;
}

export interface TrainResult {
  epochs: EpochMetrics[];
  best: { epoch: number; valAccuracy: number } | null;
  /** Cancelled through `shouldStop`. */
  stopped: boolean;
  /** Ended by early stopping before `epochs`. */
  earlyStopped: boolean;
}

/** Loss reads in flight before the loop waits for the oldest: keeps the GPU busy without letting it fall behind. */
const MAX_PENDING_READS = 2;

function batches(indices: readonly number[], size: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < indices.length; i += size) out.push(indices.slice(i, i + size));
  return out;
}

function isBatchSource(data: TensorDataset | BatchSource): data is BatchSource {
  return typeof (data as Partial<BatchSource>).batch === 'function';
}

/** The model's input for a batch: augmented (training only) and preprocessed images, or the features as they are. */
type InputFn = (x: tf.Tensor, augmentSeed: number | null) => tf.Tensor;

function inputFn(source: BatchSource, opts: TrainerOptions): InputFn {
  if (source.kind === 'features') {
    // Cached features were computed from un-augmented images; augmenting them is impossible, so asking is a bug.
    if (opts.augment && !isAugmentIdentity(opts.augment)) throw new RangeError('augmentation needs image batches: cached features are computed without it');
    return (x) => x.clone();
  }
  const preprocess = opts.preprocess ?? (opts.normalization && normalizeWith(opts.normalization));
  if (!preprocess) throw new RangeError('image batches need `preprocess` or `normalization`');
  const augment = opts.augment && !isAugmentIdentity(opts.augment) ? opts.augment : null;
  if (augment) validateAugmentConfig(augment);
  return (x, augmentSeed) =>
    tf.tidy(() => {
      const images = x as tf.Tensor4D;
      return preprocess(augment && augmentSeed !== null ? augmentBatch(images, augment, augmentSeed) : images);
    });
}

/**
 * Mean unweighted, unsmoothed cross-entropy, accuracy, the predicted classes and the logits (in `indices` order) over
 * a split, in inference mode, read back once. Class weights and smoothing shape the training objective only, so validation
 * losses compare across configurations.
 */
async function evaluateSplit(model: tf.LayersModel, source: BatchSource, input: InputFn, indices: readonly number[], batchSize: number, tta: TestTimeAugmentation): Promise<{ loss: number; accuracy: number; predicted: Int32Array; logits: Float32Array }> {
  if (tta === 'flip' && !source.mirrored) throw new RangeError('test-time mirroring needs the mirrored images: this feature cache holds none');
  let lossSum = tf.scalar(0);
  let correct = tf.scalar(0);
  const predicted: tf.Tensor1D[] = [];
  const outputs: tf.Tensor2D[] = [];
  for (const b of batches(indices, batchSize)) {
    const { x, y } = source.batch(b);
    const mirror = tta === 'flip' ? source.mirrored!(b) : null;
    const [nextLoss, nextCorrect, classes, logits] = tf.tidy(() => {
      const single = model.predict(input(x, null)) as tf.Tensor2D;
      const logits = mirror ? single.add(model.predict(input(mirror.x, null)) as tf.Tensor2D).div(2) : single;
      const loss = tf.losses.softmaxCrossEntropy(y, logits, undefined, undefined, tf.Reduction.SUM);
      const guess = logits.argMax(1) as tf.Tensor1D;
      const hits = guess.equal(y.argMax(1)).sum();
      return [lossSum.add(loss), correct.add(hits), guess, logits];
    });
    tf.dispose([x, y, lossSum, correct]);
    if (mirror) tf.dispose([mirror.x, mirror.y]);
    lossSum = nextLoss;
    correct = nextCorrect;
    predicted.push(classes as tf.Tensor1D);
    outputs.push(logits as tf.Tensor2D);
  }
  const all = tf.concat(predicted);
  const allLogits = tf.concat(outputs);
  const [l, c, p, z] = await Promise.all([lossSum.data(), correct.data(), all.data(), allLogits.data()]);
  tf.dispose([lossSum, correct, all, allLogits, ...predicted, ...outputs]);
  return { loss: l[0] / indices.length, accuracy: c[0] / indices.length, predicted: Int32Array.from(p), logits: Float32Array.from(z) };
}

/**
 * One optimiser step: gradients of the loss with respect to the model's trainable weights, optionally clipped by
 * global norm, then applied. Returns the loss and the logits (for accuracy), both the caller's to dispose.
 */
function trainStep(model: tf.LayersModel, optimizer: tf.Optimizer, x: tf.Tensor, y: tf.Tensor2D, lossOpts: CrossEntropyOptions, clipNorm: number | undefined): { loss: tf.Scalar; logits: tf.Tensor2D } {
  // Only this model's weights: with no list, TF.js differentiates every trainable variable alive in the engine.
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  let logits: tf.Tensor2D | null = null;
  const { value: loss, grads } = optimizer.computeGradients(() => {
    const out = model.apply(x, { training: true }) as tf.Tensor2D;
    logits = tf.keep(out);
    return softmaxCrossEntropyWithOptions(y, out, lossOpts);
  }, variables);
  if (clipNorm === undefined) {
    optimizer.applyGradients(grads);
  } else {
    const clipped = clipByGlobalNorm(grads, clipNorm);
    optimizer.applyGradients(clipped.grads);
    tf.dispose([clipped.norm, ...Object.values(clipped.grads)]);
  }
  tf.dispose(Object.values(grads));
  return { loss, logits: logits as unknown as tf.Tensor2D };
}

/** The epoch's summed loss and correct count after a step of `n` images (the step's trace compiles the same kernels). */
function epochTotals(lossSum: tf.Scalar, correct: tf.Scalar, step: { loss: tf.Scalar; logits: tf.Tensor2D }, y: tf.Tensor2D, n: number): [tf.Scalar, tf.Scalar] {
  return [lossSum.add(step.loss.mul(n)), correct.add(step.logits.argMax(1).equal(y.argMax(1)).sum())];
}

/**
 * Compiles a step ahead (see CompileAhead): `trace` runs the step with the given optimiser and returns the tensors it
 * leaves (kept ones included), which are disposed. The weights are copied first and written back after, whatever
 * happens, since the trace's updates point them at buffers no kernel filled.
 */
export async function compileStepAhead(ahead: CompileAhead, model: tf.LayersModel, trace: (optimizer: tf.Optimizer) => tf.Tensor[]): Promise<void> {
  const started = performance.now();
  ahead.onStart?.();
  // A clone shares the weight's buffer and keeps it alive when the trace's update points the weight elsewhere.
  const saved = model.weights.map((w) => w.read().clone());
  const optimizer = ahead.scratchOptimizer();
  let programs: number;
  try {
    programs = await ahead.compile(() => tf.tidy(() => void tf.dispose(trace(optimizer))));
  } finally {
    model.weights.forEach((w, k) => w.write(saved[k]));
    tf.dispose(saved);
    optimizer.dispose();
  }
  ahead.onCompiled?.({ programs, seconds: (performance.now() - started) / 1000 });
}

/**
 * What an epoch draws its batches from: the training images, or with mirrored training every image twice, as it is
 * (sample k for image k of `train`) and mirrored (sample n + k), shuffled together.
 */
function trainingBatches(source: BatchSource, train: readonly number[], mirrorTraining: boolean): { samples: readonly number[]; batch: (samples: readonly number[]) => Batch } {
  if (!mirrorTraining) return { samples: train, batch: (indices) => source.batch(indices) };
  const mirrored = source.mirrored;
  if (!mirrored) throw new RangeError('mirrored training needs the mirrored images: this feature cache holds none');
  const n = train.length;
  return {
    samples: Array.from({ length: 2 * n }, (_, k) => k),
    batch(samples) {
      const plain = samples.filter((k) => k < n).map((k) => train[k]);
      const flipped = samples.filter((k) => k >= n).map((k) => train[k - n]);
      const parts = [...(plain.length ? [source.batch(plain)] : []), ...(flipped.length ? [mirrored(flipped)] : [])];
      if (parts.length === 1) return parts[0];
      const joined = { x: tf.concat(parts.map((b) => b.x)), y: tf.concat(parts.map((b) => b.y)) as tf.Tensor2D };
      tf.dispose(parts.flatMap((b) => [b.x, b.y]));
      return joined;
    },
  };
}

/**
 * The training loop: shuffled mini-batches, softmax cross-entropy on logits, per-batch loss read back
 * asynchronously (never a blocking read per step), per-epoch train/val loss and accuracy, then the epoch's
 * callbacks (schedule, early stopping, checkpoints). Accepts the dataset's uint8 images or any BatchSource.
 */
export async function trainClassifier(model: tf.LayersModel, optimizer: tf.Optimizer, data: TensorDataset | BatchSource, split: { train: number[]; val: number[] }, opts: TrainerOptions): Promise<TrainResult> {
  if (split.train.length === 0) throw new RangeError('the training split is empty');
  if (split.val.length === 0) throw new RangeError('the validation split is empty: add images or raise the validation fraction');
  const startEpoch = opts.startEpoch ?? 1;
  if (!(Number.isInteger(startEpoch) && startEpoch >= 1)) throw new RangeError('the start epoch must be a whole number from 1');
  if (opts.clipNorm !== undefined && !(opts.clipNorm > 0)) throw new RangeError('the clipping norm must be positive');
  const source = isBatchSource(data) ? data : imageBatchSource(data);
  const input = inputFn(source, opts);
  const lossOpts: CrossEntropyOptions = { labelSmoothing: opts.labelSmoothing, classWeights: opts.classWeights };
  const epochs: EpochMetrics[] = [];
  const prior = opts.checkpoint?.best.best;
  let best: TrainResult['best'] = prior ? { epoch: prior.epoch, valAccuracy: prior.valAccuracy } : null;
  const fetch = trainingBatches(source, split.train, opts.mirrorTraining ?? false);
  const batchesPerEpoch = Math.ceil(fetch.samples.length / opts.batchSize);
  for (let epoch = startEpoch; epoch <= opts.epochs; epoch++) {
    const started = performance.now();
    const order = shuffle([...fetch.samples], mulberry32(deriveSeed(opts.seed, 'epoch', epoch)));
    let lossSum = tf.scalar(0);
    let correct = tf.scalar(0);
    let seen = 0;
    const pending: Promise<void>[] = [];
    const list = batches(order, opts.batchSize);
    for (let bi = 0; bi < list.length; bi++) {
      if (opts.shouldStop?.()) break;
      if (opts.lrScheduler) setLearningRate(optimizer, opts.lrScheduler.lrAt(epoch - 1, bi));
      const batch = fetch.batch(list[bi]);
      const augmentSeed = deriveSeed(opts.seed, 'augment', epoch, bi);
      // Inside the epoch's time: the first step takes what compiling ahead costs, as it took the compiling before.
      if (opts.compileAhead && epoch === startEpoch && bi === 0) {
        await compileStepAhead(opts.compileAhead, model, (optimizer) => {
          const traced = trainStep(model, optimizer, input(batch.x, augmentSeed), batch.y, lossOpts, opts.clipNorm);
          return [traced.loss, traced.logits, ...epochTotals(lossSum, correct, traced, batch.y, list[bi].length)];
        });
      }
      const x = input(batch.x, augmentSeed);
      batch.x.dispose();
      const { loss, logits } = trainStep(model, optimizer, x, batch.y, lossOpts, opts.clipNorm);
      const [nextLoss, nextCorrect] = tf.tidy(() => epochTotals(lossSum, correct, { loss, logits }, batch.y, list[bi].length));
      tf.dispose([x, batch.y, logits, lossSum, correct]);
      lossSum = nextLoss;
      correct = nextCorrect;
      seen += list[bi].length;
      const batchNo = bi + 1;
      pending.push(
        loss.data().then((v) => {
          loss.dispose();
          opts.onBatch?.({ epoch, batch: batchNo, batchesPerEpoch, loss: v[0] });
        }),
      );
      if (pending.length > MAX_PENDING_READS) await pending.shift();
      await opts.yieldToHost?.();
      // A pausing host flushes the loss reads in flight first, so the batches it reports stop moving at once.
      await opts.waitWhilePaused?.(async () => {
        await Promise.all(pending);
        pending.length = 0;
      });
    }
    await Promise.all(pending);
    if (seen < fetch.samples.length) {
      // Cancelled mid-epoch: the partial epoch is dropped rather than validated, so cancel takes effect at once.
      tf.dispose([lossSum, correct]);
      return { epochs, best, stopped: true, earlyStopped: false };
    }
    const [l, c] = await Promise.all([lossSum.data(), correct.data()]);
    tf.dispose([lossSum, correct]);
    const trainSeconds = (performance.now() - started) / 1000;
    const validate = () => evaluateSplit(model, source, input, split.val, opts.batchSize, opts.tta ?? 'none');
    const val = await (opts.validateOn ? opts.validateOn(validate) : validate());
    opts.onValidation?.(epoch, val.predicted, val.logits);
    const metrics: EpochMetrics = {
      epoch,
      trainLoss: l[0] / seen,
      trainAccuracy: c[0] / seen,
      valLoss: val.loss,
      valAccuracy: val.accuracy,
      seconds: (performance.now() - started) / 1000,
      imagesPerSecond: seen / trainSeconds,
      learningRate: getLearningRate(optimizer),
    };
    epochs.push(metrics);
    if (!best || metrics.valAccuracy > best.valAccuracy) best = { epoch, valAccuracy: metrics.valAccuracy };
    // Callbacks hear the epoch before the checkpoint is written, so the stored state already includes it.
    opts.lrScheduler?.endEpoch(metrics);
    const stop = opts.earlyStopping?.update(metrics).stop ?? false;
    if (opts.checkpoint) {
      const { best: tracker, save } = opts.checkpoint;
      const due = tracker.update(metrics);
      const state: TrainerState = { epoch, earlyStopping: opts.earlyStopping?.state() ?? null, best: tracker.best, lrScheduler: opts.lrScheduler?.state() ?? null };
      if (due.saveBest) await save('best', epoch, metrics, state);
      if (due.savePeriodic) await save('periodic', epoch, metrics, state);
      await save('last', epoch, metrics, state);
    }
    await opts.onEpoch?.(metrics);
    if (stop && epoch < opts.epochs) return { epochs, best, stopped: false, earlyStopped: true };
  }
  return { epochs, best, stopped: false, earlyStopped: false };
}
