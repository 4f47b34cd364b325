/**
 * TF.js builders of the catalog's architectures, as torchvision defines them (ResNet v1.5, EfficientNet-B0, ViT,
 * Swin v1), so that parameter counts match and an importer can map torchvision's weights layer by layer:
 * - Layer names follow torchvision's state_dict keys with `.` → `_` (ResNet: `layer1_0_conv1`; ViT:
 *   `encoder_layer_0_…`; Swin: `features_1_0_…`), or Keras's EfficientNet names.
 * - Strided convolutions pad symmetrically as PyTorch does (k//2 each side, explicit ZeroPadding2D then `valid`);
 *   TF's `same` pads bottom/right only at stride 2, which would shift every feature map by a pixel.
 * - Batch norm: PyTorch's momentum 0.1 (Keras 0.9) and ε 1e-5; layer norm ε 1e-6 (ViT) and 1e-5 (Swin).
 * - No dropout or stochastic depth (parameter-free): TF.js's dropout repeats one mask at every step when seeded and
 *   makes runs irreproducible when not (see simple_cnn.ts); for the short runs here, reproducibility wins.
 * Every model maps an image to logits; initial weights are seeded from `seed`.
 */
import * as tf from '@tensorflow/tfjs';
import { applyHead } from '../heads';
import { getArchitecture, inputSizeProblem, swinStages, type ResNetConfig, type SwinConfig, type VitConfig } from './catalog';
import { ClassTokenPositionEmbedding, MultiHeadSelfAttention, PatchMerging, WindowAttention } from './layers';

type T = tf.SymbolicTensor;

export interface ArchitectureOptions {
  imageSize: number;
  channels: number;
  numClasses: number;
  seed: number;
}

const apply = (layer: tf.layers.Layer, x: T | T[]): T => layer.apply(x) as T;

/** A fresh seed per initialiser, so that no two layers draw the same numbers. */
function seeds(seed: number): () => number {
  let k = 0;
  return () => seed + 101 * ++k;
}

interface ConvOptions {
  filters: number;
  kernel: number;
  stride?: number;
  name: string;
  seed: number;
  depthwise?: boolean;
  useBias?: boolean;
  activation?: 'swish' | 'sigmoid';
}

/** A convolution with PyTorch's padding (k//2 on each side); He initialisation over fan-out, as torchvision's. */
function conv(x: T, o: ConvOptions): T {
  const stride = o.stride ?? 1;
  const pad = Math.floor(o.kernel / 2);
  let input = x;
  // At stride 1 with an odd kernel, TF's `same` is exactly k//2 on each side.
  if (stride > 1 && pad > 0) input = apply(tf.layers.zeroPadding2d({ padding: pad, name: `${o.name}_pad` }), x);
  const padding = stride > 1 ? 'valid' : 'same';
  const init = tf.initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'normal', seed: o.seed });
  const common = { kernelSize: o.kernel, strides: stride, padding, useBias: o.useBias ?? false, activation: o.activation, name: o.name } as const;
  return apply(o.depthwise ? tf.layers.depthwiseConv2d({ ...common, depthwiseInitializer: init }) : tf.layers.conv2d({ ...common, filters: o.filters, kernelInitializer: init }), input);
}

const batchNorm = (x: T, name: string): T => apply(tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5, name }), x);
const act = (x: T, activation: 'relu' | 'swish' | 'sigmoid', name: string): T => apply(tf.layers.activation({ activation, name }), x);

