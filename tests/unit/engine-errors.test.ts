import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/config';
import { RegistryError } from '../../src/core/registry/registry';
import { EngineError } from '../../src/engine/errors';
import { StudioEngine } from '../../workers/engine';
import { mapErrors } from '../../workers/errors';

describe('errors mapped once, at the engine boundary (workers/errors.ts)', () => {
  it('maps what a method throws or rejects with, and leaves results, EngineErrors and other errors alone', async () => {
    const target = {
      value: 7,
      thrown(): never {
        throw new ConfigError(['epochs must be 1 to 10000 (got 0)']);
      },
      async rejected(): Promise<never> {
        throw new RangeError('image size must be 32 to 512');
      },
      async busy(): Promise<never> {
        throw new EngineError('E_BUSY', 'run r is training');
      },
      async bug(): Promise<never> {
        throw new TypeError('x is undefined');
      },
      async fine(): Promise<number> {
        return this.value;
      },
    };
    const mapped = mapErrors(target);
    expect(() => mapped.thrown()).toThrow(expect.objectContaining({ code: 'E_CONFIG', message: 'epochs must be 1 to 10000 (got 0)', detail: 'epochs must be 1 to 10000 (got 0)' }));
    await expect(mapped.rejected()).rejects.toMatchObject({ code: 'E_CONFIG', message: 'image size must be 32 to 512' });
    await expect(mapped.busy()).rejects.toMatchObject({ code: 'E_BUSY', message: 'run r is training' });
    await expect(mapped.bug()).rejects.toBeInstanceOf(TypeError);
    await expect(mapped.fine()).resolves.toBe(7);
    expect(mapped.value).toBe(7);
    // One wrapper per method: what the page holds keeps its identity.
    expect(mapped.fine).toBe(mapped.fine);
  });

  it("keeps the registry's own code in detail and maps a full disk to E_QUOTA", async () => {
    const mapped = mapErrors({
      clash: async () => {
        throw new RegistryError('E_EXISTS', 'version 1 of "m" exists');
      },
    });
    await expect(mapped.clash()).rejects.toMatchObject({ code: 'E_CONFIG', detail: 'E_EXISTS' });
  });

  it('the engine a caller constructs answers with EngineError codes, with no catch of its own', async () => {
    const engine = new StudioEngine();
    // readConfig hands the core's ConfigError straight up; the boundary names it E_CONFIG.
    const err = await engine.readConfig('{ "model": "no-such-model", "epochs": 0 }').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect(err).toMatchObject({ code: 'E_CONFIG' });
    await expect(engine.exportRun('run-nope')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });
});
