import { describe, expect, it } from 'vitest';
import { BACKEND_CACHE_BYTES, checkLrSchedule, checkPhaseConfig, CPU_CACHE_BYTES, featureCachePlacement, phaseOf, phaseScheduler, planPhases, type PlannedPhase } from '../../src/core/train/phases';
import { cosineWarmupLr, stepLr } from '../../src/core/train/schedules';
import { epochMetrics } from './metrics-fixtures';

describe('planPhases', () => {
  it('gives every strategy but finetune one phase that leaves trainability as built', () => {
    for (const strategy of ['scratch', 'frozen', 'medical'] as const) {
      expect(planPhases({ epochs: 5, learningRate: 0.01 }, strategy)).toEqual([{ name: null, fromEpoch: 1, toEpoch: 5, trainableBlocks: null, learningRate: 0.01 }]);
    }
  });

  it('fine-tunes the configured blocks at the configured rate without a probe', () => {
    expect(planPhases({ epochs: 4, learningRate: 0.001, trainableBlocks: 2 }, 'finetune')).toEqual([{ name: 'finetune', fromEpoch: 1, toEpoch: 4, trainableBlocks: 2, learningRate: 0.001 }]);
    expect(planPhases({ epochs: 4, learningRate: 0.001, probeEpochs: 0 }, 'finetune')[0].trainableBlocks).toBe('all');
  });

  it('probes the head first, then unfreezes at a tenth of the rate, numbering epochs through the run', () => {
    const phases = planPhases({ epochs: 10, learningRate: 0.001, trainableBlocks: 3, probeEpochs: 4 }, 'finetune');
    expect(phases).toEqual([
      { name: 'probe', fromEpoch: 1, toEpoch: 4, trainableBlocks: 0, learningRate: 0.001 },
      { name: 'finetune', fromEpoch: 5, toEpoch: 10, trainableBlocks: 3, learningRate: 0.001 * 0.1 },
    ]);
    expect([1, 4, 5, 10, 11].map((e) => phaseOf(phases, e)?.name)).toEqual(['probe', 'probe', 'finetune', 'finetune', undefined]);
    // A probe as long as the run leaves nothing to fine-tune.
    expect(planPhases({ epochs: 3, learningRate: 0.001, probeEpochs: 3 }, 'finetune').map((p) => p.name)).toEqual(['probe']);
  });
});

describe('phaseScheduler', () => {
  const probe: PlannedPhase = { name: 'probe', fromEpoch: 1, toEpoch: 2, trainableBlocks: 0, learningRate: 1 };
  const finetune: PlannedPhase = { name: 'finetune', fromEpoch: 3, toEpoch: 6, trainableBlocks: 2, learningRate: 0.1 };

  it('is constant at the phase rate when no schedule is configured', () => {
    expect(phaseScheduler(undefined, finetune, 5).lrAt(4, 3)).toBe(0.1);
  });

  it('runs the schedule afresh in each phase, counting from its first epoch', () => {
    const cosine = { kind: 'cosine', warmup: 1, unit: 'epoch' } as const;
    // Run epochs 3..6 (0-based 2..5) are the fine-tune phase's epochs 0..3.
    expect([2, 3, 4, 5].map((e) => phaseScheduler(cosine, finetune, 5).lrAt(e, 0))).toEqual([0, 1, 2, 3].map((t) => cosineWarmupLr(0.1, t, { warmup: 1, total: 4 })));
    expect(phaseScheduler(cosine, probe, 5).lrAt(0, 0)).toBe(1);
    const step = { kind: 'step', everyEpochs: 2, gamma: 0.5 } as const;
    expect([2, 3, 4, 5].map((e) => phaseScheduler(step, finetune, 5).lrAt(e, 0))).toEqual([0, 1, 2, 3].map((t) => stepLr(0.1, t, 2, 0.5)));
    const perStep = phaseScheduler({ kind: 'cosine', warmup: 0, unit: 'step' }, finetune, 5);
    expect(perStep.lrAt(3, 2)).toBe(cosineWarmupLr(0.1, 1 * 5 + 2, { warmup: 0, total: 4 * 5 }));
  });

  it('continues a plateau from its stored state', () => {
    const plateau = { kind: 'plateau', patience: 1, factor: 0.5 } as const;
    const first = phaseScheduler(plateau, finetune, 5);
    first.endEpoch(epochMetrics(3, { valLoss: 1 }));
    first.endEpoch(epochMetrics(4, { valLoss: 1 }));
    expect(first.lrAt(4, 0)).toBe(0.05);
    const resumed = phaseScheduler(plateau, finetune, 5, first.state()!);
    expect(resumed.lrAt(5, 0)).toBe(0.05);
  });
});

