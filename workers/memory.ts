/** The memory estimate before training: the model's footprint (core) against what this browser reports. */
import * as tf from '@tensorflow/tfjs';
import type { ChannelStats } from '../src/core/dataset/stats';
import type { BackboneLoader } from '../src/core/models/backbone';
import type { Zoo } from '../src/core/models/zoo';
import { estimateTrainingMemory, modelFootprint, type MemoryBudget, type MemoryEstimate, type ModelFootprint } from '../src/core/models/memory';
import type { OptimizerName } from '../src/core/train/optimizers';
import type { BackendName, TrainConfig } from '../src/core/train/types';
import { buildModel } from './models';

/**
 * `navigator.deviceMemory` (GiB) for the total; on WebGPU, the device's buffer limits, which TF.js requests at the
 * adapter's maximum (so they are the adapter's `limits`).
 */
export function memoryBudget(backend: BackendName): MemoryBudget {
  const gib = (globalThis.navigator as (Navigator & { deviceMemory?: number }) | undefined)?.deviceMemory;
  const totalBytes = typeof gib === 'number' && gib > 0 ? gib * 2 ** 30 : null;
  const limits = backend === 'webgpu' ? (tf.backend() as unknown as { device?: GPUDevice }).device?.limits : undefined;
  const maxBufferBytes = limits ? Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize) : null;
  const source = [totalBytes !== null ? 'navigator.deviceMemory' : null, maxBufferBytes !== null ? 'WebGPU adapter limits' : null].filter(Boolean).join(' and ') || 'nothing (this browser reports no memory limits)';
  return { totalBytes, maxBufferBytes, source };
}

const NO_STATS: ChannelStats = { mean: [0, 0, 0], std: [1, 1, 1] };

/**
 * Builds the model once per (model, strategy, input shape, classes) to walk its shapes, then disposes it; a change
 * of batch size or optimiser reuses the footprint.
 */
export class MemoryEstimator {
  private readonly footprints = new Map<string, { footprint: ModelFootprint; optimizer: OptimizerName }>();

  async estimate(zoo: Zoo, cfg: TrainConfig, data: { imageSize: number; channels: number; numClasses: number }, load: BackboneLoader, backend: BackendName): Promise<MemoryEstimate> {
    const key = JSON.stringify([cfg.model, cfg.strategy ?? null, cfg.trainableBlocks ?? null, data.imageSize, data.channels, data.numClasses]);
    let known = this.footprints.get(key);
    if (!known) {
      const built = await buildModel(zoo, cfg, data, NO_STATS, load, 'shapes');
      try {
        known = { footprint: modelFootprint(built.model), optimizer: built.optimizer };
      } finally {
        built.model.dispose();
      }
      this.footprints.set(key, known);
    }
    return estimateTrainingMemory(known.footprint, { batchSize: cfg.batchSize, optimizer: cfg.optimizer ?? known.optimizer }, memoryBudget(backend));
  }
}
