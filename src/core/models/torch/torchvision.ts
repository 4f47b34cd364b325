/**
 * torchvision's state_dict → the catalog's TF.js architectures (architectures/builders.ts), layer by layer:
 * - Conv2d [out, in, kh, kw] → Conv2D [kh, kw, in, out]; a depthwise Conv2d [C, 1, kh, kw] → [kh, kw, C, 1];
 * - Linear [out, in] → Dense [in, out], including ViT's fused in_proj (rows [q | k | v], the layout the studio's
 *   attention layers split into heads) and Swin's qkv;
 * - BatchNorm2d weight, bias, running_mean, running_var → γ, β, moving mean, moving variance (ε 1e-5 in both);
 * - LayerNorm weight, bias → γ, β (ε: ViT 1e-6, Swin 1e-5, set by the builders as torchvision does);
 * - ViT's class_token and pos_embedding, Swin's relative_position_bias_table [(2w−1)², heads] as they are (the
 *   studio indexes the table in torchvision's order).
 * Buffers the studio recomputes (num_batches_tracked, Swin's relative_position_index) are read and ignored.
 */
import * as tf from '@tensorflow/tfjs';
import type { StateDict, TorchTensor } from './checkpoint';

type Transform = 'conv' | 'depthwise' | 'linear' | 'same';

interface Source {
  /** The key, and older spellings torchvision still loads (ViT's mlp.linear_1 before 0.13). */
  keys: string[];
  transform: Transform;
}

const plain = (key: string): Source => ({ keys: [key], transform: 'same' });
const bn = (p: string): Source[] => ['weight', 'bias', 'running_mean', 'running_var'].map((n) => plain(`${p}.${n}`));
const ln = (p: string): Source[] => [plain(`${p}.weight`), plain(`${p}.bias`)];
const conv = (p: string, bias = false, depthwise = false): Source[] => [{ keys: [`${p}.weight`], transform: depthwise ? 'depthwise' : 'conv' }, ...(bias ? [plain(`${p}.bias`)] : [])];
const linear = (p: string, bias = true, legacy?: string): Source[] => [
  { keys: [`${p}.weight`, ...(legacy ? [`${legacy}.weight`] : [])], transform: 'linear' },
  ...(bias ? [{ keys: [`${p}.bias`, ...(legacy ? [`${legacy}.bias`] : [])], transform: 'same' as const }] : []),
];

/** The torchvision sources of one TF.js layer's weights, in the layer's weight order; null for an unknown layer. */
type LayerMap = (name: string, className: string) => Source[] | null;

const resnet: LayerMap = (name, cls) => {
  if (name === 'logits') return linear('fc');
  const p = name.replace(/_/g, '.');
  if (cls === 'Conv2D') return conv(p);
  if (cls === 'BatchNormalization') return bn(p);
  return null;
};

/** Keras-named EfficientNet-B0 (block{stage}{letter}_…) → torchvision's features.{stage}.{index}.block.{k}. */
const efficientnet: LayerMap = (name) => {
  if (name === 'stem_conv') return conv('features.0.0');
  if (name === 'stem_bn') return bn('features.0.1');
  if (name === 'top_conv') return conv('features.8.0');
  if (name === 'top_bn') return bn('features.8.1');
  if (name === 'logits') return linear('classifier.1');
  const m = /^block(\d)([a-z])_(.+)$/.exec(name);
  if (!m) return null;
  const p = `features.${m[1]}.${m[2].charCodeAt(0) - 97}.block`;
  // Stage 1 has no expansion, so its modules number from 0 one step earlier.
  const k = m[1] === '1' ? -1 : 0;
  switch (m[3]) {
    case 'expand_conv':
      return conv(`${p}.0.0`);
    case 'expand_bn':
      return bn(`${p}.0.1`);
    case 'dwconv':
      return conv(`${p}.${1 + k}.0`, false, true);
    case 'bn':
      return bn(`${p}.${1 + k}.1`);
    case 'se_reduce':
      return conv(`${p}.${2 + k}.fc1`, true);
    case 'se_expand':
      return conv(`${p}.${2 + k}.fc2`, true);
    case 'project_conv':
      return conv(`${p}.${3 + k}.0`);
    case 'project_bn':
      return bn(`${p}.${3 + k}.1`);
  }
  return null;
};