function buildResNet({ block, layers }: ResNetConfig, input: T, next: () => number): T {
  let x = apply(tf.layers.zeroPadding2d({ padding: 3, name: 'conv1_pad' }), input);
  x = apply(tf.layers.conv2d({ filters: 64, kernelSize: 7, strides: 2, useBias: false, kernelInitializer: tf.initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'normal', seed: next() }), name: 'conv1' }), x);
  x = act(batchNorm(x, 'bn1'), 'relu', 'relu');
  // Zero padding equals PyTorch's −∞ padding here: the max-pool's input is a ReLU output, never below 0.
  x = apply(tf.layers.zeroPadding2d({ padding: 1, name: 'maxpool_pad' }), x);
  x = apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, name: 'maxpool' }), x);
  const expansion = block === 'basic' ? 1 : 4;
  let channels = 64;
  layers.forEach((count, s) => {
    const width = 64 * 2 ** s;
    for (let b = 0; b < count; b++) {
      const p = `layer${s + 1}_${b}`;
      const stride = s > 0 && b === 0 ? 2 : 1;
      let y: T;
      if (block === 'basic') {
        y = act(batchNorm(conv(x, { filters: width, kernel: 3, stride, name: `${p}_conv1`, seed: next() }), `${p}_bn1`), 'relu', `${p}_relu1`);
        y = batchNorm(conv(y, { filters: width, kernel: 3, name: `${p}_conv2`, seed: next() }), `${p}_bn2`);
      } else {
        // ResNet v1.5 (torchvision): the stride sits on the 3×3 convolution, not on the first 1×1.
        y = act(batchNorm(conv(x, { filters: width, kernel: 1, name: `${p}_conv1`, seed: next() }), `${p}_bn1`), 'relu', `${p}_relu1`);
        y = act(batchNorm(conv(y, { filters: width, kernel: 3, stride, name: `${p}_conv2`, seed: next() }), `${p}_bn2`), 'relu', `${p}_relu2`);
        y = batchNorm(conv(y, { filters: width * expansion, kernel: 1, name: `${p}_conv3`, seed: next() }), `${p}_bn3`);
      }
      let shortcut = x;
      if (stride !== 1 || channels !== width * expansion) {
        shortcut = apply(tf.layers.conv2d({ filters: width * expansion, kernelSize: 1, strides: stride, useBias: false, kernelInitializer: tf.initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'normal', seed: next() }), name: `${p}_downsample_0` }), x);
        shortcut = batchNorm(shortcut, `${p}_downsample_1`);
      }
      x = act(apply(tf.layers.add({ name: `${p}_add` }), [y, shortcut]), 'relu', `${p}_out`);
      channels = width * expansion;
    }
  });
  return x;
}

/** EfficientNet-B0's MBConv stages: expansion, kernel, stride, output channels, repeats (Tan & Le, table 1). */
const B0_STAGES: readonly [expand: number, kernel: number, stride: number, out: number, repeats: number][] = [
  [1, 3, 1, 16, 1],
  [6, 3, 2, 24, 2],
  [6, 5, 2, 40, 2],
  [6, 3, 2, 80, 3],
  [6, 5, 1, 112, 3],
  [6, 5, 2, 192, 4],
  [6, 3, 1, 320, 1],
];

function buildEfficientNetB0(input: T, next: () => number): T {
  let x = conv(input, { filters: 32, kernel: 3, stride: 2, name: 'stem_conv', seed: next() });
  x = act(batchNorm(x, 'stem_bn'), 'swish', 'stem_activation');
  let channels = 32;
  B0_STAGES.forEach(([expand, kernel, stride0, out, repeats], s) => {
    for (let r = 0; r < repeats; r++) {
      const p = `block${s + 1}${String.fromCharCode(97 + r)}`;
      const stride = r === 0 ? stride0 : 1;
      const expanded = channels * expand;
      let y = x;
      if (expand !== 1) y = act(batchNorm(conv(y, { filters: expanded, kernel: 1, name: `${p}_expand_conv`, seed: next() }), `${p}_expand_bn`), 'swish', `${p}_expand_activation`);
      y = act(batchNorm(conv(y, { filters: expanded, kernel, stride, depthwise: true, name: `${p}_dwconv`, seed: next() }), `${p}_bn`), 'swish', `${p}_activation`);
      // Squeeze-and-excitation from stock layers (Multiply broadcasts the 1×1 gate over the feature map); the
      // bottleneck is a quarter of the block's input channels.
      const squeezed = Math.max(1, Math.floor(channels / 4));
      let se = apply(tf.layers.globalAveragePooling2d({ name: `${p}_se_squeeze` }), y);
      se = apply(tf.layers.reshape({ targetShape: [1, 1, expanded], name: `${p}_se_reshape` }), se);
      se = conv(se, { filters: squeezed, kernel: 1, useBias: true, activation: 'swish', name: `${p}_se_reduce`, seed: next() });
      se = conv(se, { filters: expanded, kernel: 1, useBias: true, activation: 'sigmoid', name: `${p}_se_expand`, seed: next() });
      y = apply(tf.layers.multiply({ name: `${p}_se_excite` }), [y, se]);
      y = batchNorm(conv(y, { filters: out, kernel: 1, name: `${p}_project_conv`, seed: next() }), `${p}_project_bn`);
      x = stride === 1 && channels === out ? apply(tf.layers.add({ name: `${p}_add` }), [y, x]) : y;
      channels = out;
    }
  });
  return act(batchNorm(conv(x, { filters: 1280, kernel: 1, name: 'top_conv', seed: next() }), 'top_bn'), 'swish', 'top_activation');
}

