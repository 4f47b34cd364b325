/**
 * The architectures the studio trains from scratch besides the simple CNN: their configurations, input-size rules
 * and training defaults, as plain data (no TF.js here: the zoo lists them, builders.ts builds them).
 */
import type { OptimizerName } from '../../train/optimizers';

export type ArchitectureFamily = 'resnet' | 'efficientnet' | 'vit' | 'swin';

export interface ResNetConfig {
  kind: 'resnet';
  block: 'basic' | 'bottleneck';
  /** Blocks per stage (torchvision's `layers`). */
  layers: [number, number, number, number];
}
export interface EfficientNetConfig {
  kind: 'efficientnet';
}
export interface VitConfig {
  kind: 'vit';
  patch: number;
  dim: number;
  depth: number;
  heads: number;
  mlpDim: number;
}
export interface SwinConfig {
  kind: 'swin';
  patch: number;
  /** Channels of the first stage; each patch merging doubles them. */
  dim: number;
  depths: number[];
  heads: number[];
  window: number;
}
export type ArchitectureConfig = ResNetConfig | EfficientNetConfig | VitConfig | SwinConfig;

export interface Architecture {
  id: string;
  name: string;
  family: ArchitectureFamily;
  config: ArchitectureConfig;
  /** The size the reference architecture is defined at (ImageNet's 224); others work within `inputSizeProblem`. */
  inputSize: number;
  /** Trainable parameters without the classifier (the zoo's convention), counted from the built model in the tests. */
  params: number;
  /** Channels of the features the classifier reads (its 1000-class head has features × 1000 + 1000 parameters). */
  features: number;
  defaults: { learningRate: number; batchSize: number; optimizer: OptimizerName };
}

// From-scratch defaults: AdamW with the seed's lr 1e-3 and batch 32 for the CNNs; transformers trained from scratch
// diverge at 1e-3 without a long warm-up, so they start at 1e-4 (the tiny ones, with few layers, at 5e-4), and the
// large ones at batch 16, which a laptop GPU holds at 224 px.
const CNN = { learningRate: 1e-3, batchSize: 32, optimizer: 'adamw' } as const;
const TRANSFORMER = { learningRate: 1e-4, batchSize: 16, optimizer: 'adamw' } as const;
const TINY_TRANSFORMER = { learningRate: 5e-4, batchSize: 32, optimizer: 'adamw' } as const;

export const ARCHITECTURES: readonly Architecture[] = [
  { id: 'resnet18', name: 'ResNet-18', family: 'resnet', config: { kind: 'resnet', block: 'basic', layers: [2, 2, 2, 2] }, inputSize: 224, params: 11_176_512, features: 512, defaults: CNN },
  { id: 'resnet50', name: 'ResNet-50', family: 'resnet', config: { kind: 'resnet', block: 'bottleneck', layers: [3, 4, 6, 3] }, inputSize: 224, params: 23_508_032, features: 2048, defaults: CNN },
  { id: 'efficientnet_b0', name: 'EfficientNet-B0', family: 'efficientnet', config: { kind: 'efficientnet' }, inputSize: 224, params: 4_007_548, features: 1280, defaults: CNN },
  { id: 'vit_b16', name: 'ViT-B/16', family: 'vit', config: { kind: 'vit', patch: 16, dim: 768, depth: 12, heads: 12, mlpDim: 3072 }, inputSize: 224, params: 85_798_656, features: 768, defaults: TRANSFORMER },
  // DeiT's small and tiny widths: the same encoder at 384 and 192 channels.
  { id: 'vit_s16', name: 'ViT-S/16 (small)', family: 'vit', config: { kind: 'vit', patch: 16, dim: 384, depth: 12, heads: 6, mlpDim: 1536 }, inputSize: 224, params: 21_665_664, features: 384, defaults: TRANSFORMER },
  { id: 'vit_ti16', name: 'ViT-Ti/16 (tiny)', family: 'vit', config: { kind: 'vit', patch: 16, dim: 192, depth: 12, heads: 3, mlpDim: 768 }, inputSize: 224, params: 5_524_416, features: 192, defaults: TINY_TRANSFORMER },
  { id: 'swin_t', name: 'Swin-T', family: 'swin', config: { kind: 'swin', patch: 4, dim: 96, depths: [2, 2, 6, 2], heads: [3, 6, 12, 24], window: 7 }, inputSize: 224, params: 27_519_354, features: 768, defaults: TRANSFORMER },
  { id: 'swin_s', name: 'Swin-S', family: 'swin', config: { kind: 'swin', patch: 4, dim: 96, depths: [2, 2, 18, 2], heads: [3, 6, 12, 24], window: 7 }, inputSize: 224, params: 48_837_258, features: 768, defaults: TRANSFORMER },
  // For laptops and small images: 2-pixel patches and 4×4 windows over three stages take any multiple of 32 px.
  { id: 'swin_nano', name: 'Swin nano (3 stages, window 4)', family: 'swin', config: { kind: 'swin', patch: 2, dim: 48, depths: [2, 2, 2], heads: [3, 6, 12], window: 4 }, inputSize: 64, params: 1_266_426, features: 192, defaults: TINY_TRANSFORMER },
];

