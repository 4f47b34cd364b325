/**
 * Grad-CAM for the engine: rebuilds the network that made a prediction (a run's evaluated checkpoint, or a
 * registered version) on a backend with convolution gradients, and explains one image with src/core/explain.
 */
import * as tf from '@tensorflow/tfjs';
import { gradCam } from '../src/core/explain/gradcam';
import { softmax } from '../src/core/metrics/calibration';
import { loadCheckpoint } from '../src/core/store/checkpoints';
import { getEvaluation, getRun } from '../src/core/store/db';
import { normalizeWith, type Preprocess } from '../src/core/train/trainer';
import { EngineError } from '../src/engine/errors';
import type { ImageAnalyzer } from '../src/core/dataset/importer';
import type { BackendInfo, GradCam, GradCamRequest } from '../src/engine/types';
import { gradientBackend, onBackend } from './backend';
import { checkSameSplit, type EvaluateHost } from './evaluate';
import { restoredModel } from './models';
import type { RegistryService } from './registry';

export interface GradCamHost {
  db: EvaluateHost['db'];
  zoo: EvaluateHost['zoo'];
  backend: BackendInfo;
  prepare: EvaluateHost['prepare'];
  registry: RegistryService;
  /** An image file decoded and resized as an import decodes it (uint8 NHWC), for a registered model's file. */
  decode: (file: Blob, size: number, channels: 1 | 3) => Promise<Uint8Array>;
}

/** One image file through the import's decoder workers, at `size`; E_DATASET with the decoder's reason when it fails. */
export async function decodeImage(analyze: ImageAnalyzer | undefined, file: Blob, size: number, channels: 1 | 3): Promise<Uint8Array> {
  if (!analyze) throw new EngineError('E_INTERNAL', 'this engine has no image decoder');
  const { items, pixels } = await analyze.analyze([file], size, channels);
  const item = items[0];
  if ('error' in item) throw new EngineError('E_DATASET', `the image could not be read: ${item.error.message}`);
  return pixels.slice(0, size * size * channels);
}

/** A network, one image for it (uint8 NHWC), what its input expects, and its class names. */
interface Subject {
  model: tf.LayersModel;
  pixels: Uint8Array;
  size: number;
  channels: number;
  preprocess: Preprocess;
  classes: string[];
  logits: boolean;
}

export async function explain(host: GradCamHost, req: GradCamRequest): Promise<GradCam> {
  const backend = gradientBackend(host.backend);
  // The network is built on the backend that computes the gradients, so its weights live there from the start.
  return onBackend(backend, async () => {
    const subject = 'runId' in req ? await runImage(host, req.runId, req.key) : await registeredModel(host, req.modelRef, 'file' in req ? req.file : req.pixels);
    try {
      const { size, channels } = subject;
      const x = tf.tidy(() => subject.preprocess(tf.tensor4d(Int32Array.from(subject.pixels), [1, size, size, channels], 'int32').toFloat()) as tf.Tensor4D);
      let cam;
      try {
        cam = await gradCam(subject.model, x, req.classIndex);
      } catch (err) {
        throw err instanceof RangeError ? new EngineError('E_CONFIG', err.message) : err;
      } finally {
        x.dispose();
      }
      const K = subject.classes.length;
      const probabilities = subject.logits ? Array.from(softmax(cam.outputs, K)) : cam.outputs;
      return { heatmap: cam.heatmap, height: cam.height, width: cam.width, classIndex: cam.classIndex, classes: subject.classes, probabilities, layer: cam.layer, featureSize: cam.featureSize, backend };
    } finally {
      subject.model.dispose();
    }
  });
}

/** An image of a run's dataset and the checkpoint its stored evaluation used (the best one before any evaluation). */
async function runImage(host: GradCamHost, runId: string, key: string): Promise<Subject> {
  const run = await getRun(host.db, runId);
  if (!run) throw new EngineError('E_NOT_FOUND', `there is no run ${runId}`);
  const kind = (await getEvaluation(host.db, runId))?.checkpoint?.kind ?? 'best';
  const ckpt = run.checkpoint?.[kind] ? await loadCheckpoint(host.db, run.runId, kind) : undefined;
  if (!ckpt) throw new EngineError('E_NOT_FOUND', `run ${run.runId} has no ${kind} checkpoint to explain`);
  const prepared = await host.prepare(run.config);
  checkSameSplit(run, prepared.dataset?.splitId);
  const index = prepared.keys.indexOf(key);
  if (index < 0) throw new EngineError('E_NOT_FOUND', `run ${run.runId}'s dataset has no image "${key}"`);
  const { data } = prepared;
  const stride = data.imageSize * data.imageSize * data.channels;
  const built = await restoredModel(host.db, host.zoo, run, ckpt, data, run.dataset?.normalization ?? prepared.normalization);
  return {
    model: built.model,
    pixels: data.images.subarray(index * stride, (index + 1) * stride),
    size: data.imageSize,
    channels: data.channels,
    preprocess: normalizeWith(built.normalization),
    classes: prepared.classes,
    logits: true,
  };
}

async function registeredModel(host: GradCamHost, ref: string, image: Uint8Array | Blob): Promise<Subject> {
  const { model, metadata } = await host.registry.openModel(ref);
  const { inputSize: size, channels } = metadata;
  let pixels: Uint8Array;
  try {
    pixels = image instanceof Blob ? await host.decode(image, size, channels) : image;
  } catch (err) {
    model.dispose();
    throw err;
  }
  if (!(pixels instanceof Uint8Array) || pixels.length !== size * size * channels) {
    model.dispose();
    throw new EngineError('E_CONFIG', `${ref} takes one ${size}×${size}×${channels} image as ${size * size * channels} uint8 values (got ${pixels?.length ?? 0})`);
  }
  return { model, pixels, size, channels, preprocess: normalizeWith(metadata.preprocessing), classes: metadata.labels, logits: metadata.output === 'logits' };
}
