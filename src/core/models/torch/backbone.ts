/**
 * torchvision ImageNet backbones: a state_dict (from a .pth or .safetensors file, the cache or the official URL)
 * made into the studio's architecture cut where torchvision's global pool begins, and the state_dict's form in
 * the IndexedDB backbone cache (its float tensors as weight specs and bytes, stored in chunks like any backbone).
 */
import type * as tf from '@tensorflow/tfjs';
import { buildArchitectureFeatures } from '../architectures/builders';
import type { Backbone } from '../backbone';
import type { ZooEntry } from '../zoo';
import type { StateDict } from './checkpoint';
import { loadTorchvisionWeights } from './torchvision';

/** The cache's `format` for a torchvision state_dict (no topology: the catalog builds the network). */
export const STATE_DICT_FORMAT = 'torchvision-state-dict';

export function torchvisionArchitecture(entry: ZooEntry): string {
  if (entry.source.kind !== 'torchvision') throw new RangeError(`"${entry.id}" has no torchvision weights`);
  return entry.source.architecture;
}

/**
 * Builds the entry's architecture at `inputSize` with the state_dict's weights (null: the random initial ones, for
 * shapes only); throws a RangeError for a size the weights do not fit, and a WeightMappingError (every missing,
 * extra or misshapen key) for the wrong file.
 */
export function torchvisionBackbone(entry: ZooEntry, state: StateDict | null, inputSize = entry.inputSize): Backbone {
  const architecture = torchvisionArchitecture(entry);
  // ViT's position embedding holds one row per patch of a 224 px image; other sizes would need it resampled.
  if (entry.family === 'vit' && inputSize !== entry.inputSize) throw new RangeError(`${entry.name}'s ImageNet weights are for ${entry.inputSize} px images (input size ${inputSize} px asked); import the dataset at ${entry.inputSize} px`);
  const model = buildArchitectureFeatures(architecture, { imageSize: inputSize, channels: entry.channels, seed: 1 });
  try {
    if (state) loadTorchvisionWeights(model, architecture, state);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { entry, model, inputSize, outputShape: model.outputs[0].shape.slice(1) as number[] };
}

/** A state_dict's float tensors as model artifacts for the backbone cache; integer buffers are left out (unused). */
export function stateDictArtifacts(state: StateDict): tf.io.ModelArtifacts {
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const weightData: ArrayBuffer[] = [];
  for (const [name, t] of state) {
    if (!t.data) continue;
    weightSpecs.push({ name, shape: t.shape, dtype: 'float32' });
    const whole = t.data.byteOffset === 0 && t.data.byteLength === t.data.buffer.byteLength;
    weightData.push(whole ? (t.data.buffer as ArrayBuffer) : t.data.slice().buffer);
  }
  return { format: STATE_DICT_FORMAT, weightSpecs, weightData };
}

/** The state_dict back from cached artifacts; undefined when they hold another kind of backbone. */
export function stateDictFromArtifacts(artifacts: tf.io.ModelArtifacts): StateDict | undefined {
  if (artifacts.format !== STATE_DICT_FORMAT || !artifacts.weightSpecs) return undefined;
  const data = artifacts.weightData;
  const buffer = Array.isArray(data) ? undefined : data;
  if (!buffer) throw new Error('a cached state_dict must be one buffer');
  const state: StateDict = new Map();
  let offset = 0;
  for (const spec of artifacts.weightSpecs) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    if (offset + 4 * count > buffer.byteLength) throw new Error(`the cached weights end before ${spec.name}`);
    state.set(spec.name, { shape: spec.shape, data: new Float32Array(buffer, offset, count) });
    offset += 4 * count;
  }
  return state;
}

/** Lowercase hex SHA-256 of `bytes` (Web Crypto: in the worker and in Node). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
