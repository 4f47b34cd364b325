/** The backend measurements (src/core/routing.ts BackendMeasurement): one per key, a new one replaces the old. */
import type { BackendMeasurement } from '../routing';
import type { StudioDB } from './db';

export async function saveMeasurement(db: StudioDB, m: BackendMeasurement): Promise<void> {
  await db.put('backendMeasurements', m);
}

export async function getMeasurement(db: StudioDB, key: string): Promise<BackendMeasurement | null> {
  return (await db.get('backendMeasurements', key)) ?? null;
}

/** Newest first. */
export async function listMeasurements(db: StudioDB): Promise<BackendMeasurement[]> {
  return (await db.getAll('backendMeasurements')).sort((a, b) => b.measuredAt.localeCompare(a.measuredAt));
}
