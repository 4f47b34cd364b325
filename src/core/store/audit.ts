/**
 * The local audit log of predictions: off unless the user turns it on, kept only in this browser's IndexedDB. Each
 * entry says when, with which registered version, on which file (its content's SHA-256, and its name only when the
 * user asked for names) and what the model answered.
 */
import type { StudioDB } from './db';

export interface AuditEntry {
  /** Assigned by the store, in the order entries were written. */
  id?: number;
  at: string;
  /** The ref the user asked for (`brain-mri@champion`) and the version it resolved to (`brain-mri@1.0.0`). */
  ref: string;
  model: string;
  /** SHA-256 of the file's bytes: identifies the image without naming it. */
  sha256: string;
  /** The file's name, only when the log records names. */
  file?: string;
  top: string;
  probability: number;
}

export async function appendAudit(db: StudioDB, entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const tx = db.transaction('predictionAudit', 'readwrite');
  await Promise.all([...entries.map((e) => tx.store.add(e)), tx.done]);
}

/** Every entry, oldest first. */
export function listAudit(db: StudioDB): Promise<AuditEntry[]> {
  return db.getAll('predictionAudit');
}

export async function clearAudit(db: StudioDB): Promise<void> {
  await db.clear('predictionAudit');
}
