/// <reference lib="webworker" />
import * as Comlink from 'comlink';
import { registerErrorTransfer } from '../src/engine/errors';
import { decodeImage } from './decode';
import { StudioEngine } from './engine';

registerErrorTransfer();
Comlink.expose(new StudioEngine(decodeImage));
