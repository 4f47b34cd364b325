import { describe, expect, it } from 'vitest';
import { Claims, RULES, type ClaimKind, type HeldKind } from '../../workers/claim';
import { EngineError } from '../../src/engine/errors';

/** The E_BUSY a check of `kind` meets while `held` holds the engine, or null when it may go ahead. */
function meets(held: { kind: HeldKind; id: string; partOf?: string }, kind: ClaimKind, id?: string, partOf?: string): EngineError | null {
  const claims = new Claims();
  const holding = claims.claim(held.kind, held.id, held.partOf);
  try {
    claims.check(kind, id, partOf);
    return null;
  } catch (err) {
    return err as EngineError;
  } finally {
    holding.release();
  }
}

const HELD: HeldKind[] = ['train', 'evaluate', 'gradcam', 'probe', 'crossval', 'predict', 'import'];

describe('the engine lock (workers/claim.ts)', () => {
  // Every busy refusal the engine made with its flags (active, probing, crossval, predicting, importing), each with
  // what is going on and what to do.
  it.each([
    // init refused while a run trains or is evaluated
    ['init', { kind: 'train', id: 'run-1' }, undefined, /run run-1 is training; cancel it before switching the backend/],
    ['init', { kind: 'evaluate', id: 'run-1' }, undefined, /run run-1 is being evaluated/],
    // a second run, or one during an evaluation, Grad-CAM or a prediction
    ['train', { kind: 'train', id: 'run-1' }, undefined, /run run-1 is training; cancel it or wait for it to finish/],
    ['train', { kind: 'evaluate', id: 'run-1' }, undefined, /run run-1 is being evaluated/],
    ['train', { kind: 'gradcam', id: 'gradcam' }, undefined, /Grad-CAM .*; train when it has finished/],
    ['train', { kind: 'predict', id: 'predict' }, undefined, /a prediction is running; train when it has finished/],
    ['train', { kind: 'crossval', id: 'cv-1' }, undefined, /cross-validation cv-1 is running; cancel it or wait for it to finish/],
    // evaluation beside a run, another evaluation, Grad-CAM, a prediction or someone else's cross-validation
    ['evaluate', { kind: 'train', id: 'run-1' }, undefined, /run run-1 is training; wait for it to finish/],
    ['evaluate', { kind: 'evaluate', id: 'model' }, undefined, /a model is being evaluated; wait for it to finish/],
    ['evaluate', { kind: 'gradcam', id: 'gradcam' }, undefined, /Grad-CAM/],
    ['evaluate', { kind: 'predict', id: 'predict' }, undefined, /a prediction is running; evaluate when it has finished/],
    ['evaluate', { kind: 'crossval', id: 'cv-1' }, 'cv-2', /cross-validation cv-1 is running/],
    ['gradcam', { kind: 'train', id: 'run-1' }, undefined, /run run-1 is training; wait for it to finish/],
    ['gradcam', { kind: 'gradcam', id: 'gradcam' }, undefined, /Grad-CAM/],
    // the speed probe and the backend measurement
    ['probe', { kind: 'train', id: 'run-1' }, undefined, /run run-1 is training; measure when it has finished/],
    ['probe', { kind: 'evaluate', id: 'run-1' }, undefined, /measure when it has finished/],
    // cross-validation beside a run, an evaluation or another cross-validation
    ['crossval', { kind: 'train', id: 'run-1' }, undefined, /run run-1 is training; wait for it to finish/],
    ['crossval', { kind: 'evaluate', id: 'run-1' }, undefined, /run run-1 is being evaluated/],
    ['crossval', { kind: 'crossval', id: 'cv-1' }, undefined, /cross-validation cv-1 is running; wait for it to finish/],
    // predictions beside a run or another prediction
    ['predict', { kind: 'train', id: 'run-1' }, undefined, /run run-1 is training; predict when it has finished/],
    ['predict', { kind: 'evaluate', id: 'run-1' }, undefined, /run run-1 is being evaluated; predict when it has finished/],
    ['predict', { kind: 'predict', id: 'predict' }, undefined, /a prediction is running; predict when it has finished/],
    // imports (the dataset's, a backbone's weights file, an ONNX backbone, a cluster run)
    ['import', { kind: 'import', id: 'import' }, undefined, /an import is already running/],
    ['weights', { kind: 'train', id: 'run-1' }, undefined, /run run-1 is training; pick the weights file when it has finished/],
    ['onnx', { kind: 'train', id: 'run-1' }, undefined, /run run-1 is training; import the ONNX backbone when it has finished/],
    ['cluster', { kind: 'crossval', id: 'cv-1' }, undefined, /cross-validation cv-1 is running/],
  ] as const)('%s is refused while %o holds the engine', (kind, held, partOf, words) => {
    const err = meets(held, kind, undefined, partOf);
    expect(err).toBeInstanceOf(EngineError);
    expect(err).toMatchObject({ code: 'E_BUSY', message: expect.stringMatching(words) });
  });

  it('refuses deleting or exporting only the run in flight', () => {
    expect(meets({ kind: 'train', id: 'run-1' }, 'delete', 'run-1')?.message).toMatch(/run run-1 is training; cancel it before deleting it/);
    expect(meets({ kind: 'evaluate', id: 'run-1' }, 'delete', 'run-1')?.message).toMatch(/run run-1 is being evaluated; cancel it before deleting it/);
    expect(meets({ kind: 'train', id: 'run-1' }, 'export', 'run-1')?.message).toMatch(/run run-1 is training; export it when it has stopped/);
    expect(meets({ kind: 'train', id: 'run-1' }, 'delete', 'run-2')).toBeNull();
    expect(meets({ kind: 'train', id: 'run-1' }, 'export', 'run-2')).toBeNull();
  });

  it("lets a cross-validation's own folds train and be evaluated, and work that never used the flags overlap", () => {
    expect(meets({ kind: 'crossval', id: 'cv-1' }, 'train', undefined, 'cv-1')).toBeNull();
    expect(meets({ kind: 'crossval', id: 'cv-1' }, 'evaluate', 'run-1', 'cv-1')).toBeNull();
    // Prediction, Grad-CAM and the probes were never refused by a cross-validation itself (only by its fold in flight).
    for (const kind of ['predict', 'gradcam', 'probe', 'init', 'delete', 'export', 'weights', 'onnx'] as const) expect(meets({ kind: 'crossval', id: 'cv-1' }, kind, 'run-1')).toBeNull();
    // An import of a dataset never waited for nor refused anything but another import.
    for (const held of HELD.filter((k) => k !== 'import')) expect(meets({ kind: held, id: 'x' }, 'import')).toBeNull();
    expect(meets({ kind: 'predict', id: 'predict' }, 'gradcam')).toBeNull();
    expect(meets({ kind: 'probe', id: 'probe' }, 'evaluate', 'run-1')).toBeNull();
  });

  it('has a rule for every pair of kinds, and waits only for a speed probe', () => {
    for (const [kind, row] of Object.entries(RULES)) {
      expect(Object.keys(row).sort(), kind).toEqual([...HELD].sort());
      for (const [held, rule] of Object.entries(row)) if (rule === 'wait') expect([kind, held]).toEqual([kind, 'probe']);
    }
  });

  it('names the newest holder: a fold that trains refuses in its own words, not its cross-validation’s', () => {
    const claims = new Claims();
    const cv = claims.claim('crossval', 'cv-1');
    const fold = claims.claim('train', 'run-1', 'cv-1');
    expect(() => claims.check('predict')).toThrow(/run run-1 is training; predict when it has finished/);
    fold.release();
    expect(() => claims.check('predict')).not.toThrow();
    expect(() => claims.check('train')).toThrow(/cross-validation cv-1/);
    cv.release();
    cv.release();
    expect(() => claims.check('train')).not.toThrow();
  });

  it('holds a claim from the call on, and gives it back on release; a check holds nothing', () => {
    const claims = new Claims();
    claims.check('train');
    claims.check('train');
    const first = claims.claim('train', 'run-1');
    expect(() => claims.claim('train', 'run-2')).toThrow(EngineError);
    expect(claims.held('train', 'evaluate')).toMatchObject({ kind: 'train', id: 'run-1' });
    first.release();
    expect(claims.held('train')).toBeUndefined();
    claims.claim('train', 'run-2').release();
  });

  it('makes a run wait for a speed probe in flight, and a probe waiting for another one gives way to that run', async () => {
    const claims = new Claims();
    const order: string[] = [];
    const probe1 = claims.claim('probe', 'probe');
    const probe2 = claims.claim('probe', 'probe');
    const probe2Done = probe2.ready.then(
      () => order.push('probe 2 ran'),
      (err: EngineError) => order.push(`probe 2 refused: ${err.code}`),
    );
    // The run is held at once (a second run is refused meanwhile) and starts when the probes are done.
    const run = claims.claim('train', 'run-1');
    expect(() => claims.check('train')).toThrow(/run run-1 is training/);
    const runReady = run.ready.then(() => order.push('run ran'));
    await Promise.resolve();
    expect(order).toEqual([]);
    order.push('probe 1 done');
    probe1.release();
    await Promise.all([probe2Done, runReady]);
    expect(order).toEqual(['probe 1 done', 'probe 2 refused: E_BUSY', 'run ran']);
    run.release();
    expect(claims.held('probe', 'train')).toBeUndefined();
  });
});
