/**
 * Errors mapped once, where the engine meets its callers: the core's errors a person can fix become EngineErrors
 * with the core's own words, whichever method they came through (see mapErrors).
 */
import { ConfigError } from '../src/core/config';
import { ImportCancelled } from '../src/core/dataset/importer';
import { DatasetError } from '../src/core/dataset/layout';
import { GroupPatternError } from '../src/core/dataset/split';
import { UnsupportedLayerError } from '../src/core/export/onnx';
import { StorageFullError } from '../src/core/registry/quota';
import { RegistryError } from '../src/core/registry/registry';
import { RunFileError } from '../src/core/store/run-file';
import { EngineError } from '../src/engine/errors';

/** Core errors a person can fix become E_CONFIG/E_DATASET/E_QUOTA…; anything else passes unchanged. */
export function asEngineError(err: unknown): unknown {
  if (err instanceof ConfigError) return new EngineError('E_CONFIG', err.message, err.problems.join('\n'));
  if (err instanceof DatasetError || err instanceof GroupPatternError) return new EngineError('E_DATASET', err.message);
  if (err instanceof RangeError || err instanceof UnsupportedLayerError) return new EngineError('E_CONFIG', err.message);
  if (err instanceof ImportCancelled) return new EngineError('E_CANCELLED', 'the import was cancelled; nothing was changed');
  // The run file's and the registry's own codes (E_FORMAT, E_EXISTS, a gate refusal…) travel in `detail`, so the UI
  // and the CLI can tell them apart; a full disk is E_QUOTA, as every other save reports it.
  if (err instanceof RunFileError) return new EngineError(err.code === 'E_NOT_FOUND' ? 'E_NOT_FOUND' : 'E_CONFIG', err.message, err.code);
  if (err instanceof RegistryError) return new EngineError(err.code === 'E_NOT_FOUND' || err.code === 'E_QUOTA' ? err.code : 'E_CONFIG', err.message, err.code);
  if (err instanceof StorageFullError) return new EngineError('E_QUOTA', err.message);
  return err;
}

/**
 * The same object, its methods' failures (thrown or rejected) passed through asEngineError: the worker exposes the
 * engine so wrapped, and Node callers (the unit tests, the CLI's engine) construct it so.
 */
export function mapErrors<T extends object>(target: T): T {
  const wrappers = new WeakMap<(...args: unknown[]) => unknown, (...args: unknown[]) => unknown>();
  return new Proxy(target, {
    get(obj, key, receiver) {
      const value: unknown = Reflect.get(obj, key, receiver);
      if (typeof value !== 'function' || key === 'constructor') return value;
      const method = value as (...args: unknown[]) => unknown;
      let wrapper = wrappers.get(method);
      if (!wrapper) {
        wrapper = function (this: unknown, ...args: unknown[]) {
          try {
            const out = method.apply(this, args);
            return out instanceof Promise ? out.catch((err: unknown) => Promise.reject(asEngineError(err))) : out;
          } catch (err) {
            throw asEngineError(err);
          }
        };
        wrappers.set(method, wrapper);
      }
      return wrapper;
    },
  });
}