export function getArchitecture(id: string): Architecture | undefined {
  return ARCHITECTURES.find((a) => a.id === id);
}

/** Keras's minimum for ImageNet CNNs: five stride-2 stages take 32 px to 1×1. */
export const MIN_CNN_INPUT = 32;

export interface SwinStage {
  /** Side of the stage's square token grid. */
  resolution: number;
  /** The window, clamped to the grid when the grid is smaller; a window covering the grid has nothing to shift. */
  window: number;
  shift: number;
}

/** Swin's stages at an input size, or why that size does not work (grid not divisible by the patch or window). */
export function swinStages(config: SwinConfig, size: number): SwinStage[] | string {
  if (size % config.patch !== 0) return `the image must split into ${config.patch}×${config.patch} patches`;
  const stages: SwinStage[] = [];
  let resolution = size / config.patch;
  for (let i = 0; i < config.depths.length; i++) {
    if (i > 0) {
      if (resolution % 2 !== 0) return `stage ${i + 1}'s patch merging needs an even grid (got ${resolution}×${resolution})`;
      resolution /= 2;
    }
    const window = Math.min(config.window, resolution);
    if (resolution % window !== 0) return `stage ${i + 1}'s ${resolution}×${resolution} grid does not split into ${window}×${window} windows`;
    stages.push({ resolution, window, shift: window >= resolution ? 0 : Math.floor(window / 2) });
  }
  return stages;
}

function problem(config: ArchitectureConfig, size: number): string | null {
  if (!Number.isInteger(size) || size < 1) return 'the input size must be a positive whole number';
  switch (config.kind) {
    case 'resnet':
    case 'efficientnet':
      return size < MIN_CNN_INPUT ? `its five stride-2 stages need at least ${MIN_CNN_INPUT} px` : null;
    case 'vit':
      return size % config.patch !== 0 ? `the image must split into ${config.patch}×${config.patch} patches` : null;
    case 'swin': {
      const stages = swinStages(config, size);
      return typeof stages === 'string' ? stages : null;
    }
  }
}

/** Null when `arch` can be built for square images of `size` px; otherwise a sentence naming sizes that work. */
export function inputSizeProblem(arch: Architecture, size: number): string | null {
  const why = problem(arch.config, size);
  if (why === null) return null;
  const near = Array.from({ length: 1024 }, (_, k) => k + 1)
    .filter((s) => problem(arch.config, s) === null)
    .sort((a, b) => Math.abs(a - size) - Math.abs(b - size) || a - b)
    .slice(0, 3)
    .sort((a, b) => a - b);
  return `${arch.name} cannot take ${size} px images: ${why}; sizes that work nearby: ${near.join(', ')} px`;
}
