/// <reference lib="webworker" />
import * as Comlink from 'comlink';
import { registerErrorTransfer } from '../src/engine/errors';
import { analyzerPool } from './analyze-pool';
import { StudioEngine } from './engine';

registerErrorTransfer();
Comlink.expose(new StudioEngine(analyzerPool()));
