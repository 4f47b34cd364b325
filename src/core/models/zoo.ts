import { IMAGENET_STATS, type ChannelStats } from '../dataset/stats';
import type { OptimizerName } from '../train/optimizers';
import { ARCHITECTURES, type ArchitectureFamily } from './architectures/catalog';

/** `onnx`: a backbone the user imported from an ONNX file (models/onnx-import.ts), whatever its architecture. */
export type ModelFamily = 'simple_cnn' | 'mobilenet_v1' | 'mobilenet_v2' | 'xception' | ArchitectureFamily | 'onnx';

/** Where a model's architecture and weights come from. */
export type ModelSource =
  | { kind: 'builtin' }
  /** A TF.js layers model.json; `cutLayer` names the backbone's last layer when the file is a full classifier. */
  | { kind: 'url'; url: string; cutLayer?: string }
  /** Keras weights (`file` at the official `url`) for a network built in TF.js: models/keras-backbones.ts. */
  | { kind: 'keras-h5'; url: string; file: string }
  /** Imported from an ONNX file into the backbone cache, which is its only copy. */
  | { kind: 'imported'; file: string }
  /**
   * torchvision's ImageNet weights for a catalog architecture (a state_dict .pth, models/torch/): the official URL
   * and the first hex digits of its SHA-256, as torchvision names the file and checks it.
   */
  | { kind: 'torchvision'; architecture: string; url: string; sha256: string };

/**
 * `[-1,1]`: x/127.5 − 1, what the ImageNet MobileNets were trained on (their BatchNorm statistics assume it);
 * `dataset`: per-channel mean and std of the training split, for models trained from scratch;
 * `fixed`: the mean and std (0..1 units) an imported backbone was trained with, e.g. ImageNet's for torchvision.
 */
export type Preprocessing = { scaling: '[-1,1]' | 'dataset' } | ({ scaling: 'fixed' } & ChannelStats);

export interface ZooEntry {
  /** Architecture, width and input size, e.g. `mobilenet_v2_0.35_224`; also the folder name under `public/models/`. */
  id: string;
  name: string;
  family: ModelFamily;
  /** The input size the weights were trained at; fully convolutional backbones can be rebuilt for another. */
  inputSize: number;
  channels: 3;
  /** Parameters of the backbone without a classifier head (approximate for the ones not checked here). */
  params: number;
  source: ModelSource;
  preprocessing: Preprocessing;
  defaults: { learningRate: number; batchSize: number; optimizer: OptimizerName };
}

const V1_BASE = 'https://storage.googleapis.com/tfjs-models/tfjs';
const V2_BASE = 'https://storage.googleapis.com/teachable-machine-models';
/** The last convolutional activation of MobileNet v1, where Teachable Machine and the TF.js tutorials cut it. */
export const MOBILENET_V1_CUT = 'conv_pw_13_relu';

/** The seed's transfer-learning recipe: AdamW, lr 1e-3, batch 32 (strategies may override; see strategies.ts). */
export const TRANSFER_DEFAULTS = { learningRate: 1e-3, batchSize: 32, optimizer: 'adamw' } as const;

// Alphas are spelled as in the official URLs: the v1 bucket uses 0.50 and 1.0, Teachable Machine's v2 one
// formats alpha with toFixed(2) (0.50, 1.00).
const V1: readonly [alpha: string, params: number][] = [
  ['0.25', 218_544],
  ['0.50', 829_536],
  ['0.75', 1_832_976],
  ['1.0', 3_228_864],
];
const V2: readonly [alpha: string, params: number][] = [
  ['0.35', 410_208],
  ['0.50', 706_224],
  ['0.75', 1_382_064],
  ['1.00', 2_257_984],
];
const SIZE = 224;
const XCEPTION_BASE = 'https://storage.googleapis.com/tensorflow/keras-applications/xception';
export const XCEPTION_FILE = 'xception_weights_tf_dim_ordering_tf_kernels_notop.h5';

