import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { StudioEngine } from '../../workers/engine';
import { demoImage } from '../../src/core/dataset/demo';
import { analyzeWith } from '../../src/core/dataset/importer';
import type { SplitManifest } from '../../src/core/dataset/split';
import { crossValidationSplit, meanStd, stratifiedGroupKFold } from '../../src/core/metrics/kfold';
import { listCheckpoints, loadCheckpoint } from '../../src/core/store/checkpoints';
import { openStudioDB } from '../../src/core/store/db';
import { importRunFile, RUN_FILE_VERSION } from '../../src/core/store/run-file';
import type { CrossValidationEvent, RunRecord, TrainConfig } from '../../src/engine/types';

// The real engine on TF.js's CPU backend and fake-indexeddb (one database per engine, as in the browser).
const cfg = (over: Partial<TrainConfig> = {}): TrainConfig => ({
  dataset: { kind: 'demo', seed: 5, imageSize: 8, perClass: 20, split: { train: 0.6, val: 0.2, test: 0.2 } },
  model: 'simple_cnn',
  epochs: 2,
  batchSize: 8,
  learningRate: 0.003,
  seed: 5,
  earlyStopping: null,
  ...over,
});

const stores = async (runId: string) => {
  const db = await openStudioDB();
  return { run: await db.get('runs', runId), evaluation: await db.get('evaluations', runId), checkpoints: await listCheckpoints(db, runId), chunks: (await db.getAllKeys('checkpointChunks')).filter((k) => k[0].startsWith(`${runId}/`)).length };
};

/** Rewrites run.json inside a run file. */
const withRunJson = (bytes: Uint8Array, edit: (body: Record<string, unknown>) => void): Uint8Array => {
  const zip = unzipSync(bytes);
  const body = JSON.parse(strFromU8(zip['run.json']));
  edit(body);
  return zipSync({ ...zip, 'run.json': strToU8(JSON.stringify(body)) });
};

