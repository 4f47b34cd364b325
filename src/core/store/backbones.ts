import type * as tf from '@tensorflow/tfjs';
import type { BackboneCache } from '../models/backbone';
import { browserEstimate, commitOrAbort, writeWithinQuota, type EstimateFn } from '../registry/quota';
import type { ZooEntry } from '../models/zoo';
import type { StudioDB } from './db';

export const BACKBONE_CHUNK_BYTES = 4 * 1024 * 1024;

const chunksOf = (id: string) => IDBKeyRange.bound([id, 0], [id, Infinity]);

/**
 * Concatenates buffers into chunks of `size` bytes (the last one shorter). Not tf.io.CompositeArrayBuffer: in
 * TF.js 4.22 its slice reads past the end when the last buffer is longer than the others (e.g. [1700, 2800] bytes).
 */
function rechunk(buffers: readonly ArrayBuffer[], size: number): ArrayBuffer[] {
  const total = buffers.reduce((n, b) => n + b.byteLength, 0);
  const out: ArrayBuffer[] = [];
  let chunk = new Uint8Array(0);
  let filled = 0;
  for (const buffer of buffers) {
    const bytes = new Uint8Array(buffer);
    for (let read = 0; read < bytes.length; ) {
      if (filled === chunk.length) {
        chunk = new Uint8Array(Math.min(size, total - out.length * size));
        out.push(chunk.buffer);
        filled = 0;
      }
      const n = Math.min(chunk.length - filled, bytes.length - read);
      chunk.set(bytes.subarray(read, read + n), filled);
      filled += n;
      read += n;
    }
  }
  return out;
}

/**
 * The IndexedDB backbone cache: topology and weight specs in `backbones`, weight bytes in `backboneChunks`. A put
 * that would not fit the quota is a StorageFullError and leaves the cache as it was.
 */
export function idbBackboneCache(db: StudioDB, chunkBytes = BACKBONE_CHUNK_BYTES, estimate: EstimateFn | undefined = browserEstimate()): BackboneCache {
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1) throw new RangeError(`chunk size must be a positive whole number (got ${chunkBytes})`);
  return {
    async get(id) {
      const tx = db.transaction(['backbones', 'backboneChunks']);
      const [meta, chunks] = await Promise.all([tx.objectStore('backbones').get(id), tx.objectStore('backboneChunks').getAll(chunksOf(id))]);
      await tx.done;
      if (!meta) return undefined;
      const total = chunks.reduce((n, c) => n + c.byteLength, 0);
      // A half-written or damaged entry is a miss, so the caller downloads again rather than loading bad weights.
      if (chunks.length !== meta.chunkCount || total !== meta.byteLength) return undefined;
      // Joined into one buffer, as tf.io.http returns, so no consumer depends on TF.js's multi-buffer path (see rechunk).
      const [weightData = new ArrayBuffer(0)] = rechunk(chunks, Math.max(1, total));
      const { modelTopology, weightSpecs, format, generatedBy, convertedBy } = meta;
      return { modelTopology, weightSpecs, weightData, format, generatedBy, convertedBy };
    },
    put: (id, artifacts) => writeBackbone(db, chunkBytes, estimate, id, artifacts),
  };
}

/** Keeps an ONNX import's backbone and its zoo entry in one transaction: the zoo never lists one without weights. */
export function putImportedBackbone(db: StudioDB, entry: ZooEntry, artifacts: tf.io.ModelArtifacts): Promise<void> {
  return writeBackbone(db, BACKBONE_CHUNK_BYTES, browserEstimate(), entry.id, artifacts, entry);
}

/** The zoo entries of the backbones imported from ONNX files. */
export async function importedBackbones(db: StudioDB): Promise<ZooEntry[]> {
  const all = await db.getAll('backbones');
  return all.flatMap((b) => (b.imported ? [b.imported] : []));
}

async function writeBackbone(db: StudioDB, chunkBytes: number, estimate: EstimateFn | undefined, id: string, artifacts: tf.io.ModelArtifacts, imported?: ZooEntry): Promise<void> {
  const data = artifacts.weightData ?? [];
  const chunks = rechunk(Array.isArray(data) ? data : [data], chunkBytes);
  const byteLength = chunks.reduce((n, c) => n + c.byteLength, 0);
  await writeWithinQuota(`backbone ${id}`, byteLength, estimate, () => {
    const tx = db.transaction(['backbones', 'backboneChunks'], 'readwrite');
    // One transaction: a reader sees the old entry or the new one, never a mix of their chunks.
    return commitOrAbort(tx, async () => {
      const chunkStore = tx.objectStore('backboneChunks');
      await chunkStore.delete(chunksOf(id));
      for (const [i, chunk] of chunks.entries()) await chunkStore.put(chunk, [id, i]);
      await tx.objectStore('backbones').put({
        id,
        modelTopology: artifacts.modelTopology,
        weightSpecs: artifacts.weightSpecs ?? [],
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? undefined,
        byteLength,
        chunkCount: chunks.length,
        savedAt: new Date().toISOString(),
        ...(imported ? { imported } : {}),
      });
    });
  });
}
