/**
 * The layers TF.js does not have, written as serialisable custom layers (registered below, so a saved ViT, Swin or
 * imported ONNX backbone reloads with tf.loadLayersModel): the transformers' and the grouped convolution. Linear projections stay stock Dense layers around them: a per-token
 * Dense commutes with Swin's shift and window partition, so `Dense(3C) → WindowAttention → Dense(C)` computes what
 * torchvision's window attention does, and every weight an importer maps is a plain Dense kernel. The head layout
 * of the fused q/k/v projection is torchvision's: [q | k | v], each split into heads of C/heads channels.
 */
import * as tf from '@tensorflow/tfjs';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;
type DisposeResult = ReturnType<tf.layers.Layer['dispose']>;

const one = (inputs: tf.Tensor | tf.Tensor[]): tf.Tensor => (Array.isArray(inputs) ? inputs[0] : inputs);
const shapeOf = (s: tf.Shape | tf.Shape[]): tf.Shape => (Array.isArray(s[0]) ? (s[0] as tf.Shape) : (s as tf.Shape));

/**
 * Elements one image holds inside a layer besides its output (attention scores and probabilities, the transposed
 * q, k and v), which the training tape keeps for the backward pass, and the largest of them (one tensor must fit
 * one GPU buffer). The memory estimate adds them to the layer outputs.
 */
export interface InternalActivations {
  internalActivationsPerSample(): { total: number; largest: number };
}

export function hasInternalActivations(layer: unknown): layer is InternalActivations {
  return typeof (layer as Partial<InternalActivations>).internalActivationsPerSample === 'function';
}

/**
 * Scaled dot-product attention over q, k, v: [batch·windows, heads, n, d] each. `bias` (broadcast over the batch)
 * is added to the scores before the softmax.
 */
function attend(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, bias?: (scores: tf.Tensor) => tf.Tensor): tf.Tensor {
  const scale = 1 / Math.sqrt(q.shape[3]!);
  let scores = tf.matMul(q.mul(scale), k, false, true);
  if (bias) scores = bias(scores);
  return tf.matMul(tf.softmax(scores), v);
}

/** [b, n, 3C] → q, k, v of [b, heads, n, C/heads] (torchvision's fused in-projection layout). */
function splitHeads(qkv: tf.Tensor, heads: number): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const [b, n, c3] = qkv.shape as number[];
  const split = qkv.reshape([b, n, 3 * heads, c3 / 3 / heads]).transpose([0, 2, 1, 3]);
  return tf.split(split, 3, 1) as [tf.Tensor, tf.Tensor, tf.Tensor];
}

/** [b, heads, n, d] → [b, n, heads·d]. */
function mergeHeads(x: tf.Tensor): tf.Tensor {
  const [b, h, n, d] = x.shape as number[];
  return x.transpose([0, 2, 1, 3]).reshape([b, n, h * d]);
}

/** ViT's learnt class token, prepended to the patch tokens, and learnt position embedding: [b, n, d] → [b, n+1, d]. */
export class ClassTokenPositionEmbedding extends tf.layers.Layer {
  static readonly className = 'ClassTokenPositionEmbedding';
  private readonly seed: number | undefined;
  private classToken: tf.LayerVariable | null = null;
  private position: tf.LayerVariable | null = null;

  constructor(args: LayerArgs & { seed?: number }) {
    super(args);
    this.seed = args.seed;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const [, n, d] = shapeOf(inputShape) as number[];
    // torchvision: a zero class token and position embeddings drawn with std 0.02.
    this.classToken = this.addWeight('class_token', [1, 1, d], 'float32', tf.initializers.zeros());
    this.position = this.addWeight('pos_embedding', [1, n + 1, d], 'float32', tf.initializers.truncatedNormal({ stddev: 0.02, seed: this.seed }));
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [b, n, d] = shapeOf(inputShape);
    return [b, n == null ? null : n + 1, d];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = one(inputs);
      const token = tf.tile(this.classToken!.read(), [x.shape[0], 1, 1]);
      return tf.concat([token, x], 1).add(this.position!.read());
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...(this.seed === undefined ? {} : { seed: this.seed }) };
  }
}

