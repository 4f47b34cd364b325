/**
 * Typed errors that cross the worker boundary. comlink serialises thrown values through its 'throw' transfer
 * handler; we register one (see `registerErrorTransfer`) so that the UI receives an `EngineError` with its code,
 * not a bare string.
 */
import * as Comlink from 'comlink';

export type ErrorCode =
  | 'E_BACKEND' // no TF.js backend could be initialised, or the forced one failed
  | 'E_NO_WEBGPU'
  | 'E_CONFIG' // a training/import setting is out of range
  | 'E_BUSY' // a run is already in progress
  | 'E_NOT_FOUND'
  | 'E_DATASET' // the picked folder or its files cannot make a dataset (one class, no images, bad pattern)
  | 'E_CANCELLED'
  | 'E_BACKBONE' // pretrained weights could not be loaded (offline, blocked, or a damaged file)
  | 'E_QUOTA' // the browser's storage for this site is full: nothing was written, the previous data is intact
  | 'E_MEMORY' // the backend could not allocate memory for the work (a batch or an input too large for this machine)
  | 'E_LOCKED' // the run is being trained by another tab or window of this studio (it holds the run's Web Lock)
  | 'E_WORKER_LOST' // the engine worker died (closed, crashed, out of memory, GPU device lost); calls in flight failed
  | 'E_INTERNAL';

export interface EngineErrorData {
  code: ErrorCode;
  message: string;
  detail?: string;
}

export class EngineError extends Error {
  readonly code: ErrorCode;
  readonly detail?: string;
  constructor(code: ErrorCode, message: string, detail?: string) {
    super(message);
    this.name = 'EngineError';
    this.code = code;
    this.detail = detail;
  }
  toJSON(): EngineErrorData {
    return { code: this.code, message: this.message, detail: this.detail };
  }
}

/** Wraps anything thrown into an EngineError, keeping a person-readable message. */
export function toEngineError(err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  if (err instanceof Error) return new EngineError('E_INTERNAL', err.message, err.stack);
  return new EngineError('E_INTERNAL', String(err));
}

/**
 * Whether `err` is a failed allocation: V8's "Array buffer allocation failed" (the CPU and WASM backends' memory is
 * JavaScript's), or a GPU backend's "out of memory" / "failed to allocate".
 */
export function isOutOfMemory(err: unknown): boolean {
  return err instanceof Error && /array buffer allocation failed|out of memory|failed to allocate/i.test(err.message);
}

let registered = false;
/**
 * Must run on both sides of the boundary (worker and page) before the first call. We keep comlink's own
 * `canHandle` (it recognises thrown values by a private symbol) and replace only the wire format.
 */
export function registerErrorTransfer(): void {
  if (registered) return;
  registered = true;
  const builtin = Comlink.transferHandlers.get('throw');
  if (!builtin) throw new Error('comlink has no "throw" transfer handler');
  const handler: Comlink.TransferHandler<{ value: unknown }, EngineErrorData> = {
    canHandle: (v: unknown): v is { value: unknown } => builtin.canHandle(v),
    serialize: ({ value }) => [toEngineError(value).toJSON(), []],
    deserialize: (e) => {
      throw new EngineError(e.code, e.message, e.detail);
    },
  };
  Comlink.transferHandlers.set('throw', handler as Comlink.TransferHandler<unknown, unknown>);
}
