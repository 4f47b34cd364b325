/**
 * The engine's registry and export work: rebuilds a run's best checkpoint, registers it (core/registry), and
 * writes TF.js or ONNX files from a registered version, with the ONNX parity check in onnxruntime-web.
 */
import * as tf from '@tensorflow/tfjs';
import { strToU8 } from 'fflate';
import { describeModel, runOperatingPoint, type ModelMetadata } from '../src/core/export/metadata';
import { exportOnnx, ONNX_INPUT, ONNX_OUTPUT } from '../src/core/export/onnx';
import { maxAbsDifference, PARITY_TOLERANCE, rowsOf, studioProbabilities, syntheticPixels } from '../src/core/export/parity';
import { exportTfjs, importTfjs, zipFiles, type ImportedModel, type ModelFiles, modelFilesOf } from '../src/core/export/tfjs';
import type { Zoo } from '../src/core/models/zoo';
import { browserEstimate } from '../src/core/registry/quota';
import { deleteModelVersion, listModels, loadModelFiles, registerModel, removeAlias, resolveModel, reviewRegistrationIn, setAlias, type ModelVersion, type RegistrationReview } from '../src/core/registry/registry';
import { loadCheckpoint } from '../src/core/store/checkpoints';
import { getEvaluation, getRun, type StudioDB } from '../src/core/store/db';
import { EngineError } from '../src/engine/errors';
import type { ExportedFile, ModelExport, OnnxParity, RegisterModelRequest } from '../src/engine/types';
import { version as studioVersion } from '../package.json';
import { restoredModel } from './models';

/**
 * Up to `count` held-out images at this size and channel count (uint8 NHWC) of the imported dataset, or else of the
 * demo dataset the version's run trained on; null if none fit.
 */
export type SampleImages = (imageSize: number, channels: number, count: number, runId: string | null) => Promise<{ pixels: Uint8Array; count: number } | null>;

const PARITY_IMAGES = 8;

const libraries = (): Record<string, string> => ({ studio: studioVersion, tfjs: tf.version.tfjs, backend: tf.getBackend() });

export class RegistryService {
  constructor(
    private readonly database: () => Promise<StudioDB>,
    private readonly samples: SampleImages,
    /** The engine's zoo (imported backbones included) as it is now; read after `database()`, which fills it. */
    private readonly zoo: () => Zoo,
  ) {}

  async register(req: RegisterModelRequest): Promise<ModelVersion> {
    const db = await this.database();
    const run = await getRun(db, req.runId);
    if (!run) throw new EngineError('E_NOT_FOUND', `there is no run ${req.runId}`);
    if (!run.input) throw new EngineError('E_CONFIG', `run ${run.runId} was trained before the studio recorded its model input, so it cannot be rebuilt for registration; train it again`);
    if (run.status !== 'completed' || !run.best) throw new EngineError('E_CONFIG', `run ${run.runId} is ${run.status}${run.best ? '' : ' with no best epoch'}; only a completed run's best model can be registered`, 'E_RUN');
    const checkpoint = await loadCheckpoint(db, run.runId, 'best');
    if (!checkpoint) throw new EngineError('E_NOT_FOUND', `run ${run.runId} has no best checkpoint in storage (was it deleted?)`);
    const { imageSize, channels, normalization } = run.input;
    const built = await restoredModel(db, this.zoo(), run, checkpoint, { imageSize, channels, numClasses: run.classes.length }, normalization);
    try {
      const metadata = describeModel({
        modelId: run.model,
        strategy: run.strategy,
        labels: run.classes,
        inputSize: imageSize,
        channels,
        normalization,
        scaling: built.entry.preprocessing.scaling,
        tta: run.config.tta,
        name: req.name,
        version: req.version,
        runId: run.runId,
        validation: { accuracy: run.best.valAccuracy, n: run.split.val },
        operatingPoint: runOperatingPoint(run, await getEvaluation(db, run.runId)),
        libraries: libraries(),
      });
      const files = await exportTfjs(built.model, metadata);
      return await registerModel(db, { files, metadata, run }, req, { estimate: browserEstimate() });
    } finally {
      built.model.dispose();
    }
  }

  async importModel(given: ExportedFile[], req: Omit<RegisterModelRequest, 'runId'>): Promise<ModelVersion> {
    const files = modelFilesOf(given);
    let imported;
    try {
      // Loading proves the files make a model that fits its metadata before anything is stored.
      imported = await importTfjs(files);
    } catch (err) {
      throw new EngineError('E_CONFIG', `these files are not a studio model: ${(err as Error).message}`);
    }
    imported.model.dispose();
    const metadata: ModelMetadata = { ...imported.metadata, name: req.name, version: req.version };
    const kept: ModelFiles = { ...files, 'metadata.json': strToU8(JSON.stringify(metadata, null, 2)) };
    delete kept['MODEL_CARD.md'];
    return registerModel(await this.database(), { files: kept, metadata }, req, { estimate: browserEstimate() });
  }

