/**
 * What the IndexedDB stores hold that the modules working on them (checkpoints, audit, registry) define: the record
 * shapes on their own, so that `db.ts` can declare its schema from them while those modules use `StudioDB`, without
 * an import cycle. Each module re-exports its records.
 */
import type { ExportedOperatingPoint } from '../metrics/operating-point';
import type { CheckpointKind, TrainerState } from '../train/trainer';
import type { EpochMetrics } from '../train/types';

// Training checkpoints (checkpoints.ts).

export interface TensorEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  /** Byte range in the checkpoint's packed stream. */
  offset: number;
  byteLength: number;
}

/** What every form of a checkpoint carries besides its tensors. */
export interface CheckpointMeta {
  runId: string;
  kind: CheckpointKind;
  epoch: number;
  savedAt: string;
  metrics: EpochMetrics;
  /** The run's configuration as the caller serialises it (e.g. the JSON config); stored, not interpreted. */
  config: unknown;
  trainer: TrainerState;
  optimizerClass: string;
}

/** The checkpoint's record: everything but the tensor bytes, which live in `checkpointChunks`. */
export interface StoredCheckpoint extends CheckpointMeta {
  /** `${runId}/${kind}`, plus `/${epoch}` for periodic ones, so best and last are overwritten in place. */
  id: string;
  weights: TensorEntry[];
  optimizer: TensorEntry[];
  byteLength: number;
  chunkCount: number;
}

export interface StoredChunk {
  checkpointId: string;
  index: number;
  data: ArrayBuffer;
}

// The prediction audit log (audit.ts).

export interface AuditEntry {
  /** Assigned by the store, in the order entries were written. */
  id?: number;
  at: string;
  /** The ref the user asked for (`brain-mri@champion`) and the version it resolved to (`brain-mri@1.0.0`). */
  ref: string;
  model: string;
  /** SHA-256 of the file's bytes: identifies the image without naming it. */
  sha256: string;
  /** The file's name, only when the log records names. */
  file?: string;
  top: string;
  probability: number;
}

// The model registry (registry/registry.ts).

export interface ModelVersion {
  /** `${name}@${version}`. */
  id: string;
  name: string;
  version: string;
  description: string;
  tags: Record<string, string>;
  aliases: string[];
  createdAt: string;
  /** The run the model comes from (its best epoch); null for a model imported from files. */
  runId: string | null;
  epoch: number | null;
  modelId: string;
  strategy: string;
  labels: string[];
  inputSize: number;
  channels: 1 | 3;
  /** The screening thresholds the model's metadata carries (see src/core/metrics/operating-point.ts); absent without. */
  operatingPoint?: ExportedOperatingPoint;
  /** Validation accuracy the gate judged, with its 95 % Wilson interval; null when the model came without one. */
  validation: { accuracy: number; n: number; ci95: [number, number] } | null;
  gate: { threshold: number; passed: boolean; override: { reason: string; at: string } | null };
  files: { path: string; byteLength: number }[];
  byteLength: number;
  /** Markdown model card, generated at registration. */
  card: string;
}

export interface StoredModelFile {
  versionId: string;
  path: string;
  data: ArrayBuffer;
}
