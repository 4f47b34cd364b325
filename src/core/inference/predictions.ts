/**
 * What a prediction with a registered version returns, and its files: the batch CSV (one row per image) and the
 * audit log's CSV. Declared in core so the engine, the UI (through the engine) and the CLI share one format.
 */
import { csvText } from '../csv';
import type { AuditEntry } from '../store/audit';
import type { BackendName } from '../train/types';
import type { ExportedOperatingPoint } from '../metrics/operating-point';

export type ImagePrediction =
  | {
      name: string;
      ok: true;
      /** SHA-256 of the file's bytes. */
      sha256: string;
      /** One per class, in the model's label order. */
      probabilities: { label: string; probability: number }[];
      top: string;
      topProbability: number;
      /** The class at the model's screening operating point (absent when its metadata has none). */
      screened?: string;
      /** One image from upload to its probabilities read back (decoding not included). */
      latencyMs: number;
    }
  /** The file could not be classified (corrupt, not an image, …); the other images go on. */
  | { name: string; ok: false; reason?: string; error: string };

export interface PredictResult {
  /** The ref as asked (`brain-mri@champion`) and the version it resolved to (`brain-mri@1.0.0`). */
  ref: string;
  model: string;
  labels: string[];
  inputSize: number;
  channels: 1 | 3;
  backend: BackendName;
  /** The screening thresholds applied (`screened`), from the version's metadata; absent without. */
  operatingPoint?: ExportedOperatingPoint;
  predictions: ImagePrediction[];
}

/**
 * file, top_class, operating_point_class (when the model has a screening operating point), one probability column
 * per class (the model's order), latency_ms, error: a row per image.
 */
export function predictionsCsv(result: Pick<PredictResult, 'labels' | 'predictions' | 'operatingPoint'>): string {
  const op = result.operatingPoint ? [''] : [];
  const rows = result.predictions.map((p) =>
    p.ok
      ? [p.name, p.top, ...(op.length ? [p.screened ?? ''] : []), ...p.probabilities.map((c) => String(c.probability)), p.latencyMs.toFixed(3), '']
      : [p.name, '', ...op, ...result.labels.map(() => ''), '', `${p.reason ? `${p.reason}: ` : ''}${p.error}`],
  );
  return csvText(['file', 'top_class', ...(op.length ? ['operating_point_class'] : []), ...result.labels, 'latency_ms', 'error'], rows);
}

export function auditCsv(entries: AuditEntry[]): string {
  return csvText(
    ['time', 'ref', 'model', 'sha256', 'file', 'top_class', 'probability'],
    entries.map((e) => [e.at, e.ref, e.model, e.sha256, e.file ?? '', e.top, String(e.probability)]),
  );
}
