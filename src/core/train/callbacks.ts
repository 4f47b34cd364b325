import { improves, type MonitoredMetric, type MonitorMode } from './schedules';
import { DEFAULT_EARLY_STOPPING } from '../settings/schema';
import type { EpochMetrics } from './types';

export interface EarlyStoppingOptions {
  monitor?: MonitoredMetric;
  mode?: MonitorMode;
  patience?: number;
  /** A gain of at most this much does not count as improvement, so noise cannot keep a run alive. */
  minDelta?: number;
}

export interface EarlyStoppingState {
  best: number;
  wait: number;
}

/** Keras's EarlyStopping: stops once `patience` epochs in a row have not improved on the best by more than minDelta. */
export class EarlyStopping {
  readonly monitor: MonitoredMetric;
  readonly mode: MonitorMode;
  readonly patience: number;
  readonly minDelta: number;
  private s: EarlyStoppingState;

  constructor(opts: EarlyStoppingOptions = {}, state?: EarlyStoppingState) {
    this.monitor = opts.monitor ?? 'valAccuracy';
    this.mode = opts.mode ?? (this.monitor.endsWith('Loss') ? 'min' : 'max');
    this.patience = opts.patience ?? DEFAULT_EARLY_STOPPING.patience;
    this.minDelta = opts.minDelta ?? DEFAULT_EARLY_STOPPING.minDelta;
    if (!(this.patience >= 1)) throw new RangeError('early-stopping patience must be at least 1 epoch');
    this.s = state ? { ...state } : { best: this.mode === 'max' ? -Infinity : Infinity, wait: 0 };
  }

  update(metrics: EpochMetrics): { stop: boolean; improved: boolean } {
    const value = metrics[this.monitor];
    if (improves(value, this.s.best, this.mode, this.minDelta)) {
      this.s.best = value;
      this.s.wait = 0;
      return { stop: false, improved: true };
    }
    this.s.wait++;
    return { stop: this.s.wait >= this.patience, improved: false };
  }

  /** A copy for a checkpoint, to pass back to the constructor on resume. */
  state(): EarlyStoppingState {
    return { ...this.s };
  }
}

export interface BestEpoch {
  epoch: number;
  valAccuracy: number;
  valLoss: number;
}

export interface CheckpointDecision {
  /** This epoch is the best so far: save it as the run's best checkpoint. */
  saveBest: boolean;
  /** This epoch is due a periodic ("every N epochs") checkpoint. */
  savePeriodic: boolean;
}

/**
 * Decides which epochs to checkpoint. Best is by validation accuracy, ties broken by lower validation loss:
 * on small validation sets accuracy ties are common and the lower loss is the more confident model.
 */
export class BestCheckpoint {
  /** 0 turns periodic checkpoints off. */
  readonly everyEpochs: number;
  private bestEpoch: BestEpoch | null;

  /** `last`: every epoch replaces the kept one, so the run hands back its final epoch (TrainConfig.keepEpoch). */
  readonly keep: 'best' | 'last';

  constructor(opts: { everyEpochs?: number; keep?: 'best' | 'last' } = {}, best: BestEpoch | null = null) {
    this.everyEpochs = opts.everyEpochs ?? 0;
    this.keep = opts.keep ?? 'best';
    if (!(Number.isInteger(this.everyEpochs) && this.everyEpochs >= 0)) throw new RangeError('checkpoint interval must be a whole number of epochs');
    this.bestEpoch = best && { ...best };
  }

  /** `metrics.epoch` counts from 1, as the trainer reports it. */
  update(metrics: EpochMetrics): CheckpointDecision {
    const b = this.bestEpoch;
    const saveBest = this.keep === 'last' || !b || metrics.valAccuracy > b.valAccuracy || (metrics.valAccuracy === b.valAccuracy && metrics.valLoss < b.valLoss);
    if (saveBest) this.bestEpoch = { epoch: metrics.epoch, valAccuracy: metrics.valAccuracy, valLoss: metrics.valLoss };
    return { saveBest, savePeriodic: this.everyEpochs > 0 && metrics.epoch % this.everyEpochs === 0 };
  }

  /** The best epoch so far; also what a checkpoint stores to resume the tracker. */
  get best(): BestEpoch | null {
    return this.bestEpoch && { ...this.bestEpoch };
  }
}