/** Global multi-head self-attention on fused q/k/v: [b, n, 3C] → [b, n, C] (ViT's encoder, before out_proj). */
export class MultiHeadSelfAttention extends tf.layers.Layer implements InternalActivations {
  static readonly className = 'MultiHeadSelfAttention';
  readonly numHeads: number;

  constructor(args: LayerArgs & { numHeads: number }) {
    super(args);
    this.numHeads = args.numHeads;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const c3 = shapeOf(inputShape)[2];
    if (c3 == null || c3 % (3 * this.numHeads) !== 0) throw new Error(`${this.name}: ${c3} fused q/k/v channels do not split into 3 × ${this.numHeads} heads`);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [b, n, c3] = shapeOf(inputShape);
    return [b, n, c3 == null ? null : c3 / 3];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [q, k, v] = splitHeads(one(inputs), this.numHeads);
      return mergeHeads(attend(q, k, v));
    });
  }

  internalActivationsPerSample(): { total: number; largest: number } {
    const [, n, c3] = (this.input as tf.SymbolicTensor).shape as number[];
    const scores = this.numHeads * n * n;
    // Scores and probabilities, and the transposed q, k, v.
    return { total: 2 * scores + n * c3, largest: scores };
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), numHeads: this.numHeads };
  }
}

/**
 * The shifted-window attention mask (Swin, §3.2): after a cyclic shift, tokens that came from different regions of
 * the image share a window; they must not attend to each other. [windows, w², w²] of 0 and −100, as torchvision.
 */
export function shiftedWindowMask(height: number, width: number, window: number, shift: number): Float32Array {
  const region = new Int32Array(height * width);
  const band = (i: number, size: number) => (i < size - window ? 0 : i < size - shift ? 1 : 2);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) region[y * width + x] = band(y, height) * 3 + band(x, width);
  const perRow = width / window;
  const windows = (height / window) * perRow;
  const w2 = window * window;
  const mask = new Float32Array(windows * w2 * w2);
  for (let win = 0; win < windows; win++) {
    const y0 = Math.floor(win / perRow) * window;
    const x0 = (win % perRow) * window;
    const ids = Array.from({ length: w2 }, (_, t) => region[(y0 + Math.floor(t / window)) * width + x0 + (t % window)]);
    for (let i = 0; i < w2; i++) for (let j = 0; j < w2; j++) mask[(win * w2 + i) * w2 + j] = ids[i] === ids[j] ? 0 : -100;
  }
  return mask;
}

/**
 * For relative offsets along one axis: E[i·w + j, a] = 1 where a = i − j + w − 1. The bias of a token pair is
 * table[a_y, a_x] (torchvision's relative_position_index order), gathered as E·T·Eᵀ: two small matrix products
 * instead of a gather, whose gradient (UnsortedSegmentSum) the WASM backend lacks.
 */
export function relativeOffsetOneHot(window: number): Float32Array {
  const span = 2 * window - 1;
  const e = new Float32Array(window * window * span);
  for (let i = 0; i < window; i++) for (let j = 0; j < window; j++) e[(i * window + j) * span + (i - j + window - 1)] = 1;
  return e;
}

/** [b, H, W, c] → [b·windows, w², c], windows in row-major order (rank-4 transposes only, which every backend has). */
function partition(x: tf.Tensor, window: number): tf.Tensor {
  const [b, h, w, c] = x.shape as number[];
  return x
    .reshape([b * (h / window), window, w / window, window * c])
    .transpose([0, 2, 1, 3])
    .reshape([b * (h / window) * (w / window), window * window, c]);
}

