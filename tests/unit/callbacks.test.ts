import { describe, expect, it } from 'vitest';
import { BestCheckpoint, EarlyStopping } from '../../src/core/train/callbacks';
import { epochMetrics } from './metrics-fixtures';

function feed(es: EarlyStopping, accuracies: number[]) {
  return accuracies.map((valAccuracy, i) => es.update(epochMetrics(i + 1, { valAccuracy })));
}

describe('EarlyStopping', () => {
  it('defaults to validation accuracy, mode max, patience 15, minDelta 0.0005', () => {
    const es = new EarlyStopping();
    expect([es.monitor, es.mode, es.patience, es.minDelta]).toEqual(['valAccuracy', 'max', 15, 0.0005]);
  });

  it('stops exactly after patience epochs without improvement', () => {
    const results = feed(new EarlyStopping(), [0.5, 0.7, ...Array<number>(15).fill(0.6)]);
    expect(results.slice(0, 2)).toEqual([
      { stop: false, improved: true },
      { stop: false, improved: true },
    ]);
    expect(results.slice(2, 16).every((r) => !r.stop && !r.improved)).toBe(true);
    expect(results[16]).toEqual({ stop: true, improved: false });
  });

  it('does not reset patience on gains smaller than minDelta', () => {
    // Each epoch gains 0.0001 on the last, never more than 0.0005 on the best (0.5).
    const results = feed(new EarlyStopping({ patience: 3 }), [0.5, 0.5001, 0.5002, 0.5003]);
    expect(results.map((r) => r.improved)).toEqual([true, false, false, false]);
    expect(results.map((r) => r.stop)).toEqual([false, false, false, true]);
  });

  it('counts small gains against the best, not the last epoch', () => {
    // 0.5006 is only 0.0003 above 0.5003 but 0.0006 above the best, 0.5: an improvement.
    const results = feed(new EarlyStopping({ patience: 3 }), [0.5, 0.5003, 0.5006, 0.5, 0.5, 0.5]);
    expect(results.map((r) => r.improved)).toEqual([true, false, true, false, false, false]);
    expect(results.map((r) => r.stop)).toEqual([false, false, false, false, false, true]);
  });

  it('monitors a loss downwards and resumes from its state', () => {
    const es = new EarlyStopping({ monitor: 'valLoss', patience: 2, minDelta: 0.01 });
    expect(es.mode).toBe('min');
    expect(es.update(epochMetrics(1, { valLoss: 1 })).improved).toBe(true);
    expect(es.update(epochMetrics(2, { valLoss: 0.995 })).improved).toBe(false);
    const resumed = new EarlyStopping({ monitor: 'valLoss', patience: 2, minDelta: 0.01 }, es.state());
    expect(resumed.update(epochMetrics(3, { valLoss: 0.999 }))).toEqual({ stop: true, improved: false });
  });

  it('rejects a patience below one epoch', () => {
    expect(() => new EarlyStopping({ patience: 0 })).toThrow(RangeError);
  });
});

describe('BestCheckpoint', () => {
  it('saves the best by validation accuracy, ties going to the lower loss, and every N epochs', () => {
    const bc = new BestCheckpoint({ everyEpochs: 2 });
    const seq = [
      { valAccuracy: 0.5, valLoss: 1.0 },
      { valAccuracy: 0.6, valLoss: 0.9 },
      { valAccuracy: 0.6, valLoss: 0.8 },
      { valAccuracy: 0.55, valLoss: 0.7 },
      { valAccuracy: 0.6, valLoss: 0.85 },
      { valAccuracy: 0.6, valLoss: 0.8 },
    ];
    const decisions = seq.map((m, i) => bc.update(epochMetrics(i + 1, m)));
    expect(decisions.map((d) => d.saveBest)).toEqual([true, true, true, false, false, false]);
    expect(decisions.map((d) => d.savePeriodic)).toEqual([false, true, false, true, false, true]);
    expect(bc.best).toEqual({ epoch: 3, valAccuracy: 0.6, valLoss: 0.8 });
  });

  it('makes no periodic saves by default and resumes from a stored best', () => {
    const bc = new BestCheckpoint({}, { epoch: 7, valAccuracy: 0.9, valLoss: 0.3 });
    expect(bc.update(epochMetrics(8, { valAccuracy: 0.85, valLoss: 0.2 }))).toEqual({ saveBest: false, savePeriodic: false });
    expect(bc.update(epochMetrics(9, { valAccuracy: 0.91, valLoss: 0.4 })).saveBest).toBe(true);
    expect(bc.best?.epoch).toBe(9);
  });

  it("with keep 'last' hands back every epoch, worse or not, also after a resume", () => {
    const bc = new BestCheckpoint({ keep: 'last' }, { epoch: 2, valAccuracy: 0.9, valLoss: 0.3 });
    expect(bc.update(epochMetrics(3, { valAccuracy: 0.7, valLoss: 0.6 })).saveBest).toBe(true);
    expect(bc.update(epochMetrics(4, { valAccuracy: 0.6, valLoss: 0.9 })).saveBest).toBe(true);
    expect(bc.best).toEqual({ epoch: 4, valAccuracy: 0.6, valLoss: 0.9 });
  });
});
