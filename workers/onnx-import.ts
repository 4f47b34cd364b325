/**
 * "Import ONNX backbone": an .onnx file the user picks becomes a zoo model. The graph is imported up to its global
 * pool (models/onnx-import.ts), checked against onnxruntime-web on the same input, and kept in the backbone cache
 * with its zoo entry, so it trains with the frozen, medical and finetune strategies like the MobileNets.
 */
import * as tf from '@tensorflow/tfjs';
import { IMAGENET_STATS, type ChannelStats } from '../src/core/dataset/stats';
import { maxAbsDifference } from '../src/core/export/parity';
import { MIN_INPUT_SIZE } from '../src/core/models/backbone';
import { importOnnx, OnnxImportError, onnxWithOutput, type OnnxImport } from '../src/core/models/onnx-import';
import { MODEL_ZOO, TRANSFER_DEFAULTS, type ZooEntry } from '../src/core/models/zoo';
import { mulberry32 } from '../src/core/random';
import { putImportedBackbone } from '../src/core/store/backbones';
import type { StudioDB } from '../src/core/store/db';
import { EngineError } from '../src/engine/errors';
import type { OnnxBackboneImport, OnnxBackboneRequest } from '../src/engine/types';

/** The largest logit (or feature) difference to onnxruntime an import may show (issue 8). */
export const ONNX_IMPORT_TOLERANCE = 1e-3;
const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const SCALINGS: Record<'imagenet' | '[-1,1]', ChannelStats> = { imagenet: IMAGENET_STATS, '[-1,1]': { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } };

const fail = (message: string, detail?: string): never => {
  throw new EngineError('E_BACKBONE', message, detail);
};

function importGraph(bytes: Uint8Array, file: string, cut: 'pool' | 'none', id: string): OnnxImport {
  try {
    return importOnnx(bytes, { cut, name: id });
  } catch (err) {
    if (err instanceof OnnxImportError) return fail(`${file}: ${err.message}`, err.op ? `operator ${err.op}, node ${err.node}` : undefined);
    throw err;
  }
}

/** NHWC → NCHW on the CPU (the parity input must be the same numbers for both runtimes). */
function toNchw(x: Float32Array, n: number, size: number, c: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++) for (let i = 0; i < size * size; i++) for (let k = 0; k < c; k++) out[((b * c + k) * size * size) + i] = x[(b * size * size + i) * c + k];
  return out;
}

/** Imports and stores the backbone; the caller adds the returned `entry` to its zoo (Zoo.withImported). */
export async function importOnnxBackbone(req: OnnxBackboneRequest, db: StudioDB): Promise<{ entry: ZooEntry; report: OnnxBackboneImport }> {
  const id = req.id.trim();
  if (!ID.test(id)) throw new EngineError('E_CONFIG', `"${req.id}" cannot name a model: use 1 to 64 letters, digits, "_", "-" or "." (starting with a letter or digit)`);
  if (MODEL_ZOO.some((e) => e.id === id)) throw new EngineError('E_CONFIG', `"${id}" is a built-in model's id; choose another`);
  const { name: file, bytes } = req.file;
  const backbone = importGraph(bytes, file, 'pool', id);
  let full: OnnxImport | null = null;
  try {
    const { inputSize: size, channels } = backbone;
    if (channels !== 3) fail(`${file} takes ${channels}-channel images; a backbone for the studio takes RGB`);
    if (size < MIN_INPUT_SIZE) fail(`${file} takes ${size} px images; a backbone needs at least ${MIN_INPUT_SIZE}`);
    // The classifier is imported only to compare logits; a head the importer cannot read does not stop the backbone.
    let classifierProblem: string | null = null;
    try {
      full = importGraph(bytes, file, 'none', id);
    } catch (err) {
      classifierProblem = (err as Error).message;
    }
    const normalization = backbone.normalization ?? SCALINGS[req.normalization];

    // One seeded input for both runtimes: pixels, normalised on the CPU for the TF.js model (and for a file
    // that does not normalise itself).
    const count = Math.min(backbone.batch ?? 2, 4);
    const random = mulberry32(7);
    const pixels = Float32Array.from({ length: count * size * size * channels }, () => Math.floor(random() * 256));
    const normalised = pixels.map((p, i) => (p - 255 * normalization.mean[i % channels]) / (255 * normalization.std[i % channels]));
    const fed = backbone.normalization ? pixels : normalised;
    const ortInput = backbone.inputLayout === 'NCHW' ? toNchw(fed, count, size, channels) : fed;
    const dims = backbone.inputLayout === 'NCHW' ? [count, channels, size, size] : [count, size, size, channels];
    const x = tf.tensor4d(normalised, [count, size, size, channels]);
    let ours: Float32Array;
    let oursOut: Float32Array | null = null;
    try {
      ours = (await tf.tidy(() => (backbone.model.predict(x) as tf.Tensor).transpose([0, 3, 1, 2])).data()) as Float32Array;
      if (full) {
        const y = full.model.predict(x) as tf.Tensor;
        oursOut = (await y.data()) as Float32Array;
        y.dispose();
      }
    } finally {
      x.dispose();
    }
    const ort = await import('./onnx-runtime');
    const featureDifference = maxAbsDifference(ours, await ort.runOnnx(onnxWithOutput(bytes, backbone.outputName), backbone.inputName, backbone.outputName, ortInput, dims));
    const outputDifference = full && oursOut ? maxAbsDifference(oursOut, await ort.runOnnx(bytes, full.inputName, full.outputName, ortInput, dims)) : null;
    const judged = outputDifference ?? featureDifference;
    if (!(judged <= ONNX_IMPORT_TOLERANCE)) {
      fail(`${file} imports, but its ${outputDifference === null ? 'features' : 'outputs'} differ from onnxruntime's by ${judged.toExponential(2)} (more than ${ONNX_IMPORT_TOLERANCE}): not kept`);
    }

    const params = backbone.model.countParams();
    const entry: ZooEntry = {
      id,
      name: req.name?.trim() || `${id} (ONNX)`,
      family: 'onnx',
      inputSize: size,
      channels: 3,
      params,
      source: { kind: 'imported', file },
      preprocessing: { scaling: 'fixed', mean: normalization.mean, std: normalization.std },
      defaults: TRANSFER_DEFAULTS,
    };
    let artifacts: tf.io.ModelArtifacts | undefined;
    await backbone.model.save(tf.io.withSaveHandler(async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })));
    await putImportedBackbone(db, entry, artifacts!);
    const [, fh, fw, fc] = backbone.model.outputs[0].shape as number[];
    const report: OnnxBackboneImport = {
      id,
      name: entry.name,
      file,
      producer: backbone.producer,
      opset: backbone.opset,
      ops: backbone.ops,
      params,
      inputSize: size,
      inputLayout: backbone.inputLayout,
      features: [fh, fw, fc],
      normalization: { ...normalization, source: backbone.normalization ? 'file' : req.normalization },
      classifier: classifierProblem,
      parity: { images: count, featureDifference, outputDifference, tolerance: ONNX_IMPORT_TOLERANCE, runtime: ort.runtimeName, backend: tf.getBackend() },
    };
    return { entry, report };
  } finally {
    backbone.model.dispose();
    full?.model.dispose();
  }
}
