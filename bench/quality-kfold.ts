/**
 * k-fold head training on cached backbone features (see quality-features.ts), with the studio's own code: folds from
 * stratifiedGroupKFold (duplicate clusters kept in one fold), validation carved from the other folds by groupedSplit,
 * heads from applyHead, the optimisers, losses and training loop of src/core/train, and the evaluation metrics of
 * src/core/metrics. One training per fold and recipe records every epoch's validation and test logits, so the
 * checkpoint rule (last, best validation accuracy, best validation loss), early-stopping patience and the number of
 * epochs are compared on the same trainings (exact with a constant learning rate: the first e epochs of a longer run
 * are the run of e epochs).
 */
import * as tf from '@tensorflow/tfjs';
import { groupedSplit } from '../src/core/dataset/split';
import { calibration, fitTemperature, softmax } from '../src/core/metrics/calibration';
import { confusionMatrix, perClassRecall } from '../src/core/metrics/confusion';
import { stratifiedGroupKFold, type Fold } from '../src/core/metrics/kfold';
import { applyHead, type HeadKind } from '../src/core/models/heads';
import { deriveSeed, mulberry32, shuffle } from '../src/core/random';
import { inverseFrequencyClassWeights, isImbalanced } from '../src/core/train/losses';
import { BestCheckpoint, EarlyStopping } from '../src/core/train/callbacks';
import { createOptimizer, type OptimizerName } from '../src/core/train/optimizers';
import { featureBatchSource, trainClassifier } from '../src/core/train/trainer';
import type { View } from './quality-features';

/** One image's feature row in each view, `dim` floats per image, images in the dataset's order. */
export interface FeatureTable {
  dim: number;
  views: Partial<Record<View, Float32Array>>;
}

export interface HeadRecipe {
  head: HeadKind;
  optimizer: OptimizerName;
  learningRate: number;
  batchSize: number;
  epochs: number;
  clipNorm?: number;
  classWeights: 'auto' | 'off';
  /** Views whose features train the head (each image once per view); ['id'] is plain cached features. */
  trainViews: readonly View[];
  /** Views whose logits are averaged at validation and test (test-time augmentation); ['id'] is none. */
  testViews: readonly View[];
  /** Share of the non-test images that train (the rest validate): 0.85 as the plain recipe, 0.85 × 70/85 as 70/15/15. */
  trainShare: number;
}

/** The plain recipe of issue 14: frozen MobileNetV2-0.35 → Dense 100 ReLU → softmax, Adam 1e-3, batch 16, 50 epochs, 85 % training. */
export const PLAIN: HeadRecipe = { head: 'mlp', optimizer: 'adam', learningRate: 1e-3, batchSize: 16, epochs: 50, classWeights: 'off', trainViews: ['id'], testViews: ['id'], trainShare: 0.85 };

/** How the epoch whose weights are kept is chosen, after the fact, from a training's epoch records. */
export type EpochRule =
  | { kind: 'last'; epochs: number }
  | { kind: 'best'; monitor: 'valAccuracy' | 'valLoss'; patience: number | null; epochs: number };

export interface EpochRecord {
  valLoss: number;
  valAccuracy: number;
  valLogits: Float32Array;
  testLogits: Float32Array;
}

export interface FoldData {
  fold: number;
  train: number[];
  val: number[];
  test: number[];
}

/** The k folds of `labels`/`groups` with validation carved from each fold's training part (`valShare` of it). */
export function kfoldSplits(keys: readonly string[], labels: Int32Array, groups: readonly (string | undefined)[], k: number, seed: number, valShare: number): FoldData[] {
  const items = keys.map((key, i) => ({ key, label: labels[i], group: groups[i] }));
  return stratifiedGroupKFold(items, k, seed).map((f: Fold, i) => {
    const carved = groupedSplit(f.train.map((j) => items[j]), { train: 1 - valShare, val: valShare, test: 0 }, deriveSeed(seed, 'kfold-val', i + 1));
    return { fold: i + 1, train: carved.train.map((r) => f.train[r]), val: carved.val.map((r) => f.train[r]), test: f.test };
  });
}

/** Keeps `share` of the training images of class `label` (a seeded choice), to make a balanced set imbalanced. */
export function thinClass(train: readonly number[], labels: Int32Array, label: number, share: number, seed: number): number[] {
  const of = train.filter((i) => labels[i] === label);
  const keep = new Set(shuffle([...of], mulberry32(deriveSeed(seed, 'thin', label))).slice(0, Math.round(of.length * share)));
  return train.filter((i) => labels[i] !== label || keep.has(i));
}

function rows(source: Float32Array, dim: number, indices: readonly number[]): Float32Array {
  const out = new Float32Array(indices.length * dim);
  indices.forEach((i, k) => out.set(source.subarray(i * dim, (i + 1) * dim), k * dim));
  return out;
}

/**
 * Trains `recipe`'s head on one fold's features and returns every epoch's validation loss and accuracy and the
 * validation and test logits (averaged over `testViews`). Every tensor it creates is disposed.
 */