  async models(): Promise<ModelVersion[]> {
    return listModels(await this.database());
  }

  async reviewRegistration(req: RegisterModelRequest): Promise<RegistrationReview> {
    const db = await this.database();
    const run = await getRun(db, req.runId);
    if (!run) throw new EngineError('E_NOT_FOUND', `there is no run ${req.runId}`);
    return reviewRegistrationIn(db, req, { run });
  }

  async setAlias(ref: string, alias: string): Promise<ModelVersion> {
    return setAlias(await this.database(), ref, alias);
  }

  async removeAlias(name: string, alias: string): Promise<void> {
    await removeAlias(await this.database(), name, alias);
  }

  async deleteModel(id: string): Promise<void> {
    const db = await this.database();
    if (!(await db.get('models', id))) throw new EngineError('E_NOT_FOUND', `${id} is not registered`);
    await deleteModelVersion(db, id);
  }

  async exportModel(ref: string, format: 'tfjs' | 'onnx', opts: { zip?: boolean; parityImages?: number } = {}): Promise<ModelExport> {
    if (format !== 'tfjs' && format !== 'onnx') throw new EngineError('E_CONFIG', `export format must be tfjs or onnx (got ${String(format)})`);
    const { version, files } = await this.versionFiles(ref);
    const card = strToU8(version.card);
    let out: ModelFiles;
    let parity: OnnxParity | undefined;
    if (format === 'tfjs') {
      out = { ...files, 'MODEL_CARD.md': card };
    } else {
      const { model, metadata } = await importTfjs(files);
      try {
        const onnx = await exportOnnx(model, metadata);
        parity = await this.parity(model, metadata, onnx.bytes, opts.parityImages ?? PARITY_IMAGES, version.runId);
        out = { 'model.onnx': onnx.bytes, 'metadata.json': strToU8(JSON.stringify(onnx.metadata, null, 2)), 'MODEL_CARD.md': card };
      } finally {
        model.dispose();
      }
    }
    const base = `${version.name}-${version.version}-${format}`;
    const list = opts.zip ? [{ name: `${base}.zip`, bytes: zipFiles(out) }] : Object.entries(out).map(([name, bytes]) => ({ name, bytes }));
    return { id: version.id, format, files: list, ...(parity ? { parity } : {}) };
  }

  /** A registered version's network and metadata, to run it (Grad-CAM); the caller disposes the model. */
  async openModel(ref: string): Promise<ImportedModel> {
    return importTfjs((await this.versionFiles(ref)).files);
  }

  private async versionFiles(ref: string): Promise<{ version: ModelVersion; files: ModelFiles }> {
    const db = await this.database();
    const version = await resolveModel(db, ref);
    return { version, files: await loadModelFiles(db, version.id) };
  }

  /** The exported file in onnxruntime-web against the studio's probabilities, on the user's images when they fit. */
  private async parity(model: tf.LayersModel, meta: ModelMetadata, bytes: Uint8Array, wanted: number, runId: string | null): Promise<OnnxParity> {
    const { inputSize: size, channels } = meta;
    const sample = await this.samples(size, channels, wanted, runId);
    const count = sample?.count ?? wanted;
    // Pixels are made on the CPU and read by both runtimes from this one array: reading them back from the backend
    // is not reliable (TF.js's WebGPU backend returns an int32→float32 cast's data as an Int32Array).
    const input = sample ? Float32Array.from(sample.pixels) : syntheticPixels(count, size, channels);
    const pixels = tf.tensor4d(input, [count, size, size, channels], 'float32');
    const expected = studioProbabilities(model, pixels, meta);
    try {
      const want = (await expected.data()) as Float32Array;
      const ort = await import('./onnx-runtime');
      const got = await ort.runOnnx(bytes, ONNX_INPUT, ONNX_OUTPUT, input, [count, size, size, channels]);
      const maxDifference = maxAbsDifference(want, got);
      return { images: count, source: sample ? 'dataset' : 'synthetic', maxDifference, tolerance: PARITY_TOLERANCE, passed: maxDifference <= PARITY_TOLERANCE, runtime: ort.runtimeName, probabilities: rowsOf(want, meta.labels.length) };
    } finally {
      tf.dispose([pixels, expected]);
    }
  }
}
