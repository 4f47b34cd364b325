/**
 * A run as a sequence of phases. Every run has one, except "linear probe, then fine-tune", which trains the head
 * alone and then the configured blocks at a tenth of the rate. Pure: which epochs each phase covers and at what
 * rate, the schedule each phase runs, what a configuration may ask for, and where cached activations should live.
 */
import { probeThenFinetune } from '../models/strategies';
import { TRAIN_DEFAULTS } from '../settings/resolve';
import { createLrScheduler, type LrScheduleConfig, type LrScheduler, type MonitoredMetric, type PlateauState } from './schedules';
import type { PhaseName, Strategy, TrainConfig } from './types';

export interface PlannedPhase {
  /** null for the one phase of a run that is not fine-tuning. */
  name: PhaseName | null;
  /** 1-based, inclusive. */
  fromEpoch: number;
  toEpoch: number;
  /** null: the model's trainable layers stay as the strategy built them. */
  trainableBlocks: number | 'all' | null;
  /** The phase's base rate. */
  learningRate: number;
}

type PhaseConfig = Pick<TrainConfig, 'epochs' | 'learningRate' | 'trainableBlocks' | 'probeEpochs'>;

export function planPhases(cfg: PhaseConfig, strategy: Strategy): PlannedPhase[] {
  if (strategy !== 'finetune') return [{ name: null, fromEpoch: 1, toEpoch: cfg.epochs, trainableBlocks: null, learningRate: cfg.learningRate }];
  const trainableBlocks = cfg.trainableBlocks ?? TRAIN_DEFAULTS.trainableBlocks;
  const probe = cfg.probeEpochs ?? TRAIN_DEFAULTS.probeEpochs;
  // Without a probe the configured rate stands: probeThenFinetune lowers it because the head has already learnt.
  const phases = probe > 0 ? probeThenFinetune({ epochs: cfg.epochs, probeEpochs: probe, trainableBlocks }) : [{ epochs: cfg.epochs, trainableBlocks, learningRateScale: 1 }];
  let from = 1;
  return phases.map((p, i) => {
    const planned: PlannedPhase = {
      name: i === 0 && probe > 0 ? 'probe' : 'finetune',
      fromEpoch: from,
      toEpoch: from + p.epochs - 1,
      trainableBlocks: p.trainableBlocks,
      learningRate: cfg.learningRate * p.learningRateScale,
    };
    from += p.epochs;
    return planned;
  });
}

/** The phase that trains `epoch` (1-based); undefined past the last. */
export function phaseOf(phases: readonly PlannedPhase[], epoch: number): PlannedPhase | undefined {
  return phases.find((p) => p.fromEpoch <= epoch && epoch <= p.toEpoch);
}

/**
 * The configured schedule (constant when none) for one phase, started afresh from the phase's rate and length: a
 * warm-up after unfreezing is what protects the pretrained blocks. The trainer asks by run epoch; the phase's
 * schedule counts from its own first epoch. `state`: a plateau's, when resuming inside the phase.
 */
export function phaseScheduler(config: LrScheduleConfig | undefined, phase: PlannedPhase, stepsPerEpoch: number, state?: PlateauState): LrScheduler {
  const inner = createLrScheduler(config ?? { kind: 'constant' }, { baseLr: phase.learningRate, epochs: phase.toEpoch - phase.fromEpoch + 1, stepsPerEpoch }, state);
  const offset = phase.fromEpoch - 1;
  return { lrAt: (epoch, step) => inner.lrAt(epoch - offset, step), endEpoch: (m) => inner.endEpoch(m), state: () => inner.state() };
}

const MONITORED: readonly MonitoredMetric[] = ['valAccuracy', 'valLoss', 'trainAccuracy', 'trainLoss'];
const isWhole = (v: unknown, min: number): boolean => Number.isInteger(v) && (v as number) >= min;