function unpartition(x: tf.Tensor, b: number, h: number, w: number, window: number): tf.Tensor {
  const c = x.shape[2]!;
  return x
    .reshape([b * (h / window), w / window, window, window * c])
    .transpose([0, 2, 1, 3])
    .reshape([b, h, w, c]);
}

/** torch.roll over the two spatial axes of [b, H, W, c]. */
function roll(x: tf.Tensor, shift: number): tf.Tensor {
  const [, h, w] = x.shape as number[];
  const along = (t: tf.Tensor, axis: 1 | 2, size: number) => {
    const s = ((shift % size) + size) % size;
    if (s === 0) return t;
    const [head, tail] = tf.split(t, [size - s, s], axis);
    return tf.concat([tail, head], axis);
  };
  return along(along(x, 1, h), 2, w);
}

export interface WindowAttentionArgs extends LayerArgs {
  numHeads: number;
  windowSize: number;
  shiftSize: number;
  /** Height and width of the token grid; the layer's input is its tokens, row-major. */
  resolution: [number, number];
  seed?: number;
}

/**
 * Swin's (shifted) window attention with a learnt relative position bias, on fused q/k/v:
 * [b, H·W, 3C] → [b, H·W, C]. H and W must be multiples of the window (the builder checks the input size).
 */
export class WindowAttention extends tf.layers.Layer implements InternalActivations {
  static readonly className = 'WindowAttention';
  readonly numHeads: number;
  readonly windowSize: number;
  readonly shiftSize: number;
  readonly resolution: [number, number];
  private readonly seed: number | undefined;
  private table: tf.LayerVariable | null = null;
  // Constants of the layer's geometry, created once when it is built and released with it.
  private offsets: tf.Tensor2D | null = null;
  private mask: tf.Tensor | null = null;

