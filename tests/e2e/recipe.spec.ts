import { expect, test } from '@playwright/test';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportAndTrain, exportRecipeCli, runTrainPy, torchMissing, torchvisionPth, type TrainedRecipe } from './harness/recipe';

// "Train at scale" through the CLI: a studio run exported as a PyTorch recipe, trained by the exported train.py under
// torchrun with 2 processes on the CPU (gloo), and what it writes checked against the contract the import reads.
const skipWhy = torchMissing();
if (skipWhy) console.log(skipWhy);
test.skip(skipWhy !== null, skipWhy ?? '');

const SIZE = 32;
const CLASSES = ['glioma', 'meningioma', 'pituitary'];

/** metrics.json and predictions.json as the contract says, predictions in split.csv's test order. */
function expectOutputs(t: TrainedRecipe, architecture: string) {
  expect(t.metrics).toMatchObject({ format: 'mri-studio-cluster-run', version: 1, runId: t.runId, architecture, classes: CLASSES, imageSize: SIZE, channels: 3, worldSize: 2, device: 'cpu', amp: false, best: { epoch: 1 } });
  expect(t.metrics.epochs).toHaveLength(1);
  expect(Object.keys(t.metrics.epochs[0]).sort()).toEqual(['accuracy', 'epoch', 'loss', 'lr', 'seconds', 'valAccuracy', 'valLoss']);
  expect(t.metrics.torch).toMatch(/^\d+\.\d+/);
  const test = t.split.filter((r) => r[2] === 'test');
  expect(test.length).toBeGreaterThan(0);
  expect(t.predictions.classes).toEqual(CLASSES);
  expect(t.predictions.items.map((p) => p.key)).toEqual(test.map((r) => r[0]));
  t.predictions.items.forEach((p, k) => {
    expect(p.label).toBe(CLASSES.indexOf(test[k][1]));
    expect(p.probs).toHaveLength(CLASSES.length);
    expect(p.probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });
  const csv = readFileSync(join(t.out, 'metrics.csv'), 'utf8').trim().split('\n');
  expect(csv[0]).toBe('epoch,phase,loss,accuracy,valLoss,valAccuracy,lr,seconds');
  expect(csv).toHaveLength(2);
  for (const f of ['best.pth', 'last.pth']) expect(statSync(join(t.out, 'checkpoints', f)).size).toBeGreaterThan(0);
}

test('a simple_cnn run, exported with file names, trains under torchrun with 2 processes; train.py refuses a changed folder by name', async () => {
  const t = exportAndTrain({ classes: CLASSES, perClass: 8, size: SIZE, model: 'simple_cnn', fileNames: true });
  expect(t.split.map((r) => r[0])).toContain('glioma/case 0.png');
  // The studio's layer names, torch layouts; logits reads the NHWC flatten of 32 × 4 × 4.
  expect(t.state).toMatchObject({ 'conv1.weight': [8, 3, 3, 3], 'conv3.bias': [32], 'bn2.running_var': [16], 'logits.weight': [3, 512], 'logits.bias': [3] });
  expectOutputs(t, 'simple_cnn');

  // One image removed and one added: train.py stops before training and names both.
  const changed = join(mkdtempSync(join(tmpdir(), 'studio-recipe-changed-')), 'scans');
  cpSync(t.data, changed, { recursive: true });
  rmSync(join(changed, 'meningioma', 'case 3.png'));
  copyFileSync(join(changed, 'glioma', 'case 0.png'), join(changed, 'glioma', 'new scan.png'));
  const refused = runTrainPy(t.recipe, changed, join(changed, '..', 'out'), { nproc: 0 });
  expect(refused.status).toBe(2);
  expect(refused.stderr).toContain('does not match split.csv');
  expect(refused.stderr).toContain('1 images of split.csv are not in the folder (removed or renamed): meningioma/case 3.png (meningioma,');
  expect(refused.stderr).toContain('1 image files in the folder are not in split.csv (added): glioma/new scan.png');
});

test('a resnet18_imagenet medical run, exported with hashes, trains under torchrun; train.py refuses a changed folder by hash', async () => {
  const pth = torchvisionPth('resnet18', SIZE);
  const t = exportAndTrain({ classes: CLASSES, perClass: 8, size: SIZE, model: 'resnet18_imagenet', flags: ['--strategy', 'medical', '--weights', pth], fileNames: false });
  expect(t.split.every((r) => /^sha256:[0-9a-f]{64}$/.test(r[0]))).toBe(true);
  const config = JSON.parse(readFileSync(join(t.recipe, 'config.json'), 'utf8'));
  expect(config).toMatchObject({ architecture: 'resnet18', pretrained: true, strategy: 'medical', head: 'medical', normalization: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } });
  // torchvision's names for the backbone, without its fc; the studio's head in nn.Linear layout.
  expect(t.state).toMatchObject({ 'conv1.weight': [64, 3, 7, 7], 'layer4.1.bn2.running_mean': [512], 'studio_head.head_dense.weight': [128, 512], 'studio_head.logits.weight': [3, 128], 'studio_head.logits.bias': [3] });
  expect(Object.keys(t.state).filter((k) => k.startsWith('fc.'))).toEqual([]);
  expectOutputs(t, 'resnet18');

  // By hash, a removed image is named by its hash and class, an added one by its path.
  const changed = join(mkdtempSync(join(tmpdir(), 'studio-recipe-changed-')), 'scans');
  cpSync(t.data, changed, { recursive: true });
  rmSync(join(changed, 'pituitary', 'case 5.png'));
  copyFileSync(join(t.data, 'glioma', 'case 1.png'), join(changed, 'pituitary', 'case 5 (copy).png'));
  const refused = runTrainPy(t.recipe, changed, join(changed, '..', 'out'), { nproc: 0 });
  expect(refused.status).toBe(2);
  expect(refused.stderr).toMatch(/1 images of split\.csv have no file with the same content in the folder \(removed or changed\): sha256:[0-9a-f]{64} \(pituitary, (train|val|test)\)/);
  // The copy's content is in split.csv once, for glioma/case 1.png (paired first, in path order): the copy is extra.
  expect(refused.stderr).toMatch(/1 image files in the folder are not in split\.csv \(added, or changed since the export\): pituitary\/case 5 \(copy\)\.png/);

  // (A model without a torchvision twin is refused by name in tests/unit/recipe.test.ts.) An unknown run, with the CLI's words:
  const unknown = exportRecipeCli('run-none', join(t.recipe, '..', 'none'), t.profile, false);
  expect(unknown.status).toBe(1);
  expect(unknown.stderr).toContain('E_NOT_FOUND: there is no run run-none');
});
