/**
 * Feature caching: with augmentation off, the frozen part of a classifier maps each image to the same activations
 * every epoch, so they are computed once and each epoch runs only the trainable part forward and backward.
 */
import * as tf from '@tensorflow/tfjs';
import { FreezableBatchNormalization, reapply } from './graph';

type Layer = tf.layers.Layer;

/** Layers whose output in a training step differs from inference even without trainable weights. */
const STOCHASTIC = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);

/** True when the layer computes the same function in training and in inference, and no step changes it. */
function isConstant(layer: Layer): boolean {
  if (layer.trainableWeights.length > 0 || STOCHASTIC.has(layer.getClassName())) return false;
  // A plain BatchNormalization normalises by batch statistics and updates its moving ones whenever it trains.
  return layer.getClassName() !== 'BatchNormalization' || layer instanceof FreezableBatchNormalization;
}

/**
 * The one tensor where the frozen part of `model` ends: every layer before it is constant (see isConstant) and it
 * is the only constant tensor the rest of the model reads. Parameter-free layers after the last frozen weights
 * (the head's global average pooling) fall on the frozen side, so a frozen MobileNet caches 1 × C features per
 * image rather than H × W × C. Null when nothing with weights is frozen.
 */
export function findFrozenBoundary(model: tf.LayersModel): tf.SymbolicTensor | null {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) throw new Error(`model "${model.name}" must have one input and one output to be split`);
  const constant = new Map<number, boolean>();
  const isConstantTensor = (t: tf.SymbolicTensor): boolean => {
    let known = constant.get(t.id);
    if (known === undefined) {
      known = t.inputs.length === 0 || (isConstant(t.sourceLayer) && t.inputs.every(isConstantTensor));
      constant.set(t.id, known);
    }
    return known;
  };
  const boundary = new Map<number, tf.SymbolicTensor>();
  const seen = new Set<number>();
  const visit = (t: tf.SymbolicTensor): void => {
    if (seen.has(t.id)) return;
    seen.add(t.id);
    if (isConstantTensor(t)) boundary.set(t.id, t);
    else t.inputs.forEach(visit);
  };
  const output = model.outputs[0];
  if (isConstantTensor(output)) throw new RangeError(`model "${model.name}" has nothing trainable`);
  visit(output);
  // A frozen tensor computed from another one the rest also reads, through single-input layers, is recomputed from
  // that one on the trainable side: ResNet's first unfrozen block pads the very tensor its shortcut reads.
  for (const t of [...boundary.values()]) {
    for (let s = t; s.inputs.length === 1; ) {
      s = s.inputs[0];
      if (boundary.has(s.id)) {
        boundary.delete(t.id);
        break;
      }
    }
  }
  if (boundary.size !== 1) throw new Error(`model "${model.name}" reads ${boundary.size} frozen tensors (${[...boundary.values()].map((t) => t.name).join(', ')}); a split needs exactly one`);
  const [tensor] = boundary.values();
  return holdsWeights(tensor) ? tensor : null;
}

/** Whether any layer computing `t` has weights, i.e. caching `t` saves more than a reshuffle of the input. */
function holdsWeights(t: tf.SymbolicTensor): boolean {
  const seen = new Set<number>();
  const stack = [t];
  while (stack.length > 0) {
    const s = stack.pop()!;
    if (seen.has(s.id)) continue;
    seen.add(s.id);
    if (s.inputs.length > 0 && s.sourceLayer.weights.length > 0) return true;
    stack.push(...s.inputs);
  }
  return false;
}

export interface FrozenSplit {
  /** Image → features, in inference mode; a view of the classifier's layers. */
  frozen: tf.LayersModel;
  /** Features → logits: the classifier's own trainable layers, so training it trains the classifier. */
  trainable: tf.LayersModel;
  /** One image's features. */
  featureShape: number[];
  /** Releases the split, never the classifier's weights (which the classifier's own dispose releases). */
  dispose(): void;
}

/**
 * Splits a classifier at its frozen boundary (see findFrozenBoundary): for `frozen` and `medical` just after the
 * backbone's global average pooling, for partial fine-tuning the input of the first unfrozen block. Re-split after
 * changing which layers train.
 */
export function splitAtFrozenBoundary(model: tf.LayersModel): FrozenSplit {
  const boundary = findFrozenBoundary(model);
  if (!boundary) throw new RangeError(`nothing with weights is frozen in "${model.name}": train the model itself`);
  const featureShape = boundary.shape.slice(1) as number[];
  // The frozen part is a view over existing tensors: building it applies no layer, so it takes no reference on
  // their weights, and it must not be disposed (that would release the classifier's weights).
  const frozen = tf.model({ inputs: model.inputs, outputs: boundary, name: `${model.name}_frozen` });
  const features = tf.input({ shape: featureShape, name: 'features' });
  // Re-applying the classifier's layers adds one reference to each, which the trainable part's dispose returns.
  const logits = reapply(model.outputs[0], new Map([[boundary.id, features]]), (layer) => layer);
  const trainable = tf.model({ inputs: features, outputs: logits, name: `${model.name}_trainable` });
  return { frozen, trainable, featureShape, dispose: () => void trainable.dispose() };
}

/** Images for computeFeatures: `batch(start, end)` builds images start..end−1 as a tensor that computeFeatures disposes. */
export interface ImageBatches {
  count: number;
  batch(start: number, end: number): tf.Tensor4D;
}

export interface CpuFeatures {
  /** `count` rows of `featureShape`, row-major. */
  data: Float32Array;
  featureShape: number[];
}

/**
 * Runs the frozen part once over every image, batch by batch, disposing each batch. `cpu` reads the features back
 * into one Float32Array (for large sets, or to keep GPU memory for training); `backend` keeps them as one tensor of
 * shape [count, ...featureShape] on the backend, owned by the caller.
 */
export interface FeatureOptions {
  batchSize: number;
  /** Hears the images done so far after each batch: a large folder's pass takes minutes before epoch 1. */
  onProgress?: (done: number, total: number) => void;
}
export async function computeFeatures(frozen: tf.LayersModel, images: ImageBatches, opts: FeatureOptions & { keep: 'cpu' }): Promise<CpuFeatures>;
export async function computeFeatures(frozen: tf.LayersModel, images: ImageBatches, opts: FeatureOptions & { keep: 'backend' }): Promise<tf.Tensor>;
export async function computeFeatures(frozen: tf.LayersModel, images: ImageBatches, { batchSize, keep, onProgress }: FeatureOptions & { keep: 'cpu' | 'backend' }): Promise<CpuFeatures | tf.Tensor> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size must be a positive whole number (got ${batchSize})`);
  if (images.count < 1) throw new RangeError('no images to compute features for');
  const featureShape = frozen.outputs[0].shape.slice(1) as number[];
  const perImage = featureShape.reduce((a, b) => a * b, 1);
  const data = keep === 'cpu' ? new Float32Array(images.count * perImage) : null;
  const parts: tf.Tensor[] = [];
  try {
    for (let start = 0; start < images.count; start += batchSize) {
      const end = Math.min(start + batchSize, images.count);
      const x = images.batch(start, end);
      let y: tf.Tensor;
      try {
        y = frozen.predict(x, { batchSize: end - start }) as tf.Tensor;
      } finally {
        x.dispose();
      }
      if (data) {
        try {
          data.set(await y.data(), start * perImage);
        } finally {
          y.dispose();
        }
      } else parts.push(y);
      onProgress?.(end, images.count);
    }
    if (data) return { data, featureShape };
    return parts.length === 1 ? parts.pop()! : tf.concat(parts);
  } finally {
    tf.dispose(parts);
  }
}
