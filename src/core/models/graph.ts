/**
 * Graph surgery on TF.js functional models: re-applying a model's layers to new inputs, either the same layer
 * objects (to share weights, as the split at the frozen boundary does) or fresh copies (to resize or cut a model).
 */
import * as tf from '@tensorflow/tfjs';
import { batchNormTraining } from './batchnorm-training';

type Layer = tf.layers.Layer;
type Kwargs = Parameters<Layer['call']>[1];
type BatchNormArgs = NonNullable<Parameters<typeof tf.layers.batchNormalization>[0]>;
type BatchNorm = ReturnType<typeof tf.layers.batchNormalization>;

/** What TF.js's BatchNormalization keeps in fields its typings declare private. */
interface BatchNormFields {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma: tf.LayerVariable | null;
  beta: tf.LayerVariable | null;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}

// TF.js's public API exports the factory, not the class; one throwaway instance (never built) gives the class.
const BatchNormalization = Object.getPrototypeOf(tf.layers.batchNormalization()).constructor as new (args: BatchNormArgs) => BatchNorm;

/**
 * BatchNormalization with Keras 2.x semantics: while the layer is not trainable it always runs in inference mode,
 * with its moving statistics, even inside a training step. TF.js's own BN follows only the `training` flag, so a
 * frozen backbone trained under a new head would normalise by batch statistics and overwrite its ImageNet moving
 * means, which is what ruins transfer learning on small batches. It serialises as a plain BatchNormalization.
 */
export class FreezableBatchNormalization extends BatchNormalization {
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const training = kwargs['training'] === true && this.trainable;
    // TF.js declares these fields private; they are plain properties of the layer.
    const bn = this as unknown as BatchNormFields;
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const channelsLast = bn.axis === -1 || bn.axis === input.rank - 1;
    if (!training || !channelsLast || !bn.gamma || !bn.beta) return super.call(inputs, { ...kwargs, training });
    // Training mode as TF.js's layer computes it, through one op with an analytic gradient (batchnorm-training.ts).
    return tf.tidy(() => {
      const { normed, mean, variance } = batchNormTraining(input, bn.gamma!.read() as tf.Tensor1D, bn.beta!.read() as tf.Tensor1D, bn.epsilon);
      try {
        for (const [moving, value] of [[bn.movingMean, mean], [bn.movingVariance, variance]] as const) {
          tf.tidy(() => {
            const previous = moving.read();
            moving.write(tf.sub(previous, tf.mul(tf.sub(previous, value), 1 - bn.momentum)));
          });
        }
      } finally {
        tf.dispose([mean, variance]);
      }
      return normed;
    });
  }
}

/**
 * Re-applies the layers that compute `target`, walking back until a tensor in `feeds` (keyed by the original
 * symbolic tensor's id); `layerFor` chooses the layer applied in place of each original one. Residual branches
 * (a tensor read twice) are computed once.
 */
export function reapply(
  target: tf.SymbolicTensor,
  feeds: ReadonlyMap<number, tf.SymbolicTensor>,
  layerFor: (layer: Layer, inputs: tf.SymbolicTensor[], originalInputs: tf.SymbolicTensor[]) => Layer,
): tf.SymbolicTensor {
  const done = new Map(feeds);
  const visit = (t: tf.SymbolicTensor): tf.SymbolicTensor => {
    const known = done.get(t.id);
    if (known) return known;
    if (t.inputs.length === 0) throw new Error(`graph input "${t.name}" is not fed: the requested part of the model does not start where expected`);
    const inputs = t.inputs.map(visit);
    const out = layerFor(t.sourceLayer, inputs, t.inputs).apply(inputs.length === 1 ? inputs[0] : inputs, { ...t.callArgs });
    if (Array.isArray(out)) throw new Error(`layer "${t.sourceLayer.name}" has several outputs, which model surgery does not support`);
    done.set(t.id, out as tf.SymbolicTensor);
    return out as tf.SymbolicTensor;
  };
  return visit(target);
}

export interface RebuildOptions {
  /** Square input size of the copy; the source's by default. */
  inputSize?: number;
  /** The layer whose output becomes the copy's output (cutting off what follows); the source's output by default. */
  outputLayer?: string;
  /**
   * Recompute asymmetric ZeroPadding2D as Keras's `correct_pad` does for the new size (MobileNetV2 pads a stride-2
   * convolution's input by (0,1) at even sizes and (1,1) at odd ones), so that a rebuilt model equals what Keras
   * builds for that input size.
   */
  kerasCorrectPad?: boolean;
  name?: string;
}

