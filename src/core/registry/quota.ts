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