export async function trainFold(table: FeatureTable, labels: Int32Array, numClasses: number, split: { train: number[]; val: number[]; test: number[] }, recipe: HeadRecipe, seed: number): Promise<EpochRecord[]> {
  const { dim } = table;
  const view = (v: View) => {
    const f = table.views[v];
    if (!f) throw new Error(`no cached features for view "${v}"`);
    return f;
  };
  // Training rows: each training image once per training view.
  const trainRows = recipe.trainViews.map((v) => rows(view(v), dim, split.train));
  const trainFeatures = new Float32Array(trainRows.reduce((n, r) => n + r.length, 0));
  trainRows.reduce((at, r) => (trainFeatures.set(r, at), at + r.length), 0);
  const trainLabels = Int32Array.from(recipe.trainViews.flatMap(() => split.train.map((i) => labels[i])));
  const valLabels = Int32Array.from(split.val, (i) => labels[i]);
  const all = tf.tensor4d(trainFeatures, [trainLabels.length, 1, 1, dim]);
  const evalSets = {
    val: recipe.testViews.map((v) => tf.tensor4d(rows(view(v), dim, split.val), [split.val.length, 1, 1, dim])),
    test: recipe.testViews.map((v) => tf.tensor4d(rows(view(v), dim, split.test), [split.test.length, 1, 1, dim])),
  };
  const input = tf.input({ shape: [1, 1, dim] });
  const model = tf.model({ inputs: input, outputs: applyHead(input, recipe.head, numClasses, seed) });
  const optimizer = createOptimizer({ name: recipe.optimizer, learningRate: recipe.learningRate });
  const counts = Array.from({ length: numClasses }, (_, c) => split.train.filter((i) => labels[i] === c).length);
  const classWeights = recipe.classWeights === 'auto' && isImbalanced(counts) ? inverseFrequencyClassWeights(counts) : undefined;
  // The trainer validates on its own source; the head sees validation rows as source rows after the training ones.
  const valOffset = trainLabels.length;
  const both = tf.concat([all, evalSets.val[0]]);
  const source = featureBatchSource({
    features: both,
    featureShape: [1, 1, dim],
    labels: Int32Array.from([...trainLabels, ...valLabels]),
    numClasses,
  });
  const logitsOf = async (xs: tf.Tensor[]) => {
    const mean = tf.tidy(() => tf.addN(xs.map((x) => model.predict(x, { batchSize: 512 }) as tf.Tensor)).div(xs.length));
    const out = (await mean.data()) as Float32Array;
    mean.dispose();
    return out;
  };
  const records: EpochRecord[] = [];
  try {
    await trainClassifier(model, optimizer, source, { train: Array.from(trainLabels, (_, i) => i), val: split.val.map((_, i) => valOffset + i) }, {
      epochs: recipe.epochs,
      batchSize: recipe.batchSize,
      seed,
      clipNorm: recipe.clipNorm,
      classWeights,
      async onEpoch(m) {
        const valLogits = await logitsOf(evalSets.val);
        records.push({ valLoss: m.valLoss, valAccuracy: m.valAccuracy, valLogits, testLogits: await logitsOf(evalSets.test) });
      },
    });
  } finally {
    tf.dispose([all, both, ...evalSets.val, ...evalSets.test]);
    model.dispose();
    optimizer.dispose();
  }
  return records;
}

/**
 * The epoch (1-based) a rule keeps. `last`: the last of `epochs`. `best` by validation accuracy: the studio's own
 * callbacks replayed (EarlyStopping with the patience, min Δ 0.0005, stops the run; BestCheckpoint keeps the best
 * accuracy, ties to the lower loss). `best` by validation loss: the lowest loss within the early-stopped run.
 */
export function chooseEpoch(records: readonly EpochRecord[], rule: EpochRule): number {
  const n = Math.min(rule.epochs, records.length);
  if (rule.kind === 'last') return n;
  const stopping = rule.patience === null ? null : new EarlyStopping({ monitor: rule.monitor, patience: rule.patience, minDelta: 0.0005 });
  const checkpoint = new BestCheckpoint();
  let lowest = 0;
  for (let e = 0; e < n; e++) {
    const m = { epoch: e + 1, valAccuracy: records[e].valAccuracy, valLoss: records[e].valLoss, trainLoss: 0, trainAccuracy: 0, seconds: 0, imagesPerSecond: 0 };
    checkpoint.update(m);
    if (records[e].valLoss < records[lowest].valLoss) lowest = e;
    if (stopping?.update(m).stop) break;
  }
  return rule.monitor === 'valAccuracy' ? checkpoint.best!.epoch : lowest + 1;
}

export interface FoldScore {
  accuracy: number;
  recall: number[];
  ece: number;
  eceScaled: number;
  temperature: number;
  /** Test predictions and labels, for pooled confidence intervals. */
  correct: boolean[];
}

export function scoreEpoch(record: EpochRecord, labels: Int32Array, split: { val: number[]; test: number[] }, numClasses: number): FoldScore {
  const yTest = Int32Array.from(split.test, (i) => labels[i]);
  const yVal = Int32Array.from(split.val, (i) => labels[i]);
  const probs = softmax(record.testLogits, numClasses);
  const predicted = Int32Array.from(split.test, (_, k) => {
    let best = 0;
    for (let c = 1; c < numClasses; c++) if (probs[k * numClasses + c] > probs[k * numClasses + best]) best = c;
    return best;
  });
  // The temperature is fitted on the fold's validation split, never on the test fold it is scored on.
  const temperature = fitTemperature(yVal, record.valLogits, numClasses);
  const correct = Array.from(predicted, (p, k) => p === yTest[k]);
  return {
    accuracy: correct.filter(Boolean).length / correct.length,
    recall: perClassRecall(confusionMatrix(yTest, predicted, numClasses)),
    ece: calibration(yTest, probs, numClasses).ece,
    eceScaled: calibration(yTest, softmax(record.testLogits, numClasses, temperature), numClasses).ece,
    temperature,
    correct,
  };
}
