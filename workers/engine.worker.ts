/// <reference lib="webworker" />
import * as Comlink from 'comlink';
import { registerErrorTransfer } from '../src/engine/errors';
import { RESOURCE_BUFFER } from '../src/engine/network';
import { analyzerPool } from './analyze-pool';
import { StudioEngine } from './engine';

performance.setResourceTimingBufferSize(RESOURCE_BUFFER);
registerErrorTransfer();
Comlink.expose(new StudioEngine(analyzerPool()));
