/**
 * A backbone the user brings as a folder: a TF.js layers model (`model.json` + the weight files its manifest
 * names), the layout of the converter, of `public/models/<id>/` and of ../shared/pretrained/<id>/. Everything that
 * can be wrong with the folder itself is checked here, before TF.js sees it, so the user hears which file is
 * missing or short rather than a loader's stack trace.
 */
import type * as tf from '@tensorflow/tfjs';
import type { FolderSource } from '../dataset/importer';

/** The folder cannot be a backbone; the message says what to pick instead. */
export class BackboneFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackboneFolderError';
  }
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

/** Bytes one weight takes in the weight files (quantised weights are stored in their quantised type). */
export function weightBytes(spec: tf.io.WeightsManifestEntry): number {
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const per = BYTES[dtype];
  if (per === undefined) throw new BackboneFolderError(`model.json: weight "${spec.name}" has type ${dtype}, which a backbone cannot hold`);
  return per * spec.shape.reduce((a, b) => a * b, 1);
}

const basename = (p: string) => p.slice(p.lastIndexOf('/') + 1);
const dirOf = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/') + 1) : '');
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Finds model.json in the picked folder, checks that it is a layers model whose weight files are all there with
 * the sizes its manifest describes, and returns the artifacts with the weights joined in manifest order.
 */
export async function readBackboneFolder(source: Pick<FolderSource, 'entries' | 'read'>): Promise<{ artifacts: tf.io.ModelArtifacts; files: number; bytes: number }> {
  const entries = source.entries.map((e) => ({ ...e, path: e.path.replace(/\\/g, '/') }));
  const jsons = entries.filter((e) => basename(e.path) === 'model.json');
  if (jsons.length === 0) throw new BackboneFolderError('no model.json in this folder: pick the folder that holds model.json and its weight files (group1-shard1of1.bin, …)');
  if (jsons.length > 1) throw new BackboneFolderError(`${jsons.length} model.json files in this folder (${jsons.map((j) => j.path).join(', ')}): pick the folder of one model`);
  const jsonPath = source.entries[entries.indexOf(jsons[0])].path;
  let json: Partial<tf.io.ModelJSON> & { format?: string };
  try {
    json = JSON.parse(await (await source.read(jsonPath)).text());
  } catch (err) {
    throw new BackboneFolderError(`model.json is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new BackboneFolderError('model.json does not describe a model');
  if (json.format !== undefined && json.format !== 'layers-model') throw new BackboneFolderError(`model.json is a ${json.format}, not a layers model: convert the backbone with the TF.js converter's tfjs_layers_model format`);
  if (typeof json.modelTopology !== 'object' || json.modelTopology === null) throw new BackboneFolderError('model.json has no modelTopology: it is not a TF.js layers model');
  if (!Array.isArray(json.weightsManifest) || json.weightsManifest.length === 0) throw new BackboneFolderError('model.json has no weightsManifest: it names no weight files');

  const dir = dirOf(jsons[0].path);
  const byPath = new Map(entries.map((e, i) => [e.path, source.entries[i]]));
  const paths = json.weightsManifest.flatMap((g) => g.paths.map((p) => dir + p.replace(/^\.\//, '')));
  const missing = paths.filter((p) => !byPath.has(p));
  if (missing.length) throw new BackboneFolderError(`${plural(missing.length, 'weight file')} named in model.json ${missing.length === 1 ? 'is' : 'are'} not in the folder: ${missing.map((p) => p.slice(dir.length)).join(', ')}`);
  const weightSpecs = json.weightsManifest.flatMap((g) => g.weights);
  const expected = weightSpecs.reduce((n, s) => n + weightBytes(s), 0);
  const actual = paths.reduce((n, p) => n + byPath.get(p)!.size, 0);
  if (actual !== expected) {
    throw new BackboneFolderError(`the weight files hold ${actual.toLocaleString('en')} bytes, but model.json describes ${expected.toLocaleString('en')}: a file is ${actual < expected ? 'cut short' : 'too long'} or belongs to another model`);
  }
  const weightData = new Uint8Array(expected);
  let at = 0;
  for (const p of paths) {
    const bytes = new Uint8Array(await (await source.read(byPath.get(p)!.path)).arrayBuffer());
    weightData.set(bytes, at);
    at += bytes.length;
  }
  return {
    artifacts: { modelTopology: json.modelTopology, weightSpecs, weightData: weightData.buffer, format: json.format, generatedBy: json.generatedBy, convertedBy: json.convertedBy ?? null },
    files: paths.length + 1,
    bytes: expected,
  };
}
