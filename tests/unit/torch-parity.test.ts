/**
 * Parity with PyTorch itself: Debian's torch/torchvision write a random-init model's state_dict as .pth and as
 * .safetensors, with its pooled features and logits on fixed images (tests/fixtures/torchvision_parity.py); the
 * studio loads each file into its architecture and must compute the same. Fixtures live in a temp dir only.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildArchitecture, buildArchitectureFeatures } from '../../src/core/models/architectures/builders';
import { readCheckpoint } from '../../src/core/models/torch/checkpoint';
import { loadTorchvisionWeights } from '../../src/core/models/torch/torchvision';

const PYTHON = '/usr/bin/python3';
const probe = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
const hasTorch = probe.status === 0;
if (!hasTorch) console.warn(`torch parity skipped: ${PYTHON} cannot import torch and torchvision (apt-get install python3-torch python3-torchvision): ${(probe.stderr || probe.error?.message || '').trim().split('\n').pop()}`);

// Two images each; every architecture at 224 px, the size its ImageNet weights are for (ViT's position embedding
// and Swin's windows are laid out for it).
const CASES: readonly string[] = (process.env.TORCH_PARITY ?? 'resnet18,resnet50,efficientnet_b0,vit_b16,swin_t,swin_s').split(',');
const SIZE = 224;
const IMAGES = 2;

let dir = '';
beforeAll(async () => {
  // WASM: a ViT-B/16 or Swin-S forward pass at 224 px takes minutes on TF.js's CPU backend and seconds here.
  await tf.setBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'torch-parity-'));
  if (hasTorch) execFileSync(PYTHON, [join(__dirname, '../fixtures/torchvision_parity.py'), CASES.join(','), String(SIZE), String(IMAGES), dir], { stdio: 'inherit' });
}, 600_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Expected {
  size: number;
  images: number[][];
  features: number[][];
  logits: number[][];
}

const relativeError = (got: Float32Array, want: number[]) => {
  let diff = 0;
  let norm = 0;
  want.forEach((w, i) => {
    diff = Math.max(diff, Math.abs(got[i] - w));
    norm = Math.max(norm, Math.abs(w));
  });
  return diff / norm;
};

describe.skipIf(!hasTorch).each(CASES)('%s: torchvision weights', (arch) => {
  let expected: Expected;
  beforeAll(() => {
    expected = JSON.parse(readFileSync(join(dir, `${arch}.json`), 'utf8')) as Expected;
  });

  it.each(['pth', 'safetensors'])('loads from .%s: softmax within 1e-4, pooled features within 1e-3 relative', (ext) => {
    const state = readCheckpoint(new Uint8Array(readFileSync(join(dir, `${arch}.${ext}`))));
    const before = tf.memory().numTensors;
    const full = buildArchitecture(arch, { imageSize: SIZE, channels: 3, numClasses: 1000, seed: 7 });
    const backbone = buildArchitectureFeatures(arch, { imageSize: SIZE, channels: 3, seed: 7 });
    try {
      loadTorchvisionWeights(full, arch, state);
      loadTorchvisionWeights(backbone, arch, state);
      const x = tf.tensor4d(expected.images.flat(), [IMAGES, SIZE, SIZE, 3]);
      const logits = tf.tidy(() => (full.predict(x) as tf.Tensor).dataSync() as Float32Array);
      const probs = tf.tidy(() => tf.softmax(tf.tensor2d(logits, [IMAGES, 1000])).dataSync() as Float32Array);
      const want = tf.tidy(() => tf.softmax(tf.tensor2d(expected.logits)).dataSync() as Float32Array);
      const pooled = tf.tidy(() => {
        const f = backbone.predict(x) as tf.Tensor;
        const axes = f.shape.slice(1, -1).map((_, i) => i + 1);
        return (axes.length ? f.mean(axes) : f).dataSync() as Float32Array;
      });
      x.dispose();
      const probDiff = Math.max(...probs.map((p, i) => Math.abs(p - want[i])));
      const featureError = relativeError(pooled, expected.features.flat());
      console.log(`${arch} .${ext}: softmax max |Δ| ${probDiff.toExponential(2)}, features relative ${featureError.toExponential(2)}`);
      expect(probDiff).toBeLessThan(1e-4);
      expect(featureError).toBeLessThan(1e-3);
      // The logits themselves too, so that a near-uniform softmax cannot hide a mismatch.
      expect(relativeError(logits, expected.logits.flat())).toBeLessThan(1e-3);
    } finally {
      full.dispose();
      backbone.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  }, 300_000);

  it.runIf(arch === 'resnet18')('names every key that is missing, extra or of the wrong shape, and leaves the model as it was', () => {
    const state = readCheckpoint(new Uint8Array(readFileSync(join(dir, `${arch}.pth`))));
    state.delete('layer2.0.downsample.1.running_var');
    state.set('layer5.0.conv1.weight', { shape: [1], data: new Float32Array(1) });
    state.set('layer1.1.conv2.weight', { shape: [64, 64, 1, 3], data: new Float32Array(64 * 64 * 3) });
    const model = buildArchitectureFeatures(arch, { imageSize: 32, channels: 3, seed: 7 });
    const before = model.getLayer('conv1').getWeights()[0].dataSync().slice();
    try {
      expect(() => loadTorchvisionWeights(model, arch, state)).toThrow(
        "these weights do not fit torchvision's resnet18: missing 1: layer2.0.downsample.1.running_var — wrong shape 1: layer1.1.conv2.weight is [64,64,1,3], expected [64,64,3,3] — not in resnet18 1: layer5.0.conv1.weight",
      );
      expect(model.getLayer('conv1').getWeights()[0].dataSync()).toEqual(before);
    } finally {
      model.dispose();
    }
  });
});