/**
 * torchvision's IMAGENET1K_V1 weights (V2 of ResNet-50 is another recipe; V1 is the one the seed used). EfficientNet-B0's
 * file is the one torchvision ≥ 0.16.1 names: the file behind 0.14's name `…rwightman-3dd342df.pth` hashes to 7f5810bc…,
 * so torchvision renamed it (pytorch/vision#7744, #8064) and its old name fails the prefix check here as it did there.
 */
export const TORCHVISION_WEIGHTS: readonly { architecture: string; url: string }[] = [
  { architecture: 'resnet18', url: 'https://download.pytorch.org/models/resnet18-f37072fd.pth' },
  { architecture: 'resnet50', url: 'https://download.pytorch.org/models/resnet50-0676ba61.pth' },
  { architecture: 'efficientnet_b0', url: 'https://download.pytorch.org/models/efficientnet_b0_rwightman-7f5810bc.pth' },
  { architecture: 'vit_b16', url: 'https://download.pytorch.org/models/vit_b_16-c867db91.pth' },
  { architecture: 'swin_t', url: 'https://download.pytorch.org/models/swin_t-704ceda3.pth' },
  { architecture: 'swin_s', url: 'https://download.pytorch.org/models/swin_s-5e29d889.pth' },
];

/** The torchvision ImageNet backbones: `<architecture>_imagenet`, next to the same architecture from scratch. */
export const TORCHVISION_ZOO: readonly ZooEntry[] = TORCHVISION_WEIGHTS.map(({ architecture, url }) => {
  const a = ARCHITECTURES.find((x) => x.id === architecture)!;
  return {
    id: `${architecture}_imagenet`,
    name: `${a.name} (ImageNet, torchvision)`,
    family: a.family,
    inputSize: a.inputSize,
    channels: 3,
    params: a.params,
    source: { kind: 'torchvision', architecture, url, sha256: /-([0-9a-f]+)\.pth$/.exec(url)![1] },
    // What torchvision's weights were trained with.
    preprocessing: { scaling: 'fixed', mean: [...IMAGENET_STATS.mean], std: [...IMAGENET_STATS.std] },
    // The transfer recipe; the big transformers at the batch their from-scratch defaults fit in a laptop GPU.
    defaults: { ...TRANSFER_DEFAULTS, batchSize: a.defaults.batchSize },
  };
});

export const MODEL_ZOO: readonly ZooEntry[] = [
  {
    id: 'simple_cnn',
    name: 'Simple CNN (from scratch)',
    family: 'simple_cnn',
    inputSize: 64,
    channels: 3,
    // At 64 px with 4 classes: its flatten head grows with the input size and the class count.
    params: 14_452,
    source: { kind: 'builtin' },
    preprocessing: { scaling: 'dataset' },
    // Tuned on the demo phantoms: a from-scratch net with batch norm learns within a few epochs at these settings.
    defaults: { learningRate: 3e-3, batchSize: 8, optimizer: 'adam' },
  },
  ...V1.map(([alpha, params]): ZooEntry => ({
    id: `mobilenet_v1_${alpha}_${SIZE}`,
    name: `MobileNet v1 α ${alpha} (${SIZE})`,
    family: 'mobilenet_v1',
    inputSize: SIZE,
    channels: 3,
    params,
    source: { kind: 'url', url: `${V1_BASE}/mobilenet_v1_${alpha}_${SIZE}/model.json`, cutLayer: MOBILENET_V1_CUT },
    preprocessing: { scaling: '[-1,1]' },
    defaults: TRANSFER_DEFAULTS,
  })),
  ...V2.map(([alpha, params]): ZooEntry => ({
    id: `mobilenet_v2_${alpha}_${SIZE}`,
    name: `MobileNet v2 α ${alpha} (${SIZE})`,
    family: 'mobilenet_v2',
    inputSize: SIZE,
    channels: 3,
    params,
    source: { kind: 'url', url: `${V2_BASE}/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_${alpha}_${SIZE}_no_top/model.json` },
    preprocessing: { scaling: '[-1,1]' },
    defaults: TRANSFER_DEFAULTS,
  })),
  {
    id: 'xception',
    name: 'Xception (299)',
    family: 'xception',
    inputSize: 299,
    channels: 3,
    // keras.applications.Xception(include_top=False): 20,861,480 (22,910,480 with its 1000-class top).
    params: 20_861_480,
    source: { kind: 'keras-h5', url: `${XCEPTION_BASE}/${XCEPTION_FILE}`, file: XCEPTION_FILE },
    preprocessing: { scaling: '[-1,1]' },
    // The seed's Xception-Medical recipe: Adamax at lr 1e-3; batch 16, which a laptop GPU holds at 299 px.
    defaults: { learningRate: 1e-3, batchSize: 16, optimizer: 'adamax' },
  },
  // The seed's other architectures (ResNet, EfficientNet, ViT, Swin), trained from scratch: architectures/catalog.ts.
  ...ARCHITECTURES.map((a): ZooEntry => ({ id: a.id, name: a.name, family: a.family, inputSize: a.inputSize, channels: 3, params: a.params, source: { kind: 'builtin' }, preprocessing: { scaling: 'dataset' }, defaults: a.defaults })),
  ...TORCHVISION_ZOO,
];

