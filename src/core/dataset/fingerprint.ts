import { sha256Hex } from './duplicates';

export interface FingerprintEntry {
  /** Relative to the dataset root (the layout's key), so the fingerprint survives picking a parent folder. */
  path: string;
  size: number;
  contentHash: string;
}

/**
 * Identifies a dataset's contents (stored statistics and manifests are keyed by it): SHA-256, lowercase hex, over the
 * entries sorted by path. JSON encoding keeps the input unambiguous whatever characters the paths contain.
 */
export async function datasetFingerprint(entries: readonly FingerprintEntry[]): Promise<string> {
  const rows = entries.map((e) => [e.path, e.size, e.contentHash] as const);
  rows.sort((a, b) => (a[0] !== b[0] ? (a[0] < b[0] ? -1 : 1) : a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : a[1] - b[1]));
  return sha256Hex(new TextEncoder().encode(JSON.stringify(rows)));
}