/**
 * A copy of `source` with fresh layers (same names and configs) holding the same weight values, optionally for
 * another input size and cut at an inner layer. The copy shares no variables with the source: either can be
 * trained or disposed without touching the other (the weight values are shared copy-on-write by TF.js).
 * BatchNormalization layers become FreezableBatchNormalization.
 */
export function rebuildModel(source: tf.LayersModel, opts: RebuildOptions = {}): tf.LayersModel {
  if (source.inputs.length !== 1 || source.outputs.length !== 1) throw new Error(`model "${source.name}" must have one input and one output to be rebuilt`);
  const oldInput = source.inputs[0];
  const [, h, w, c] = oldInput.shape;
  if (h == null || w == null || c == null || oldInput.shape.length !== 4) throw new Error(`model "${source.name}" must take images of a fixed size (input shape ${JSON.stringify(oldInput.shape)})`);
  const size = opts.inputSize;
  const input = tf.input({ shape: size == null ? [h, w, c] : [size, size, c], name: oldInput.sourceLayer.name, dtype: oldInput.dtype });
  const target = opts.outputLayer == null ? source.outputs[0] : outputOf(source, opts.outputLayer);

  const copies = new Map<Layer, Layer>();
  try {
    const output = reapply(target, new Map([[oldInput.id, input]]), (layer, inputs, originalInputs) => {
      let copy = copies.get(layer);
      if (!copy) {
        copy = copyLayer(layer, inputs, originalInputs, opts.kerasCorrectPad ?? false);
        copies.set(layer, copy);
      }
      return copy;
    });
    for (const [original, copy] of copies) copy.setWeights(original.getWeights());
    return tf.model({ inputs: input, outputs: output, name: opts.name ?? source.name });
  } catch (e) {
    // The copies built so far hold freshly initialised weights.
    for (const copy of copies.values()) if (copy.built) copy.dispose();
    throw e;
  }
}
function outputOf(model: tf.LayersModel, layerName: string): tf.SymbolicTensor {
  const layer = model.layers.find((l) => l.name === layerName);
  if (!layer) throw new Error(`model "${model.name}" has no layer "${layerName}" to cut at`);
  if (layer.inboundNodes.length !== 1) throw new Error(`layer "${layerName}" is used ${layer.inboundNodes.length} times; cannot cut at it`);
  return layer.output as tf.SymbolicTensor;
}

function copyLayer(layer: Layer, inputs: tf.SymbolicTensor[], originalInputs: tf.SymbolicTensor[], kerasCorrectPad: boolean): Layer {
  const className = layer.getClassName();
  const config = layer.getConfig();
  if (className === 'BatchNormalization') return new FreezableBatchNormalization(config as BatchNormArgs);
  if (className === 'ZeroPadding2D' && kerasCorrectPad) {
    config['padding'] = correctPad(config['padding'] as number[][], originalInputs[0].shape, inputs[0].shape);
  }
  const registered = tf.serialization.SerializationMap.getMap().classNameMap[className];
  // Nested models (a Sequential wrapping a backbone, as Teachable Machine exports are) are not registered layers.
  if (!registered || 'layers' in layer) throw new Error(`layer "${layer.name}" (${className}) cannot be copied: save the inner functional model on its own`);
  const [cls, fromConfig] = registered;
  return fromConfig(cls, config) as Layer;
}

/** Keras's correct_pad((k//2 − (1 − size mod 2), k//2)) for the new size, when the padding follows that rule. */
function correctPad(padding: number[][], oldShape: tf.Shape, newShape: tf.Shape): number[][] {
  const [[top, bottom], [left, right]] = padding;
  const [, oldH, oldW] = oldShape as number[];
  const [, newH, newW] = newShape as number[];
  const isKeras = top === bottom - (1 - (oldH % 2)) && left === right - (1 - (oldW % 2));
  return isKeras
    ? [
        [bottom - (1 - (newH % 2)), bottom],
        [right - (1 - (newW % 2)), right],
      ]
    : padding;
}
