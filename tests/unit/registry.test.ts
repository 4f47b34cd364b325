import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import { openDB } from 'idb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeModel, type ModelMetadata } from '../../src/core/export/metadata';
import { exportTfjs, importTfjs, type ModelFiles } from '../../src/core/export/tfjs';
import { buildSimpleCnn } from '../../src/core/models/simple_cnn';
import { wilsonInterval } from '../../src/core/registry/card';
import { aliasForStage, deleteModelVersion, listModels, loadModelFiles, parseTags, registerModel, RegistryError, removeAlias, resolveModel, reviewRegistration, reviewRegistrationIn, setAlias, type RegisterRequest } from '../../src/core/registry/registry';
import { compareSemver, parseSemver, semverProblem } from '../../src/core/registry/semver';
import { idbBackboneCache } from '../../src/core/store/backbones';
import { DB_VERSION, getRun, openStudioDB, type StudioDB } from '../../src/core/store/db';
import { recordBytes, storageUsage } from '../../src/core/store/usage';
import type { RunRecord } from '../../src/core/train/types';
import { probabilitiesOf, randomizeWeights, randomPixels } from '../fixtures/export';
import { withFullDisk } from '../fixtures/quota';

const LABELS = ['glioma', 'meningioma', 'notumor', 'pituitary'];
const STATS = { mean: [0.2, 0.2, 0.2], std: [0.2, 0.2, 0.2] };
let dbCount = 0;
const freshDb = () => openStudioDB(`registry-test-${++dbCount}`);

function run(valAccuracy: number, overrides: Partial<RunRecord> = {}): RunRecord {
  const epoch = { epoch: 3, trainLoss: 0.3, trainAccuracy: 0.93, valLoss: 0.41, valAccuracy, seconds: 2, imagesPerSecond: 100 };
  return {
    runId: 'run-20260101-abc',
    status: 'completed',
    startedAt: '2026-01-01T00:00:00Z',
    endedAt: '2026-01-01T00:10:00Z',
    config: { dataset: { kind: 'folder', fingerprint: 'f'.repeat(64) }, model: 'simple_cnn', strategy: 'scratch', epochs: 5, batchSize: 8, learningRate: 3e-3, seed: 42 },
    backend: 'webgpu',
    adapter: { vendor: 'google', architecture: 'swiftshader', device: '', description: 'SwiftShader', isSoftware: true },
    model: 'simple_cnn',
    strategy: 'scratch',
    optimizer: 'adam',
    checkpoint: { best: 3, last: 5 },
    classes: LABELS,
    split: { train: 280, val: 50, test: 60 },
    epochs: [epoch],
    best: { epoch: 3, valAccuracy },
    dataset: {
      fingerprint: 'f'.repeat(64),
      classes: LABELS,
      counts: { train: { glioma: 70, meningioma: 70, notumor: 70, pituitary: 70 }, val: { glioma: 13, meningioma: 12, notumor: 13, pituitary: 12 }, test: { glioma: 15, meningioma: 15, notumor: 15, pituitary: 15 } },
      skipped: [],
      duplicates: { exactGroups: [['a.jpg', 'b.jpg']], nearGroups: [], crossSplit: [] },
      normalization: STATS,
    },
    ...overrides,
  };
}

let model: tf.LayersModel;
let files: ModelFiles;
let metadata: ModelMetadata;

beforeAll(async () => {
  await tf.setBackend('cpu');
  model = buildSimpleCnn({ imageSize: 16, channels: 3, numClasses: 4, seed: 3 });
  randomizeWeights(model, 8);
  metadata = describeModel({ modelId: 'simple_cnn', strategy: 'scratch', labels: LABELS, inputSize: 16, channels: 3, normalization: STATS, scaling: 'dataset', runId: 'run-20260101-abc', libraries: { tfjs: tf.version.tfjs, studio: '0.1.0' } });
  files = await exportTfjs(model, metadata);
});

const register = (db: StudioDB, req: RegisterRequest, r = run(0.9)) => registerModel(db, { files, metadata, run: r }, req);
const codeOf = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (e instanceof RegistryError ? e.code : String(e)));

