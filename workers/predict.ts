/**
 * Prediction with a registered version: the files are decoded by the import's own analyzer (same decoder, same
 * resize), the pixels preprocessed as the version's metadata says (studioProbabilities, which the ONNX parity check
 * also compares against), one image at a time so each gets its latency. The loaded model is kept for the next call.
 */
import * as tf from '@tensorflow/tfjs';
import type { ImageAnalyzer } from '../src/core/dataset/importer';
import type { ModelMetadata } from '../src/core/export/metadata';
import { studioProbabilities } from '../src/core/export/parity';
import { decide, operatingPointOf } from '../src/core/metrics/operating-point';
import { importTfjs } from '../src/core/export/tfjs';
import { loadModelFiles, resolveModel, type ModelVersion } from '../src/core/registry/registry';
import { appendAudit, type AuditEntry } from '../src/core/store/audit';
import type { StudioDB } from '../src/core/store/db';
import { EngineError } from '../src/engine/errors';
import type { BackendName, ImagePrediction, PredictImage, PredictOptions, PredictProgress, PredictResult } from '../src/engine/types';

/** Files decoded per analyzer call: the import's batch size, so a large folder never holds all its pixels at once. */
const DECODE_BATCH = 16;

interface Loaded {
  key: string;
  model: tf.LayersModel;
  metadata: ModelMetadata;
}

export class Predictor {
  private loaded: Loaded | null = null;

  constructor(
    private readonly database: () => Promise<StudioDB>,
    private readonly analyze: ImageAnalyzer | undefined,
  ) {}

  async predict(ref: string, images: PredictImage[], opts: PredictOptions, backend: BackendName, onProgress?: (p: PredictProgress) => void): Promise<PredictResult> {
    if (!this.analyze) throw new EngineError('E_INTERNAL', 'this engine has no image decoder');
    const audit = opts.audit ?? 'off';
    if (audit !== 'off' && audit !== 'hashes' && audit !== 'names') throw new EngineError('E_CONFIG', `audit must be off, hashes or names (got ${String(audit)})`);
    if (images.length === 0) throw new EngineError('E_CONFIG', 'no images to classify: pick, drop or paste at least one');
    const db = await this.database();
    const version = await resolveModel(db, ref);
    const { model, metadata } = await this.load(db, version, backend);
    const { inputSize: size, channels, labels } = metadata;
    // The screening operating point, when the version has one: thresholds on the same probabilities (T = 1).
    const thresholds = metadata.operatingPoint && operatingPointOf(metadata.operatingPoint, labels).thresholds;
    const stride = size * size * channels;
    const predictions: ImagePrediction[] = [];
    for (let start = 0; start < images.length; start += DECODE_BATCH) {
      const batch = images.slice(start, start + DECODE_BATCH);
      let decoded;
      try {
        decoded = await this.analyze.analyze(batch.map((im) => im.file), size, channels);
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        for (const im of batch) predictions.push({ name: im.name, ok: false, error });
        continue;
      }
      batch.forEach((im, k) => {
        const item = decoded.items[k];
        if ('error' in item) {
          predictions.push({ name: im.name, ok: false, ...(item.error.reason ? { reason: item.error.reason } : {}), error: item.error.message });
          return;
        }
        predictions.push({ name: im.name, ok: true, sha256: item.contentHash, probabilities: [], top: '', topProbability: 0, latencyMs: 0 });
      });
      for (let k = 0; k < batch.length; k++) {
        const p = predictions[start + k];
        if (!p.ok) continue;
        // Float32 pixels in 0..255, the input metadata.json describes (and the export's parity check feeds both runtimes).
        const input = Float32Array.from(decoded.pixels.subarray(k * stride, (k + 1) * stride));
        const t0 = performance.now();
        const probs = tf.tidy(() => studioProbabilities(model, tf.tensor4d(input, [1, size, size, channels], 'float32'), metadata));
        const values = await probs.data();
        p.latencyMs = performance.now() - t0;
        probs.dispose();
        p.probabilities = labels.map((label, j) => ({ label, probability: values[j] }));
        const best = p.probabilities.reduce((a, b) => (b.probability > a.probability ? b : a));
        p.top = best.label;
        p.topProbability = best.probability;
        if (thresholds) p.screened = labels[decide(values, labels.length, thresholds)[0]];
      }
      onProgress?.({ done: predictions.length, total: images.length });
    }
    if (audit !== 'off') {
      const at = new Date().toISOString();
      const entries = predictions.flatMap((p): AuditEntry[] =>
        p.ok ? [{ at, ref, model: version.id, sha256: p.sha256, ...(audit === 'names' ? { file: p.name } : {}), top: p.top, probability: p.topProbability }] : [],
      );
      await appendAudit(db, entries);
    }
    return { ref, model: version.id, labels: [...labels], inputSize: size, channels, backend, ...(metadata.operatingPoint ? { operatingPoint: metadata.operatingPoint } : {}), predictions };
  }

  /** The version's model, loaded once; another version (or backend) replaces it and its weights are freed. */
  private async load(db: StudioDB, version: ModelVersion, backend: BackendName): Promise<Loaded> {
    // createdAt: a version deleted and registered again under the same id is another model.
    const key = `${version.id}|${version.createdAt}|${backend}`;
    if (this.loaded?.key === key) return this.loaded;
    this.loaded?.model.dispose();
    this.loaded = null;
    let imported;
    try {
      imported = await importTfjs(await loadModelFiles(db, version.id));
    } catch (err) {
      throw new EngineError('E_INTERNAL', `${version.id} could not be loaded: ${(err as Error).message}`);
    }
    const { model, metadata } = imported;
    // One untimed pass, so the first image's latency does not include building the backend's kernels; its input is
    // uploaded from an array as every image's is (a tf.zeros would be filled on the device and skip the upload path).
    const { inputSize: size, channels } = metadata;
    const warm = tf.tidy(() => studioProbabilities(model, tf.tensor4d(new Float32Array(size * size * channels), [1, size, size, channels], 'float32'), metadata));
    await warm.data();
    warm.dispose();
    this.loaded = { key, model, metadata };
    return this.loaded;
  }
}
