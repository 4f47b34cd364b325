/** The engine's checks of what it is given, and the mapping of core errors to EngineErrors, shared by its parts. */
import { ConfigError } from '../src/core/config';
import { ImportCancelled } from '../src/core/dataset/importer';
import { DatasetError } from '../src/core/dataset/layout';
import { GroupPatternError, validateFractions, type SplitFractions } from '../src/core/dataset/split';
import { StorageFullError } from '../src/core/registry/quota';
import { rangeProblem, type Range } from '../src/core/settings/schema';
import { RunFileError } from '../src/core/store/run-file';
import { EngineError } from '../src/engine/errors';

export const bad = (what: string): never => {
  throw new EngineError('E_CONFIG', what);
};

/** A setting outside the schema's range (src/core/settings/schema.ts) is refused with the schema's words. */
export function checkRange(name: string, range: Range, value: unknown): void {
  const problem = rangeProblem(name, range, value);
  if (problem) bad(problem);
}

export function checkFractions(f: SplitFractions): void {
  const problem = validateFractions(f);
  if (problem) bad(problem);
  if (f.val <= 0) bad('the validation fraction must be above 0: the studio picks the best epoch on validation');
}

/** Core errors a person can fix become E_CONFIG/E_DATASET with the core's own words. */
export function asEngineError(err: unknown): unknown {
  if (err instanceof ConfigError) return new EngineError('E_CONFIG', err.message, err.problems.join('\n'));
  if (err instanceof DatasetError || err instanceof GroupPatternError) return new EngineError('E_DATASET', err.message);
  if (err instanceof RangeError) return new EngineError('E_CONFIG', err.message);
  if (err instanceof ImportCancelled) return new EngineError('E_CANCELLED', 'the import was cancelled; nothing was changed');
  // The run file's own code (E_FORMAT, E_VERSION, E_EXISTS) travels in `detail`, as the registry's does.
  if (err instanceof RunFileError) return new EngineError(err.code === 'E_NOT_FOUND' ? 'E_NOT_FOUND' : 'E_CONFIG', err.message, err.code);
  if (err instanceof StorageFullError) return new EngineError('E_QUOTA', err.message);
  return err;
}
