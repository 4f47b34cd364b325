/**
 * From the train form's settings to the engine's TrainConfig: its own module, so the page bundles it without the
 * config file's reader, templates and model zoo.
 */
import type { StudioSettings } from '../config';
import type { TrainConfig } from '../train/types';

/**
 * The TrainConfig these settings give on a dataset (the train form's): augmentation only when enabled;
 * options at their "off" value left out, as TrainConfig defines them (absent: constant rate, no probe), and trainable
 * blocks and probe epochs only for `finetune`, the one strategy they mean something to.
 */
export function trainConfigOf(s: StudioSettings, dataset: TrainConfig['dataset']): TrainConfig {
  const { enabled, ...augment } = s.augment;
  const { lrSchedule, probeEpochs, trainableBlocks, ...train } = structuredClone(s.train);
  return {
    ...train,
    ...(lrSchedule.kind === 'constant' ? {} : { lrSchedule }),
    ...(train.strategy === 'finetune' ? { trainableBlocks, ...(probeEpochs > 0 ? { probeEpochs } : {}) } : {}),
    dataset,
    ...(enabled ? { augment } : {}),
  };
}
