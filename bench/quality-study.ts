/**
 * The evidence behind the training defaults (docs/quality.md): 5-fold, duplicate-aware cross-validation of head
 * recipes on cached frozen-backbone features of a folder-per-class dataset, one factor changed at a time from the
 * plain recipe (frozen MobileNetV2-0.35 → Dense 100 ReLU → softmax, Adam 1e-3, batch 16, 50 epochs, last epoch, 85 %
 * of the non-test images training). Run:
 *   /work/bin/heavy npx tsx bench/quality-study.ts [--data DIR] [--models DIR] [--only a,b] [--folds 5]
 * Prints one table (k-fold mean ± std of accuracy, lowest tumour-class sensitivity, ECE before and after temperature
 * scaling) and writes it as markdown to /tmp/studio-quality-study.md. Features are cached in /tmp (see
 * quality-features.ts), so a second run only trains heads.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { meanStd } from '../src/core/metrics/kfold';
import { duplicateAwareFolder, features, useWasm, type View } from './quality-features';
import { chooseEpoch, kfoldSplits, PLAIN, scoreEpoch, thinClass, trainFold, type EpochRule, type FeatureTable, type HeadRecipe } from './quality-kfold';
import { PRETRAINED_DIR } from '../tests/fixtures/pretrained';

const { values: args } = parseArgs({ options: { data: { type: 'string' }, models: { type: 'string' }, only: { type: 'string' }, folds: { type: 'string' }, 'near-threshold': { type: 'string' } } });
const DATA = resolve(args.data ?? '../shared/datasets/brain-mri-224/Training');
const MODELS = resolve(args.models ?? PRETRAINED_DIR);
const FOLDS = Number(args.folds ?? 5);
const SEED = 42;
const V2 = 'mobilenet_v2_0.35_224';
const V1 = 'mobilenet_v1_0.75_224';

const LAST50: EpochRule = { kind: 'last', epochs: 50 };
const STUDIO_RULE: EpochRule = { kind: 'best', monitor: 'valAccuracy', patience: 15, epochs: 50 };

type Features = { backbones: string[]; pooling: 'gap' | 'gap+gmp' };
interface Experiment {
  name: string;
  recipe: HeadRecipe;
  features?: Features;
  /** Thin this class of the training and validation images to this share (an imbalanced training set). */
  thin?: { className: string; share: number };
  rules: Record<string, EpochRule>;
}

