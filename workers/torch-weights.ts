/**
 * Where a torchvision backbone's weights come from, in order: the IndexedDB backbone cache; a file served with the
 * app under `/models/<id>/` (public/models/ or the CLI's --models-dir / --weights); a file the user picked, which
 * importTorchWeightsFile puts in the cache; the official URL, downloaded here with progress, checked against the
 * SHA-256 prefix in its name, then cached.
 */
import { torchvisionBackbone, sha256Hex, stateDictArtifacts, stateDictFromArtifacts } from '../src/core/models/torch/backbone';
import { CheckpointFormatError, readCheckpoint, type StateDict } from '../src/core/models/torch/checkpoint';
import { WeightMappingError } from '../src/core/models/torch/torchvision';
import type { ZooEntry } from '../src/core/models/zoo';
import { idbBackboneCache } from '../src/core/store/backbones';
import type { StudioDB } from '../src/core/store/db';
import { EngineError } from '../src/engine/errors';
import type { BackboneImport, FolderInput } from '../src/engine/types';

export interface WeightsProgress {
  model: string;
  loaded: number;
  /** From Content-Length; null when the server does not say. */
  total: number | null;
}

function source(entry: ZooEntry) {
  if (entry.source.kind !== 'torchvision') throw new Error(`"${entry.id}" has no torchvision weights`);
  return entry.source;
}

/** The official file's name, which a local folder may hold as well as `weights.pth` or `weights.safetensors`. */
const localNames = (entry: ZooEntry) => [source(entry).url.split('/').pop()!, 'weights.pth', 'weights.safetensors'];

async function fetchLocal(entry: ZooEntry): Promise<Uint8Array | null> {
  for (const name of localNames(entry)) {
    const res = await fetch(new URL(`/models/${entry.id}/${name}`, self.location.origin).href).catch(() => null);
    // An app server answers unknown paths with its index page: HTML is never a weights file.
    if (res?.ok && !(res.headers.get('content-type') ?? '').includes('html')) return new Uint8Array(await res.arrayBuffer());
  }
  return null;
}

function byHand(entry: ZooEntry, why: string): EngineError {
  const { url } = source(entry);
  return new EngineError('E_BACKBONE', `${entry.name}: ${why}. Download ${url} by hand and pick it with “Choose weights file…” in the train panel (CLI: --weights FILE)`, url);
}

async function download(entry: ZooEntry, onProgress?: (p: WeightsProgress) => void): Promise<Uint8Array> {
  const { url, sha256 } = source(entry);
  let res: Response;
  try {
    res = await fetch(url);
  } catch {
    throw byHand(entry, 'the browser could not read the official weights file (offline, or the server does not allow this page to read it)');
  }
  if (!res.ok || !res.body) throw byHand(entry, `the official weights file answered HTTP ${res.status}`);
  const length = Number(res.headers.get('content-length'));
  const total = Number.isFinite(length) && length > 0 ? length : null;
  const parts: Uint8Array[] = [];
  let loaded = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    loaded += value.length;
    onProgress?.({ model: entry.id, loaded, total });
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  const hash = await sha256Hex(bytes);
  if (!hash.startsWith(sha256)) throw byHand(entry, `the downloaded file's SHA-256 starts ${hash.slice(0, sha256.length)}, not ${sha256} as torchvision's file name says (a damaged or changed download)`);
  return bytes;
}

function read(entry: ZooEntry, bytes: Uint8Array, from: string): StateDict {
  try {
    return readCheckpoint(bytes);
  } catch (err) {
    if (err instanceof CheckpointFormatError) throw new EngineError('E_BACKBONE', `${from} is not a weights file for ${entry.name}: ${err.message}`);
    throw err;
  }
}

/** The entry's state_dict from the first source that has it (see the module comment); cached when it was not. */
export async function loadTorchvisionState(entry: ZooEntry, db: StudioDB, onProgress?: (p: WeightsProgress) => void): Promise<StateDict> {
  const cache = idbBackboneCache(db);
  const hit = await cache.get(entry.id);
  const cached = hit && stateDictFromArtifacts(hit);
  if (cached) return cached;
  const local = await fetchLocal(entry);
  const state = read(entry, local ?? (await download(entry, onProgress)), local ? `the file under /models/${entry.id}/` : 'the downloaded file');
  await cache.put(entry.id, stateDictArtifacts(state));
  return state;
}

/** "Choose weights file…": a .pth or .safetensors the user picked, checked against the architecture, then cached. */
export async function importTorchWeightsFile(entry: ZooEntry, input: FolderInput, db: StudioDB): Promise<BackboneImport> {
  if (input.kind !== 'files' || input.files.length !== 1) throw new EngineError('E_BACKBONE', `pick one .pth or .safetensors file for ${entry.name}`);
  const file = input.files[0];
  const state = read(entry, new Uint8Array(await file.arrayBuffer()), `“${file.name}”`);
  let params = 0;
  try {
    const backbone = torchvisionBackbone(entry, state);
    // Trainable weights, as the zoo counts them (BatchNorm's moving statistics are not parameters).
    params = backbone.model.trainableWeights.reduce((n, w) => n + (w.shape as number[]).reduce((a, b) => a * b, 1), 0);
    backbone.model.dispose();
  } catch (err) {
    if (err instanceof WeightMappingError) throw new EngineError('E_BACKBONE', `“${file.name}” does not hold ${entry.name}`, err.message);
    throw err;
  }
  await idbBackboneCache(db).put(entry.id, stateDictArtifacts(state));
  return { id: entry.id, name: entry.name, folder: file.name, params, files: 1, bytes: file.size };
}