/** Linear layers of the transformers: truncated normal with std 0.02 and zero biases (Swin's init; ViT's is close). */
const dense = (x: T, units: number, name: string, seed: number, extra: { activation?: 'gelu'; useBias?: boolean } = {}): T =>
  apply(tf.layers.dense({ units, name, kernelInitializer: tf.initializers.truncatedNormal({ stddev: 0.02, seed }), ...extra }), x);
const layerNorm = (x: T, epsilon: number, name: string): T => apply(tf.layers.layerNormalization({ epsilon, name }), x);

/** Pre-norm transformer MLP: Dense(mlp, GELU) → Dense(dim), added to its input. */
function mlpBlock(x: T, mlpDim: number, dim: number, p: string, epsilon: number, next: () => number): T {
  let y = layerNorm(x, epsilon, `${p}_ln_2`);
  y = dense(y, mlpDim, `${p}_mlp_0`, next(), { activation: 'gelu' });
  y = dense(y, dim, `${p}_mlp_3`, next());
  return apply(tf.layers.add({ name: `${p}_add_2` }), [x, y]);
}

function buildVit(c: VitConfig, input: T, size: number, next: () => number): T {
  const grid = size / c.patch;
  let x = apply(tf.layers.conv2d({ filters: c.dim, kernelSize: c.patch, strides: c.patch, kernelInitializer: tf.initializers.truncatedNormal({ stddev: 0.02, seed: next() }), name: 'conv_proj' }), input);
  x = apply(tf.layers.reshape({ targetShape: [grid * grid, c.dim], name: 'conv_proj_tokens' }), x);
  x = apply(new ClassTokenPositionEmbedding({ seed: next(), name: 'encoder_pos_embedding' }), x);
  for (let i = 0; i < c.depth; i++) {
    const p = `encoder_layer_${i}`;
    let y = layerNorm(x, 1e-6, `${p}_ln_1`);
    y = dense(y, 3 * c.dim, `${p}_self_attention_in_proj`, next());
    y = apply(new MultiHeadSelfAttention({ numHeads: c.heads, name: `${p}_self_attention` }), y);
    y = dense(y, c.dim, `${p}_self_attention_out_proj`, next());
    x = apply(tf.layers.add({ name: `${p}_add_1` }), [x, y]);
    x = mlpBlock(x, c.mlpDim, c.dim, p, 1e-6, next);
  }
  x = layerNorm(x, 1e-6, 'encoder_ln');
  // The class token's row: as an image of (tokens × 1), cropped to its first row (stock layers, so it serialises).
  let cls = apply(tf.layers.reshape({ targetShape: [grid * grid + 1, 1, c.dim], name: 'class_token_rows' }), x);
  cls = apply(tf.layers.cropping2D({ cropping: [[0, grid * grid], [0, 0]], name: 'class_token_crop' }), cls);
  return apply(tf.layers.flatten({ name: 'class_token' }), cls);
}

