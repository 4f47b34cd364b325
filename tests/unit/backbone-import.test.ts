import 'fake-indexeddb/auto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BackboneFolderError, readBackboneFolder } from '../../src/core/models/backbone-folder';
import { EngineError } from '../../src/engine/errors';
import type { FolderInput } from '../../src/engine/types';
import { StudioEngine } from '../../workers/engine';
import { hasPretrained, PRETRAINED_DIR } from '../fixtures/pretrained';

/** An in-memory folder: path → bytes (or text). */
function folder(files: Record<string, Uint8Array | string>) {
  const blobs = new Map(Object.entries(files).map(([p, v]) => [p, new Blob([typeof v === 'string' ? v : new Uint8Array(v)])]));
  return { entries: [...blobs].map(([path, b]) => ({ path, size: b.size })), read: async (p: string) => blobs.get(p)! };
}

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 255);
const modelJson = (over: object = {}) =>
  JSON.stringify({
    format: 'layers-model',
    generatedBy: 'test',
    modelTopology: { class_name: 'Model', config: {} },
    weightsManifest: [
      { paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: [{ name: 'a', shape: [2, 3], dtype: 'float32' }, { name: 'b', shape: [4], dtype: 'float32' }] },
    ],
    ...over,
  });

async function problem(files: Record<string, Uint8Array | string>): Promise<string> {
  const err = await readBackboneFolder(folder(files)).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackboneFolderError);
  return (err as Error).message;
}

describe('backbone folder', () => {
  it('joins the weight files in manifest order, wherever model.json sits in the picked folder', async () => {
    const { artifacts, files, bytes: n } = await readBackboneFolder(folder({ 'pick/m/model.json': modelJson(), 'pick/m/group1-shard1of2.bin': bytes(24, 1), 'pick/m/group1-shard2of2.bin': bytes(16, 2), 'pick/README.md': 'notes' }));
    expect(files).toBe(3);
    expect(n).toBe(40);
    expect(new Uint8Array(artifacts.weightData as ArrayBuffer)).toEqual(Uint8Array.from([...bytes(24, 1), ...bytes(16, 2)]));
    expect(artifacts.weightSpecs!.map((s) => s.name)).toEqual(['a', 'b']);
    expect(artifacts.format).toBe('layers-model');
  });

  it('says what is wrong with a folder that is not a backbone', async () => {
    expect(await problem({ 'x/readme.txt': 'hi' })).toMatch(/^no model\.json in this folder: pick the folder that holds model\.json/);
    expect(await problem({ 'a/model.json': modelJson(), 'b/model.json': modelJson() })).toBe('2 model.json files in this folder (a/model.json, b/model.json): pick the folder of one model');
    expect(await problem({ 'model.json': '{"format": ' })).toMatch(/^model\.json is not valid JSON: /);
    expect(await problem({ 'model.json': modelJson({ format: 'graph-model' }) })).toMatch(/^model\.json is a graph-model, not a layers model/);
    expect(await problem({ 'model.json': modelJson({ weightsManifest: [] }) })).toBe('model.json has no weightsManifest: it names no weight files');
    expect(await problem({ 'model.json': modelJson(), 'group1-shard1of2.bin': bytes(24, 1) })).toBe('1 weight file named in model.json is not in the folder: group1-shard2of2.bin');
    expect(await problem({ 'model.json': modelJson(), 'group1-shard1of2.bin': bytes(24, 1), 'group1-shard2of2.bin': bytes(12, 2) })).toBe(
      'the weight files hold 36 bytes, but model.json describes 40: a file is cut short or belongs to another model',
    );
  });
});

const filesOf = (dir: string, name: string): FolderInput => {
  const names = readdirSync(dir);
  return { kind: 'files', name, files: names.map((n) => new File([readFileSync(join(dir, n))], n)), paths: names.map((n) => `${name}/${n}`) };
};

const V2 = 'mobilenet_v2_0.35_224';
const V1 = 'mobilenet_v1_0.25_224';
const shared = hasPretrained(V2) && hasPretrained(V1);
if (!shared) console.log(`backbone import from ../shared/pretrained skipped: ${PRETRAINED_DIR}/{${V2},${V1}} absent`);

describe.skipIf(!shared)('import backbone from folder (engine, CPU, ../shared/pretrained)', () => {
  const engine = new StudioEngine();
  beforeAll(async () => {
    await engine.init('cpu');
  });

  it('refuses another model’s folder and a built-in model, caching nothing', async () => {
    const err = await engine.importBackbone(V2, filesOf(join(PRETRAINED_DIR, V1), V1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect(err).toMatchObject({ code: 'E_BACKBONE', message: `"${V1}" does not hold MobileNet v2 α 0.35 (224): its network has 218,544 parameters where ${V2} has 410,208; is it the folder of another model?` });
    await expect(engine.importBackbone('simple_cnn', filesOf(join(PRETRAINED_DIR, V2), V2))).rejects.toMatchObject({ code: 'E_BACKBONE', message: expect.stringMatching(/is built in/) });
    // Nothing cached: a run of V2 would have to load it, and in Node there is nowhere to load from.
    await expect(engine.train({ dataset: { kind: 'demo', seed: 1, imageSize: 32, perClass: 4, split: { train: 0.5, val: 0.25, test: 0.25 } }, model: V2, strategy: 'frozen', epochs: 1, batchSize: 8, learningRate: 1e-3, seed: 1 }, () => {})).rejects.toMatchObject({ code: 'E_BACKBONE' });
  });

  it('checks and caches the right folder, and a run then trains on it without a download', async () => {
    const imported = await engine.importBackbone(V2, filesOf(join(PRETRAINED_DIR, V2), V2));
    expect(imported).toEqual({ id: V2, name: 'MobileNet v2 α 0.35 (224)', folder: V2, params: 410_208, files: 2, bytes: 1_640_832 });
    const run = await engine.train({ dataset: { kind: 'demo', seed: 1, imageSize: 32, perClass: 4, split: { train: 0.5, val: 0.25, test: 0.25 } }, model: V2, strategy: 'frozen', epochs: 1, batchSize: 8, learningRate: 1e-3, seed: 1 }, () => {});
    expect(run).toMatchObject({ status: 'completed', model: V2, strategy: 'frozen' });
  });
});
