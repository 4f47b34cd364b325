import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { demoImage } from '../../src/core/dataset/demo';
import { analyzeWith } from '../../src/core/dataset/importer';
import { exportableModels } from '../../src/core/recipe/recipe';
import { BUILTIN_ZOO } from '../../src/core/models/zoo';
import { openStudioDB, saveRun } from '../../src/core/store/db';
import type { RecipeFile, RunRecord } from '../../src/engine/types';
import { StudioEngine } from '../../workers/engine';

// The real engine on TF.js's CPU backend and fake-indexeddb; the "files" are raw pixels, which this decoder copies.
const SIZE = 8;
const bytesOf = (k: number, i: number) => demoImage(k, i, 5, SIZE) as Uint8Array<ArrayBuffer>;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const csvRows = (text: string) => text.trimEnd().split('\r\n').map((l) => l.split(','));
const file = (files: RecipeFile[], name: string) => files.find((f) => f.name === name)!.text;

describe('engine.exportRecipe', () => {
  const engine = new StudioEngine(analyzeWith(async (_file, bytes, _size, _channels, out) => out.set(bytes)));
  const paths: string[] = [];
  const contents: Uint8Array[] = [];
  let run: RunRecord;
  beforeAll(async () => {
    await engine.init('cpu');
    ['glioma', 'healthy'].forEach((c, k) => {
      for (let i = 0; i < 12; i++) {
        paths.push(`scans/${c}/patient ${i}.png`);
        // Image 11 of each class is a copy of image 10: a duplicate group the split keeps together.
        contents.push(bytesOf(k, i === 11 ? 10 : i));
      }
    });
    const files = contents.map((b, j) => new File([b as Uint8Array<ArrayBuffer>], paths[j].split('/').pop()!));
    await engine.scanFolder({ kind: 'files', name: 'scans', files, paths });
    const summary = await engine.importDataset({ imageSize: SIZE, channels: 3, split: { train: 0.5, val: 0.25, test: 0.25 }, seed: 1, dedupe: 'keep-together' }, () => {});
    run = await engine.train({ dataset: { kind: 'folder', fingerprint: summary.fingerprint }, model: 'simple_cnn', epochs: 1, batchSize: 4, learningRate: 0.003, seed: 3, labelSmoothing: 0.1, augment: 'default', earlyStopping: null }, () => {});
  }, 120_000);

  it('writes the six files, with the run in config.json and every image in split.csv by path (with consent)', async () => {
    const files = await engine.exportRecipe(run.runId, { fileNames: true });
    expect(files.map((f) => f.name)).toEqual(['README.md', 'train.py', 'config.json', 'split.csv', 'requirements.txt', 'slurm.sh']);
    const config = JSON.parse(file(files, 'config.json'));
    expect(config).toMatchObject({
      format: 'mri-studio-recipe',
      version: 1,
      runId: run.runId,
      model: 'simple_cnn',
      architecture: 'simple_cnn',
      pretrained: false,
      strategy: 'scratch',
      head: null,
      classes: ['glioma', 'healthy'],
      imageSize: SIZE,
      channels: 3,
      normalization: run.input!.normalization,
      optimizer: 'adam',
      learningRate: 0.003,
      epochs: 1,
      batchSize: 4,
      labelSmoothing: 0.1,
      clipNorm: 1,
      earlyStopping: null,
      keepEpoch: 'best',
      seed: 3,
      augment: { flip: true, rotationDeg: 15, brightness: 0.2, contrast: 0.2, randomResizedCrop: false },
      dataset: { name: 'scans', keys: 'paths', images: 24, counts: run.split, leftOut: [] },
    });
    const rows = csvRows(file(files, 'split.csv'));
    expect(rows[0]).toEqual(['key', 'class', 'split', 'group']);
    expect(rows.slice(1).map((r) => r[0])).toEqual(paths.map((p) => p.slice('scans/'.length)).sort());
    const byKey = new Map(rows.slice(1).map((r) => [r[0], r]));
    // The duplicate pairs are one group each, in one split, named (with consent) by their first path.
    for (const c of ['glioma', 'healthy']) {
      const [a, b] = [byKey.get(`${c}/patient 10.png`)!, byKey.get(`${c}/patient 11.png`)!];
      expect(a[3]).toBe(`${c}/patient 10.png`);
      expect(b.slice(1)).toEqual(a.slice(1));
    }
    expect(rows.slice(1).filter((r) => r[2] === 'test')).toHaveLength(run.split.test);
    expect(file(files, 'train.py')).toMatch(/^#!\/usr\/bin\/env python3\n/);
    expect(file(files, 'train.py')).toContain('DistributedDataParallel');
    const readme = file(files, 'README.md');
    for (const text of ['--nproc_per_node=4', '--nnodes=2', '--node_rank=0', '--rdzv_backend=c10d', '--rdzv_endpoint=HEAD:29500', 'sbatch slurm.sh', 'Bring back a cluster run', `import-cluster --run ${run.runId} --dir OUT`]) expect(readme).toContain(text);
    expect(file(files, 'slurm.sh')).toMatch(/srun torchrun --nnodes="\$SLURM_JOB_NUM_NODES"/);
  });

  it('names images by the SHA-256 of their bytes without consent, leaving no path in any file', async () => {
    const files = await engine.exportRecipe(run.runId, { fileNames: false });
    const rows = csvRows(file(files, 'split.csv')).slice(1);
    expect(rows.map((r) => r[0])).toEqual(contents.map((b) => `sha256:${sha256(b)}`).sort());
    // Group ids would be paths: they become g1, g2.
    expect([...new Set(rows.map((r) => r[3]).filter(Boolean))].sort()).toEqual(['g1', 'g2']);
    expect(JSON.parse(file(files, 'config.json')).dataset).toMatchObject({ name: null, keys: 'sha256' });
    for (const f of files) expect(f.text).not.toMatch(/patient \d+\.png|scans\//);
  });

  it('lists the duplicates a dedupe dropped as left out (with file names), so train.py does not take them for added files', async () => {
    const summary = await engine.importDataset({ imageSize: SIZE, channels: 3, split: { train: 0.5, val: 0.25, test: 0.25 }, seed: 1, dedupe: 'drop' }, () => {});
    const deduped = await engine.train({ dataset: { kind: 'folder', fingerprint: summary.fingerprint }, model: 'simple_cnn', epochs: 1, batchSize: 4, learningRate: 0.003, seed: 3 }, () => {});
    const files = await engine.exportRecipe(deduped.runId, { fileNames: true });
    const keys = csvRows(file(files, 'split.csv')).slice(1).map((r) => r[0]);
    const { leftOut } = JSON.parse(file(files, 'config.json')).dataset;
    expect(keys).toHaveLength(22);
    expect(leftOut).toHaveLength(2);
    for (const path of leftOut) expect(keys).not.toContain(path);
    expect(leftOut.every((p: string) => /^(glioma|healthy)\/patient 1[01]\.png$/.test(p))).toBe(true);
    // Without consent no path is exported: train.py recognises such copies by their content.
    expect(JSON.parse(file(await engine.exportRecipe(deduped.runId, { fileNames: false }), 'config.json')).dataset.leftOut).toEqual([]);
  });

  it('exports from the stored split after a reload, and refuses a model without a torchvision twin by name', async () => {
    const fresh = new StudioEngine();
    await fresh.init('cpu');
    expect((await fresh.exportRecipe(run.runId, { fileNames: false })).map((f) => f.name)).toContain('split.csv');
    const db = await openStudioDB();
    await saveRun(db, { ...run, runId: `${run.runId}-mobilenet`, model: 'mobilenet_v2_0.35_224', strategy: 'mlp', config: { ...run.config, model: 'mobilenet_v2_0.35_224', strategy: 'mlp' } });
    const err = await fresh.exportRecipe(`${run.runId}-mobilenet`, { fileNames: false }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_CONFIG', message: expect.stringContaining('MobileNet v2 α 0.35 (224) has no torchvision twin') });
    expect((err as Error).message).toContain(exportableModels(BUILTIN_ZOO).join(', '));
    expect(exportableModels(BUILTIN_ZOO)).toEqual(expect.arrayContaining(['simple_cnn', 'resnet18', 'resnet18_imagenet', 'efficientnet_b0_imagenet', 'vit_b16_imagenet', 'swin_t_imagenet']));
    expect(exportableModels(BUILTIN_ZOO).some((id) => id.startsWith('mobilenet') || id === 'xception')).toBe(false);
    await expect(fresh.exportRecipe('run-none', { fileNames: true })).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await saveRun(db, { ...run, runId: `${run.runId}-demo`, config: { ...run.config, dataset: { kind: 'demo', seed: 1, imageSize: 8, perClass: 5, split: { train: 0.6, val: 0.2, test: 0.2 } } } });
    await expect(fresh.exportRecipe(`${run.runId}-demo`, { fileNames: true })).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/demo images/) });
  });
});
