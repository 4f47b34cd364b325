/**
 * The local audit log of predictions: off unless the user turns it on, kept only in this browser's IndexedDB. Each
 * entry says when, with which registered version, on which file (its content's SHA-256, and its name only when the
 * user asked for names) and what the model answered.
 */
import type { StudioDB } from './db';
import type { AuditEntry } from './records';

export type { AuditEntry } from './records';

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