describe('runs: delete, export, import, compare', () => {
  const engine = new StudioEngine();
  let run: RunRecord;
  beforeAll(async () => {
    await engine.init('cpu');
    run = await engine.train(cfg({ saveEveryEpochs: 1 }), () => {});
    await engine.evaluate({ runId: run.runId, latencySamples: 3 }, () => {});
  });

  it('exports a run as one file, deletes it with its checkpoints and evaluation, and imports it back whole', async () => {
    const before = await stores(run.runId);
    expect(before.checkpoints.map((c) => c.id)).toEqual(expect.arrayContaining([`${run.runId}/best`, `${run.runId}/last`, `${run.runId}/periodic/1`, `${run.runId}/periodic/2`]));
    const file = await engine.exportRun(run.runId);
    expect(file.name).toBe(`${run.runId}.mristudio-run.zip`);

    await engine.deleteRun(run.runId);
    const gone = await stores(run.runId);
    expect(gone).toEqual({ run: undefined, evaluation: undefined, checkpoints: [], chunks: 0 });
    expect((await engine.runs()).some((r) => r.runId === run.runId)).toBe(false);
    await expect(engine.deleteRun(run.runId)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });

    const imported = await engine.importRun(file.bytes, { name: file.name });
    expect(imported.runId).toBe(run.runId);
    expect(imported.imported).toMatchObject({ from: file.name, originalRunId: run.runId });
    const after = await stores(run.runId);
    const { imported: _, ...record } = after.run!;
    expect(record).toEqual(run);
    expect(after.evaluation).toEqual(before.evaluation);
    expect(after.checkpoints).toEqual(before.checkpoints);
    expect(after.chunks).toBe(before.chunks);

    // The imported run evaluates to the same figures as the original (same weights, same split).
    const ev = await engine.evaluate({ runId: run.runId, latencySamples: 3 }, () => {});
    expect(ev.metrics.confusion).toEqual(before.evaluation!.metrics.confusion);
    expect(ev.metrics.report).toEqual(before.evaluation!.metrics.report);
  });

  it('refuses an id clash, or imports a copy under a new id that can be resumed', async () => {
    const file = await engine.exportRun(run.runId);
    const runsBefore = await engine.runs();
    await expect(engine.importRun(file.bytes)).rejects.toMatchObject({ code: 'E_CONFIG', detail: 'E_EXISTS', message: expect.stringMatching(/already in this studio.*as a copy/) });
    expect(await engine.runs()).toEqual(runsBefore);

    const copy = await engine.importRun(file.bytes, { onClash: 'rename' });
    expect(copy.runId).toBe(`${run.runId}-copy1`);
    const db = await openStudioDB();
    const ckpt = await loadCheckpoint(db, copy.runId, 'last');
    const orig = await loadCheckpoint(db, run.runId, 'last');
    expect(ckpt!.runId).toBe(copy.runId);
    expect(ckpt!.weights).toEqual(orig!.weights);
    expect(ckpt!.optimizer).toEqual(orig!.optimizer);
    expect((await db.get('evaluations', copy.runId))!.runId).toBe(copy.runId);
    expect((await engine.importRun(file.bytes, { onClash: 'rename' })).runId).toBe(`${run.runId}-copy2`);

    // A copy cut off after its first epoch resumes from its own last checkpoint under its own id.
    let cutId = '';
    const cut = await engine.train(cfg({ epochs: 3 }), (e) => {
      if (e.type === 'start') cutId = e.runId;
      if (e.type === 'epoch' && e.metrics.epoch === 1) void engine.cancel(cutId);
    });
    expect(cut.status).toBe('cancelled');
    const cutFile = await engine.exportRun(cut.runId);
    const resumable = await engine.importRun(cutFile.bytes, { onClash: 'rename' });
    const resumed = await engine.resume(resumable.runId, () => {});
    expect(resumed.status).toBe('completed');
    expect(resumed.epochs.map((m) => m.epoch)).toEqual([1, 2, 3]);
    expect(resumed.resumes?.[0].fromEpoch).toBe(cut.checkpoint.last);
  });

  it('refuses a bad, foreign, damaged or newer file and changes nothing', async () => {
    const file = await engine.exportRun(run.runId);
    const runsBefore = await engine.runs();
    const checkpointsBefore = (await openStudioDB().then((db) => db.getAllKeys('checkpoints'))).length;
    const cases: [Uint8Array, RegExp, string][] = [
      [strToU8('hello'), /not an MRI Studio run file: it is not a zip archive/, 'E_FORMAT'],
      [zipSync({ 'model.json': strToU8('{}') }), /it has no run\.json/, 'E_FORMAT'],
      [zipSync({ 'run.json': strToU8('{"format":"something-else"}') }), /is not of format "mri-studio-run"/, 'E_FORMAT'],
      [withRunJson(file.bytes, (b) => void (b.version = RUN_FILE_VERSION + 1)), /newer MRI Studio \(run file version 2; this studio reads up to 1\)/, 'E_VERSION'],
      [withRunJson(file.bytes, (b) => void delete (b.run as Record<string, unknown>).epochs), /run record is incomplete/, 'E_FORMAT'],
      [zipSync({ ...unzipSync(file.bytes), 'checkpoints/best.bin': new Uint8Array(8) }), /checkpoints\/best\.bin holds 8 bytes/, 'E_FORMAT'],
    ];
    for (const [bytes, message, detail] of cases) {
      await expect(engine.importRun(bytes, { onClash: 'rename' })).rejects.toMatchObject({ code: 'E_CONFIG', detail, message: expect.stringMatching(message) });
    }
    expect(await engine.runs()).toEqual(runsBefore);
    expect((await openStudioDB().then((db) => db.getAllKeys('checkpoints'))).length).toBe(checkpointsBefore);
  });

  it('refuses a file that would not fit the storage quota before writing anything', async () => {
    const file = await engine.exportRun(run.runId);
    const runsBefore = await engine.runs();
    const db = await openStudioDB();
    await expect(importRunFile(db, file.bytes, { onClash: 'rename', estimate: async () => ({ usage: 1e6, quota: 1e6 + 100 }) })).rejects.toMatchObject({
      code: 'E_QUOTA',
      message: expect.stringMatching(/was not imported: it needs [\d.]+ MB but only 0\.0 MB of the 1\.0 MB this site may use is free/),
    });
    expect(await engine.runs()).toEqual(runsBefore);
  });

  it('compares runs: evaluation figures where one exists, parameters and size from the best checkpoint', async () => {
    const other = await engine.train(cfg({ epochs: 1, seed: 6 }), () => {});
    const [a, b] = await engine.compareRuns([run.runId, other.runId]);
    const ev = (await engine.evaluation(run.runId))!;
    expect(a).toMatchObject({ runId: run.runId, epochs: 2, bestValAccuracy: run.best!.valAccuracy });
    expect(a.evaluation).toMatchObject({ accuracy: ev.metrics.report.accuracy, macroF1: ev.metrics.report.macro.f1, ece: ev.metrics.calibration.ece, p95LatencyMs: ev.metrics.latencyMs.p95 });
    expect(b.evaluation).toBeNull();
    // simple_cnn's weights, counted from the stored checkpoint and from a built model agree.
    const db = await openStudioDB();
    const best = await loadCheckpoint(db, other.runId, 'best');
    expect(b.params).toBe(best!.weights.reduce((n, w) => n + w.data.length, 0));
    expect(b.sizeBytes).toBe(b.params! * 4);
    await expect(engine.compareRuns(['run-none'])).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });
});

