/** "Import backbone from folder": a user's copy of a zoo backbone, checked and put in the IndexedDB backbone cache. */
import * as tf from '@tensorflow/tfjs';
import { loadBackbone } from '../src/core/models/backbone';
import { BackboneFolderError, readBackboneFolder } from '../src/core/models/backbone-folder';
import { listBlocks } from '../src/core/models/strategies';
import type { ZooEntry } from '../src/core/models/zoo';
import { idbBackboneCache } from '../src/core/store/backbones';
import type { StudioDB } from '../src/core/store/db';
import { EngineError } from '../src/engine/errors';
import type { BackboneImport, FolderInput } from '../src/engine/types';
import { folderSource } from './folder';
import { importTorchWeightsFile } from './torch-weights';

const fail = (message: string, detail?: string): never => {
  throw new EngineError('E_BACKBONE', message, detail);
};

/**
 * The folder must hold the entry's network: it is built as training would build it (cut, rebuilt at the entry's
 * input size), and its parameter count and layer names must be the entry's. Only then is it cached, under the
 * entry's id, so the next run of that model loads it instead of downloading.
 */
export async function importBackboneFolder(entry: ZooEntry, input: FolderInput, db: StudioDB): Promise<BackboneImport> {
  if (entry.source.kind === 'builtin') fail(`${entry.name} is built in: it has no pretrained weights to import`);
  if (entry.source.kind === 'imported') fail(`${entry.name} was imported from ${entry.source.file}: import that ONNX file again to replace it`);
  // torchvision weights come as one .pth or .safetensors file ("Choose weights file…").
  if (entry.source.kind === 'torchvision') return importTorchWeightsFile(entry, input, db);
  const { name, source } = await folderSource(input);
  let read;
  try {
    read = await readBackboneFolder(source);
  } catch (err) {
    if (err instanceof BackboneFolderError) fail(`"${name}" is not a backbone folder: ${err.message}`);
    throw err;
  }
  const { artifacts, files, bytes } = read!;
  let params = 0;
  try {
    const backbone = await loadBackbone(entry, { load: () => tf.io.fromMemory(artifacts) });
    try {
      params = backbone.model.countParams();
      if (params === entry.params) listBlocks(backbone.model, entry.family);
    } finally {
      backbone.model.dispose();
    }
  } catch (err) {
    fail(`"${name}" does not hold ${entry.name}: its model.json does not build as a ${entry.family} backbone`, (err as Error).message);
  }
  if (params !== entry.params) {
    fail(`"${name}" does not hold ${entry.name}: its network has ${params.toLocaleString('en')} parameters where ${entry.id} has ${entry.params.toLocaleString('en')}; is it the folder of another model?`);
  }
  await idbBackboneCache(db).put(entry.id, artifacts);
  return { id: entry.id, name: entry.name, folder: name, params, files, bytes };
}
