import * as tf from '@tensorflow/tfjs';
import type { ChannelStats } from '../dataset/stats';
import { deriveSeed, mulberry32, shuffle } from '../random';
import type { EpochMetrics } from './types';

/** Images held as uint8 on the CPU; batches are uploaded and normalised on the backend, one at a time. */
export interface TensorDataset {
  images: Uint8Array;
  labels: Int32Array;
  imageSize: number;
  channels: number;
  numClasses: number;
}

export interface TrainerOptions {
  epochs: number;
  batchSize: number;
  seed: number;
  normalization: ChannelStats;
  onBatch?: (e: { epoch: number; batch: number; batchesPerEpoch: number; loss: number }) => void;
  onEpoch?: (m: EpochMetrics) => void | Promise<void>;
  /** Polled between batches: once true, the run stops after the batch in flight. */
  shouldStop?: () => boolean;
  /** Lets the host's event loop run between batches (to receive a cancel message). */
  yieldToHost?: () => Promise<void>;
}

export interface TrainResult {
  epochs: EpochMetrics[];
  best: { epoch: number; valAccuracy: number } | null;
  stopped: boolean;
}

/** Loss reads in flight before the loop waits for the oldest: keeps the GPU busy without letting it fall behind. */
const MAX_PENDING_READS = 2;

export function makeBatch(data: TensorDataset, indices: readonly number[], norm: ChannelStats): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const { imageSize: s, channels: c } = data;
  const stride = s * s * c;
  const raw = new Int32Array(indices.length * stride);
  const labels = new Int32Array(indices.length);
  indices.forEach((idx, k) => {
    raw.set(data.images.subarray(idx * stride, (idx + 1) * stride), k * stride);
    labels[k] = data.labels[idx];
  });
  return tf.tidy(() => {
    const mean = tf.tensor1d(norm.mean.map((m) => m * 255));
    const std = tf.tensor1d(norm.std.map((d) => d * 255));
    const x = tf.tensor4d(raw, [indices.length, s, s, c], 'int32').toFloat().sub(mean).div(std) as tf.Tensor4D;
    const y = tf.oneHot(tf.tensor1d(labels, 'int32'), data.numClasses).toFloat() as tf.Tensor2D;
    return { x, y };
  });
}

function batches(indices: readonly number[], size: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < indices.length; i += size) out.push(indices.slice(i, i + size));
  return out;
}

/** Sum of the loss and count of correct predictions over a split, in inference mode, read back once. */
async function evaluateSplit(model: tf.LayersModel, data: TensorDataset, indices: readonly number[], opts: TrainerOptions): Promise<{ loss: number; accuracy: number }> {
  let lossSum = tf.scalar(0);
  let correct = tf.scalar(0);
  for (const b of batches(indices, opts.batchSize)) {
    const { x, y } = makeBatch(data, b, opts.normalization);
    const [nextLoss, nextCorrect] = tf.tidy(() => {
      const logits = model.predict(x) as tf.Tensor2D;
      const loss = tf.losses.softmaxCrossEntropy(y, logits, undefined, undefined, tf.Reduction.SUM);
      const hits = logits.argMax(1).equal(y.argMax(1)).sum();
      return [lossSum.add(loss), correct.add(hits)];
    });
    tf.dispose([x, y, lossSum, correct]);
    lossSum = nextLoss;
    correct = nextCorrect;
  }
  const [l, c] = await Promise.all([lossSum.data(), correct.data()]);
  tf.dispose([lossSum, correct]);
  return { loss: l[0] / indices.length, accuracy: c[0] / indices.length };
}

/**
 * The training loop: shuffled mini-batches, softmax cross-entropy on logits, per-batch loss read back
 * asynchronously (never a blocking read per step), per-epoch train/val loss and accuracy.
 */
export async function trainClassifier(model: tf.LayersModel, optimizer: tf.Optimizer, data: TensorDataset, split: { train: number[]; val: number[] }, opts: TrainerOptions): Promise<TrainResult> {
  if (split.train.length === 0) throw new RangeError('the training split is empty');
  if (split.val.length === 0) throw new RangeError('the validation split is empty: add images or raise the validation fraction');
  const epochs: EpochMetrics[] = [];
  let best: TrainResult['best'] = null;
  const batchesPerEpoch = Math.ceil(split.train.length / opts.batchSize);
  for (let epoch = 1; epoch <= opts.epochs; epoch++) {
    const started = performance.now();
    const order = shuffle([...split.train], mulberry32(deriveSeed(opts.seed, 'epoch', epoch)));
    let lossSum = tf.scalar(0);
    let correct = tf.scalar(0);
    let seen = 0;
    const pending: Promise<void>[] = [];
    const list = batches(order, opts.batchSize);
    for (let bi = 0; bi < list.length; bi++) {
      if (opts.shouldStop?.()) break;
      const { x, y } = makeBatch(data, list[bi], opts.normalization);
      let logits: tf.Tensor | null = null;
      const loss = optimizer.minimize(() => {
        const out = model.apply(x, { training: true }) as tf.Tensor2D;
        logits = tf.keep(out);
        return tf.losses.softmaxCrossEntropy(y, out) as tf.Scalar;
      }, true) as tf.Scalar;
      const step = logits as unknown as tf.Tensor2D;
      const [nextLoss, nextCorrect] = tf.tidy(() => [lossSum.add(loss.mul(list[bi].length)), correct.add(step.argMax(1).equal(y.argMax(1)).sum())]);
      tf.dispose([x, y, step, lossSum, correct]);
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
    }
    await Promise.all(pending);
    if (seen < split.train.length) {
      // Cancelled mid-epoch: the partial epoch is dropped rather than validated, so cancel takes effect at once.
      tf.dispose([lossSum, correct]);
      return { epochs, best, stopped: true };
    }
    const [l, c] = await Promise.all([lossSum.data(), correct.data()]);
    tf.dispose([lossSum, correct]);
    const trainSeconds = (performance.now() - started) / 1000;
    const val = await evaluateSplit(model, data, split.val, opts);
    const metrics: EpochMetrics = {
      epoch,
      trainLoss: l[0] / seen,
      trainAccuracy: c[0] / seen,
      valLoss: val.loss,
      valAccuracy: val.accuracy,
      seconds: (performance.now() - started) / 1000,
      imagesPerSecond: seen / trainSeconds,
    };
    epochs.push(metrics);
    if (!best || metrics.valAccuracy > best.valAccuracy) best = { epoch, valAccuracy: metrics.valAccuracy };
    await opts.onEpoch?.(metrics);
  }
  return { epochs, best, stopped: false };
}
