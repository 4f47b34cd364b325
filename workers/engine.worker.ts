/// <reference lib="webworker" />
import * as Comlink from 'comlink';
import { registerErrorTransfer } from '../src/engine/errors';
import { RESOURCE_BUFFER } from '../src/engine/network';
import type { WorkerSignal } from '../src/engine/live-runs';
import { analyzerPool } from './analyze-pool';
import { onDeviceLost } from './backend';
import { StudioEngine } from './engine';

declare const self: DedicatedWorkerGlobalScope;

performance.setResourceTimingBufferSize(RESOURCE_BUFFER);
registerErrorTransfer();
Comlink.expose(new StudioEngine(analyzerPool()));

// Supervision (src/engine/client.ts): the page learns of this worker's death when the lock named after it, held
// here for the worker's whole life, is freed; a lost GPU device is reported as a death.
const signal = (s: WorkerSignal) => self.postMessage(s);
onDeviceLost((reason) => signal({ mriStudio: 'lost', reason }));
if (navigator.locks) void navigator.locks.request(self.name, () => (signal({ mriStudio: 'alive' }), new Promise<never>(() => undefined)));
else signal({ mriStudio: 'alive' });
