/// <reference lib="webworker" />
import * as Comlink from 'comlink';
import { registerErrorTransfer } from '../src/engine/errors';
import { StudioEngine } from './engine';

registerErrorTransfer();
Comlink.expose(new StudioEngine());
