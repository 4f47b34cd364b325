/**
 * The recommended recipe: picked from the dataset's shape (images, classes, imbalance, whether it brings its own test
 * folder) and the device's measured speed (a timed forward pass of the backbone and a few timed head steps in the
 * worker), with the reasons in words and an estimate of the run's time per stage. Pure: the engine measures, this
 * decides. The recipe is issue 14's plain recipe, which beat the studio's old defaults on two external MRI test sets,
 * with the last epoch kept; its 5-fold, duplicate-aware figures on the MRI folder are in docs/quality.md.
 */
import type { SplitFractions } from '../dataset/split';
import type { OptimizerName } from './optimizers';
import type { Strategy } from './types';

export interface DatasetShape {
  /** Images per class, every split of the folder together. */
  classes: readonly { name: string; count: number }[];
  /** The folder brings its own test images (a Testing or test folder): no test split is carved from the rest. */
  presetTest: boolean;
}

/** Measured in the worker on the backend that will do the work (see workers/recommend.ts). */
export interface DeviceSpeed {
  /** The backend the forward pass ran on. */
  backend: string;
  /** The recommended backbone's forward pass at its input size, images per second. */
  backboneImagesPerSecond: number;
  /** Training steps of the recommended head on cached features, at the recommended batch size, per second. */
  headStepsPerSecond: number;
  /** Decoding and hashing at import, images per second, once a folder has been imported here (else unknown). */
  importImagesPerSecond?: number;
}

/** The settings of a recommended run; the rest are the studio's defaults. */
export interface RecommendedSettings {
  model: string;
  strategy: Strategy;
  optimizer: OptimizerName;
  learningRate: number;
  batchSize: number;
  epochs: number;
  /** null: no early stopping: every epoch runs. */
  earlyStopping: null;
  /** The final epoch is the model handed back (k-fold evidence in docs/quality.md). */
  keepEpoch: 'last';
  /** Each image answered with its mirror too (k-fold evidence in docs/quality.md). */
  tta: 'flip';
  /** Each training image trains mirrored too, every epoch (k-fold evidence in docs/quality.md). */
  mirrorTraining: true;
  classWeights: 'auto' | 'off';
  /** 0: no gradient clipping. */
  clipNorm: number;
  labelSmoothing: number;
  imageSize: number;
  channels: 3;
  split: SplitFractions;
  augment: false;
}

export interface StageEstimate {
  stage: 'import' | 'features' | 'training' | 'evaluation';
  /** null when the speed it depends on has not been measured on this device yet. */
  seconds: number | null;
  detail: string;
}

export interface Recommendation {
  settings: RecommendedSettings;
  /** Why each choice, in sentences a user can check. */
  reasons: string[];
  /** The whole run, import to evaluation; the stages not measured yet are left out of `seconds`. */
  estimate: { seconds: number; stages: StageEstimate[]; withinBudget: boolean };
}

export const RECOMMENDED_MODEL = 'mobilenet_v2_0.35_224';
/** The plain recipe's head, optimiser, batch and epochs (issue 14; k-fold figures in docs/quality.md). */
export const RECOMMENDED_HEAD = { strategy: 'mlp', optimizer: 'adam', learningRate: 1e-3, batchSize: 16, epochs: 50 } as const;
/** The budget for a whole run on a 2-core CPU machine. */
export const DEFAULT_BUDGET_SECONDS = 30 * 60;
/** The 50 epochs are cut to fit the time budget, never below this. */
export const MIN_EPOCHS = 20;
/** Below this many images in a class, a 15 % validation split holds one or two of them. */
const FEW_IMAGES = 20;

function formatSeconds(s: number): string {
  if (s < 90) return `${Math.round(s)} s`;
  const m = Math.round(s / 60);
  return m < 90 ? `${m} min` : `${(s / 3600).toFixed(1)} h`;
}

/**
 * Picks the recipe for a dataset on a device. Throws a RangeError for a dataset that cannot be trained (fewer than
 * two non-empty classes) or a speed that is not a positive measurement.
 */
