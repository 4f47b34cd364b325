/**
 * Training from torchvision weights, through the real engine on WASM with fake-indexeddb: each ImageNet backbone
 * besides ResNet-18 (the e2e tests/e2e/torch-weights.spec.ts trains that one in the UI and the CLI) gets a random-init
 * state_dict that Debian's PyTorch writes at test time (tests/fixtures/torchvision_parity.py), picked as a weights
 * file, then trains with frozen, medical and finetune (the last block, after a probe epoch), with feature caching.
 * The checkpoint must hold the file's weights in every frozen layer, and new ones in the block that trained.
 */
import 'fake-indexeddb/auto';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBlocks } from '../../src/core/models/strategies';
import { torchvisionBackbone } from '../../src/core/models/torch/backbone';
import { readCheckpoint } from '../../src/core/models/torch/checkpoint';
import { BUILTIN_ZOO } from '../../src/core/models/zoo';
import { loadCheckpoint } from '../../src/core/store/checkpoints';
import { openStudioDB, type StudioDB } from '../../src/core/store/db';
import type { StrategyName } from '../../src/core/models/strategies';
import type { TrainConfig } from '../../src/engine/types';
import { StudioEngine } from '../../workers/engine';

const PYTHON = '/usr/bin/python3';
const probe = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
const hasTorch = probe.status === 0;
if (!hasTorch) console.warn(`torchvision training skipped: ${PYTHON} cannot import torch and torchvision (apt-get install python3-torch python3-torchvision): ${(probe.stderr || probe.error?.message || '').trim().split('\n').pop()}`);

// The smallest input each architecture takes with ImageNet weights: the CNNs' five stride-2 stages need 32 px;
// ViT's position embedding and Swin's 7×7 windows are laid out for 224 px.
const SIZES: Record<string, number> = { resnet50: 32, efficientnet_b0: 32, vit_b16: 224, swin_t: 224, swin_s: 224 };
/**
 * ViT-B/16 (86 M parameters) and Swin-S (49 M) take about 3 and 2 minutes here (2 busy cores), more than the rest of
 * the file together: they run when TORCH_TRAINING names them (`all`, or a list such as `vit_b16,swin_s`).
 */
const BIG = ['vit_b16', 'swin_s'];
const asked = process.env.TORCH_TRAINING ?? '';
const CASES = asked === 'all' ? Object.keys(SIZES) : asked ? asked.split(',') : Object.keys(SIZES).filter((a) => !BIG.includes(a));
if (hasTorch && CASES.length < Object.keys(SIZES).length) console.warn(`torchvision training of ${Object.keys(SIZES).filter((a) => !CASES.includes(a)).join(', ')} skipped: set TORCH_TRAINING=all to train them too (minutes each)`);
/** What the head reads from each backbone (frozen and medical cache this per image). */
const FEATURES: Record<string, number> = { resnet50: 2048, efficientnet_b0: 1280, vit_b16: 768, swin_t: 768, swin_s: 768 };
/**
 * Where finetune's cache ends with the last block trainable: that block's input (Swin: the parameter-free 2×2
 * gather of its patch merging, which the cache holds rather than the tokens it reshapes).
 */
const LAST_BLOCK_INPUT: Record<string, { boundary: string; featureShape: number[] }> = {
  resnet50: { boundary: 'layer3_5_out', featureShape: [2, 2, 1024] },
  efficientnet_b0: { boundary: 'block7a_project_bn', featureShape: [1, 1, 320] },
  vit_b16: { boundary: 'encoder_layer_10_add_2', featureShape: [197, 768] },
  swin_t: { boundary: 'features_6_merge', featureShape: [49, 1536] },
  swin_s: { boundary: 'features_6_merge', featureShape: [49, 1536] },
};

