/// <reference path="./jsfive.d.ts" />
/**
 * Keras weight files (`model.save_weights(…h5)`, the layout of keras-applications' ImageNet weights): the root's
 * `layer_names` attribute lists the layers, each layer's group lists its datasets in `weight_names` (paths relative
 * to the group, `<layer>/<weight>:0`). Read with jsfive, a pure-JS HDF5 reader, so the same code runs in the
 * worker and in Node. A whole-model `.h5` (`model.save`) keeps the same layout under `model_weights`.
 */
import * as tf from '@tensorflow/tfjs';
import * as hdf5 from 'jsfive';

/** The file is not a Keras weight file, or does not hold the network's weights; the message says what differs. */
export class KerasWeightsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KerasWeightsError';
  }
}

export interface KerasWeight {
  /** The weight's own name without layer or `:0`, e.g. `depthwise_kernel`, `moving_mean`. */
  name: string;
  shape: number[];
  values: Float32Array;
}

/** Layer name → its weights in the file's order; layers without weights are left out. */
export type KerasWeights = Map<string, KerasWeight[]>;

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** Whether the bytes start with HDF5's signature (a served index page or a `.pth` does not). */
export function isHdf5(bytes: ArrayBuffer): boolean {
  const head = new Uint8Array(bytes, 0, Math.min(8, bytes.byteLength));
  return head.length === 8 && HDF5_SIGNATURE.every((b, i) => head[i] === b);
}

const strings = (v: unknown): string[] | null => (Array.isArray(v) && v.every((s) => typeof s === 'string') ? v : null);

export function readKerasWeights(bytes: ArrayBuffer, fileName: string): KerasWeights {
  if (!isHdf5(bytes)) throw new KerasWeightsError(`${fileName} is not an HDF5 file (a Keras .h5 starts with the HDF5 signature)`);
  let root: hdf5.Group;
  try {
    const file = new hdf5.File(bytes, fileName);
    root = file.keys.includes('model_weights') && !file.attrs['layer_names'] ? (file.get('model_weights') as hdf5.Group) : file;
  } catch (err) {
    throw new KerasWeightsError(`${fileName} could not be read as HDF5: ${(err as Error).message}`);
  }
  const layerNames = strings(root.attrs['layer_names']);
  if (!layerNames) throw new KerasWeightsError(`${fileName} has no layer_names attribute: it is HDF5, but not weights saved by Keras`);
  const weights: KerasWeights = new Map();
  for (const layer of layerNames) {
    const group = root.get(layer) as hdf5.Group | null;
    const names = group ? strings(group.attrs['weight_names'] ?? []) : null;
    if (!group || !names) throw new KerasWeightsError(`${fileName}: layer "${layer}" is listed but has no group with weight_names`);
    if (names.length === 0) continue;
    weights.set(
      layer,
      names.map((path) => {
        const d = group.get(path) as hdf5.Dataset | null;
        if (!d || !Array.isArray(d.shape)) throw new KerasWeightsError(`${fileName}: layer "${layer}" names weight "${path}", which the file does not hold`);
        // Float16 or float64 files are rare but valid Keras weights: everything becomes float32, as TF.js trains in it.
        if (!/^[<>]f[248]$/.test(d.dtype)) throw new KerasWeightsError(`${fileName}: weight "${path}" is of type ${d.dtype}, not floating point`);
        const name = path.slice(path.lastIndexOf('/') + 1).replace(/:\d+$/, '');
        return { name, shape: d.shape, values: Float32Array.from(d.value as ArrayLike<number>) };
      }),
    );
  }
  return weights;
}

const shapeKey = (shapes: readonly (readonly (number | null)[])[]) => JSON.stringify(shapes);
const describe = (shape: readonly (number | null)[]) => `[${shape.join(', ')}]`;

export interface AssignReport {
  /** Layers of the model that received weights. */
  layers: number;
  weights: number;
  /** File layers left unused because the model leaves them out (a classifier top). */
  ignored: string[];
}

/**
 * Sets every weight of `model` from the file: by layer name, and for the layers Keras leaves unnamed (whose names
 * depend on the Keras version that saved the file: `conv2d_1` in Keras 2.0, `conv2d` in tf.keras) by their
 * weights' shapes among the layers left over on both sides, when those shapes single one layer out. Within a layer,
 * weights match by name (`kernel`, `gamma`, …). Any layer or weight missing, extra or of another shape is an error
 * that names it; the file's layers in `ignorable` (a classifier the model cuts off) may be left over.
 */
export function assignKerasWeights(model: tf.LayersModel, file: KerasWeights, fileName: string, ignorable: readonly string[] = []): AssignReport {
  const shapesOf = (name: string) => shapeKey(file.get(name)!.map((w) => w.shape));
  const pairs: [tf.layers.Layer, string][] = [];
  const used = new Set<string>();
  // By name first, where the shapes agree too: one Keras version's `conv2d_1` is another's `conv2d`.
  const unmatched = model.layers.filter((l) => {
    if (l.weights.length === 0) return false;
    if (!file.has(l.name) || shapesOf(l.name) !== shapeKey(l.weights.map((w) => w.shape))) return true;
    pairs.push([l, l.name]);
    used.add(l.name);
    return false;
  });
  for (const layer of unmatched) {
    const key = shapeKey(layer.weights.map((w) => w.shape));
    const candidates = [...file.keys()].filter((n) => !used.has(n) && !ignorable.includes(n) && shapesOf(n) === key);
    if (candidates.length !== 1) {
      const shapes = (ws: readonly { shape: readonly (number | null)[] }[]) => ws.map((w) => describe(w.shape)).join(' ');
      const why =
        candidates.length > 1 ? `${candidates.length} layers of its shapes (${candidates.join(', ')}) and none of its name`
        : file.has(layer.name) ? `"${layer.name}" of shapes ${shapes(file.get(layer.name)!)}`
        : 'no layer of that name or of its shapes';
      throw new KerasWeightsError(`${fileName} does not fit ${model.name}: layer "${layer.name}" (${shapes(layer.weights)}) has ${why} in the file`);
    }
    pairs.push([layer, candidates[0]]);
    used.add(candidates[0]);
  }
  const extra = [...file.keys()].filter((n) => !used.has(n) && !ignorable.includes(n));
  if (extra.length) throw new KerasWeightsError(`${fileName} does not fit ${model.name}: the file has layers the network lacks: ${extra.join(', ')}`);
  let count = 0;
  for (const [layer, fileLayer] of pairs) {
    const stored = file.get(fileLayer)!;
    const values = layer.weights.map((w) => {
      const own = w.originalName.slice(w.originalName.lastIndexOf('/') + 1);
      const found = stored.find((s) => s.name === own);
      if (!found) throw new KerasWeightsError(`${fileName}: layer "${fileLayer}" has no weight "${own}" (it has ${stored.map((s) => s.name).join(', ')})`);
      if (shapeKey([found.shape]) !== shapeKey([w.shape])) throw new KerasWeightsError(`${fileName}: "${fileLayer}/${own}" is ${describe(found.shape)} where ${model.name} needs ${describe(w.shape)}`);
      return tf.tensor(found.values, found.shape);
    });
    if (stored.length !== values.length) throw new KerasWeightsError(`${fileName}: layer "${fileLayer}" has ${stored.length} weights where ${model.name}'s "${layer.name}" has ${values.length}`);
    layer.setWeights(values);
    tf.dispose(values);
    count += values.length;
  }
  return { layers: pairs.length, weights: count, ignored: ignorable.filter((n) => file.has(n)) };
}
