/**
 * Grad-CAM (Selvaraju et al., 2017): where in an image a class's score comes from. The class score's gradient with
 * respect to the last convolutional feature map A, averaged over space, weighs A's channels; the map is
 * ReLU(Σ_k w_k A_k), scaled to [0, 1] and resized to the input. Works on any of the studio's functional models.
 */
import * as tf from '@tensorflow/tfjs';
import { reapply } from '../models/graph';

export interface GradCamResult {
  /** Input height × width, row-major, in [0, 1] (all 0 when no part of the map raises the class score). */
  heatmap: Float32Array;
  height: number;
  width: number;
  /** The class the map explains. */
  classIndex: number;
  /** The model's outputs for the image (logits for the studio's models). */
  outputs: number[];
  /** The feature map's layer and its spatial size (a 1 × 1 map cannot localise anything). */
  layer: string;
  featureSize: [number, number];
}

/**
 * The feature map Grad-CAM reads: the output of the last layer (in graph order) whose output is a spatial map — a
 * 4-D tensor computed from the image through 4-D tensors (one path suffices: a squeeze-and-excitation branch
 * passes through a vector). That is the last convolution block before global pooling or flattening. A ViT's rows
 * of tokens are 4-D but come from tokens, so transformers fall back to their patch embedding.
 */
export function camLayer(model: tf.LayersModel): tf.layers.Layer {
  const spatial = new Map<number, boolean>();
  const isSpatial = (t: tf.SymbolicTensor): boolean => {
    let known = spatial.get(t.id);
    if (known === undefined) {
      known = t.shape.length === 4 && (t.inputs.length === 0 || t.inputs.some(isSpatial));
      spatial.set(t.id, known);
    }
    return known;
  };
  for (let i = model.layers.length - 1; i >= 0; i--) {
    const layer = model.layers[i];
    if (layer.getClassName() === 'InputLayer' || layer.inboundNodes.length !== 1) continue;
    if (isSpatial(layer.output as tf.SymbolicTensor)) return layer;
  }
  throw new RangeError(`model "${model.name}" has no convolutional feature map to explain`);
}

/**
 * Grad-CAM of one preprocessed image `[1, h, w, c]` for `classIndex` (the top class by default). Reads the model in
 * inference mode; every tensor it makes is released before it returns.
 */
export async function gradCam(model: tf.LayersModel, image: tf.Tensor4D, classIndex?: number): Promise<GradCamResult> {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) throw new RangeError(`model "${model.name}" must have one input and one output`);
  if (image.rank !== 4 || image.shape[0] !== 1) throw new RangeError(`Grad-CAM explains one image [1, h, w, c] at a time (got ${JSON.stringify(image.shape)})`);
  const layer = camLayer(model);
  const mapTensor = layer.output as tf.SymbolicTensor;
  const numClasses = model.outputs[0].shape[1] as number;
  if (classIndex !== undefined && !(Number.isInteger(classIndex) && classIndex >= 0 && classIndex < numClasses)) {
    throw new RangeError(`class index must be a whole number from 0 to ${numClasses - 1} (got ${classIndex})`);
  }
  // Image → feature map is a view of the model's own layers (never disposed: that would release its weights);
  // feature map → outputs re-applies the same layers, and its dispose returns the references that takes.
  const features = tf.model({ inputs: model.inputs, outputs: mapTensor });
  const fed = tf.input({ shape: mapTensor.shape.slice(1) as number[] });
  const head = tf.model({ inputs: fed, outputs: reapply(model.outputs[0], new Map([[mapTensor.id, fed]]), (l) => l) });
  const [, height, width] = image.shape;
  const [, fh, fw] = mapTensor.shape as number[];
  try {
    const a = features.predict(image) as tf.Tensor4D;
    try {
      const outputs = tf.tidy(() => head.predict(a) as tf.Tensor2D);
      const values = Array.from(await outputs.data());
      outputs.dispose();
      const cls = classIndex ?? values.indexOf(Math.max(...values));
      const cam = tf.tidy(() => {
        const score = (x: tf.Tensor) => (head.apply(x, { training: false }) as tf.Tensor2D).slice([0, cls], [1, 1]).sum();
        const grads = tf.grad(score)(a);
        const weights = grads.mean([1, 2], true);
        const raw = tf.relu(a.mul(weights).sum(-1, true)) as tf.Tensor4D;
        const max = raw.max();
        // A map that is 0 everywhere stays 0 (nothing in the image raises the score) rather than dividing by 0.
        const scaled = raw.div<tf.Tensor4D>(tf.maximum(max, 1e-12));
        return tf.image.resizeBilinear(scaled, [height, width], true).clipByValue(0, 1);
      });
      const heatmap = (await cam.data()) as Float32Array;
      cam.dispose();
      return { heatmap, height, width, classIndex: cls, outputs: values, layer: layer.name, featureSize: [fh, fw] };
    } finally {
      a.dispose();
    }
  } finally {
    head.dispose();
  }
}