const engine = new StudioEngine();
let dir = '';
let db: StudioDB;
beforeAll(async () => {
  // The engine sets Vite's URLs for the WASM binaries; Node reads them from the package.
  const wasmDir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  setWasmPaths(Object.fromEntries(['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'].map((f) => [f, join(wasmDir, f)])) as Parameters<typeof setWasmPaths>[0]);
  // WASM: ViT-B/16 and Swin-S at 224 px take minutes per pass on TF.js's CPU backend.
  await engine.init('wasm');
  db = await openStudioDB();
  dir = mkdtempSync(join(tmpdir(), 'torch-training-'));
  // 0 images: the weights files only.
  if (hasTorch && CASES.length) execFileSync(PYTHON, [join(__dirname, '../fixtures/torchvision_parity.py'), CASES.join(','), '224', '0', dir], { stdio: 'inherit' });
}, 600_000);
afterAll(() => {
  db?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const cfg = (arch: string, strategy: StrategyName): TrainConfig => ({
  // Three phantoms per class (the demo's least): three to train on in one batch, three to validate, three unused.
  dataset: { kind: 'demo', seed: 1, imageSize: SIZES[arch], perClass: 3, split: { train: 0.34, val: 0.33, test: 0.33 } },
  model: `${arch}_imagenet`,
  strategy,
  ...(strategy === 'finetune' ? { epochs: 2, probeEpochs: 1, trainableBlocks: 1 } : { epochs: 1 }),
  batchSize: 4,
  learningRate: 1e-3,
  seed: 1,
  earlyStopping: null,
});

for (const arch of Object.keys(SIZES)) describe.skipIf(!hasTorch || !CASES.includes(arch))(`${arch} from a torchvision state_dict`, () => {
  const id = `${arch}_imagenet`;
  /** The file's weights as the studio lays them out, by the name a checkpoint stores them under. */
  let loaded: Map<string, Float32Array>;
  /** The layers of the backbone's last block, which finetune's second epoch trains. */
  let lastBlock: Set<string>;
  beforeAll(async () => {
    const bytes = readFileSync(join(dir, `${arch}.pth`));
    // "Choose weights file…": checked against the architecture, then cached where runs read it.
    const picked = await engine.importWeightsFile(id, new File([bytes], `${arch}.pth`));
    expect(picked).toMatchObject({ id, file: `${arch}.pth`, weights: BUILTIN_ZOO.entry(id).params });
    const backbone = torchvisionBackbone(BUILTIN_ZOO.entry(id), readCheckpoint(new Uint8Array(bytes)), SIZES[arch]);
    try {
      loaded = new Map(backbone.model.weights.map((w) => [w.originalName, w.read().dataSync() as Float32Array]));
      lastBlock = new Set(listBlocks(backbone.model, BUILTIN_ZOO.entry(id).family).at(-1)!.layers);
    } finally {
      backbone.model.dispose();
    }
  }, 600_000);

  /** The backbone weights the run's last checkpoint holds with values other than the file's. */
  async function changedWeights(runId: string): Promise<string[]> {
    const checkpoint = (await loadCheckpoint(db, runId, 'last'))!;
    const stored = new Map(checkpoint.weights.map((w) => [w.name, w.data]));
    const changed: string[] = [];
    for (const [name, want] of loaded) {
      const got = stored.get(name);
      expect(got, `${name} is in the checkpoint`).toBeDefined();
      if (got!.some((v, i) => v !== want[i])) changed.push(name);
    }
    return changed;
  }

  it.each(['frozen', 'medical'] as const)('%s: finite loss, cached pooled features, the backbone exactly as loaded', async (strategy) => {
    const before = tf.memory().numTensors;
    const run = await engine.train(cfg(arch, strategy), () => undefined);
    expect(run).toMatchObject({ status: 'completed', model: id, strategy, split: { train: 3, val: 3 } });
    expect(run.epochs.flatMap((e) => [e.trainLoss, e.valLoss]).every(Number.isFinite)).toBe(true);
    expect(run.featureCache).toMatchObject({ images: 6, featureShape: [FEATURES[arch]] });
    expect(await changedWeights(run.runId)).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  }, 600_000);

  it('finetune, 1 block after a probe epoch: finite loss, features cached at the last block, only that block changed', async () => {
    const before = tf.memory().numTensors;
    const run = await engine.train(cfg(arch, 'finetune'), () => undefined);
    expect(run).toMatchObject({ status: 'completed', model: id, strategy: 'finetune' });
    expect(run.epochs.map((e) => e.phase)).toEqual(['probe', 'finetune']);
    expect(run.epochs.flatMap((e) => [e.trainLoss, e.valLoss]).every(Number.isFinite)).toBe(true);
    // Both phases trained on cached activations: the probe on pooled features, the fine-tuning on the last block's input.
    const [probePhase, finetunePhase] = run.phases!;
    expect(probePhase.featureCache).toMatchObject({ images: 6, featureShape: [FEATURES[arch]] });
    expect(finetunePhase.featureCache).toMatchObject({ images: 6, ...LAST_BLOCK_INPUT[arch] });
    const layerOf = (name: string) => name.slice(0, name.lastIndexOf('/'));
    const changed = await changedWeights(run.runId);
    expect(changed.filter((n) => !lastBlock.has(layerOf(n)))).toEqual([]);
    // Every kernel of the block that trained moved (its BatchNorm statistics, if any, may or may not).
    const kernels = [...loaded.keys()].filter((n) => lastBlock.has(layerOf(n)) && n.endsWith('/kernel'));
    expect(kernels.length).toBeGreaterThan(0);
    expect(kernels.filter((n) => !changed.includes(n))).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  }, 600_000);
});