describe('k-fold cross-validation', () => {
  it('splits a fold: the held-out fold is the test split, validation carved from the others, groups kept together', () => {
    const items = Array.from({ length: 60 }, (_, i) => ({ key: `k${String(i).padStart(2, '0')}`, label: i % 3, group: i < 12 ? `p${Math.floor(i / 4)}` : undefined }));
    const pool = items.map((_, i) => i).filter((i) => i % 10 !== 0);
    const folds = stratifiedGroupKFold(pool.map((i) => items[i]), 3, 7);
    const seen: number[] = [];
    for (let f = 1; f <= 3; f++) {
      const s = crossValidationSplit(items, pool, 3, f, 7, 0.25);
      expect(s.test).toEqual(folds[f - 1].test.map((j) => pool[j]).sort((a, b) => a - b));
      expect([...s.train, ...s.val, ...s.test].sort((a, b) => a - b)).toEqual(pool);
      expect(s.val.length).toBeGreaterThan(0);
      expect(Math.abs(s.val.length / (s.train.length + s.val.length) - 0.25)).toBeLessThan(0.1);
      for (const part of [s.train, s.val, s.test]) {
        const groups = new Set(part.map((i) => items[i].group).filter(Boolean));
        for (const other of [s.train, s.val, s.test].filter((p) => p !== part)) expect(other.some((i) => groups.has(items[i].group))).toBe(false);
      }
      seen.push(...s.test);
    }
    expect(seen.sort((a, b) => a - b)).toEqual(pool);
    expect(() => crossValidationSplit(items, pool, 3, 4, 7, 0.25)).toThrow(/fold must be a whole number from 1 to 3/);
  });

  it('mean and population standard deviation', () => {
    expect(meanStd([1, 2, 3, 4])).toEqual({ mean: 2.5, std: Math.sqrt(1.25) });
  });

  it('trains and evaluates one run per fold, reports mean ± std, and leaves no tensors behind', async () => {
    const engine = new StudioEngine();
    await engine.init('cpu');
    const events: CrossValidationEvent[] = [];
    const before = tf.memory().numTensors;
    const result = await engine.crossValidate({ config: cfg({ epochs: 1 }), folds: 3 }, (e) => events.push(e));
    expect(tf.memory().numTensors).toBe(before);
    expect(result.status).toBe('completed');
    expect(result.results.map((r) => r.fold)).toEqual([1, 2, 3]);
    // 60 demo images, 12 held out for test by the demo's own split: 48 in the folds, 16 held out by each.
    expect(result.results.map((r) => r.split.test)).toEqual([16, 16, 16]);
    for (const r of result.results) expect(r.split.train + r.split.val).toBe(32);
    const runs = await engine.runs();
    for (const r of result.results) {
      const stored = runs.find((x) => x.runId === r.runId)!;
      expect(stored.tags).toEqual([`cv:${result.id}`, `fold ${r.fold}/3`]);
      const ev = (await engine.evaluation(r.runId))!;
      expect(ev.data.images).toBe(16);
      expect(r.accuracy).toBe(ev.metrics.report.accuracy);
      expect(r.macroF1).toBe(ev.metrics.report.macro.f1);
    }
    expect(result.accuracy).toEqual(meanStd(result.results.map((r) => r.accuracy)));
    expect(result.macroF1).toEqual(meanStd(result.results.map((r) => r.macroF1)));
    expect(events[0]).toEqual({ type: 'start', id: result.id, folds: 3 });
    expect(events.filter((e) => e.type === 'fold')).toHaveLength(3);
    expect(events.at(-1)).toEqual({ type: 'done', result });
    await expect(engine.crossValidate({ config: cfg(), folds: 1 }, () => {})).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/2 to 20 folds/) });
  });

  it("on a folder, folds keep each patient together and never take the dataset's test split", async () => {
    const engine = new StudioEngine(analyzeWith(async (_file, bytes, _size, _channels, out) => out.set(bytes)));
    await engine.init('cpu');
    const paths: string[] = [];
    const files: File[] = [];
    // 2 classes × 8 patients × 3 images; the group pattern takes the patient id from the file name.
    ['a', 'b'].forEach((c, k) => {
      for (let i = 0; i < 24; i++) {
        paths.push(`data/${c}/p${k * 8 + Math.floor(i / 3)}_${i % 3}.png`);
        files.push(new File([demoImage(k, i, 9, 8) as Uint8Array<ArrayBuffer>], `${i}.png`));
      }
    });
    await engine.scanFolder({ kind: 'files', name: 'data', files, paths });
    const summary = await engine.importDataset({ imageSize: 8, channels: 3, split: { train: 0.6, val: 0.2, test: 0.2 }, seed: 1, dedupe: 'off', groupPattern: '/(p\\d+)_' }, () => {});
    const manifest = JSON.parse(await engine.exportManifest('json')) as SplitManifest;
    const patient = (path: string) => /\/(p\d+)_/.exec(path)![1];
    const result = await engine.crossValidate({ config: cfg({ dataset: { kind: 'folder', fingerprint: summary.fingerprint }, epochs: 1 }), folds: 3 }, () => {});
    expect(result.status).toBe('completed');
    const heldOut = await Promise.all(result.results.map(async (r) => (await engine.evaluation(r.runId))!.predictions.map((p) => p.key)));
    const pool = manifest.entries.filter((e) => e.split !== 'test').map((e) => e.path).sort();
    // Every train/val image is held out exactly once; no test-split image ever is.
    expect(heldOut.flat().sort()).toEqual(pool);
    // A patient's images are all in one fold (without the pattern, stratification alone splits some: checked by hand).
    const foldsOf = new Map<string, Set<number>>();
    heldOut.forEach((keys, f) => keys.forEach((k) => foldsOf.set(patient(k), (foldsOf.get(patient(k)) ?? new Set()).add(f))));
    expect([...foldsOf.values()].every((folds) => folds.size === 1)).toBe(true);
    expect(foldsOf.size).toBe(new Set(pool.map(patient)).size);
  });

  it('cancel(id) stops after the fold in flight and reports the folds that finished', async () => {
    const engine = new StudioEngine();
    await engine.init('cpu');
    let id = '';
    const result = await engine.crossValidate({ config: cfg({ epochs: 1 }), folds: 3 }, (e) => {
      if (e.type === 'start') id = e.id;
      if (e.type === 'fold' && e.result.fold === 1) void engine.cancel(id);
    });
    expect(result.status).toBe('cancelled');
    expect(result.results).toHaveLength(1);
    expect(result.accuracy).toEqual({ mean: result.results[0].accuracy, std: 0 });
    // Nothing is left claimed: a run trains at once.
    expect((await engine.train(cfg({ epochs: 1 }), () => {})).status).toBe('completed');
  });
});
