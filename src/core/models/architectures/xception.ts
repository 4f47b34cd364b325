/**
 * Keras's Xception (keras.applications.xception, Chollet 2017) in TF.js layers, layer for layer, so that the
 * official ImageNet `.h5` loads by name (keras-h5.ts) and the network computes what Keras's does:
 * - entry flow: block1 (two plain 3×3 convolutions, `valid`), blocks 2–4 (two separable convolutions and a
 *   stride-2 max-pool, added to a strided 1×1 convolution of the block's input);
 * - middle flow: blocks 5–12 (three separable convolutions at 728 channels, added to the block's input);
 * - exit flow: block13 (as blocks 2–4, 728 → 1024) and block14 (separable 1536 and 2048, each with its ReLU).
 * Keras's defaults throughout: BatchNormalization momentum 0.99 and ε 1e-3, `same` padding except in block1,
 * Glorot-uniform kernels, no biases before a batch norm. Keras leaves the shortcut convolutions, their batch norms
 * and the additions unnamed; they are named here as a fresh tf.keras session names them (conv2d, conv2d_1, …,
 * batch_normalization…, add, add_1, …), which is also how the importer tells them apart.
 */
import * as tf from '@tensorflow/tfjs';

type T = tf.SymbolicTensor;

/** The size the ImageNet weights were trained at. */
export const XCEPTION_SIZE = 299;
/** Keras's `min_size` for Xception (obtain_input_shape): smaller images leave block14 without a 3×3 grid. */
export const XCEPTION_MIN_SIZE = 71;
/** The backbone's last layer (include_top=False, pooling=None); heads pool its 2048 channels. */
export const XCEPTION_OUTPUT = 'block14_sepconv2_act';

export interface XceptionOptions {
  inputSize?: number;
  /** Keras's `include_top`: global average pool + Dense(classes, softmax), ImageNet's 1000 classes by default. */
  includeTop?: boolean;
  classes?: number;
  /** Seeds the Glorot initialisers, so that two builds with one seed hold the same weights. */
  seed?: number;
}

export function buildXception({ inputSize = XCEPTION_SIZE, includeTop = false, classes = 1000, seed = 0 }: XceptionOptions = {}): tf.LayersModel {
  if (!Number.isInteger(inputSize) || inputSize < XCEPTION_MIN_SIZE) throw new RangeError(`Xception needs images of at least ${XCEPTION_MIN_SIZE} px (got ${inputSize})`);
  let k = 0;
  const init = () => tf.initializers.glorotUniform({ seed: seed + 101 * ++k });
  const apply = (layer: tf.layers.Layer, x: T | T[]): T => layer.apply(x) as T;
  const bn = (x: T, name: string) => apply(tf.layers.batchNormalization({ axis: -1, momentum: 0.99, epsilon: 1e-3, name }), x);
  const relu = (x: T, name: string) => apply(tf.layers.activation({ activation: 'relu', name }), x);
  const conv = (x: T, filters: number, kernel: number, stride: number, padding: 'valid' | 'same', name: string) =>
    apply(tf.layers.conv2d({ filters, kernelSize: kernel, strides: stride, padding, useBias: false, kernelInitializer: init(), name }), x);
  const sep = (x: T, filters: number, name: string) =>
    apply(tf.layers.separableConv2d({ filters, kernelSize: 3, padding: 'same', useBias: false, depthwiseInitializer: init(), pointwiseInitializer: init(), name }), x);
  const pool = (x: T, name: string) => apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name }), x);
  const suffix = (i: number) => (i === 0 ? '' : `_${i}`);
  let shortcuts = 0;
  let adds = 0;
  const add = (a: T, b: T) => apply(tf.layers.add({ name: `add${suffix(adds++)}` }), [a, b]);

  const input = tf.input({ shape: [inputSize, inputSize, 3], name: 'input_1' });
  let x = relu(bn(conv(input, 32, 3, 2, 'valid', 'block1_conv1'), 'block1_conv1_bn'), 'block1_conv1_act');
  x = relu(bn(conv(x, 64, 3, 1, 'valid', 'block1_conv2'), 'block1_conv2_bn'), 'block1_conv2_act');

  /** Blocks 2, 3, 4 and 13: two separable convolutions and a max-pool, plus a strided 1×1 shortcut. */
  const downsample = (x: T, block: number, filters1: number, filters2: number): T => {
    const s = suffix(shortcuts++);
    const shortcut = bn(conv(x, filters2, 1, 2, 'same', `conv2d${s}`), `batch_normalization${s}`);
    const p = `block${block}`;
    // Block 2 follows block1's ReLU directly; the others start with their own.
    let y = block === 2 ? x : relu(x, `${p}_sepconv1_act`);
    y = bn(sep(y, filters1, `${p}_sepconv1`), `${p}_sepconv1_bn`);
    y = bn(sep(relu(y, `${p}_sepconv2_act`), filters2, `${p}_sepconv2`), `${p}_sepconv2_bn`);
    return add(pool(y, `${p}_pool`), shortcut);
  };
  x = downsample(x, 2, 128, 128);
  x = downsample(x, 3, 256, 256);
  x = downsample(x, 4, 728, 728);
  for (let block = 5; block <= 12; block++) {
    let y = x;
    for (let i = 1; i <= 3; i++) y = bn(sep(relu(y, `block${block}_sepconv${i}_act`), 728, `block${block}_sepconv${i}`), `block${block}_sepconv${i}_bn`);
    x = add(y, x);
  }
  x = downsample(x, 13, 728, 1024);
  x = relu(bn(sep(x, 1536, 'block14_sepconv1'), 'block14_sepconv1_bn'), 'block14_sepconv1_act');
  x = relu(bn(sep(x, 2048, 'block14_sepconv2'), 'block14_sepconv2_bn'), XCEPTION_OUTPUT);
  if (includeTop) {
    x = apply(tf.layers.globalAveragePooling2d({ name: 'avg_pool' }), x);
    x = apply(tf.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: init(), name: 'predictions' }), x);
  }
  return tf.model({ inputs: input, outputs: x, name: 'xception' });
}
