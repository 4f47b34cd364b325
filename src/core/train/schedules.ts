/** Multiplies the rate by `gamma` every `everyEpochs` epochs; `epoch` counts from 0 (PyTorch's StepLR). */
export function stepLr(baseLr: number, epoch: number, everyEpochs: number, gamma: number): number {
  return baseLr * gamma ** Math.floor(epoch / everyEpochs);
}

export interface CosineOptions {
  /** Length of the linear warm-up, in the same unit as `t` and `total`. */
  warmup: number;
  total: number;
  /** The floor the cosine decays to (default 0). */
  minLr?: number;
}

/**
 * Linear warm-up then cosine decay. `t` is the 0-based index of the step (or epoch) about to run; `t`, `warmup`
 * and `total` share one unit, steps or epochs, whichever the caller updates on. Warm-up starts at baseLr/warmup
 * rather than 0 so that the first update is not wasted; the cosine reaches `minLr` only at t = total.
 */
export function cosineWarmupLr(baseLr: number, t: number, { warmup, total, minLr = 0 }: CosineOptions): number {
  if (t < warmup) return (baseLr * (t + 1)) / warmup;
  const progress = Math.min(1, (t - warmup) / Math.max(1, total - warmup));
  return minLr + (baseLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

export type MonitoredMetric = 'valAccuracy' | 'valLoss' | 'trainAccuracy' | 'trainLoss';
export type MonitorMode = 'min' | 'max';
/** The figures of one epoch a schedule can watch: any `EpochMetrics` has them (declared here, not imported, so that
 * `types.ts` can name a schedule's config without an import cycle). */
export type MonitoredValues = Readonly<Record<MonitoredMetric, number>>;

/** Whether `value` beats `best` by more than `minDelta` (Keras's rule: a gain of exactly minDelta is no gain). */
export function improves(value: number, best: number, mode: MonitorMode, minDelta: number): boolean {
  return mode === 'max' ? value - minDelta > best : value + minDelta < best;
}

export interface PlateauOptions {
  initialLr: number;
  monitor?: MonitoredMetric;
  mode?: MonitorMode;
  /** Epochs without improvement before the rate is cut. */
  patience?: number;
  factor?: number;
  minLr?: number;
  minDelta?: number;
}

export interface PlateauState {
  lr: number;
  best: number;
  wait: number;
}

/** Keras's ReduceLROnPlateau, without cooldown: after `patience` epochs without improvement, lr ← max(lr·factor, minLr). */
export class ReduceLrOnPlateau {
  readonly monitor: MonitoredMetric;
  readonly mode: MonitorMode;
  readonly patience: number;
  readonly factor: number;
  readonly minLr: number;
  readonly minDelta: number;
  private s: PlateauState;

  constructor(opts: PlateauOptions, state?: PlateauState) {
    this.monitor = opts.monitor ?? 'valLoss';
    this.mode = opts.mode ?? (this.monitor.endsWith('Loss') ? 'min' : 'max');
    this.patience = opts.patience ?? 5;
    this.factor = opts.factor ?? 0.1;
    this.minLr = opts.minLr ?? 0;
    this.minDelta = opts.minDelta ?? 0;
    if (!(this.factor > 0 && this.factor < 1)) throw new RangeError('the plateau factor must lie strictly between 0 and 1');
    this.s = state ? { ...state } : { lr: opts.initialLr, best: this.mode === 'max' ? -Infinity : Infinity, wait: 0 };
  }

  get lr(): number {
    return this.s.lr;
  }

  /** Feeds one epoch's metrics; returns the rate for the next epoch. */
  update(metrics: MonitoredValues): number {
    const value = metrics[this.monitor];
    if (improves(value, this.s.best, this.mode, this.minDelta)) {
      this.s.best = value;
      this.s.wait = 0;
    } else if (++this.s.wait >= this.patience) {
      this.s.lr = Math.max(this.s.lr * this.factor, this.minLr);
      this.s.wait = 0;
    }
    return this.s.lr;
  }

  /** A copy for a checkpoint, to pass back to the constructor on resume. */
  state(): PlateauState {
    return { ...this.s };
  }
}

export type LrScheduleConfig =
  | { kind: 'constant' }
  | { kind: 'step'; everyEpochs: number; gamma: number }
  | { kind: 'cosine'; warmup: number; unit: 'step' | 'epoch'; minLr?: number }
  | ({ kind: 'plateau' } & Omit<PlateauOptions, 'initialLr'>);

/** The one interface the training loop drives, whichever schedule is configured. */
export interface LrScheduler {
  /** The rate for the step about to run; `epoch` and `step` (within the epoch) count from 0. */
  lrAt(epoch: number, step: number): number;
  /** Called after each validated epoch; only reduce-on-plateau reacts. */
  endEpoch(metrics: MonitoredValues): void;
  /** What a checkpoint must store to resume the schedule exactly (null where the rate is a function of time). */
  state(): PlateauState | null;
}

export function createLrScheduler(config: LrScheduleConfig, run: { baseLr: number; epochs: number; stepsPerEpoch: number }, state?: PlateauState): LrScheduler {
  const { baseLr, epochs, stepsPerEpoch } = run;
  const timeBased = (lrAt: (epoch: number, step: number) => number): LrScheduler => ({ lrAt, endEpoch: () => {}, state: () => null });
  switch (config.kind) {
    case 'constant':
      return timeBased(() => baseLr);
    case 'step':
      return timeBased((epoch) => stepLr(baseLr, epoch, config.everyEpochs, config.gamma));
    case 'cosine':
      return config.unit === 'step'
        ? timeBased((epoch, step) => cosineWarmupLr(baseLr, epoch * stepsPerEpoch + step, { warmup: config.warmup, total: epochs * stepsPerEpoch, minLr: config.minLr }))
        : timeBased((epoch) => cosineWarmupLr(baseLr, epoch, { warmup: config.warmup, total: epochs, minLr: config.minLr }));
    case 'plateau': {
      const plateau = new ReduceLrOnPlateau({ ...config, initialLr: baseLr }, state);
      return { lrAt: () => plateau.lr, endEpoch: (m) => void plateau.update(m), state: () => plateau.state() };
    }
  }
}