describe('checkLrSchedule', () => {
  const phases = planPhases({ epochs: 6, learningRate: 0.001, trainableBlocks: 2, probeEpochs: 2 }, 'finetune');
  it('accepts sound schedules', () => {
    for (const s of [{ kind: 'constant' }, { kind: 'step', everyEpochs: 2, gamma: 0.5 }, { kind: 'cosine', warmup: 5, unit: 'epoch' }, { kind: 'cosine', warmup: 100, unit: 'step', minLr: 1e-5 }, { kind: 'plateau' }, { kind: 'plateau', patience: 3, factor: 0.2, monitor: 'valAccuracy' }] as const) {
      expect(checkLrSchedule(s, phases)).toBeNull();
    }
  });
  it('names what is wrong', () => {
    expect(checkLrSchedule({ kind: 'step', everyEpochs: 0, gamma: 0.5 }, phases)).toMatch(/interval must be a whole number of epochs from 1 \(got 0\)/);
    expect(checkLrSchedule({ kind: 'step', everyEpochs: 2, gamma: 1.5 }, phases)).toMatch(/factor must be above 0 and at most 1 \(got 1.5\)/);
    expect(checkLrSchedule({ kind: 'cosine', warmup: 6, unit: 'epoch' }, phases)).toMatch(/warm-up \(6 epochs\) must be shorter than the run \(6 epochs\)/);
    expect(checkLrSchedule({ kind: 'cosine', warmup: 1.5, unit: 'epoch' }, phases)).toMatch(/whole number from 0/);
    // The floor must stay below the fine-tune phase's rate (a tenth of the run's), or the cosine would rise.
    expect(checkLrSchedule({ kind: 'cosine', warmup: 0, unit: 'epoch', minLr: 0.0005 }, phases)).toMatch(/below the lowest phase rate 0.0001/);
    expect(checkLrSchedule({ kind: 'plateau', factor: 1 }, phases)).toMatch(/strictly between 0 and 1/);
    expect(checkLrSchedule({ kind: 'plateau', patience: 0 }, phases)).toMatch(/patience/);
    expect(checkLrSchedule({ kind: 'plateau', monitor: 'accuracy' as never }, phases)).toMatch(/monitors one of valAccuracy/);
    expect(checkLrSchedule({ kind: 'warp' } as never, phases)).toMatch(/unknown learning-rate schedule "warp"/);
  });
});

describe('checkPhaseConfig', () => {
  it('keeps probe epochs and trainable blocks to finetune, within range', () => {
    expect(checkPhaseConfig({ epochs: 5, learningRate: 1, probeEpochs: 2, trainableBlocks: 3 }, 'finetune')).toBeNull();
    expect(checkPhaseConfig({ epochs: 5, learningRate: 1, probeEpochs: 0 }, 'frozen')).toBeNull();
    expect(checkPhaseConfig({ epochs: 5, learningRate: 1, probeEpochs: 2 }, 'frozen')).toMatch(/probe epochs apply to finetune/);
    expect(checkPhaseConfig({ epochs: 5, learningRate: 1, probeEpochs: 6 }, 'finetune')).toMatch(/from 0 to the run's 5 epochs \(got 6\)/);
    expect(checkPhaseConfig({ epochs: 5, learningRate: 1, trainableBlocks: 2 }, 'medical')).toMatch(/trainable blocks apply to finetune, not medical/);
    expect(checkPhaseConfig({ epochs: 5, learningRate: 1, trainableBlocks: -1 }, 'finetune')).toMatch(/whole number from 0, or "all"/);
  });
});

describe('featureCachePlacement', () => {
  it('keeps small caches on the backend, larger ones in worker memory, and caches nothing past that', () => {
    // MobileNetV2 0.35 at 224 px, 4,850 training + validation images: the 1,280 pooled features (head only) or
    // block_16's 7×7×56 input (last two blocks, 53 MB) stay on the backend; block_6's 28×28×16 input (243 MB)
    // goes to worker memory; the stem's 112×112×16 output (3.9 GB) is not cached at all.
    const images = 4850;
    expect(featureCachePlacement(images * 1280 * 4)).toBe('backend');
    expect(featureCachePlacement(images * 7 * 7 * 56 * 4)).toBe('backend');
    expect(featureCachePlacement(images * 28 * 28 * 16 * 4)).toBe('cpu');
    expect(featureCachePlacement(images * 112 * 112 * 16 * 4)).toBeNull();
    expect(featureCachePlacement(BACKEND_CACHE_BYTES)).toBe('backend');
    expect(featureCachePlacement(CPU_CACHE_BYTES + 1)).toBeNull();
  });
});
