/**
 * Will a training run fit? An estimate made before training from the model's shapes, compared with what the
 * browser reports about the device.
 */
import type * as tf from '@tensorflow/tfjs';
import type { OptimizerName } from '../train/optimizers';
import { hasInternalActivations } from './architectures/layers';

/** What a model costs, per run and per image in the batch, in float32 elements. */
export interface ModelFootprint {
  /** Every weight, trainable or not (batch-norm statistics too). */
  params: number;
  /** Weights that get gradients and optimiser slots. */
  trainableParams: number;
  /** Elements one image's forward pass leaves for the backward pass: each layer's outputs, plus attention internals. */
  activationsPerSample: number;
  /** The largest single tensor per image (a feature map or an attention score matrix). */
  largestPerSample: number;
}

const product = (dims: readonly (number | null)[]) => dims.reduce<number>((p, d) => p * (d ?? 1), 1);

/** Walks the model's layers and their output shapes (nothing is run). */
export function modelFootprint(model: tf.LayersModel): ModelFootprint {
  const count = (ws: tf.LayerVariable[]) => ws.reduce((s, w) => s + product(w.shape), 0);
  let activationsPerSample = 0;
  let largestPerSample = 0;
  for (const layer of model.layers) {
    for (const node of layer.inboundNodes) {
      for (const out of node.outputTensors) {
        // Per image: every dimension after the batch's.
        const n = product(out.shape.slice(1));
        activationsPerSample += n;
        largestPerSample = Math.max(largestPerSample, n);
      }
    }
    if (hasInternalActivations(layer)) {
      const inner = layer.internalActivationsPerSample();
      activationsPerSample += inner.total;
      largestPerSample = Math.max(largestPerSample, inner.largest);
    }
  }
  return { params: count(model.weights), trainableParams: count(model.trainableWeights), activationsPerSample, largestPerSample };
}

export const BYTES_PER_FLOAT = 4;

/**
 * Multipliers measured with tf.profile's peak bytes over real training steps on TF.js (tests/unit/memory.test.ts
 * keeps the estimate within a factor of 2 of the measurement; simple CNN, ViT-Ti and Swin nano fitted within 30 %).
 * TF.js frees the tensors a step creates only when the step's tidy ends, so the peak holds:
 * - per image, about ten times the layers' outputs: every op's output inside a layer (batch norm's centred and
 *   scaled copies, an activation before and after its function) and the gradient of each of them;
 * - per weight, about seven floats besides the weight itself: its gradient and the backward pass's temporaries
 *   (transposed and reshaped copies of kernels, partial sums).
 */
export const ACTIVATION_OVERHEAD = 10;
export const BACKWARD_OVERHEAD = 7;

/** Adam, AdamW and Adamax keep two slots per weight (m and v, or m and u); SGD with momentum one. */
export function optimizerSlots(name: OptimizerName): number {
  return name === 'sgd' ? 1 : 2;
}

/** What the browser reports about the device; either may be unknown. */
export interface MemoryBudget {
  /** All the memory training may use: `navigator.deviceMemory` (GiB, rounded down by the browser, capped at 8). */
  totalBytes: number | null;
  /** The largest buffer one tensor may occupy: WebGPU's min(maxBufferSize, maxStorageBufferBindingSize). */
  maxBufferBytes: number | null;
  /** Where the numbers came from, for the user. */
  source: string;
}

export interface MemoryEstimate {
  batchSize: number;
  weightsBytes: number;
  /** Gradients with the backward pass's temporaries. */
  gradientsBytes: number;
  optimizerBytes: number;
  activationsBytes: number;
  totalBytes: number;
  largestTensorBytes: number;
  budget: MemoryBudget;
  /** Null when the browser reports neither limit. */
  fits: boolean | null;
  /** The estimate and the budget in one line, for the train panel. */
  summary: string;
  /** Why the run will not fit, in words a person can act on. */
  warning: string | null;
  /** The largest power-of-two batch that fits, when the requested one does not (null: none does, or unknown). */
  suggestedBatchSize: number | null;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 || u === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

/**
 * Weights, their gradients and optimiser slots (once per run), plus the activations of a batch (per image), against
 * the budget: the total against the device's memory, the largest tensor against the largest GPU buffer.
 */
export function estimateTrainingMemory(fp: ModelFootprint, opts: { batchSize: number; optimizer: OptimizerName }, budget: MemoryBudget): MemoryEstimate {
  const weightsBytes = fp.params * BYTES_PER_FLOAT;
  const gradientsBytes = fp.trainableParams * BACKWARD_OVERHEAD * BYTES_PER_FLOAT;
  const optimizerBytes = fp.trainableParams * optimizerSlots(opts.optimizer) * BYTES_PER_FLOAT;
  const fixed = weightsBytes + gradientsBytes + optimizerBytes;
  const perSample = fp.activationsPerSample * ACTIVATION_OVERHEAD * BYTES_PER_FLOAT;
  const largestPerSample = fp.largestPerSample * BYTES_PER_FLOAT;
  const activationsBytes = perSample * opts.batchSize;
  const totalBytes = fixed + activationsBytes;
  const largestTensorBytes = largestPerSample * opts.batchSize;

  const reported = [
    budget.totalBytes !== null ? `${formatBytes(budget.totalBytes)} of device memory` : null,
    budget.maxBufferBytes !== null ? `GPU buffers up to ${formatBytes(budget.maxBufferBytes)}` : null,
  ].filter(Boolean);
  const summary =
    `about ${formatBytes(totalBytes)}: weights ${formatBytes(weightsBytes)}, gradients ${formatBytes(gradientsBytes)}, optimiser ${formatBytes(optimizerBytes)}, ` +
    `activations ${formatBytes(activationsBytes)} at batch ${opts.batchSize}; ${reported.length ? `the browser reports ${reported.join(' and ')} (${budget.source})` : `the browser reports no limits`}`;
  const estimate = { batchSize: opts.batchSize, weightsBytes, gradientsBytes, optimizerBytes, activationsBytes, totalBytes, largestTensorBytes, budget, summary };

  const limits: number[] = [];
  if (budget.totalBytes !== null) limits.push(Math.floor((budget.totalBytes - fixed) / perSample));
  if (budget.maxBufferBytes !== null) limits.push(Math.floor(budget.maxBufferBytes / largestPerSample));
  if (limits.length === 0) return { ...estimate, fits: null, warning: null, suggestedBatchSize: null };

  const maxBatch = Math.min(...limits);
  const fits = maxBatch >= opts.batchSize;
  const problems: string[] = [];
  if (budget.totalBytes !== null && totalBytes > budget.totalBytes) problems.push(`training needs about ${formatBytes(totalBytes)}, more than the ${formatBytes(budget.totalBytes)} this device reports`);
  if (budget.maxBufferBytes !== null && largestTensorBytes > budget.maxBufferBytes) problems.push(`its largest tensor (${formatBytes(largestTensorBytes)}) exceeds the largest GPU buffer (${formatBytes(budget.maxBufferBytes)})`);
  const suggestedBatchSize = fits || maxBatch < 1 ? null : 2 ** Math.floor(Math.log2(maxBatch));
  const warning = fits
    ? null
    : `At batch ${opts.batchSize}, ${problems.join(', and ')}. ${suggestedBatchSize ? `Try batch ${suggestedBatchSize}.` : 'Even batch 1 does not fit: choose a smaller model or image size.'}`;
  return { ...estimate, fits, warning, suggestedBatchSize };
}
