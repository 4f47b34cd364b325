/**
 * "Bring back a cluster run", through the real engine on WASM with fake-indexeddb: a tiny browser run trains (ResNet-18
 * from a random-init torchvision file with the medical head, the simple CNN, ResNet-18 from scratch), Debian's PyTorch writes what
 * train.py sends back for it (tests/fixtures/cluster_state_dict.py: model.pth in the contract's layout, metrics.json,
 * and its own softmax on seeded inputs), and the import must give a run whose stored network answers as PyTorch does,
 * that compareRuns, evaluate and register take as any run. Files that do not fit the run are refused by name.
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
import { checkMetricsAgainstRun, ClusterImportError, clusterArchitecture, parseClusterMetrics } from '../../src/core/models/torch/cluster';
import { BUILTIN_ZOO } from '../../src/core/models/zoo';
import { loadCheckpoint } from '../../src/core/store/checkpoints';
import { openStudioDB, type StudioDB } from '../../src/core/store/db';
import { EngineError } from '../../src/engine/errors';
import type { RunRecord, Strategy, TrainConfig } from '../../src/engine/types';
import { StudioEngine } from '../../workers/engine';
import { restoredModel } from '../../workers/models';

const PYTHON = '/usr/bin/python3';
const probe = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
const hasTorch = probe.status === 0;
if (!hasTorch) console.warn(`cluster import skipped: ${PYTHON} cannot import torch and torchvision (apt-get install python3-torch python3-torchvision): ${(probe.stderr || probe.error?.message || '').trim().split('\n').pop()}`);

const FIXTURE = join(__dirname, '../fixtures/cluster_state_dict.py');
const SIZE = 32;
const IMAGES = 6;

const engine = new StudioEngine();
let dir = '';
let db: StudioDB;

beforeAll(async () => {
  if (!hasTorch) return;
  const wasmDir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  setWasmPaths(Object.fromEntries(['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'].map((f) => [f, join(wasmDir, f)])) as Parameters<typeof setWasmPaths>[0]);
  await engine.init('wasm');
  db = await openStudioDB();
  dir = mkdtempSync(join(tmpdir(), 'cluster-import-'));
  // The browser run's "ImageNet" weights: a random-init torchvision file, picked as a weights file.
  execFileSync(PYTHON, [join(__dirname, '../fixtures/torchvision_parity.py'), 'resnet18', '224', '0', dir], { stdio: 'inherit' });
  await engine.importWeightsFile('resnet18_imagenet', new File([readFileSync(join(dir, 'resnet18.pth'))], 'resnet18.pth'));
}, 600_000);
afterAll(() => {
  db?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const cfg = (model: string, strategy: Strategy): TrainConfig => ({
  dataset: { kind: 'demo', seed: 1, imageSize: SIZE, perClass: 3, split: { train: 0.34, val: 0.33, test: 0.33 } },
  model,
  strategy,
  epochs: 1,
  batchSize: 4,
  learningRate: 1e-3,
  seed: 1,
  earlyStopping: null,
});

/** Runs the fixture for `run` into a fresh folder (extra: ARCH HEAD overrides, classes, seed). */
function cluster(run: RunRecord, arch: string, head: string, opts: { classes?: string[]; seed?: number; name?: string } = {}): string {
  const out = join(dir, opts.name ?? `${run.runId}-${arch}-${head}`);
  execFileSync(PYTHON, [FIXTURE, arch, head, run.runId, (opts.classes ?? run.classes).join(','), String(SIZE), '3', String(IMAGES), out, String(opts.seed ?? 0)], { stdio: 'inherit' });
  return out;
}

const files = (out: string, metricsFrom = out) => ({ model: readFileSync(join(out, 'model.pth')), metrics: readFileSync(join(metricsFrom, 'metrics.json'), 'utf8') });

async function refusal(p: Promise<unknown>): Promise<EngineError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(EngineError);
  return err as EngineError;
}

