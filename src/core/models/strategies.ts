import * as tf from '@tensorflow/tfjs';
import type { OptimizerName } from '../train/optimizers';
import type { Backbone } from './backbone';
import { rebuildModel } from './graph';
import { applyHead, HEAD_LAYERS, type HeadKind } from './heads';
import type { ModelFamily, ZooEntry } from './zoo';

/**
 * `frozen`: transfer learning, the backbone fixed and a linear head trained.
 * `medical`: the backbone fixed and the seed's Medical CNN head trained.
 * `mlp`: the backbone fixed and a Dense 100 ReLU head trained (Teachable Machine's head; the recommended recipe's).
 * `finetune`: the seed's Xception-Medical recipe: the whole network, or its last N blocks, trains.
 */
export type StrategyName = 'frozen' | 'medical' | 'mlp' | 'finetune';

export interface StrategyOptions {
  strategy: StrategyName;
  numClasses: number;
  seed: number;
  /** `finetune` only: how many of the backbone's last blocks train (`all` by default); 0 trains the head alone. */
  trainableBlocks?: number | 'all';
  /** `finetune` only: keep every BatchNorm layer frozen (inference statistics, fixed γ and β), safer with small batches. */
  freezeBatchNorm?: boolean;
}

/** A run of consecutive backbone layers that unfreeze together. */
export interface BackboneBlock {
  name: string;
  layers: string[];
}

export interface Classifier {
  /** Image → logits; the backbone's layers and the head's in one flat functional model. */
  model: tf.LayersModel;
  entry: ZooEntry;
  strategy: StrategyName;
  /** The backbone's blocks, input side first. */
  blocks: BackboneBlock[];
  headLayers: readonly string[];
}

/**
 * Training defaults per strategy, given the model's: fine-tuning uses the seed's Xception-Medical optimiser
 * (Adamax, lr 1e-3); the MLP head the plain recipe's Adam at 1e-3, batch 16, as measured in docs/quality.md; the other
 * head-only strategies keep the model's transfer defaults.
 */
export function strategyDefaults(entry: ZooEntry, strategy: StrategyName): { learningRate: number; batchSize: number; optimizer: OptimizerName } {
  if (strategy === 'finetune') return { ...entry.defaults, optimizer: 'adamax', learningRate: 1e-3 };
  if (strategy === 'mlp') return { optimizer: 'adam', learningRate: 1e-3, batchSize: 16 };
  return { ...entry.defaults };
}

/**
 * Builds backbone + head for a strategy, on a copy of the backbone (the backbone stays usable, e.g. for the next
 * run). Dispose the returned model when done.
 */
export function buildClassifier(backbone: Backbone, opts: StrategyOptions): Classifier {
  const { entry } = backbone;
  if (opts.strategy !== 'finetune' && (opts.trainableBlocks !== undefined || opts.freezeBatchNorm !== undefined)) {
    throw new RangeError(`trainableBlocks and freezeBatchNorm apply to finetune, not ${opts.strategy}`);
  }
  const blocks = listBlocks(backbone.model, entry.family);
  const kind: HeadKind = opts.strategy === 'medical' || opts.strategy === 'mlp' ? opts.strategy : 'linear';
  const base = rebuildModel(backbone.model, { name: entry.id });
  let model: tf.LayersModel | undefined;
  try {
    const logits = applyHead(base.outputs[0], kind, opts.numClasses, opts.seed);
    model = tf.model({ inputs: base.inputs, outputs: logits, name: `${entry.id}_${opts.strategy}` });
    const classifier: Classifier = { model, entry, strategy: opts.strategy, blocks, headLayers: HEAD_LAYERS[kind] };
    setTrainableBlocks(classifier, opts.strategy === 'finetune' ? (opts.trainableBlocks ?? 'all') : 0, opts.freezeBatchNorm ?? false);
    return classifier;
  } catch (e) {
    (model ?? base).dispose();
    throw e;
  }
}

/**
 * Makes the head and the backbone's last `count` blocks trainable and freezes the rest (frozen BatchNorm runs in
 * inference mode). Takes effect at the next step: the trainer's optimiser updates whatever is trainable then, and
 * its state is keyed by variable name, so unfreezing mid-run is safe.
 */
export function setTrainableBlocks(classifier: Classifier, count: number | 'all', freezeBatchNorm = false): void {
  const { blocks } = classifier;
  const n = count === 'all' ? blocks.length : count;
  if (!Number.isInteger(n) || n < 0 || n > blocks.length) throw new RangeError(`trainable blocks must be 0 to ${blocks.length} or "all" (got ${count})`);
  const unfrozen = new Set(blocks.slice(blocks.length - n).flatMap((b) => b.layers));
  const head = new Set(classifier.headLayers);
  for (const layer of classifier.model.layers) {
    const isBatchNorm = layer.getClassName() === 'BatchNormalization';
    layer.trainable = head.has(layer.name) || (unfrozen.has(layer.name) && !(freezeBatchNorm && isBatchNorm));
  }
}

