/** The engine's checks of a request before any work: settings outside the schema's ranges are refused as E_CONFIG. */
import { validateFractions, type SplitFractions } from '../src/core/dataset/split';
import type { Zoo, ZooEntry } from '../src/core/models/zoo';
import { BOUNDS, CHOICES, rangeProblem, type Range } from '../src/core/settings/schema';
import { checkLrSchedule, checkPhaseConfig, planPhases } from '../src/core/train/phases';
import type { Strategy, TrainConfig } from '../src/core/train/types';
import { EngineError } from '../src/engine/errors';

export const bad = (what: string): never => {
  throw new EngineError('E_CONFIG', what);
};

export function checkFractions(f: SplitFractions): void {
  const problem = validateFractions(f);
  if (problem) bad(problem);
  if (f.val <= 0) bad('the validation fraction must be above 0: the studio picks the best epoch on validation');
}

/** A setting outside the schema's range (src/core/settings/schema.ts) is refused with the schema's words. */
export function checkRange(name: string, range: Range, value: unknown): void {
  const problem = rangeProblem(name, range, value);
  if (problem) bad(problem);
}

const MAX_FOLDS = 20;

export function checkConfig(cfg: TrainConfig): void {
  checkRange('epochs', BOUNDS.epochs, cfg.epochs);
  checkRange('batch size', BOUNDS.batchSize, cfg.batchSize);
  checkRange('learning rate', BOUNDS.learningRate, cfg.learningRate);
  checkRange('seed', BOUNDS.seed, cfg.seed);
  if (cfg.labelSmoothing !== undefined) checkRange('label smoothing', BOUNDS.labelSmoothing, cfg.labelSmoothing);
  if (cfg.dataset.kind === 'demo') checkFractions(cfg.dataset.split);
  if (cfg.measureBackends !== undefined && !(CHOICES.measureBackends as readonly string[]).includes(cfg.measureBackends)) bad(`measureBackends must be auto, on or off (got ${String(cfg.measureBackends)})`);
  if (cfg.compileAhead !== undefined && !(CHOICES.compileAhead as readonly string[]).includes(cfg.compileAhead)) bad(`compileAhead must be auto, on or off (got ${String(cfg.compileAhead)})`);
  const cv = cfg.crossValidation;
  if (cv && !(Number.isInteger(cv.folds) && cv.folds >= 2 && cv.folds <= MAX_FOLDS && Number.isInteger(cv.fold) && cv.fold >= 1 && cv.fold <= cv.folds)) bad(`cross-validation needs 2 to ${MAX_FOLDS} folds and a fold among them (got fold ${cv.fold} of ${cv.folds})`);
}

/** Probe epochs, trainable blocks and the schedule, before anything is built. */
export function checkPhases(cfg: TrainConfig, strategy: Strategy): void {
  const problem = checkPhaseConfig(cfg, strategy) ?? (cfg.lrSchedule ? checkLrSchedule(cfg.lrSchedule, planPhases(cfg, strategy)) : null);
  if (problem) bad(problem);
}

export function zooEntry(zoo: Zoo, id: string): ZooEntry {
  try {
    return zoo.entry(id);
  } catch (err) {
    throw new EngineError('E_CONFIG', (err as Error).message);
  }
}