/** What is wrong with a schedule for these phases, in words a person can act on; null when nothing is. */
export function checkLrSchedule(s: LrScheduleConfig, phases: readonly PlannedPhase[]): string | null {
  const epochs = phases[phases.length - 1].toEpoch;
  const lowestRate = Math.min(...phases.map((p) => p.learningRate));
  switch (s.kind) {
    case 'constant':
      return null;
    case 'step':
      if (!isWhole(s.everyEpochs, 1)) return `the step schedule's interval must be a whole number of epochs from 1 (got ${s.everyEpochs})`;
      if (!(s.gamma > 0 && s.gamma <= 1)) return `the step schedule's factor must be above 0 and at most 1 (got ${s.gamma})`;
      return null;
    case 'cosine':
      if (s.unit !== 'step' && s.unit !== 'epoch') return `the cosine schedule's unit must be "step" or "epoch" (got ${s.unit})`;
      if (!isWhole(s.warmup, 0)) return `the cosine warm-up must be a whole number from 0 (got ${s.warmup})`;
      if (s.unit === 'epoch' && s.warmup >= epochs) return `the cosine warm-up (${s.warmup} epochs) must be shorter than the run (${epochs} epochs)`;
      if (s.minLr !== undefined && !(s.minLr >= 0 && s.minLr < lowestRate)) return `the cosine floor must be at least 0 and below the lowest phase rate ${lowestRate} (got ${s.minLr})`;
      return null;
    case 'plateau':
      if (s.patience !== undefined && !isWhole(s.patience, 1)) return `the plateau patience must be a whole number of epochs from 1 (got ${s.patience})`;
      if (s.factor !== undefined && !(s.factor > 0 && s.factor < 1)) return `the plateau factor must lie strictly between 0 and 1 (got ${s.factor})`;
      if (s.monitor !== undefined && !MONITORED.includes(s.monitor)) return `the plateau schedule monitors one of ${MONITORED.join(', ')} (got ${s.monitor})`;
      if (s.mode !== undefined && s.mode !== 'min' && s.mode !== 'max') return `the plateau mode must be "min" or "max" (got ${s.mode})`;
      if (s.minLr !== undefined && !(s.minLr >= 0)) return `the plateau floor must be at least 0 (got ${s.minLr})`;
      if (s.minDelta !== undefined && !(s.minDelta >= 0)) return `the plateau min delta must be at least 0 (got ${s.minDelta})`;
      return null;
    default:
      return `unknown learning-rate schedule "${(s as { kind: unknown }).kind}": choose constant, step, cosine or plateau`;
  }
}

/** What is wrong with the phase settings (probe epochs, trainable blocks) for a strategy; null when nothing is. */
export function checkPhaseConfig(cfg: PhaseConfig, strategy: Strategy): string | null {
  if (cfg.probeEpochs !== undefined && cfg.probeEpochs !== 0) {
    if (strategy !== 'finetune') return `probe epochs apply to finetune (the ${strategy} strategy trains only its head anyway)`;
    if (!isWhole(cfg.probeEpochs, 0) || cfg.probeEpochs > cfg.epochs) return `probe epochs must be a whole number from 0 to the run's ${cfg.epochs} epochs (got ${cfg.probeEpochs})`;
  }
  if (cfg.trainableBlocks !== undefined) {
    if (strategy !== 'finetune') return `trainable blocks apply to finetune, not ${strategy}`;
    if (cfg.trainableBlocks !== 'all' && !isWhole(cfg.trainableBlocks, 0)) return `trainable blocks must be a whole number from 0, or "all" (got ${cfg.trainableBlocks})`;
  }
  return null;
}

/**
 * A cache of at most this size stays on the backend as one tensor, batches gathered there with no upload. WebGPU
 * guarantees storage-buffer bindings of 128 MiB and no more (a larger tensor may not bind at all on some adapters),
 * and the training step needs the rest of the GPU's memory for its own activations and gradients.
 */
export const BACKEND_CACHE_BYTES = 128 * 2 ** 20;
/**
 * Larger caches stay in worker memory and are uploaded one batch at a time (about what uploading the images cost);
 * past this the worker's heap is the risk, and training runs the frozen layers every epoch instead.
 */
export const CPU_CACHE_BYTES = 1024 * 2 ** 20;

/** Where to keep cached activations of `bytes`: on the backend, in worker memory, or nowhere (too large). */
export function featureCachePlacement(bytes: number): 'backend' | 'cpu' | null {
  if (bytes <= BACKEND_CACHE_BYTES) return 'backend';
  return bytes <= CPU_CACHE_BYTES ? 'cpu' : null;
}