const BLOCK_RULES: Partial<Record<ModelFamily, [RegExp, (m: RegExpMatchArray) => string][]>> = {
  // Keras MobileNet: conv1 (+ _bn, _relu), then depthwise/pointwise pairs conv_dw_k / conv_pw_k (+ conv_pad_k).
  mobilenet_v1: [
    [/^conv1(?:_|$)/, () => 'stem'],
    [/^conv_(?:dw|pw|pad)_(\d+)(?:_|$)/, (m) => `block_${m[1]}`],
  ],
  // Keras MobileNetV2: Conv1 (+ pad, bn, relu), expanded_conv_*, block_1_* … block_16_*, then Conv_1 → out_relu.
  mobilenet_v2: [
    [/^(?:bn_)?Conv1(?:_|$)/, () => 'stem'],
    [/^expanded_conv_/, () => 'expanded_conv'],
    [/^block_(\d+)_/, (m) => `block_${m[1]}`],
    [/^(?:Conv_1|Conv_1_bn|out_relu)$/, () => 'top'],
  ],
  // torchvision's ImageNet backbones (architectures/builders.ts names), in torchvision's module names.
  resnet: [
    [/^(?:conv1|bn1|relu|maxpool)(?:_pad)?$/, () => 'stem'],
    [/^layer(\d)_/, (m) => `layer${m[1]}`],
  ],
  efficientnet: [
    [/^stem_/, () => 'features.0'],
    [/^block(\d)/, (m) => `features.${m[1]}`],
    [/^top_/, () => 'features.8'],
  ],
  vit: [
    [/^(?:conv_proj|conv_proj_tokens|encoder_pos_embedding)$/, () => 'embedding'],
    [/^encoder_layer_(\d+)_/, (m) => `encoder.layers.${m[1]}`],
    // The final LayerNorm and the class token's row train with the last encoder layer.
    [/^(?:encoder_ln|class_token.*)$/, () => ''],
  ],
  swin: [
    [/^features_0_/, () => 'patch embedding'],
    // features.1, 3, 5, 7 are the stages; the patch merging before a stage (features.2, 4, 6) goes with it.
    [/^features_(\d+)_/, (m) => `stage ${Math.floor(Number(m[1]) / 2) + 1}`],
    [/^norm$/, () => ''],
  ],
  // Keras Xception's blocks 1–14 (entry flow 1–4, middle flow 5–12, exit flow 13–14); the unnamed shortcut layers
  // and additions (architectures/xception.ts names them as tf.keras does) belong to the block they close.
  xception: [
    [/^block(\d+)_/, (m) => `block${m[1]}`],
    [/^(?:conv2d|batch_normalization)(?:_(\d))?$/, (m) => `block${[2, 3, 4, 13][Number(m[1] ?? 0)]}`],
    [/^add(?:_(\d+))?$/, (m) => `block${Number(m[1] ?? 0) + 2}`],
  ],
};

/** The backbone's blocks in graph order, by Keras's layer names; a layer matching no block is an error. */
export function listBlocks(backbone: tf.LayersModel, family: ModelFamily): BackboneBlock[] {
  // An imported ONNX graph has no naming convention to find blocks by: it unfreezes as one block.
  if (family === 'onnx') return [{ name: 'backbone', layers: backbone.layers.filter((l) => l.getClassName() !== 'InputLayer').map((l) => l.name) }];
  const rules = BLOCK_RULES[family];
  if (!rules) throw new RangeError(`${family} models are trained from scratch; they have no backbone blocks`);
  const blocks: BackboneBlock[] = [];
  for (const layer of backbone.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    const rule = rules.map(([re, name]) => [layer.name.match(re), name] as const).find(([m]) => m);
    if (!rule) throw new Error(`${family}: layer "${layer.name}" belongs to no known block`);
    const last = blocks[blocks.length - 1];
    // '' joins the block before (a final norm is no block of its own).
    const name = rule[1](rule[0]!) || last?.name;
    if (!name) throw new Error(`${family}: layer "${layer.name}" comes before any block`);
    if (last?.name === name) last.layers.push(layer.name);
    else if (blocks.some((b) => b.name === name)) throw new Error(`${family}: block "${name}" is not contiguous at layer "${layer.name}"`);
    else blocks.push({ name, layers: [layer.name] });
  }
  return blocks;
}

export interface TrainingPhase {
  epochs: number;
  trainableBlocks: number | 'all';
  /** Multiplies the run's learning rate for this phase. */
  learningRateScale: number;
}

/**
 * "Linear probe, then fine-tune": the head alone for `probeEpochs` (so the new head stops sending large random
 * gradients into the pretrained features), then `trainableBlocks` unfrozen at a lower learning rate. Apply each
 * phase with setTrainableBlocks before its first epoch.
 */
export function probeThenFinetune(opts: { epochs: number; probeEpochs: number; trainableBlocks: number | 'all'; finetuneLearningRateScale?: number }): TrainingPhase[] {
  const { epochs, probeEpochs, trainableBlocks, finetuneLearningRateScale = 0.1 } = opts;
  if (!Number.isInteger(probeEpochs) || probeEpochs < 0 || probeEpochs > epochs) throw new RangeError(`probe epochs must be 0 to ${epochs} (got ${probeEpochs})`);
  const phases: TrainingPhase[] = [
    { epochs: probeEpochs, trainableBlocks: 0, learningRateScale: 1 },
    { epochs: epochs - probeEpochs, trainableBlocks, learningRateScale: finetuneLearningRateScale },
  ];
  return phases.filter((p) => p.epochs > 0);
}