const vit: LayerMap = (name) => {
  if (name === 'conv_proj') return conv('conv_proj', true);
  if (name === 'encoder_pos_embedding') return [plain('class_token'), plain('encoder.pos_embedding')];
  if (name === 'encoder_ln') return ln('encoder.ln');
  if (name === 'logits') return linear('heads.head');
  const m = /^encoder_layer_(\d+)_(.+)$/.exec(name);
  if (!m) return null;
  const p = `encoder.layers.encoder_layer_${m[1]}`;
  switch (m[2]) {
    case 'ln_1':
    case 'ln_2':
      return ln(`${p}.${m[2]}`);
    case 'self_attention_in_proj':
      return [
        { keys: [`${p}.self_attention.in_proj_weight`], transform: 'linear' },
        plain(`${p}.self_attention.in_proj_bias`),
      ];
    case 'self_attention_out_proj':
      return linear(`${p}.self_attention.out_proj`);
    case 'mlp_0':
      return linear(`${p}.mlp.0`, true, `${p}.mlp.linear_1`);
    case 'mlp_3':
      return linear(`${p}.mlp.3`, true, `${p}.mlp.linear_2`);
  }
  return null;
};

const swin: LayerMap = (name) => {
  if (name === 'features_0_0') return conv('features.0.0', true);
  if (name === 'features_0_2') return ln('features.0.2');
  if (name === 'norm') return ln('norm');
  if (name === 'logits') return linear('head');
  const merge = /^features_(\d+)_(norm|reduction)$/.exec(name);
  if (merge) return merge[2] === 'norm' ? ln(`features.${merge[1]}.norm`) : linear(`features.${merge[1]}.reduction`, false);
  const m = /^features_(\d+)_(\d+)_(.+)$/.exec(name);
  if (!m) return null;
  const p = `features.${m[1]}.${m[2]}`;
  switch (m[3]) {
    case 'norm1':
    case 'norm2':
      return ln(`${p}.${m[3]}`);
    case 'attn_qkv':
      return linear(`${p}.attn.qkv`);
    case 'attn_proj':
      return linear(`${p}.attn.proj`);
    case 'attn':
      return [plain(`${p}.attn.relative_position_bias_table`)];
    case 'mlp_0':
      return linear(`${p}.mlp.0`);
    case 'mlp_3':
      return linear(`${p}.mlp.3`);
  }
  return null;
};

const MAPS: Record<string, LayerMap> = { resnet18: resnet, resnet50: resnet, efficientnet_b0: efficientnet, vit_b16: vit, swin_t: swin, swin_s: swin };

/** The architectures whose torchvision weights load. */
export const TORCHVISION_ARCHITECTURES = Object.keys(MAPS);

/** Buffers torchvision saves that the studio recomputes from the architecture. */
const IGNORED = /(?:^|\.)(?:num_batches_tracked|relative_position_index)$/;
/** torchvision's classifier heads: unused (and so allowed) when the model has no 1000-class `logits` layer. */
const HEAD = /^(?:fc|classifier|heads|head)\./;

function transformedShape(shape: number[], t: Transform): number[] {
  switch (t) {
    case 'conv':
      return shape.length === 4 ? [shape[2], shape[3], shape[1], shape[0]] : shape;
    case 'depthwise':
      return shape.length === 4 ? [shape[2], shape[3], shape[0], shape[1]] : shape;
    case 'linear':
      return shape.length === 2 ? [shape[1], shape[0]] : shape;
    case 'same':
      return shape;
  }
}

