/**
 * A TrainConfig with every optional setting resolved to its default, once, so the engine, the trainer, the recipe
 * exporter and the model card read `full.tta` rather than each writing `cfg.tta ?? 'none'`. What depends on the model
 * (strategy, optimiser) is left to the model's zoo entry (workers/models.ts).
 */
import type { TrainConfig } from '../train/types';
import { DEFAULTS, DEFAULT_EARLY_STOPPING } from './schema';

/** The optional settings that have a default regardless of the model, and those defaults. */
export const TRAIN_DEFAULTS = {
  trainableBlocks: 'all',
  probeEpochs: DEFAULTS.probeEpochs,
  lrSchedule: { kind: 'constant' },
  featureCache: 'auto',
  measureBackends: 'auto',
  compileAhead: 'auto',
  classWeights: 'off',
  labelSmoothing: DEFAULTS.labelSmoothing,
  clipNorm: DEFAULTS.clipNorm,
  earlyStopping: DEFAULT_EARLY_STOPPING,
  saveEveryEpochs: DEFAULTS.saveEveryEpochs,
  keepEpoch: 'best',
  tta: 'none',
  mirrorTraining: false,
} as const satisfies Partial<TrainConfig>;

type Defaulted = keyof typeof TRAIN_DEFAULTS;

export type ResolvedTrainConfig = Omit<TrainConfig, Defaulted> & { [K in Defaulted]-?: Exclude<TrainConfig[K], undefined> };

/** `cfg` with each absent setting of TRAIN_DEFAULTS filled in (null early stopping stays off). */
export function resolveTrainConfig(cfg: TrainConfig): ResolvedTrainConfig {
  const out = { ...cfg } as Record<string, unknown>;
  for (const [key, value] of Object.entries(TRAIN_DEFAULTS)) if (out[key] === undefined) out[key] = structuredClone(value);
  return out as ResolvedTrainConfig;
}