/**
 * The models one studio knows: the built-in ones (MODEL_ZOO) and the backbones a profile imported from ONNX files.
 * A value, never changed in place: whoever holds one (the engine, from its database; a Node script, from what it
 * was given) passes it to whatever looks a model up, and an import makes a new one (withImported).
 */
export class Zoo {
  private readonly imported: ReadonlyMap<string, ZooEntry>;

  /** Throws a RangeError for an entry that is not an imported backbone, or that takes a built-in model's id. */
  constructor(imported: readonly ZooEntry[] = []) {
    for (const entry of imported) {
      if (entry.source.kind !== 'imported') throw new RangeError(`"${entry.id}" is not an imported backbone`);
      if (MODEL_ZOO.some((e) => e.id === entry.id)) throw new RangeError(`"${entry.id}" is a built-in model's id; choose another`);
    }
    // A later entry of the same id wins, as a re-import replaces the stored one.
    this.imported = new Map(imported.map((e) => [e.id, e]));
  }

  /** This zoo with `entry` added, replacing an imported backbone of the same id; this one is left as it is. */
  withImported(entry: ZooEntry): Zoo {
    return new Zoo([...this.imported.values(), entry]);
  }

  /** The built-in models, then the imported backbones. */
  entries(): ZooEntry[] {
    return [...MODEL_ZOO, ...this.imported.values()];
  }

  has(id: string): boolean {
    return MODEL_ZOO.some((e) => e.id === id) || this.imported.has(id);
  }

  /** The model with this id; a RangeError that lists the known ids when there is none. */
  entry(id: string): ZooEntry {
    const entry = MODEL_ZOO.find((e) => e.id === id) ?? this.imported.get(id);
    if (!entry) throw new RangeError(`unknown model "${id}"; known: ${this.entries().map((e) => e.id).join(', ')}`);
    return entry;
  }
}

/** The built-in models alone: the zoo of code that has no profile's imported backbones (Node scripts, tests, bench). */
export const BUILTIN_ZOO = new Zoo();

/**
 * The normalisation the trainer applies to uint8 images for this model: [-1, 1] is mean 0.5, std 0.5 in the
 * 0..1 units of ChannelStats, so pretrained backbones go through the same batch code as the dataset-normalised CNN.
 */
export function normalizationFor(entry: ZooEntry, datasetStats: ChannelStats): ChannelStats {
  const p = entry.preprocessing;
  if (p.scaling === 'dataset') return datasetStats;
  if (p.scaling === 'fixed') return { mean: [...p.mean], std: [...p.std] };
  return { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
}
