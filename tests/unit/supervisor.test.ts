import * as Comlink from 'comlink';
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { superviseEngine, type EngineWorker } from '../../src/engine/client';
import { EngineError, registerErrorTransfer } from '../../src/engine/errors';

/** A worker stand-in: a comlink endpoint serving a tiny engine, and a death the test triggers. */
function fakeWorkers() {
  const spawned: { die: (reason: string) => void; terminated: boolean; generation: number }[] = [];
  const spawn = (): EngineWorker => {
    const generation = spawned.length + 1;
    const { port1, port2 } = new MessageChannel();
    // `hang` never answers: the call a dead worker leaves waiting. `who` says which worker answered.
    Comlink.expose({ hang: () => new Promise(() => undefined), who: () => generation }, port1 as unknown as Comlink.Endpoint);
    let die!: (reason: string) => void;
    const died = new Promise<string>((resolve) => (die = resolve));
    const entry = { die, terminated: false, generation };
    spawned.push(entry);
    return {
      endpoint: port2 as unknown as Comlink.Endpoint,
      terminate: () => {
        entry.terminated = true;
        port1.close();
        port2.close();
      },
      died,
    };
  };
  return { spawn, spawned };
}

describe('engine supervision', () => {
  it('fails every call in flight with E_WORKER_LOST when the worker dies, and sends later calls to a fresh worker', async () => {
    registerErrorTransfer();
    const { spawn, spawned } = fakeWorkers();
    const supervised = superviseEngine(spawn);
    const engine = supervised.engine as unknown as { hang(): Promise<never>; who(): Promise<number> };
    const heard: EngineError[] = [];
    supervised.onLost((err) => heard.push(err));

    expect(await engine.who()).toBe(1);
    const inFlight = [engine.hang().catch((e: unknown) => e), engine.hang().catch((e: unknown) => e)];
    spawned[0].die('it ended (closed, crashed or out of memory)');
    for (const err of await Promise.all(inFlight)) {
      expect(err).toBeInstanceOf(EngineError);
      expect(err).toMatchObject({ code: 'E_WORKER_LOST', message: expect.stringContaining('it ended (closed, crashed or out of memory)') });
    }
    expect(spawned[0].terminated).toBe(true);
    expect(heard.map((e) => e.code)).toEqual(['E_WORKER_LOST']);
    // The next call is answered by a new worker, without anything done by the caller.
    expect(await engine.who()).toBe(2);
    expect(spawned).toHaveLength(2);

    // A second death of the same worker is not a second loss; a deliberate terminate is none at all.
    spawned[0].die('again');
    supervised.terminate();
    spawned[1].die('terminated on purpose');
    await new Promise((r) => setTimeout(r, 10));
    expect(heard).toHaveLength(1);
    expect(spawned).toHaveLength(2);
  });

  it('is not mistaken for a promise (awaiting it does not call the worker)', async () => {
    const { spawn } = fakeWorkers();
    const supervised = superviseEngine(spawn);
    expect(await Promise.resolve(supervised.engine)).toBe(supervised.engine);
    supervised.terminate();
  });
});
