/**
 * Pretrained weights that come as one file rather than a TF.js folder (Keras's `.h5` for Xception): fetched from the
 * app's `/models/<id>/` folder or the official URL, or picked by the user; read into TF.js artifacts
 * (core/models/keras-backbones.ts) and kept in the IndexedDB backbone cache like any downloaded backbone.
 */
import type * as tf from '@tensorflow/tfjs';
import { kerasH5Artifacts } from '../src/core/models/keras-backbones';
import { isHdf5, KerasWeightsError } from '../src/core/models/keras-h5';
import type { ZooEntry } from '../src/core/models/zoo';
import { StorageFullError } from '../src/core/registry/quota';
import { idbBackboneCache } from '../src/core/store/backbones';
import type { StudioDB } from '../src/core/store/db';
import { EngineError } from '../src/engine/errors';
import type { WeightsFileImport } from '../src/engine/types';

type H5Source = Extract<ZooEntry['source'], { kind: 'keras-h5' }>;

function h5Source(entry: ZooEntry): H5Source {
  if (entry.source.kind !== 'keras-h5') throw new EngineError('E_CONFIG', `${entry.name} does not take a weights file${entry.source.kind === 'url' ? ': import its TF.js folder instead' : ''}`);
  return entry.source;
}

/** What to do when the browser cannot download the official file. */
const byHand = (entry: ZooEntry, source: H5Source) =>
  `download ${source.file} by hand from ${source.url}, then pick it with "Choose weights file…" in the train panel (CLI: --weights FILE), or put it in public/models/${entry.id}/`;

/**
 * The `.h5` from `/models/<id>/<file>` when the app serves one (offline installs, the CLI's --models-dir), else from
 * the official URL. A browser that cannot read the official host (CORS, offline) gets a message with the link.
 */
export async function fetchWeightsFile(entry: ZooEntry): Promise<tf.io.ModelArtifacts> {
  const source = h5Source(entry);
  const local = await fetch(new URL(`/models/${entry.id}/${source.file}`, self.location.origin).href).catch(() => null);
  // An app server answers unknown paths with its index page: only HDF5 bytes mean the file is really there.
  const localBytes = local?.ok ? await local.arrayBuffer() : null;
  let bytes: ArrayBuffer;
  if (localBytes && isHdf5(localBytes)) bytes = localBytes;
  else {
    let res: Response;
    try {
      res = await fetch(source.url);
    } catch {
      throw new Error(`this browser could not download ${source.url} (offline, or the host does not allow this page to read it): ${byHand(entry, source)}`);
    }
    if (!res.ok) throw new Error(`${source.url} answered HTTP ${res.status}: ${byHand(entry, source)}`);
    bytes = await res.arrayBuffer();
  }
  return (await kerasH5Artifacts(entry, bytes, source.file)).artifacts;
}

/** "Choose weights file…": checks the picked file against the entry's network and caches it under the entry's id. */
export async function importWeightsFile(entry: ZooEntry, file: Blob & { name: string }, db: StudioDB): Promise<WeightsFileImport> {
  h5Source(entry);
  const bytes = await file.arrayBuffer();
  let read;
  try {
    read = await kerasH5Artifacts(entry, bytes, file.name);
  } catch (err) {
    if (err instanceof KerasWeightsError) throw new EngineError('E_BACKBONE', `${file.name} cannot be ${entry.name}'s weights: ${err.message}`);
    throw err;
  }
  try {
    await idbBackboneCache(db).put(entry.id, read.artifacts);
  } catch (err) {
    if (err instanceof StorageFullError) throw new EngineError('E_QUOTA', err.message);
    throw err;
  }
  return { id: entry.id, name: entry.name, file: file.name, bytes: bytes.byteLength, layers: read.report.layers, weights: read.report.weights };
}