describe.skipIf(!hasTorch).each([
  { model: 'resnet18_imagenet', strategy: 'medical' as const, arch: 'resnet18', head: 'medical' },
  { model: 'simple_cnn', strategy: 'scratch' as const, arch: 'simple_cnn', head: 'none' },
  // From scratch, the whole torchvision network: its classifier comes back as studio_head.logits.
  { model: 'resnet18', strategy: 'scratch' as const, arch: 'resnet18', head: 'linear' },
])('$model ($strategy) brought back from a cluster', ({ model, strategy, arch, head }) => {
  let source: RunRecord;
  let out = '';
  let imported: RunRecord;

  beforeAll(async () => {
    source = await engine.train(cfg(model, strategy), () => undefined);
    expect(source.status).toBe('completed');
    out = cluster(source, arch, head);
  }, 600_000);

  it('becomes a completed run linked to its browser run, with the cluster epochs and provenance', async () => {
    const before = tf.memory().numTensors;
    imported = await engine.importClusterRun(source.runId, files(out));
    expect(tf.memory().numTensors).toBe(before);
    expect(imported).toMatchObject({
      runId: `${source.runId}-cluster`,
      status: 'completed',
      model,
      strategy,
      classes: source.classes,
      split: source.split,
      input: source.input,
      config: source.config,
      best: { epoch: 2, valAccuracy: 0.75 },
      checkpoint: { best: 2, last: null },
      tags: ['cluster'],
      cluster: { sourceRunId: source.runId, worldSize: 2, device: 'cpu', amp: false },
    });
    expect(imported.cluster!.torch).toMatch(/^\d+\.\d+/);
    expect(imported.cluster!.modelSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(imported.epochs.map((e) => [e.epoch, e.trainLoss, e.valAccuracy])).toEqual([
      [1, 1.05, 0.5],
      [2, 0.8, 0.75],
    ]);
    expect((await engine.runs()).map((r) => r.runId)).toEqual(expect.arrayContaining([source.runId, imported.runId]));
  }, 600_000);

  it("its stored network answers as PyTorch's: same argmax, probabilities within 1e-4", async () => {
    const parity = JSON.parse(readFileSync(join(out, 'parity.json'), 'utf8')) as { shape: number[]; inputs: number[]; probs: number[][] };
    // Rebuilt the way evaluation and registration rebuild a run: its network, then its best checkpoint.
    const checkpoint = (await loadCheckpoint(db, imported.runId, 'best'))!;
    const built = await restoredModel(db, BUILTIN_ZOO, imported, checkpoint, { imageSize: SIZE, channels: 3, numClasses: imported.classes.length }, imported.input!.normalization);
    try {
      const probs = tf.tidy(() => tf.softmax(built.model.predict(tf.tensor4d(parity.inputs, parity.shape as [number, number, number, number])) as tf.Tensor).arraySync() as number[][]);
      const argmax = (row: number[]) => row.indexOf(Math.max(...row));
      expect(probs.map(argmax)).toEqual(parity.probs.map(argmax));
      // The fixture spreads its answers: a constant output would not test much.
      expect(new Set(parity.probs.map(argmax)).size).toBeGreaterThan(1);
      const diff = Math.max(...probs.flatMap((row, i) => row.map((p, j) => Math.abs(p - parity.probs[i][j]))));
      console.log(`${model} (${strategy}) brought back: max |Δp| ${diff.toExponential(2)} against PyTorch on ${probs.length} inputs`);
      expect(diff).toBeLessThanOrEqual(1e-4);
    } finally {
      built.model.dispose();
    }
  }, 600_000);

  it('is compared side by side with the browser run, evaluated on its test split and registered with its provenance', async () => {
    const rows = await engine.compareRuns([source.runId, imported.runId]);
    expect(rows.map((r) => [r.runId, r.model, r.epochs, r.bestValAccuracy])).toEqual([
      [source.runId, model, 1, source.best!.valAccuracy],
      [imported.runId, model, 2, 0.75],
    ]);
    expect(rows[1].params).toBe(rows[0].params);

    const evaluation = await engine.evaluate({ runId: imported.runId, latencySamples: 2 }, () => undefined);
    expect(evaluation.checkpoint).toMatchObject({ kind: 'best', epoch: 2 });
    expect(evaluation.data.images).toBe(source.split.test);
    expect((await engine.compareRuns([imported.runId]))[0].evaluation?.images).toBe(source.split.test);

    const version = await engine.register({ runId: imported.runId, name: `cluster-${model.replace(/_/g, '-')}`, version: '1.0.0', threshold: 0.5 });
    expect(version.runId).toBe(imported.runId);
    expect(version.card).toContain(`trained with PyTorch DDP on 2 × cpu, torch ${imported.cluster!.torch}, AMP off, from run ${source.runId}`);
  }, 600_000);
});

describe.skipIf(!hasTorch)('a cluster run that does not fit its browser run is refused, by name', () => {
  let source: RunRecord;
  let out = '';
  beforeAll(async () => {
    source = await engine.train(cfg('resnet18_imagenet', 'mlp'), () => undefined);
    out = cluster(source, 'resnet18', 'mlp');
  }, 600_000);

  it('keys missing, left over or misshapen', async () => {
    const broken = join(dir, 'broken');
    execFileSync(PYTHON, [
      '-c',
      `import os, torch; s = torch.load(${JSON.stringify(join(out, 'model.pth'))}); del s['layer1.0.conv1.weight']; s['fc.weight'] = torch.zeros(1000, 512); s['studio_head.extra.weight'] = torch.zeros(2); s['studio_head.logits.bias'] = torch.zeros(7); os.makedirs(${JSON.stringify(broken)}, exist_ok=True); torch.save(s, ${JSON.stringify(join(broken, 'model.pth'))})`,
    ]);
    const runsBefore = (await engine.runs()).length;
    const err = await refusal(engine.importClusterRun(source.runId, files(broken, out)));
    expect(err.code).toBe('E_CONFIG');
    expect(err.message).toContain('missing 1: layer1.0.conv1.weight');
    expect(err.message).toContain('studio_head.logits.bias is [7], expected [3]');
    expect(err.message).toMatch(/not in the model 2: (fc\.weight, studio_head\.extra\.weight|studio_head\.extra\.weight, fc\.weight)/);
    expect((await engine.runs()).length).toBe(runsBefore);
  }, 600_000);

  it('another class count in model.pth or metrics.json, another head, another run', async () => {
    const runsBefore = (await engine.runs()).length;
    const four = cluster(source, 'resnet18', 'mlp', { classes: [...source.classes, 'extra'], name: 'four' });
    // metrics.json says four classes: the run has three.
    const byMetrics = await refusal(engine.importClusterRun(source.runId, files(four)));
    expect(byMetrics.message).toContain(`classes [${[...source.classes, 'extra'].join(', ')}], the run's are [${source.classes.join(', ')}]`);
    // model.pth has four logits under the run's own metrics.
    const byModel = await refusal(engine.importClusterRun(source.runId, files(four, out)));
    expect(byModel.message).toMatch(/studio_head\.logits\.weight is \[4,100\], expected \[3,100\]/);
    // A medical head (Dense 128) where the run trained the MLP head (Dense 100).
    const medical = cluster(source, 'resnet18', 'medical', { name: 'medical' });
    const byHead = await refusal(engine.importClusterRun(source.runId, files(medical)));
    expect(byHead.message).toContain('studio_head.head_dense.weight is [128,512], expected [100,512]');
    // The metrics of another run.
    const other = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    const byRun = await refusal(engine.importClusterRun(source.runId, { model: readFileSync(join(out, 'model.pth')), metrics: JSON.stringify({ ...other, runId: 'run-elsewhere' }) }));
    expect(byRun.message).toContain(`metrics.json belongs to run run-elsewhere, not ${source.runId}`);
    // Another architecture.
    const byArch = await refusal(engine.importClusterRun(source.runId, { model: readFileSync(join(out, 'model.pth')), metrics: JSON.stringify({ ...other, architecture: 'resnet50' }) }));
    expect(byArch.message).toContain('architecture resnet50, the run\'s is resnet18');
    // Not a metrics.json at all, and not a state_dict.
    expect((await refusal(engine.importClusterRun(source.runId, { model: readFileSync(join(out, 'model.pth')), metrics: '{"epochs": []}' }))).message).toContain("not a cluster run's metrics");
    expect((await refusal(engine.importClusterRun(source.runId, { model: new TextEncoder().encode('not a zip'), metrics: JSON.stringify(other) }))).message).toContain('model.pth is not a PyTorch state_dict');
    expect((await engine.runs()).length).toBe(runsBefore);
  }, 600_000);
});

describe('metrics.json and the model, checked before any weight is read', () => {
  const metrics = { format: 'mri-studio-cluster-run', version: 1, runId: 'run-a', architecture: 'mobilenet_v2', classes: ['a', 'b'], imageSize: 32, channels: 3, epochs: [{ epoch: 1, loss: 1, accuracy: 0.5, valLoss: 1, valAccuracy: 0.5, seconds: 1 }], best: { epoch: 1, valAccuracy: 0.5 }, torch: '2.3.0', worldSize: 8, device: 'cuda', amp: true, startedAt: '', endedAt: '' };

  it('names every unusable field of metrics.json', () => {
    const err = (() => {
      try {
        parseClusterMetrics({ ...metrics, classes: ['a'], worldSize: 0, epochs: [{ epoch: 1, loss: 'x' }], best: { epoch: 3, valAccuracy: 1 } });
      } catch (e) {
        return e as ClusterImportError;
      }
    })();
    expect(err).toBeInstanceOf(ClusterImportError);
    expect(err!.problems).toEqual(['classes must list at least 2 class names', 'worldSize must be a whole number of processes ≥ 1', 'epochs[0] lacks a number for loss, accuracy, valLoss, valAccuracy, seconds', 'best.epoch 3 is not among the epochs']);
    expect(() => parseClusterMetrics('{')).toThrow(/metrics.json is not JSON/);
    expect(() => parseClusterMetrics({ ...metrics, version: 2 })).toThrow('metrics.json is version 2; this studio reads version 1');
  });

  it('refuses a model with no PyTorch twin by name, and accepts torchvision\'s spelling of a builder', () => {
    expect(() => clusterArchitecture(BUILTIN_ZOO.entry('mobilenet_v2_0.35_224'))).toThrow(/mobilenet_v2_0\.35_224\) has no PyTorch twin, so it cannot come back from a cluster; these can: simple_cnn, resnet18/);
    expect(() => clusterArchitecture(BUILTIN_ZOO.entry('vit_s16'))).toThrow(/vit_s16\) has no PyTorch twin/);
    expect(clusterArchitecture(BUILTIN_ZOO.entry('vit_b16_imagenet'))).toBe('vit_b16');
    const run = { runId: 'run-a', model: 'vit_b16_imagenet', classes: ['a', 'b'], input: { imageSize: 224, channels: 3 } } as unknown as RunRecord;
    expect(() => checkMetricsAgainstRun(parseClusterMetrics({ ...metrics, architecture: 'vit_b_16', imageSize: 224 }), run, BUILTIN_ZOO)).not.toThrow();
    expect(() => checkMetricsAgainstRun(parseClusterMetrics({ ...metrics, architecture: 'vit_b_16' }), run, BUILTIN_ZOO)).toThrow('metrics.json does not match run run-a: image size 32 px, the run\'s is 224 px');
  });
});
