/**
 * TF.js export and import: the files `tf.loadLayersModel` reads (model.json + weight shards, the layout of the
 * TF.js converter) plus `metadata.json` (see metadata.ts). The graph is the trained one: it takes normalised
 * input and returns logits, as metadata.json says.
 */
import * as tf from '@tensorflow/tfjs';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { parseMetadata, type ModelMetadata } from './metadata';

/** Exported files by name (flat: `model.json`, `group1-shard1of1.bin`, `metadata.json`). */
export type ModelFiles = Record<string, Uint8Array>;

/** The TF.js converter's shard size: small enough for any static host and any browser cache entry. */
export const SHARD_BYTES = 4 * 1024 * 1024;

export async function exportTfjs(model: tf.LayersModel, metadata: ModelMetadata): Promise<ModelFiles> {
  parseMetadata(metadata);
  let saved: tf.io.ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const artifacts = saved as tf.io.ModelArtifacts | null;
  if (!artifacts?.weightSpecs || artifacts.weightData === undefined) throw new Error(`model "${model.name}" saved no weights`);
  const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData));
  const count = Math.max(1, Math.ceil(weights.byteLength / SHARD_BYTES));
  const files: ModelFiles = {};
  const paths: string[] = [];
  for (let k = 0; k < count; k++) {
    const path = `group1-shard${k + 1}of${count}.bin`;
    paths.push(path);
    files[path] = weights.subarray(k * SHARD_BYTES, (k + 1) * SHARD_BYTES);
  }
  const modelJson: tf.io.ModelJSON = {
    modelTopology: artifacts.modelTopology as object,
    format: 'layers-model',
    generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
    convertedBy: null,
    weightsManifest: [{ paths, weights: artifacts.weightSpecs }],
  };
  files['model.json'] = strToU8(JSON.stringify(modelJson));
  files['metadata.json'] = strToU8(JSON.stringify(metadata, null, 2));
  return files;
}

export interface ImportedModel {
  model: tf.LayersModel;
  metadata: ModelMetadata;
}

/** Loads files written by exportTfjs (or any TF.js layers model with a studio metadata.json) and checks they agree. */
export async function importTfjs(files: ModelFiles): Promise<ImportedModel> {
  const read = (name: string, why: string): Uint8Array => {
    const bytes = files[name];
    if (!bytes) throw new Error(`${name} is missing: ${why}`);
    return bytes;
  };
  const json = (name: string, why: string): unknown => {
    try {
      return JSON.parse(strFromU8(read(name, why)));
    } catch (err) {
      if (err instanceof SyntaxError) throw new Error(`${name} is not valid JSON: ${err.message}`);
      throw err;
    }
  };
  const modelJson = json('model.json', 'a TF.js model folder holds model.json and its weight files') as Partial<tf.io.ModelJSON>;
  if (!modelJson.modelTopology || !Array.isArray(modelJson.weightsManifest)) throw new Error('model.json has no modelTopology or weightsManifest: is it a TF.js layers model?');
  const metadata = parseMetadata(json('metadata.json', 'the studio needs the labels, input size and preprocessing written next to the model'));
  const shards = modelJson.weightsManifest.flatMap((group) => group.paths.map((p) => read(p, 'model.json lists it in its weightsManifest')));
  // Copied into one buffer: TF.js's CompositeArrayBuffer would read a shard's whole underlying buffer, not its view.
  const weightData = new Uint8Array(shards.reduce((n, s) => n + s.byteLength, 0));
  shards.reduce((offset, s) => (weightData.set(s, offset), offset + s.byteLength), 0);
  const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs: modelJson.weightsManifest.flatMap((g) => g.weights), weightData: weightData.buffer }));
  const [, h, w, c] = model.inputs[0].shape;
  const classes = model.outputs[0].shape[1];
  const problem =
    h !== metadata.inputSize || w !== metadata.inputSize || c !== metadata.channels
      ? `the model takes ${JSON.stringify(model.inputs[0].shape.slice(1))} images but metadata.json says ${metadata.inputSize}×${metadata.inputSize}×${metadata.channels}`
      : classes !== metadata.labels.length
        ? `the model has ${classes} outputs but metadata.json lists ${metadata.labels.length} labels`
        : null;
  if (problem) {
    model.dispose();
    throw new Error(problem);
  }
  return { model, metadata };
}

/** Files as given (a picked folder's, or one zip of them) by their names in the model folder. */
export function modelFilesOf(given: { name: string; bytes: Uint8Array }[]): ModelFiles {
  return given.length === 1 && given[0].name.toLowerCase().endsWith('.zip') ? unzipFiles(given[0].bytes) : Object.fromEntries(given.map((f) => [f.name.split('/').pop()!, f.bytes]));
}

/** One zip of the files, for a single download. */
export function zipFiles(files: ModelFiles): Uint8Array {
  // Weights are float32 noise to a compressor; storing them keeps the zip fast for a large network.
  return zipSync(Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, [bytes, { level: name.endsWith('.json') ? 6 : 0 }]])));
}

/** The files of a zip; a zip of one folder (as an OS "compress folder" makes) is read as that folder's content. */
export function unzipFiles(zip: Uint8Array): ModelFiles {
  const entries = Object.entries(unzipSync(zip)).filter(([name]) => !name.endsWith('/') && !name.startsWith('__MACOSX/'));
  const tops = new Set(entries.map(([name]) => (name.includes('/') ? name.slice(0, name.indexOf('/') + 1) : '')));
  const prefix = tops.size === 1 ? [...tops][0] : '';
  return Object.fromEntries(entries.map(([name, bytes]) => [name.slice(prefix.length), bytes]));
}
