import { describe, expect, it } from 'vitest';
import { cosineWarmupLr, createLrScheduler, ReduceLrOnPlateau, stepLr } from '../../src/core/train/schedules';
import { epochMetrics } from './metrics-fixtures';

describe('stepLr', () => {
  it('multiplies by gamma every N epochs, counting epochs from 0', () => {
    expect([0, 9, 10, 19, 20, 25].map((e) => stepLr(0.1, e, 10, 0.5))).toEqual([0.1, 0.1, 0.05, 0.05, 0.025, 0.025]);
  });
});

describe('cosineWarmupLr', () => {
  const opts = { warmup: 4, total: 12 };
  it('ramps linearly from base/warmup to base', () => {
    expect([0, 1, 2, 3].map((t) => cosineWarmupLr(1, t, opts))).toEqual([0.25, 0.5, 0.75, 1]);
  });
  it('then follows half a cosine down to minLr', () => {
    // progress p = (t − 4)/8; lr = ½(1 + cos πp): p = 0 → 1, ¼ → ½(1 + √2/2), ½ → ½, ⅞ → ½(1 + cos 7π/8).
    expect(cosineWarmupLr(1, 4, opts)).toBe(1);
    expect(cosineWarmupLr(1, 6, opts)).toBeCloseTo(0.8535533906, 10);
    expect(cosineWarmupLr(1, 8, opts)).toBeCloseTo(0.5, 12);
    expect(cosineWarmupLr(1, 11, opts)).toBeCloseTo(0.0380602337, 10);
    expect(cosineWarmupLr(1, 12, opts)).toBe(0);
    expect(cosineWarmupLr(1, 8, { ...opts, minLr: 0.1 })).toBeCloseTo(0.55, 12);
  });
  it('has no warm-up when warmup is 0', () => {
    expect(cosineWarmupLr(2, 0, { warmup: 0, total: 10 })).toBe(2);
    expect(cosineWarmupLr(2, 5, { warmup: 0, total: 10 })).toBeCloseTo(1, 12);
  });
});

describe('ReduceLrOnPlateau', () => {
  it('cuts the rate after patience epochs without improvement, down to minLr', () => {
    const p = new ReduceLrOnPlateau({ initialLr: 1, monitor: 'valLoss', patience: 2, factor: 0.5, minLr: 0.2 });
    const losses = [1.0, 0.9, 0.95, 0.91, 0.95, 0.92, 0.8, 0.85, 0.86, 0.9, 0.9];
    // 0.9 is the best until 0.8; epochs 3–4 and 5–6 are two plateaus, then 8–9 and 10–11 hit the floor.
    const lrs = losses.map((valLoss, i) => p.update(epochMetrics(i + 1, { valLoss })));
    expect(lrs).toEqual([1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2]);
  });

  it('watches accuracy upwards and resumes from its state', () => {
    const opts = { initialLr: 0.1, monitor: 'valAccuracy' as const, patience: 1, factor: 0.1, minDelta: 0.01 };
    const p = new ReduceLrOnPlateau(opts);
    expect(p.mode).toBe('max');
    p.update(epochMetrics(1, { valAccuracy: 0.5 }));
    const resumed = new ReduceLrOnPlateau(opts, p.state());
    // 0.505 is within minDelta of 0.5: no improvement, and patience 1 cuts at once.
    expect(resumed.update(epochMetrics(2, { valAccuracy: 0.505 }))).toBeCloseTo(0.01, 12);
    expect(p.lr).toBe(0.1);
  });
});

describe('createLrScheduler', () => {
  const run = { baseLr: 1, epochs: 4, stepsPerEpoch: 3 };

  it('constant and step ignore the step within the epoch', () => {
    const c = createLrScheduler({ kind: 'constant' }, run);
    expect([c.lrAt(0, 0), c.lrAt(3, 2)]).toEqual([1, 1]);
    const s = createLrScheduler({ kind: 'step', everyEpochs: 2, gamma: 0.1 }, run);
    expect([s.lrAt(0, 2), s.lrAt(1, 0), s.lrAt(2, 0), s.lrAt(3, 1)]).toEqual([1, 1, 0.1, 0.1]);
    expect(s.state()).toBeNull();
  });

  it('cosine per step counts global steps', () => {
    const s = createLrScheduler({ kind: 'cosine', warmup: 2, unit: 'step' }, run);
    // 12 steps, 2 of warm-up: t = epoch·3 + step; t = 4 gives p = 2/10, lr = ½(1 + cos 0.2π).
    expect([s.lrAt(0, 0), s.lrAt(0, 1), s.lrAt(0, 2)]).toEqual([0.5, 1, 1]);
    expect(s.lrAt(1, 1)).toBeCloseTo(0.9045084972, 10);
  });

  it('cosine per epoch holds the rate through the epoch', () => {
    const s = createLrScheduler({ kind: 'cosine', warmup: 1, unit: 'epoch' }, run);
    // 4 epochs, 1 of warm-up: epoch 2 gives p = 1/3, lr = ½(1 + cos π/3) = 0.75.
    expect([s.lrAt(0, 0), s.lrAt(1, 2)]).toEqual([1, 1]);
    expect(s.lrAt(2, 0)).toBeCloseTo(0.75, 12);
    expect(s.lrAt(2, 2)).toBe(s.lrAt(2, 0));
  });

  it('plateau changes only on endEpoch, and its state resumes it', () => {
    const s = createLrScheduler({ kind: 'plateau', patience: 1, factor: 0.5 }, run);
    s.endEpoch(epochMetrics(1, { valLoss: 1 }));
    expect(s.lrAt(1, 0)).toBe(1);
    s.endEpoch(epochMetrics(2, { valLoss: 1 }));
    expect(s.lrAt(2, 0)).toBe(0.5);
    const resumed = createLrScheduler({ kind: 'plateau', patience: 1, factor: 0.5 }, run, s.state()!);
    resumed.endEpoch(epochMetrics(3, { valLoss: 1.1 }));
    expect(resumed.lrAt(3, 0)).toBe(0.25);
  });
});