function buildSwin(c: SwinConfig, input: T, size: number, next: () => number): T {
  const stages = swinStages(c, size);
  if (typeof stages === 'string') throw new RangeError(stages);
  let x = apply(tf.layers.conv2d({ filters: c.dim, kernelSize: c.patch, strides: c.patch, kernelInitializer: tf.initializers.truncatedNormal({ stddev: 0.02, seed: next() }), name: 'features_0_0' }), input);
  x = apply(tf.layers.reshape({ targetShape: [stages[0].resolution ** 2, c.dim], name: 'features_0_1' }), x);
  x = layerNorm(x, 1e-5, 'features_0_2');
  let dim = c.dim;
  // torchvision's features: [patch embedding, stage 1, merging, stage 2, merging, …], numbered 0, 1, 2, …
  stages.forEach((stage, s) => {
    if (s > 0) {
      const p = `features_${2 * s}`;
      const r = stages[s - 1].resolution;
      x = apply(new PatchMerging({ resolution: [r, r], name: `${p}_merge` }), x);
      x = layerNorm(x, 1e-5, `${p}_norm`);
      dim *= 2;
      x = dense(x, dim, `${p}_reduction`, next(), { useBias: false });
    }
    for (let b = 0; b < c.depths[s]; b++) {
      const p = `features_${2 * s + 1}_${b}`;
      let y = layerNorm(x, 1e-5, `${p}_norm1`);
      y = dense(y, 3 * dim, `${p}_attn_qkv`, next());
      y = apply(new WindowAttention({ numHeads: c.heads[s], windowSize: stage.window, shiftSize: b % 2 === 1 ? stage.shift : 0, resolution: [stage.resolution, stage.resolution], seed: next(), name: `${p}_attn` }), y);
      y = dense(y, dim, `${p}_attn_proj`, next());
      x = apply(tf.layers.add({ name: `${p}_add_1` }), [x, y]);
      let m = layerNorm(x, 1e-5, `${p}_norm2`);
      m = dense(m, 4 * dim, `${p}_mlp_0`, next(), { activation: 'gelu' });
      m = dense(m, dim, `${p}_mlp_3`, next());
      x = apply(tf.layers.add({ name: `${p}_add_2` }), [x, m]);
    }
  });
  return layerNorm(x, 1e-5, 'norm');
}

function checkedArchitecture(id: string, imageSize: number) {
  const arch = getArchitecture(id);
  if (!arch) throw new RangeError(`"${id}" is not a built-in architecture`);
  const problem = inputSizeProblem(arch, imageSize);
  if (problem) throw new RangeError(problem);
  return arch;
}

function features(id: string, imageSize: number, channels: number, next: () => number): { input: T; features: T; kind: string } {
  const c = checkedArchitecture(id, imageSize).config;
  const input = tf.input({ shape: [imageSize, imageSize, channels], name: 'image' });
  const out = c.kind === 'resnet' ? buildResNet(c, input, next) : c.kind === 'efficientnet' ? buildEfficientNetB0(input, next) : c.kind === 'vit' ? buildVit(c, input, imageSize, next) : buildSwin(c, input, imageSize, next);
  return { input, features: out, kind: c.kind };
}

/**
 * A catalog architecture without its classifier, up to where torchvision's global pool begins (a pretrained
 * backbone): the CNNs' last feature map [h, w, c], Swin's normalised tokens [tokens, c] and ViT's class token [c].
 * A head's pooling (heads.ts) makes each a vector.
 */
export function buildArchitectureFeatures(id: string, { imageSize, channels, seed }: Omit<ArchitectureOptions, 'numClasses'>): tf.LayersModel {
  const { input, features: out } = features(id, imageSize, channels, seeds(seed));
  return tf.model({ inputs: input, outputs: out, name: id });
}

/**
 * Builds a catalog architecture at an input size (square images, any channel count) with a fresh classifier.
 * Throws a RangeError that names working sizes when the architecture cannot take `imageSize`.
 */
export function buildArchitecture(id: string, { imageSize, channels, numClasses, seed }: ArchitectureOptions): tf.LayersModel {
  checkedArchitecture(id, imageSize);
  if (!Number.isInteger(numClasses) || numClasses < 2) throw new RangeError(`a classifier needs at least 2 classes (got ${numClasses})`);
  const next = seeds(seed);
  const { input, features: x, kind } = features(id, imageSize, channels, next);
  // torchvision zero-initialises ViT's head; a zero head also starts every model at loss ln(n).
  const logits =
    kind === 'resnet' || kind === 'efficientnet' ? applyHead(x, 'linear', numClasses, next()) : apply(tf.layers.dense({ units: numClasses, kernelInitializer: 'zeros', name: 'logits' }), kind === 'swin' ? apply(tf.layers.globalAveragePooling1d({ name: 'head_pool' }), x) : x);
  return tf.model({ inputs: input, outputs: logits, name: id });
}