const EXPERIMENTS: Record<string, Experiment[]> = {
  // The checkpoint/early-stopping rule and the number of epochs, all read off the same plain trainings.
  epochs: [
    {
      name: 'plain (MLP 100, Adam 1e-3, b16)',
      recipe: PLAIN,
      rules: {
        'last of 10': { kind: 'last', epochs: 10 },
        'last of 20': { kind: 'last', epochs: 20 },
        'last of 30': { kind: 'last', epochs: 30 },
        'last of 50': LAST50,
        'best val acc, patience 15 (studio)': STUDIO_RULE,
        'best val acc, patience 5': { kind: 'best', monitor: 'valAccuracy', patience: 5, epochs: 50 },
        'best val acc, no early stop': { kind: 'best', monitor: 'valAccuracy', patience: null, epochs: 50 },
        'best val loss, patience 15': { kind: 'best', monitor: 'valLoss', patience: 15, epochs: 50 },
        'best val loss, no early stop': { kind: 'best', monitor: 'valLoss', patience: null, epochs: 50 },
      },
    },
  ],
  studio: [
    {
      name: 'studio defaults (linear, AdamW b32, clip 1, 70 % train)',
      recipe: { head: 'linear', optimizer: 'adamw', learningRate: 1e-3, batchSize: 32, epochs: 50, clipNorm: 1, classWeights: 'auto', trainViews: ['id'], testViews: ['id'], trainShare: 0.7 },
      rules: { 'best val acc, patience 15 (studio)': STUDIO_RULE, 'best val acc, no early stop': { kind: 'best', monitor: 'valAccuracy', patience: null, epochs: 50 }, 'last of 50': LAST50 },
    },
  ],
  defaults: [
    { name: 'studio head + optimiser, 85 % train', recipe: { head: 'linear', optimizer: 'adamw', learningRate: 1e-3, batchSize: 32, epochs: 50, clipNorm: 1, classWeights: 'auto', trainViews: ['id'], testViews: ['id'], trainShare: 0.85 }, rules: { 'best val acc, patience 15 (studio)': STUDIO_RULE, 'last of 50': LAST50 } },
    { name: 'plain, 70 % train', recipe: { ...PLAIN, trainShare: 0.7 }, rules: { 'last of 50': LAST50 } },
  ],
  head: [
    { name: 'linear head (plain otherwise)', recipe: { ...PLAIN, head: 'linear' }, rules: { 'last of 50': LAST50, 'best val acc, patience 15 (studio)': STUDIO_RULE } },
    { name: 'Medical head (plain otherwise)', recipe: { ...PLAIN, head: 'medical' }, rules: { 'last of 50': LAST50, 'best val acc, patience 15 (studio)': STUDIO_RULE } },
  ],
  // A training set shaped like set B's (notumor about half of each tumour class), scored on the balanced test fold.
  // 20 epochs rather than 50 (a relative comparison; the 2-core machine is shared): the same for both arms.
  weights: [
    { name: 'notumor thinned to 48 %, weights off', recipe: { ...PLAIN, epochs: 20 }, thin: { className: 'notumor', share: 0.48 }, rules: { 'last of 20': { kind: 'last', epochs: 20 } } },
    { name: 'notumor thinned to 48 %, weights auto', recipe: { ...PLAIN, epochs: 20, classWeights: 'auto' }, thin: { className: 'notumor', share: 0.48 }, rules: { 'last of 20': { kind: 'last', epochs: 20 } } },
  ],
  pooling: [{ name: 'GAP+GMP features (plain otherwise)', recipe: PLAIN, features: { backbones: [V2], pooling: 'gap+gmp' }, rules: { 'last of 50': LAST50 } }],
  tta: [{ name: 'TTA id+flip at test (plain training)', recipe: { ...PLAIN, testViews: ['id', 'flip'] }, rules: { 'last of 50': LAST50 } }],
  concat: [
    { name: 'MobileNet v1 0.75 alone', recipe: PLAIN, features: { backbones: [V1], pooling: 'gap' }, rules: { 'last of 50': LAST50 } },
    { name: 'v2 0.35 ⊕ v1 0.75 concatenated', recipe: PLAIN, features: { backbones: [V2, V1], pooling: 'gap' }, rules: { 'last of 50': LAST50 } },
    { name: 'v2 ⊕ v1, train id+flip, TTA id+flip', recipe: { ...PLAIN, trainViews: ['id', 'flip'], testViews: ['id', 'flip'] }, features: { backbones: [V2, V1], pooling: 'gap' }, rules: { 'last of 25': { kind: 'last', epochs: 25 }, 'last of 50': LAST50 } },
  ],
  lr: [
    { name: 'lr 3e-4 (plain otherwise)', recipe: { ...PLAIN, learningRate: 3e-4 }, rules: { 'last of 50': LAST50 } },
    { name: 'lr 3e-3 (plain otherwise)', recipe: { ...PLAIN, learningRate: 3e-3 }, rules: { 'last of 50': LAST50 } },
    { name: 'AdamW b32 clip 1 (plain head)', recipe: { ...PLAIN, optimizer: 'adamw', batchSize: 32, clipNorm: 1 }, rules: { 'last of 50': LAST50 } },
  ],
  // The views group's last experiment alone: the candidate for the recommended recipe after test-time mirroring.
  mirror: [{ name: 'train id+flip, TTA id+flip', recipe: { ...PLAIN, trainViews: ['id', 'flip'], testViews: ['id', 'flip'] }, rules: { 'last of 25': { kind: 'last', epochs: 25 }, 'last of 50': LAST50 } }],
  views: [
    { name: 'train on id+flip views', recipe: { ...PLAIN, trainViews: ['id', 'flip'] }, rules: { 'last of 25': { kind: 'last', epochs: 25 }, 'last of 50': LAST50 } },
    { name: 'train id+flip+zoom+rot views', recipe: { ...PLAIN, trainViews: ['id', 'flip', 'zoom', 'rot'], epochs: 25 }, rules: { 'last of 13': { kind: 'last', epochs: 13 }, 'last of 25': { kind: 'last', epochs: 25 } } },
    { name: 'train id+flip, TTA id+flip', recipe: { ...PLAIN, trainViews: ['id', 'flip'], testViews: ['id', 'flip'] }, rules: { 'last of 25': { kind: 'last', epochs: 25 }, 'last of 50': LAST50 } },
  ],
};

/** Row-wise concatenation of per-image feature blocks. */
function joinColumns(parts: { data: Float32Array; dim: number }[], n: number): Float32Array {
  const dim = parts.reduce((a, p) => a + p.dim, 0);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let at = i * dim;
    for (const p of parts) {
      out.set(p.data.subarray(i * p.dim, (i + 1) * p.dim), at);
      at += p.dim;
    }
  }
  return out;
}