  constructor(args: WindowAttentionArgs) {
    super(args);
    this.numHeads = args.numHeads;
    this.windowSize = args.windowSize;
    this.shiftSize = args.shiftSize;
    this.resolution = [args.resolution[0], args.resolution[1]];
    this.seed = args.seed;
    const [h, w] = this.resolution;
    if (h % this.windowSize !== 0 || w % this.windowSize !== 0) throw new Error(`${this.name}: a ${h}×${w} grid does not split into ${this.windowSize}×${this.windowSize} windows`);
    if (this.shiftSize < 0 || this.shiftSize >= this.windowSize) throw new Error(`${this.name}: shift ${this.shiftSize} must be below the window size ${this.windowSize}`);
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const [, l, c3] = shapeOf(inputShape);
    const [h, w] = this.resolution;
    if (l !== h * w) throw new Error(`${this.name}: expected ${h}×${w} = ${h * w} tokens, got ${l}`);
    if (c3 == null || c3 % (3 * this.numHeads) !== 0) throw new Error(`${this.name}: ${c3} fused q/k/v channels do not split into 3 × ${this.numHeads} heads`);
    const span = 2 * this.windowSize - 1;
    this.table = this.addWeight('relative_position_bias_table', [span * span, this.numHeads], 'float32', tf.initializers.truncatedNormal({ stddev: 0.02, seed: this.seed }));
    // Kept: build may run inside a tidy (a first call on real tensors), which would otherwise free them.
    this.offsets = tf.keep(tf.tensor2d(relativeOffsetOneHot(this.windowSize), [this.windowSize * this.windowSize, span]));
    if (this.shiftSize > 0) {
      const w2 = this.windowSize * this.windowSize;
      const windows = (h / this.windowSize) * (w / this.windowSize);
      this.mask = tf.keep(tf.tensor(shiftedWindowMask(h, w, this.windowSize, this.shiftSize), [windows, 1, w2, w2]));
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [b, l, c3] = shapeOf(inputShape);
    return [b, l, c3 == null ? null : c3 / 3];
  }

  /** The bias of every token pair in a window, per head: [heads, w², w²] (the ONNX export writes it as a constant). */
  relativePositionBias(): tf.Tensor {
    const win = this.windowSize;
    const span = 2 * win - 1;
    const heads = this.numHeads;
    const e = this.offsets!;
    // table [a_y, a_x, h] → E over a_y → [(y_i, y_j), a_x, h] → E over a_x → [(x_i, x_j), (y_i, y_j), h].
    const byY = tf.matMul(e, this.table!.read().reshape([span, span * heads])).reshape([win * win, span, heads]);
    const both = tf.matMul(e, byY.transpose([1, 0, 2]).reshape([span, win * win * heads]));
    return both.reshape([win, win, win, win, heads]).transpose([4, 2, 0, 3, 1]).reshape([heads, win * win, win * win]);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = one(inputs);
      const b = x.shape[0];
      const [h, w] = this.resolution;
      const win = this.windowSize;
      let grid = x.reshape([b, h, w, x.shape[2]!]);
      if (this.shiftSize > 0) grid = roll(grid, -this.shiftSize);
      const [q, k, v] = splitHeads(partition(grid, win), this.numHeads);
      const bias = this.relativePositionBias();
      const windows = (h / win) * (w / win);
      const out = attend(q, k, v, (scores) => {
        const biased = scores.add(bias);
        if (!this.mask) return biased;
        const [, heads, n] = biased.shape as number[];
        return biased.reshape([b, windows, heads, n, n]).add(this.mask).reshape([b * windows, heads, n, n]);
      });
      let merged = unpartition(mergeHeads(out), b, h, w, win);
      if (this.shiftSize > 0) merged = roll(merged, this.shiftSize);
      return merged.reshape([b, h * w, merged.shape[3]!]);
    });
  }

  internalActivationsPerSample(): { total: number; largest: number } {
    const [h, w] = this.resolution;
    const c3 = (this.input as tf.SymbolicTensor).shape[2]!;
    const n = this.windowSize * this.windowSize;
    const scores = ((h * w) / n) * this.numHeads * n * n;
    // Scores and probabilities of every window, plus the shifted, partitioned and transposed q/k/v copies.
    return { total: 2 * scores + 3 * h * w * c3, largest: scores };
  }

  override dispose(): DisposeResult {
    const result = super.dispose();
    if (result.refCountAfterDispose === 0) tf.dispose([this.offsets!, ...(this.mask ? [this.mask] : [])]);
    return result;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      numHeads: this.numHeads,
      windowSize: this.windowSize,
      shiftSize: this.shiftSize,
      resolution: this.resolution,
      ...(this.seed === undefined ? {} : { seed: this.seed }),
    };
  }
}

/**
 * Swin's patch merging, without its LayerNorm and reduction (stock layers follow): each 2×2 group of tokens is
 * concatenated, [b, H·W, C] → [b, H/2·W/2, 4C], in torchvision's order (0,0), (1,0), (0,1), (1,1) as (row, column).
 */
export class PatchMerging extends tf.layers.Layer {
  static readonly className = 'PatchMerging';
  readonly resolution: [number, number];

  constructor(args: LayerArgs & { resolution: [number, number] }) {
    super(args);
    this.resolution = [args.resolution[0], args.resolution[1]];
    const [h, w] = this.resolution;
    if (h % 2 !== 0 || w % 2 !== 0) throw new Error(`${this.name}: a ${h}×${w} grid cannot be merged 2×2`);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [b, , c] = shapeOf(inputShape);
    const [h, w] = this.resolution;
    return [b, (h / 2) * (w / 2), c == null ? null : 4 * c];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = one(inputs);
      const [b, , c] = x.shape as number[];
      const [h, w] = this.resolution;
      // [b·H/2, row in pair, W/2, (column in pair, c)]
      const pairs = x.reshape([b * (h / 2), 2, w / 2, 2 * c]);
      const pick = (row: number, col: number) => pairs.slice([0, row, 0, col * c], [-1, 1, -1, c]);
      return tf.concat([pick(0, 0), pick(1, 0), pick(0, 1), pick(1, 1)], 3).reshape([b, (h / 2) * (w / 2), 4 * c]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), resolution: this.resolution };
  }
}

