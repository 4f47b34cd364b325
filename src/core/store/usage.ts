/**
 * What the studio keeps in IndexedDB, by kind, for the storage view. navigator.storage.estimate() gives one total
 * for the whole origin (and pads it); this says which part is runs, checkpoints, datasets, models or backbones.
 */
import type { StoreNames } from 'idb';
import type { StudioDB, StudioSchema } from './db';

export type StorageGroup = 'runs' | 'checkpoints' | 'datasets' | 'models' | 'backbones';

export interface StorageGroupUsage {
  group: StorageGroup;
  /** Bytes of the records: binary payloads exactly, the rest as their JSON text. */
  bytes: number;
  /** Records of the group's main store: runs, checkpoints, split manifests, model versions, backbones. */
  items: number;
}

type Store = StoreNames<StudioSchema>;

/**
 * Each group's stores, its main store first. Chunk stores are not read: the records of checkpoints, backbones and
 * model versions carry the byte length of their chunks, so the view costs a walk over small records only.
 */
const GROUPS: Record<StorageGroup, Store[]> = {
  runs: ['runs', 'evaluations'],
  checkpoints: ['checkpoints'],
  datasets: ['splits', 'stats', 'folders'],
  models: ['models'],
  backbones: ['backbones'],
};

/** A record's size: its JSON text, plus the bytes it stands for in a chunk store (`byteLength`). */
export function recordBytes(value: unknown): number {
  const chunked = (value as { byteLength?: unknown }).byteLength;
  return JSON.stringify(value).length + (typeof chunked === 'number' ? chunked : 0);
}

export async function storageUsage(db: StudioDB): Promise<StorageGroupUsage[]> {
  const groups = Object.entries(GROUPS) as [StorageGroup, Store[]][];
  const tx = db.transaction(groups.flatMap(([, stores]) => stores));
  const usage: StorageGroupUsage[] = [];
  for (const [group, stores] of groups) {
    let bytes = 0;
    for (const name of stores) {
      // A cursor holds one record at a time: evaluations keep every test image's prediction.
      let cursor = await tx.objectStore(name).openCursor();
      while (cursor) {
        bytes += recordBytes(cursor.value);
        cursor = await cursor.continue();
      }
    }
    usage.push({ group, bytes, items: await tx.objectStore(stores[0]).count() });
  }
  await tx.done;
  return usage;
}