function toTensor(t: TorchTensor, transform: Transform): tf.Tensor {
  return tf.tidy(() => {
    const x = tf.tensor(t.data!, t.shape, 'float32');
    switch (transform) {
      case 'conv':
        return x.transpose([2, 3, 1, 0]);
      case 'depthwise':
        return x.transpose([2, 3, 0, 1]);
      case 'linear':
        return x.transpose();
      case 'same':
        return x;
    }
  });
}

export class WeightMappingError extends Error {
  override name = 'WeightMappingError';
  constructor(
    readonly missing: string[],
    readonly extra: string[],
    readonly wrongShape: string[],
    architecture: string,
  ) {
    const parts = [
      missing.length ? `missing ${missing.length}: ${missing.join(', ')}` : '',
      wrongShape.length ? `wrong shape ${wrongShape.length}: ${wrongShape.join('; ')}` : '',
      extra.length ? `not in ${architecture} ${extra.length}: ${extra.join(', ')}` : '',
    ].filter(Boolean);
    super(`these weights do not fit torchvision's ${architecture}: ${parts.join(' — ')}`);
  }
}

/**
 * Sets every weight of `model` (a catalog architecture built by builders.ts, whole or cut before its classifier)
 * from a torchvision state_dict. Checks everything first and throws one WeightMappingError naming every key that is
 * missing, extra or of the wrong shape; the model is untouched then.
 */
export function loadTorchvisionWeights(model: tf.LayersModel, architecture: string, state: StateDict): void {
  const map = MAPS[architecture];
  if (!map) throw new RangeError(`"${architecture}" has no torchvision weights mapping; these do: ${TORCHVISION_ARCHITECTURES.join(', ')}`);
  const missing: string[] = [];
  const wrongShape: string[] = [];
  const used = new Set<string>();
  const plan: [tf.layers.Layer, [TorchTensor, Transform][]][] = [];
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const sources = map(layer.name, layer.getClassName());
    if (!sources || sources.length !== layer.weights.length) throw new Error(`the studio's ${architecture} layer "${layer.name}" (${layer.getClassName()}, ${layer.weights.length} weights) has no torchvision counterpart`);
    const values: [TorchTensor, Transform][] = [];
    sources.forEach((source, i) => {
      const key = source.keys.find((k) => state.has(k));
      if (!key) return missing.push(source.keys[0]);
      used.add(key);
      const t = state.get(key)!;
      const want = layer.weights[i].shape as number[];
      const got = transformedShape(t.shape, source.transform);
      if (t.data === null) wrongShape.push(`${key} holds integers, not floats`);
      else if (got.length !== want.length || got.some((d, j) => d !== want[j])) wrongShape.push(`${key} is ${JSON.stringify(t.shape)}, expected ${JSON.stringify(expectedTorchShape(want, source.transform))}`);
      else values.push([t, source.transform]);
    });
    plan.push([layer, values]);
  }
  const hasHead = model.layers.some((l) => l.name === 'logits');
  const extra = [...state.keys()].filter((k) => !used.has(k) && !IGNORED.test(k) && (hasHead || !HEAD.test(k)));
  if (missing.length || extra.length || wrongShape.length) throw new WeightMappingError(missing, extra, wrongShape, architecture);
  for (const [layer, values] of plan) {
    const tensors = values.map(([t, transform]) => toTensor(t, transform));
    try {
      layer.setWeights(tensors);
    } finally {
      tf.dispose(tensors);
    }
  }
}

/** The torchvision shape that would transform into `want` (for error messages). */
function expectedTorchShape(want: number[], t: Transform): number[] {
  switch (t) {
    case 'conv':
      return [want[3], want[2], want[0], want[1]];
    case 'depthwise':
      return [want[2], want[3], want[0], want[1]];
    case 'linear':
      return [want[1], want[0]];
    case 'same':
      return want;
  }
}
