/**
 * An external test folder (another hospital's scans of the same classes) is a dataset without a split: imported at
 * the run's input settings, every image evaluated. The page's evaluation panel and the CLI's `evaluate --external`
 * both import it so.
 */
import { EngineError } from './errors';
import { EVALUATION_IMPORT, type ImportOptions, type RunRecord } from './types';

/**
 * How another folder is imported to evaluate a run on it: at the run's input size and channels, with every class
 * folder (the engine reports those the run does not know). The split does not matter: every image is evaluated.
 */
export function externalImportOptions(run: RunRecord): ImportOptions {
  const d = run.config.dataset;
  if (d.kind === 'demo') return { imageSize: d.imageSize, channels: 3, seed: run.config.seed, ...EVALUATION_IMPORT };
  const own = run.dataset?.importOptions;
  if (!own) throw new EngineError('E_DATASET', `run ${run.runId} predates recorded import settings, so its input size is unknown; train it again`);
  // Only the input settings carry over: the run's class choice, patient-id pattern and split describe its own folder.
  return { imageSize: own.imageSize, channels: own.channels, seed: own.seed, ...EVALUATION_IMPORT };
}
