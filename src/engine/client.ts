/**
 * The main-thread side of the engine: a comlink proxy to the worker, supervised. The UI and the CLI hold only this.
 *
 * A dead worker answers nothing: comlink's calls to it would wait forever. The supervisor learns of the death —
 * the worker's life lock freed (it holds a Web Lock named after itself from start to end, which the browser frees
 * however it ends: `self.close()`, a crash, an out-of-memory kill), a lost GPU device it reports, a script that
 * failed to start, or a reply that could not be read — and then fails every call in flight with `E_WORKER_LOST`,
 * starts a fresh worker for the calls that follow, and tells its listeners (the UI says so and offers Resume).
 * A lock rather than a timed heartbeat: one kernel of a large model can hold the worker's event loop for minutes
 * on an emulated GPU, which a heartbeat cannot tell from death; the lock is freed only when the worker is gone.
 */
import * as Comlink from 'comlink';
import { EngineError, registerErrorTransfer } from './errors';
import { workerLockName, type WorkerSignal } from './live-runs';
import type { Engine } from './types';

export type EngineProxy = Comlink.Remote<Engine>;

/** A started engine worker as the supervisor sees it. */
export interface EngineWorker {
  endpoint: Comlink.Endpoint;
  terminate(): void;
  /** Settles with why the worker died, in words; never while it lives. */
  died: Promise<string>;
}

export interface SupervisedEngine {
  /** Stable across restarts: each call goes to the worker alive when it is made. */
  engine: EngineProxy;
  terminate(): void;
  /** `listener` hears each death, after the calls in flight failed and a fresh worker started. */
  onLost(listener: (err: EngineError) => void): void;
}

export function superviseEngine(spawn: () => EngineWorker): SupervisedEngine {
  interface Generation {
    worker: EngineWorker;
    remote: EngineProxy;
    pending: Set<(err: EngineError) => void>;
    lost: boolean;
  }
  const listeners: ((err: EngineError) => void)[] = [];
  let stopped = false;
  const start = (): Generation => {
    const worker = spawn();
    const gen: Generation = { worker, remote: Comlink.wrap<Engine>(worker.endpoint), pending: new Set(), lost: false };
    void worker.died.then((reason) => lose(gen, reason));
    return gen;
  };
  const lose = (gen: Generation, reason: string): void => {
    if (gen.lost || stopped) return;
    gen.lost = true;
    gen.worker.terminate();
    const err = new EngineError('E_WORKER_LOST', `the engine worker stopped: ${reason}. What it was doing was lost; a fresh engine was started, and a run it was training can be resumed from its last checkpoint`);
    for (const reject of gen.pending) reject(err);
    gen.pending.clear();
    current = start();
    for (const listener of listeners) listener(err);
  };
  let current = start();

  const call = (method: string, args: unknown[]): Promise<unknown> => {
    const gen = current;
    return new Promise((resolve, reject) => {
      gen.pending.add(reject);
      const remote = gen.remote as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
      remote[method](...args)
        .then(resolve, reject)
        .finally(() => gen.pending.delete(reject));
    });
  };
  // Only method calls cross the boundary (`then` is absent so that the proxy is not mistaken for a promise).
  const engine = new Proxy({}, { get: (_, key) => (typeof key === 'string' && key !== 'then' ? (...args: unknown[]) => call(key, args) : undefined) }) as EngineProxy;
  return {
    engine,
    terminate: () => {
      stopped = true;
      current.worker.terminate();
    },
    onLost: (listener) => void listeners.push(listener),
  };
}

/** The engine worker of this page, named after its life lock (see the module comment). */
function spawnEngineWorker(): EngineWorker {
  const name = workerLockName(crypto.randomUUID());
  const worker = new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module', name });
  const locks = (navigator as Navigator).locks as LockManager | undefined;
  const died = new Promise<string>((resolve) => {
    let alive = false;
    worker.addEventListener('message', (e: MessageEvent<WorkerSignal | undefined>) => {
      const s = e.data;
      if (s?.mriStudio === 'alive' && !alive) {
        alive = true;
        // Granted only once the worker, which holds it, is gone.
        void locks?.request(name, () => resolve('it ended (closed, crashed or out of memory)'));
      }
      if (s?.mriStudio === 'lost') resolve(s.reason);
    });
    // An uncaught error in a live worker does not end it; before it is up (or with no lock to watch) it does.
    worker.addEventListener('error', (e) => {
      if (!alive || !locks) resolve(`it failed${e.message ? `: ${e.message}` : ' to start'}`);
    });
    worker.addEventListener('messageerror', () => resolve('a reply from it could not be read, so the call waiting for it would never end'));
  });
  return { endpoint: worker, terminate: () => worker.terminate(), died };
}

export function createEngine(): SupervisedEngine {
  registerErrorTransfer();
  return superviseEngine(spawnEngineWorker);
}

/** Wraps an event callback so it can be passed across the worker boundary. */
export const eventSink = <T>(fn: (e: T) => void) => Comlink.proxy(fn);
