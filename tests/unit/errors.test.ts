import * as Comlink from 'comlink';
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { EngineError, registerErrorTransfer } from '../../src/engine/errors';

describe('typed errors across the comlink boundary', () => {
  it('arrive as EngineError with code, message and detail; other throws become E_INTERNAL', async () => {
    registerErrorTransfer();
    const { port1, port2 } = new MessageChannel();
    const api = {
      fail: (): void => {
        throw new EngineError('E_CONFIG', 'epochs must be at least 1', 'got 0');
      },
      crash: (): void => {
        throw new TypeError('x is undefined');
      },
      ok: () => ({ value: 1 }),
    };
    Comlink.expose(api, port1 as unknown as Comlink.Endpoint);
    const remote = Comlink.wrap<typeof api>(port2 as unknown as Comlink.Endpoint);
    // A returned object that happens to have a `value` key must not be mistaken for a thrown one.
    await expect(remote.ok()).resolves.toEqual({ value: 1 });
    const err = await remote.fail().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect(err).toMatchObject({ code: 'E_CONFIG', message: 'epochs must be at least 1', detail: 'got 0' });
    const crash = await remote.crash().catch((e: unknown) => e);
    expect(crash).toMatchObject({ code: 'E_INTERNAL', message: 'x is undefined' });
    port1.close();
    port2.close();
  });
});