async function main(): Promise<void> {
  await useWasm();
  const data = duplicateAwareFolder(DATA, args['near-threshold'] === undefined ? null : Number(args['near-threshold']));
  const n = data.labels.length;
  const tumours = data.classes.map((c, k) => (c === 'notumor' ? -1 : k)).filter((k) => k >= 0);
  const folds = kfoldSplits(data.keys, data.labels, data.groups, FOLDS, SEED, 0.15);
  console.log(`${n} images, ${data.duplicateClusters} duplicate clusters (exact, and near at the threshold chosen above) kept in one fold; ${FOLDS} folds of ${folds.map((f) => f.test.length).join('/')}`);
  const tables = new Map<string, FeatureTable>();
  const tableOf = async (f: Features, views: readonly View[]): Promise<FeatureTable> => {
    const key = `${f.backbones.join('+')}|${f.pooling}`;
    const t = tables.get(key) ?? { dim: 0, views: {} };
    for (const v of views) {
      if (t.views[v]) continue;
      const parts: { data: Float32Array; dim: number }[] = [];
      for (const b of f.backbones) {
        const c = await features(data, b, v, MODELS);
        parts.push({ data: c.gap, dim: c.dim });
        if (f.pooling === 'gap+gmp') parts.push({ data: c.gmp, dim: c.dim });
      }
      t.dim = parts.reduce((a, p) => a + p.dim, 0);
      t.views[v] = parts.length === 1 ? parts[0].data : joinColumns(parts, n);
    }
    tables.set(key, t);
    return t;
  };
  const only = args.only?.split(',');
  const lines: string[] = ['| experiment | epoch rule | accuracy (mean ± std) | lowest tumour sensitivity | per-class sensitivity | ECE | ECE after T | head s/fold |', '| --- | --- | --- | --- | --- | --- | --- | --- |'];
  for (const [group, list] of Object.entries(EXPERIMENTS)) {
    if (only && !only.includes(group)) continue;
    for (const ex of list) {
      const table = await tableOf(ex.features ?? { backbones: [V2], pooling: 'gap' }, [...new Set([...ex.recipe.trainViews, ...ex.recipe.testViews])]);
      const perRule = new Map<string, ReturnType<typeof scoreEpoch>[]>();
      let seconds = 0;
      for (const f of folds) {
        let { train, val } = f;
        if (ex.thin) {
          const label = data.classes.indexOf(ex.thin.className);
          train = thinClass(train, data.labels, label, ex.thin.share, SEED + f.fold);
          val = thinClass(val, data.labels, label, ex.thin.share, SEED + 100 + f.fold);
        }
        // 70/15/15 against 85/15/0: the same validation images, fewer training ones.
        if (ex.recipe.trainShare < 0.85) for (let c = 0; c < data.classes.length; c++) train = thinClass(train, data.labels, c, ex.recipe.trainShare / 0.85, SEED + f.fold);
        const t0 = performance.now();
        const records = await trainFold(table, data.labels, data.classes.length, { train, val, test: f.test }, ex.recipe, SEED + f.fold);
        seconds += (performance.now() - t0) / 1000;
        for (const [rule, r] of Object.entries(ex.rules)) {
          const e = chooseEpoch(records, r);
          const list = perRule.get(rule) ?? [];
          list.push(scoreEpoch(records[e - 1], data.labels, { val, test: f.test }, data.classes.length));
          perRule.set(rule, list);
        }
      }
      for (const [rule, scores] of perRule) {
        const pct = (xs: number[]) => {
          const { mean, std } = meanStd(xs);
          return `${(mean * 100).toFixed(2)} ± ${(std * 100).toFixed(2)}`;
        };
        const recall = data.classes.map((_, k) => meanStd(scores.map((s) => s.recall[k])).mean);
        const lowest = Math.min(...tumours.map((k) => recall[k]));
        const row = `| ${ex.name} | ${rule} | ${pct(scores.map((s) => s.accuracy))} | ${(lowest * 100).toFixed(1)} (${data.classes[tumours.find((k) => recall[k] === lowest)!]}) | ${data.classes.map((c, k) => `${c.slice(0, 4)} ${(recall[k] * 100).toFixed(1)}`).join(', ')} | ${pct(scores.map((s) => s.ece))} | ${pct(scores.map((s) => s.eceScaled))} | ${(seconds / FOLDS).toFixed(0)} |`;
        lines.push(row);
        console.log(row);
      }
    }
  }
  writeFileSync('/tmp/studio-quality-study.md', lines.join('\n') + '\n');
  console.log(lines.join('\n'));
}

await main();
