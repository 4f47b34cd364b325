/** Storage checks before a large write, and recognising the browser's "disk full" error. */

/** What navigator.storage.estimate() returns (both fields may be missing). */
export interface StorageEstimateLike {
  usage?: number;
  quota?: number;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/** Why `bytes` more would not fit in the site's quota, or null when they fit (or the browser does not say). */
export function checkQuota(bytes: number, estimate: StorageEstimateLike): string | null {
  const { usage, quota } = estimate;
  if (usage === undefined || quota === undefined) return null;
  const free = Math.max(0, quota - usage);
  return bytes > free ? `it needs ${mb(bytes)} but only ${mb(free)} of the ${mb(quota)} this site may use is free; delete old runs or model versions first` : null;
}

/** A write refused for lack of space: QuotaExceededError (legacy code 22; Firefox's NS_ERROR_DOM_QUOTA_REACHED). */
export function isQuotaError(err: unknown): boolean {
  const e = err as { name?: string; code?: number } | null;
  return e?.name === 'QuotaExceededError' || e?.name === 'NS_ERROR_DOM_QUOTA_REACHED' || e?.code === 22;
}

export type EstimateFn = () => Promise<StorageEstimateLike>;

/** navigator.storage.estimate where the runtime has one (the page, the worker); undefined in Node. */
export function browserEstimate(): EstimateFn | undefined {
  const storage = (globalThis.navigator as { storage?: { estimate?: () => Promise<StorageEstimateLike> } } | undefined)?.storage;
  return storage?.estimate ? () => storage.estimate!() : undefined;
}

/** A write refused for lack of space; nothing was changed. The message says what to do. */
export class StorageFullError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StorageFullError';
  }
}

function abortQuietly(tx: { abort(): void }): void {
  try {
    tx.abort();
  } catch {
    // Already finished or aborted (a failed request aborts its transaction by itself).
  }
}

/**
 * Fills a readwrite transaction with `write` and commits it. Any failure (a full disk included) aborts it, so the
 * stores keep exactly what they held before; the error is rethrown as it came.
 */
export async function commitOrAbort<T>(tx: { abort(): void; done: Promise<void> }, write: () => Promise<T>): Promise<T> {
  try {
    const result = await write();
    await tx.done;
    return result;
  } catch (err) {
    abortQuietly(tx);
    await tx.done.catch(() => undefined);
    throw err;
  }
}

/**
 * The rule for a large write (`bytes`, named by `what`: "the best checkpoint of epoch 3"): refuse what the estimate
 * says will not fit, and turn the browser's quota error into a StorageFullError. `write` must do its writing in one
 * transaction it commits with commitOrAbort, opened after this check (an idle transaction commits by itself).
 */
export async function writeWithinQuota<T>(what: string, bytes: number, estimate: EstimateFn | undefined, write: () => Promise<T>): Promise<T> {
  const problem = estimate ? checkQuota(bytes, await estimate()) : null;
  if (problem) throw new StorageFullError(`cannot save ${what}: ${problem}`);
  try {
    return await write();
  } catch (err) {
    if (isQuotaError(err)) throw new StorageFullError(`the browser's storage for this site is full, so ${what} was not saved; what was stored before is intact. Free space by deleting old runs or model versions`);
    throw err;
  }
}
