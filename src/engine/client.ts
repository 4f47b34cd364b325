/** The main-thread side of the engine: a comlink proxy to the worker. The UI and the CLI hold only this. */
import * as Comlink from 'comlink';
import { registerErrorTransfer } from './errors';
import type { Engine } from './types';

export type EngineProxy = Comlink.Remote<Engine>;

export function createEngine(): { engine: EngineProxy; terminate: () => void } {
  registerErrorTransfer();
  const worker = new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module', name: 'mri-studio-engine' });
  return { engine: Comlink.wrap<Engine>(worker), terminate: () => worker.terminate() };
}

/** Wraps an event callback so it can be passed across the worker boundary. */
export const eventSink = <T>(fn: (e: T) => void) => Comlink.proxy(fn);