/** Output side of a convolution: TF's `same` keeps ceil(in / stride), `valid` only whole windows. */
function convOutputSize(size: number | null, kernel: number, stride: number, dilation: number, padding: 'same' | 'valid'): number | null {
  if (size == null) return null;
  return padding === 'same' ? Math.ceil(size / stride) : Math.floor((size - (kernel - 1) * dilation - 1) / stride) + 1;
}

export interface GroupedConv2DArgs extends LayerArgs {
  filters: number;
  kernelSize: [number, number];
  groups: number;
  strides?: [number, number];
  dilationRate?: [number, number];
  padding?: 'same' | 'valid';
  useBias?: boolean;
}

/**
 * A grouped convolution (ONNX Conv with 1 < group < channels, e.g. ResNeXt), which TF.js's Conv2D lacks: the input
 * channels and the filters are split into `groups` equal parts and part g of the output sees only part g of the
 * input. Kernel [kh, kw, channels / groups, filters] (HWIO, the filters of group g contiguous), as one weight.
 */
export class GroupedConv2D extends tf.layers.Layer {
  static readonly className = 'GroupedConv2D';
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly groups: number;
  readonly strides: [number, number];
  readonly dilationRate: [number, number];
  readonly padding: 'same' | 'valid';
  readonly useBias: boolean;
  private kernel: tf.LayerVariable | null = null;
  private bias: tf.LayerVariable | null = null;

  constructor(args: GroupedConv2DArgs) {
    super(args);
    this.filters = args.filters;
    this.kernelSize = [args.kernelSize[0], args.kernelSize[1]];
    this.groups = args.groups;
    this.strides = args.strides ? [args.strides[0], args.strides[1]] : [1, 1];
    this.dilationRate = args.dilationRate ? [args.dilationRate[0], args.dilationRate[1]] : [1, 1];
    this.padding = args.padding ?? 'valid';
    this.useBias = args.useBias ?? true;
    if (this.filters % this.groups !== 0) throw new Error(`${this.name}: ${this.filters} filters do not split into ${this.groups} groups`);
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const channels = shapeOf(inputShape)[3];
    if (channels == null || channels % this.groups !== 0) throw new Error(`${this.name}: ${channels} input channels do not split into ${this.groups} groups`);
    const [kh, kw] = this.kernelSize;
    this.kernel = this.addWeight('kernel', [kh, kw, channels / this.groups, this.filters], 'float32', tf.initializers.heNormal({}));
    if (this.useBias) this.bias = this.addWeight('bias', [this.filters], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [b, h, w] = shapeOf(inputShape);
    const side = (size: number | null, d: number) => convOutputSize(size, this.kernelSize[d], this.strides[d], this.dilationRate[d], this.padding);
    return [b, side(h, 0), side(w, 1), this.filters];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const parts = tf.split(one(inputs), this.groups, 3) as tf.Tensor4D[];
      const kernels = tf.split(this.kernel!.read(), this.groups, 3) as tf.Tensor4D[];
      const y = tf.concat(parts.map((x, g) => tf.conv2d(x, kernels[g], this.strides, this.padding, 'NHWC', this.dilationRate)), 3);
      return this.bias ? y.add(this.bias.read()) : y;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const { filters, kernelSize, groups, strides, dilationRate, padding, useBias } = this;
    return { ...super.getConfig(), filters, kernelSize, groups, strides, dilationRate, padding, useBias };
  }
}

for (const cls of [ClassTokenPositionEmbedding, MultiHeadSelfAttention, WindowAttention, PatchMerging, GroupedConv2D]) tf.serialization.registerClass(cls);