describe('semantic versions', () => {
  it('accepts MAJOR.MINOR.PATCH with pre-release and build, and says what is wrong otherwise', () => {
    for (const ok of ['1.0.0', '0.1.0', '10.20.30', '1.2.0-rc.1', '1.0.0-alpha+001', '1.0.0+20260101']) expect(semverProblem(ok)).toBeNull();
    expect(semverProblem('1.0')).toContain('it needs three numbers, MAJOR.MINOR.PATCH (e.g. 1.0.0)');
    expect(semverProblem('v1.0.0')).toContain('drop the leading "v" (e.g. 1.0.0)');
    for (const bad of ['01.0.0', '1.0.0-', '1.0.0-01', 'latest', '1.0.0.0', '']) expect(semverProblem(bad)).toMatch(/is not a semantic version/);
  });

  it('orders versions by semver precedence', () => {
    const order = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.2.0', '2.0.0'];
    const shuffled = [...order].reverse();
    expect(shuffled.sort((a, b) => compareSemver(parseSemver(a)!, parseSemver(b)!))).toEqual(order);
    expect(compareSemver(parseSemver('1.0.0+a')!, parseSemver('1.0.0+b')!)).toBe(0);
  });
});

describe('model registry', () => {
  const dbs: StudioDB[] = [];
  const open = async () => {
    const db = await freshDb();
    dbs.push(db);
    return db;
  };
  afterEach(() => dbs.splice(0).forEach((db) => db.close()));

  it('registers a run\'s best model and resolves it by version, alias and name; its files load back to the same predictions', async () => {
    const db = await open();
    const v = await register(db, { name: 'brain-mri', version: '1.0.0', description: 'First release', tags: ['site=oslo', 'scanner=3T'], aliases: ['champion'] });
    expect(v).toMatchObject({ id: 'brain-mri@1.0.0', runId: 'run-20260101-abc', epoch: 3, aliases: ['champion'], tags: { site: 'oslo', scanner: '3T' }, gate: { threshold: 0.85, passed: true, override: null } });
    expect(v.validation).toEqual({ accuracy: 0.9, n: 50, ci95: wilsonInterval(45, 50) });
    for (const ref of ['brain-mri@1.0.0', 'brain-mri@champion', 'brain-mri']) expect((await resolveModel(db, ref)).id).toBe('brain-mri@1.0.0');

    const imported = await importTfjs(await loadModelFiles(db, v.id));
    const pixels = randomPixels(3, 16, 3, 2);
    expect(Array.from(probabilitiesOf(imported.model, pixels, imported.metadata))).toEqual(Array.from(probabilitiesOf(model, pixels, metadata)));
    pixels.dispose();
    imported.model.dispose();
  });

  it('gates a model under 85 % validation accuracy unless an override reason is given, and records the reason', async () => {
    const db = await open();
    const refused = register(db, { name: 'brain-mri', version: '1.0.0' }, run(0.8));
    await expect(refused).rejects.toThrow('validation accuracy 80.0 % is below the 85.0 % threshold; give an override reason to register it anyway');
    expect(await listModels(db)).toEqual([]);
    expect(await codeOf(register(db, { name: 'brain-mri', version: '1.0.0', overrideReason: '   ' }, run(0.8)))).toBe('E_GATE');
    expect(await codeOf(register(db, { name: 'brain-mri', version: '1.0.0', threshold: 0.95 }, run(0.9)))).toBe('E_GATE');

    const v = await register(db, { name: 'brain-mri', version: '1.0.0', overrideReason: 'baseline for the ablation study' }, run(0.8));
    expect(v.gate).toMatchObject({ threshold: 0.85, passed: false, override: { reason: 'baseline for the ablation study' } });
    expect((await resolveModel(db, 'brain-mri@1.0.0')).gate.override?.reason).toBe('baseline for the ablation study');
    expect(v.card).toContain('**Accuracy gate overridden**: validation accuracy 80.0 % against a threshold of 85.0 %. Reason given');
    expect(v.card).toContain('“baseline for the ablation study”');
  });

  it('refuses bad names, versions, tags, aliases, a duplicate version and an unfinished run, writing nothing', async () => {
    const db = await open();
    expect(await codeOf(register(db, { name: 'Brain MRI', version: '1.0.0' }))).toBe('E_NAME');
    expect(await codeOf(register(db, { name: 'brain-mri', version: '1.0' }))).toBe('E_VERSION');
    expect(await codeOf(register(db, { name: 'brain-mri', version: '1.0.0', tags: ['oslo'] }))).toBe('E_TAG');
    expect(await codeOf(register(db, { name: 'brain-mri', version: '1.0.0', aliases: ['2.0.0'] }))).toBe('E_ALIAS');
    expect(await codeOf(register(db, { name: 'brain-mri', version: '1.0.0' }, run(0.9, { status: 'running' })))).toBe('E_RUN');
    expect(await listModels(db)).toEqual([]);
    await register(db, { name: 'brain-mri', version: '1.0.0' });
    await expect(register(db, { name: 'brain-mri', version: '1.0.0' })).rejects.toThrow('brain-mri@1.0.0 is already registered; versions are immutable');
    expect(parseTags(['a=1', 'b = x=y '])).toEqual({ a: '1', b: 'x=y' });
    expect(() => parseTags(['a=1', 'a=2'])).toThrow('tag "a" is given twice');
  });

  it('reviews a request before registering: every problem at once, the gate with its accuracy, a taken version, and a stage as its alias', async () => {
    const db = await open();
    const bad = reviewRegistration({ name: 'Brain MRI', version: 'v1.0.0', aliases: ['1.0.0'], tags: ['oslo'], stage: 'Prod' }, { run: run(0.8) });
    expect(bad.problems.map((p) => `${p.field}:${p.code}`)).toEqual(['name:E_NAME', 'version:E_VERSION', 'aliases:E_ALIAS', 'aliases:E_ALIAS', 'tags:E_TAG', 'gate:E_GATE']);
    expect(bad.problems.find((p) => p.field === 'version')?.message).toBe('"v1.0.0" is not a semantic version: drop the leading "v" (e.g. 1.0.0)');
    expect(bad.gate).toEqual({ accuracy: 0.8, threshold: 0.85, passed: false, overridden: false });

    const overridden = reviewRegistration({ name: 'brain-mri', version: '1.0.0', stage: 'Production', aliases: ['candidate'], overrideReason: 'baseline' }, { run: run(0.8) });
    expect(overridden).toMatchObject({ problems: [], aliases: ['candidate', 'champion'], gate: { passed: false, overridden: true } });
    // The request registerModel accepts is the one the review passed: the stage's alias lands on the version.
    expect((await register(db, { name: 'brain-mri', version: '1.0.0', stage: 'Production', overrideReason: 'baseline' }, run(0.8))).aliases).toEqual(['champion']);

    const taken = await reviewRegistrationIn(db, { name: 'brain-mri', version: '1.0.0' }, { run: run(0.9) });
    expect(taken.problems).toEqual([{ field: 'version', code: 'E_EXISTS', message: 'brain-mri@1.0.0 is already registered; versions are immutable, so register brain-mri under a new version' }]);
    expect((await reviewRegistrationIn(db, { name: 'brain-mri', version: '1.0.1' }, { run: run(0.9) })).problems).toEqual([]);
    expect((await reviewRegistrationIn(db, { name: 'brain-mri', version: '1.0.1' }, { run: run(0.9, { status: 'cancelled' }) })).problems.map((p) => p.code)).toEqual(['E_RUN']);
  });

  it('moves an alias to the newest holder, maps MLflow stages onto aliases, and resolves unknown refs with a helpful message', async () => {
    const db = await open();
    await register(db, { name: 'brain-mri', version: '1.0.0', aliases: [aliasForStage('Production')!] });
    await register(db, { name: 'brain-mri', version: '1.1.0', aliases: [aliasForStage('Staging')!] });
    await register(db, { name: 'other', version: '1.0.0', aliases: ['champion'] });
    expect((await resolveModel(db, 'brain-mri@champion')).version).toBe('1.0.0');
    expect((await resolveModel(db, 'brain-mri@candidate')).version).toBe('1.1.0');

    await setAlias(db, 'brain-mri@1.1.0', 'champion');
    expect((await resolveModel(db, 'brain-mri@champion')).version).toBe('1.1.0');
    expect((await resolveModel(db, 'brain-mri@1.0.0')).aliases).toEqual([]);
    // Aliases belong to one model name: another name's champion is untouched.
    expect((await resolveModel(db, 'other@champion')).id).toBe('other@1.0.0');

    await register(db, { name: 'brain-mri', version: '2.0.0-rc.1' });
    expect((await resolveModel(db, 'brain-mri')).version).toBe('1.1.0');
    expect((await listModels(db)).map((v) => v.id)).toEqual(['brain-mri@2.0.0-rc.1', 'brain-mri@1.1.0', 'brain-mri@1.0.0', 'other@1.0.0']);

    await removeAlias(db, 'brain-mri', 'candidate');
    await expect(resolveModel(db, 'brain-mri@candidate')).rejects.toThrow('brain-mri@candidate is not registered (brain-mri has aliases: champion)');
    await expect(resolveModel(db, 'brain-mri@3.0.0')).rejects.toThrow('brain-mri@3.0.0 is not registered (brain-mri has versions: 2.0.0-rc.1, 1.1.0, 1.0.0)');
    await expect(resolveModel(db, 'nothing@1.0.0')).rejects.toThrow('no model named "nothing" is registered');
    expect(aliasForStage('None')).toBeNull();
    expect(() => aliasForStage('Prod')).toThrow(/unknown MLflow stage "Prod"/);

    await deleteModelVersion(db, 'brain-mri@1.1.0');
    await expect(loadModelFiles(db, 'brain-mri@1.1.0')).rejects.toThrow('brain-mri@1.1.0 is not registered');
    expect(Object.keys(await loadModelFiles(db, 'brain-mri@1.0.0')).sort()).toEqual(Object.keys(files).sort());
  });

  it('registers an imported model: gated on the validation accuracy in its metadata, or on an override without one', async () => {
    const db = await open();
    expect(await codeOf(registerModel(db, { files, metadata }, { name: 'imported', version: '1.0.0' }))).toBe('E_GATE');
    const v = await registerModel(db, { files, metadata: { ...metadata, validation: { accuracy: 0.91, n: 200 } } }, { name: 'imported', version: '1.0.0' });
    expect(v).toMatchObject({ runId: 'run-20260101-abc', epoch: null, gate: { passed: true } });
    expect(v.card).toContain('Unknown: the model was imported from files');
  });

  it('sizes what the studio keeps by kind, counting each chunked record\'s bytes without reading its chunks', async () => {
    const db = await open();
    const r = run(0.9);
    await db.put('runs', r);
    const backbone = new Uint8Array(1000).fill(7);
    await idbBackboneCache(db).put('mobilenet_v2_0.35_224', { modelTopology: { class_name: 'Model' }, weightSpecs: [{ name: 'w', shape: [250], dtype: 'float32' }], weightData: backbone.buffer });
    const v = await register(db, { name: 'brain-mri', version: '1.0.0' });
    const fileBytes = Object.values(files).reduce((n, f) => n + f.byteLength, 0);
    const usage = Object.fromEntries((await storageUsage(db)).map((u) => [u.group, u]));
    expect(usage.runs).toEqual({ group: 'runs', bytes: JSON.stringify(r).length, items: 1 });
    expect(usage.models).toEqual({ group: 'models', bytes: JSON.stringify(await db.get('models', v.id)).length + fileBytes, items: 1 });
    expect(usage.backbones.items).toBe(1);
    expect(usage.backbones.bytes).toBe(recordBytes(await db.get('backbones', 'mobilenet_v2_0.35_224')));
    expect(usage.backbones.bytes).toBeGreaterThan(1000);
    expect(usage.checkpoints).toEqual({ group: 'checkpoints', bytes: 0, items: 0 });
    expect(usage.datasets).toEqual({ group: 'datasets', bytes: 0, items: 0 });
    await deleteModelVersion(db, v.id);
    expect((await storageUsage(db)).find((u) => u.group === 'models')).toEqual({ group: 'models', bytes: 0, items: 0 });
  });

  it('a QuotaExceededError during the write leaves the registry as it was', async () => {
    const db = await open();
    await register(db, { name: 'brain-mri', version: '1.0.0', aliases: ['champion'] });
    const before = await listModels(db);
    // The second file of the new version finds the disk full.
    const writes = await withFullDisk('modelFiles', 2, async () => {
      const err = await register(db, { name: 'brain-mri', version: '1.1.0', aliases: ['champion'] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RegistryError);
      expect((err as RegistryError).code).toBe('E_QUOTA');
      expect((err as Error).message).toBe("the browser's storage for this site is full, so brain-mri@1.1.0 was not registered; nothing was changed. Free space by deleting old runs or model versions");
    });
    expect(writes).toBe(2);
    expect(await listModels(db)).toEqual(before);
    expect((await resolveModel(db, 'brain-mri@champion')).version).toBe('1.0.0');
    expect(await db.getAllKeys('modelFiles', IDBKeyRange.bound(['brain-mri@1.1.0', ''], ['brain-mri@1.1.0', '\uffff']))).toEqual([]);
    expect(Object.keys(await loadModelFiles(db, 'brain-mri@1.0.0')).length).toBe(Object.keys(files).length);
  });

  it('checks the storage estimate before writing and refuses, with the sizes, what would not fit', async () => {
    const db = await open();
    const bytes = Object.values(files).reduce((n, f) => n + f.byteLength, 0);
    const estimate = async () => ({ usage: 1_000_000, quota: 1_000_000 + bytes - 1 });
    const err = await registerModel(db, { files, metadata, run: run(0.9) }, { name: 'brain-mri', version: '1.0.0' }, { estimate }).catch((e: unknown) => e);
    expect((err as RegistryError).code).toBe('E_QUOTA');
    expect((err as Error).message).toMatch(/^cannot register brain-mri@1\.0\.0: it needs 0\.\d MB but only 0\.\d MB of the 1\.\d MB this site may use is free; delete old runs or model versions first$/);
    expect(await listModels(db)).toEqual([]);
    await registerModel(db, { files, metadata, run: run(0.9) }, { name: 'brain-mri', version: '1.0.0' }, { estimate: async () => ({ usage: 0, quota: bytes }) });
    expect((await listModels(db)).length).toBe(1);
  });

  it(`upgrades a version-4 database to ${DB_VERSION}, keeping its runs and adding the models store`, async () => {
    const name = `registry-upgrade-${++dbCount}`;
    const v4 = await openDB(name, 4, {
      upgrade(db) {
        db.createObjectStore('runs', { keyPath: 'runId' }).createIndex('startedAt', 'startedAt');
        for (const s of ['stats', 'splits', 'folders']) db.createObjectStore(s, { keyPath: s === 'folders' ? 'id' : 'splitId' });
        db.createObjectStore('backbones', { keyPath: 'id' });
        db.createObjectStore('backboneChunks');
        db.createObjectStore('checkpoints', { keyPath: 'id' }).createIndex('runId', 'runId');
        db.createObjectStore('checkpointChunks', { keyPath: ['checkpointId', 'index'] });
      },
    });
    await v4.put('runs', run(0.9));
    v4.close();
    const db = await openStudioDB(name);
    dbs.push(db);
    expect((await getRun(db, 'run-20260101-abc'))?.best?.valAccuracy).toBe(0.9);
    await register(db, { name: 'brain-mri', version: '1.0.0' });
    expect((await listModels(db)).map((v) => v.id)).toEqual(['brain-mri@1.0.0']);
  });
});

describe('model card', () => {
  it('has every section, with Wilson intervals, the leakage status, the evaluation and the verdict', async () => {
    const db = await freshDb();
    const leaky = run(0.9);
    leaky.dataset!.duplicates.crossSplit = [{ kind: 'near', members: ['a.jpg', 'c.jpg'], splits: ['train', 'test'] }];
    const v = await registerModel(
      db,
      {
        files,
        metadata,
        run: leaky,
        evaluation: { split: 'test', n: 60, accuracy: 0.9, perClass: [{ label: 'glioma', recall: 0.8, support: 15 }] },
        verdict: { verdict: 'not ready', summary: 'Sensitivity for glioma is below the 90 % criterion.', criteria: [{ name: 'glioma sensitivity ≥ 90 %', passed: false, detail: '80.0 %' }] },
      },
      { name: 'brain-mri', version: '1.0.0', aliases: ['candidate'], tags: ['site=oslo'] },
    );
    db.close();
    const card = v.card;
    for (const h of ['# brain-mri 1.0.0', '## Intended use', '## Data summary', '## Split protocol and leakage status', '## Training configuration', '## Metrics', '## Medical validation', '## Limitations', '## Library versions']) expect(card).toContain(h);
    expect(card).toContain('| source run | run-20260101-abc, best epoch 3 |');
    expect(card).toContain('| validation accuracy | 90.0 % | 78.6 % – 95.7 % | 50 |');
    const [lo, hi] = wilsonInterval(54, 60);
    expect(card).toContain(`| test accuracy | 90.0 % | ${(lo * 100).toFixed(1)} % – ${(hi * 100).toFixed(1)} % | 60 |`);
    expect(card).toContain('| test recall: glioma | 80.0 % |');
    expect(card).toContain('**Leakage: 1 duplicate group(s) span two splits** (0 exact, 1 near)');
    expect(card).toContain('| glioma | 70 | 13 | 15 |');
    expect(card).toContain('Verdict: **not ready**. Sensitivity for glioma is below the 90 % criterion.');
    expect(card).toContain('| glioma sensitivity ≥ 90 % | FAIL | 80.0 % |');
    expect(card).toContain(`| tfjs | ${tf.version.tfjs} |`);
    expect(card).toContain('It is not a medical device');
  });

  it('Wilson intervals match published values and stay inside [0, 1]', () => {
    const [lo, hi] = wilsonInterval(45, 50);
    expect(lo).toBeCloseTo(0.7864, 4);
    expect(hi).toBeCloseTo(0.9565, 4);
    expect(wilsonInterval(0, 10)[0]).toBe(0);
    expect(wilsonInterval(10, 10)[1]).toBeLessThanOrEqual(1);
    expect(wilsonInterval(0, 10)[1]).toBeCloseTo(0.2775, 4);
  });
});
