import * as tf from '@tensorflow/tfjs';
import { XCEPTION_MIN_SIZE } from './architectures/xception';
import { rebuildModel } from './graph';
import type { ZooEntry } from './zoo';

/**
 * Turns a backbone's location into something tf.loadLayersModel reads. Injected, because where weights come from
 * depends on the host: the worker tries a local folder (`public/models/<id>/` or an imported one), then the
 * IndexedDB cache, then the official URL; Node tests and the CLI read a folder on disk.
 */
export type BackboneLoader = (url: string, entry: ZooEntry) => tf.io.IOHandler | Promise<tf.io.IOHandler>;

/** Downloaded model artifacts kept by model id, so a backbone is fetched once. */
export interface BackboneCache {
  get(id: string): Promise<tf.io.ModelArtifacts | undefined>;
  put(id: string, artifacts: tf.io.ModelArtifacts): Promise<void>;
}

export interface Backbone {
  entry: ZooEntry;
  /** Image in ([-1, 1] scaled) → last convolutional activation; a functional model of plain layers. */
  model: tf.LayersModel;
  inputSize: number;
  /** One image's features: [height, width, channels] for CNNs; [tokens, channels] (Swin) or [channels] (ViT). */
  outputShape: number[];
}

export const MIN_INPUT_SIZE = 32;

export interface LoadBackboneOptions {
  /** Rebuild for this square input size (e.g. 299, or 32 in tests) with the same weights; the entry's by default. */
  inputSize?: number;
}

/**
 * Loads a pretrained backbone: cuts a full classifier at the entry's `cutLayer`, and always returns a rebuilt copy
 * (see rebuildModel) so that its BatchNorm layers follow Keras's frozen-means-inference rule and its size is the
 * requested one. The loaded model is disposed; the caller owns the result.
 */
export async function loadBackbone(entry: ZooEntry, { load }: { load: BackboneLoader }, opts: LoadBackboneOptions = {}): Promise<Backbone> {
  const { source } = entry;
  if (source.kind === 'builtin') throw new RangeError(`"${entry.id}" is built in, not a pretrained backbone`);
  if (source.kind === 'torchvision') throw new RangeError(`"${entry.id}" loads from a torchvision state_dict (models/torch/backbone.ts), not a TF.js model`);
  const inputSize = opts.inputSize ?? entry.inputSize;
  // Keras's minimum for MobileNets: five stride-2 stages take 32 px to 1×1; below that, later stages see only padding.
  // Xception: Keras's own minimum for it (min_size 71 in keras.applications).
  const min = entry.family === 'xception' ? XCEPTION_MIN_SIZE : MIN_INPUT_SIZE;
  if (!Number.isInteger(inputSize) || inputSize < min) throw new RangeError(`input size must be a whole number of at least ${min} for ${entry.name} (got ${inputSize})`);
  // An imported backbone lives only in the cache, under its id (the loader's cache answers first).
  const loaded = await tf.loadLayersModel(await load(source.kind === 'imported' ? `imported:${entry.id}` : source.url, entry));
  try {
    const model = rebuildModel(loaded, { inputSize, outputLayer: source.kind === 'url' ? source.cutLayer : undefined, kerasCorrectPad: entry.family === 'mobilenet_v2', name: entry.id });
    const shape = model.outputs[0].shape;
    const channels = model.inputs[0].shape[3];
    if (shape.length !== 4 || channels !== entry.channels) {
      model.dispose();
      throw new Error(`"${entry.id}" should map ${entry.channels}-channel images to feature maps; it maps ${JSON.stringify(model.inputs[0].shape)} to ${JSON.stringify(shape)}`);
    }
    return { entry, model, inputSize, outputShape: shape.slice(1) as number[] };
  } finally {
    loaded.dispose();
  }
}

/** Serves `cache` first; on a miss loads through `load` and stores what it got under the entry's id. */
export function withCache(load: BackboneLoader, cache: BackboneCache): BackboneLoader {
  return (url, entry) => ({
    async load() {
      const hit = await cache.get(entry.id);
      if (hit) return hit;
      const handler = await load(url, entry);
      if (!handler.load) throw new Error(`the loader for "${entry.id}" cannot load`);
      const artifacts = await handler.load();
      await cache.put(entry.id, artifacts);
      return artifacts;
    },
  });
}