export function recommendRecipe(shape: DatasetShape, speed: DeviceSpeed, budgetSeconds = DEFAULT_BUDGET_SECONDS): Recommendation {
  const present = shape.classes.filter((c) => c.count > 0);
  if (present.length < 2) throw new RangeError(`a classifier needs at least two classes with images (got ${present.length})`);
  for (const [name, v] of [['backbone speed', speed.backboneImagesPerSecond], ['head speed', speed.headStepsPerSecond]] as const) {
    if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`the ${name} must be a positive measurement (got ${v})`);
  }
  const images = present.reduce((n, c) => n + c.count, 0);
  const smallest = present.reduce((a, b) => (b.count < a.count ? b : a));
  const largest = present.reduce((a, b) => (b.count > a.count ? b : a));
  const ratio = largest.count / smallest.count;
  const reasons: string[] = [];

  reasons.push(
    `MobileNetV2 α 0.35 with its ImageNet weights frozen: its features are computed once (${formatSeconds(images / speed.backboneImagesPerSecond)} for ${images} images at the measured ${speed.backboneImagesPerSecond.toFixed(0)} images/s on ${speed.backend}) and every epoch then trains only the head, which a CPU does in seconds.`,
    'Head Dense 100 ReLU (an MLP), Adam at 1e-3, batch 16: the plain recipe, which beat the linear and Medical CNN heads on two external MRI test sets (issue 14) and in 5-fold cross-validation on the MRI folder (docs/quality.md).',
  );

  // Split: a folder that brings its own test images needs none carved from training; then 85 % trains.
  const split: SplitFractions = shape.presetTest ? { train: 0.85, val: 0.15, test: 0 } : { train: 0.7, val: 0.15, test: 0.15 };
  reasons.push(
    shape.presetTest
      ? 'Split 85/15/0: the folder brings its own test images, so none are held out of training; 15 % validate.'
      : 'Split 70/15/15: the folder has no test folder, so 15 % are held out to evaluate the model. With a Testing folder (or another folder to evaluate on with --external) the recipe trains on 85/15/0, as the plain recipe did.',
  );

  reasons.push(
    ratio > 1.5
      ? `Class weights off although ${largest.name} has ${ratio.toFixed(1)}× the images of ${smallest.name}: weighting the small class up made the studio's models over-predict it on a new hospital's images (notumor recall 98 %, precision 54 %, issue 14); docs/quality.md has the cross-validated comparison.`
      : `Class weights off: the classes are balanced (${largest.name} has ${ratio.toFixed(2)}× the images of ${smallest.name}).`,
  );
  reasons.push('No early stopping, and the last epoch is the model: picking the epoch with the best validation accuracy cost 0.3 points of accuracy and 1.9 of the lowest tumour sensitivity in 5-fold cross-validation on the MRI folder (docs/quality.md), as a validation split of a few hundred images makes that pick partly noise.');
  reasons.push(
    'Each training image also trains mirrored left to right, every epoch, and each image is answered with its mirror too (the mean of both logits, in validation, evaluation, prediction and export). In 5-fold cross-validation on the MRI folder (docs/quality.md) the two together scored 95.5 % against the plain recipe’s 94.0 %, and 93.2 % against 90.8 % on the lowest tumour-class sensitivity; the mirror at test time alone reached 94.6 %. It costs twice the head training and twice the inference. Turn both off (mirrored training and Test-time views in Advanced; --mirror-training off --tta none) for images with a handedness, such as text or laterality markers.',
  );
  if (smallest.count < FEW_IMAGES) reasons.push(`Only ${smallest.count} images of ${smallest.name}: its validation and test figures rest on one or two images; add images of it if you can.`);

  // Time: features once for every image, then epochs of head steps; epochs are cut (not below MIN_EPOCHS) to fit.
  const trainImages = Math.round(images * split.train);
  const valImages = Math.round(images * split.val);
  const evalImages = shape.presetTest ? 0 : Math.round(images * split.test);
  const stepsPerEpoch = Math.ceil((2 * trainImages) / RECOMMENDED_HEAD.batchSize);
  const epochSeconds = stepsPerEpoch / speed.headStepsPerSecond;
  const importSeconds = speed.importImagesPerSecond && speed.importImagesPerSecond > 0 ? images / speed.importImagesPerSecond : null;
  // Mirroring: the training and validation images' mirrors are cached with the features, and every epoch trains both
  // views; the evaluation runs the test and validation images (temperature and operating point) as they are and mirrored.
  const featureSeconds = (images + trainImages + valImages) / speed.backboneImagesPerSecond;
  const evalSeconds = evalImages ? (2 * (evalImages + valImages)) / speed.backboneImagesPerSecond : 0;
  const fixed = (importSeconds ?? 0) + featureSeconds + evalSeconds;
  let epochs: number = RECOMMENDED_HEAD.epochs;
  if (fixed + epochs * epochSeconds > budgetSeconds) {
    epochs = Math.max(MIN_EPOCHS, Math.floor((budgetSeconds - fixed) / epochSeconds));
    reasons.push(`${epochs} epochs rather than ${RECOMMENDED_HEAD.epochs}: at the measured ${speed.headStepsPerSecond.toFixed(0)} head steps/s, ${RECOMMENDED_HEAD.epochs} would not fit the ${formatSeconds(budgetSeconds)} budget.`);
  } else {
    reasons.push(`${epochs} epochs: ${formatSeconds(epochs * epochSeconds)} of head training at the measured ${speed.headStepsPerSecond.toFixed(0)} steps/s.`);
  }
  const stages: StageEstimate[] = [
    { stage: 'import', seconds: importSeconds, detail: `decode and check ${images} images at 224 px` },
    { stage: 'features', seconds: featureSeconds, detail: `the frozen backbone once over ${images} images and the ${trainImages + valImages} training and validation images mirrored` },
    { stage: 'training', seconds: epochs * epochSeconds, detail: `${epochs} epochs × ${stepsPerEpoch} head steps` },
    { stage: 'evaluation', seconds: evalSeconds, detail: evalImages ? `${evalImages} test and ${valImages} validation images through the model, each with its mirror` : 'on the folder’s own test images, or --external' },
  ];
  const seconds = stages.reduce((s, x) => s + (x.seconds ?? 0), 0);
  if (seconds > budgetSeconds) reasons.push(`Even so the run needs about ${formatSeconds(seconds)}, over the ${formatSeconds(budgetSeconds)} budget: a GPU, or a sample of the folder, brings it down.`);
  return {
    settings: {
      model: RECOMMENDED_MODEL,
      strategy: RECOMMENDED_HEAD.strategy,
      optimizer: RECOMMENDED_HEAD.optimizer,
      learningRate: RECOMMENDED_HEAD.learningRate,
      batchSize: RECOMMENDED_HEAD.batchSize,
      epochs,
      earlyStopping: null,
      keepEpoch: 'last',
      tta: 'flip',
      mirrorTraining: true,
      classWeights: 'off',
      clipNorm: 0,
      labelSmoothing: 0,
      imageSize: 224,
      channels: 3,
      split,
      augment: false,
    },
    reasons,
    estimate: { seconds, stages, withinBudget: seconds <= budgetSeconds },
  };
}
