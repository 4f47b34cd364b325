/**
 * Evaluates a run's checkpoint on the test split of its own dataset: batched inference for the figures, a separate
 * batch-of-one pass for per-image latency, temperature fitted on the validation split, medical validation; the
 * result is stored with the run. Called by the engine (workers/engine.ts), which owns the dataset and the backend.
 */
import * as tf from '@tensorflow/tfjs';
import type { ChannelStats } from '../src/core/dataset/stats';
import { softmax, topClass } from '../src/core/metrics/calibration';
import { evaluate, type EvaluatedImage, type EvaluationRecord, type RobustnessRow } from '../src/core/metrics/evaluation';
import { perturb, PERTURBATIONS } from '../src/core/image/perturb';
import { evaluationMetricsJson, evaluationReportMarkdown, medicalValidationJson } from '../src/core/metrics/files';
import { medicalValidation } from '../src/core/metrics/medical';
import { deriveSeed, mulberry32, shuffle } from '../src/core/random';
import { saveEvaluation, getRun, type StudioDB } from '../src/core/store/db';
import { loadCheckpoint } from '../src/core/store/checkpoints';
import { imageBatchSource, normalizeWith, type TensorDataset } from '../src/core/train/trainer';
import type { RunRecord, TrainConfig } from '../src/core/train/types';
import { EngineError } from '../src/engine/errors';
import type { BackendInfo, EvaluateEvent, EvaluateRequest, ReportFile, Thumbnail } from '../src/engine/types';
import { thumbnailOf } from './thumbnail';
import { restoredModel } from './models';

/** What the engine lends an evaluation: its database, backend and the dataset a run was trained on. */
export interface EvaluateHost {
  db: StudioDB;
  backend: BackendInfo;
  /** The run's images, labels and split, rebuilt as for training (E_NOT_FOUND when its folder is not imported). */
  prepare(cfg: TrainConfig): Promise<{ data: TensorDataset; classes: string[]; split: { val: number[]; test: number[] }; normalization: ChannelStats; keys: readonly string[]; dataset?: { splitId?: string } }>;
  shouldStop(): boolean;
  yieldToHost(): Promise<void>;
}

const WARMUP = 3;

export async function evaluateRun(host: EvaluateHost, req: EvaluateRequest, onEvent: (e: EvaluateEvent) => void): Promise<EvaluationRecord> {
  const run = await getRun(host.db, req.runId);
  if (!run) throw new EngineError('E_NOT_FOUND', `there is no run ${req.runId}`);
  const kind = req.checkpoint ?? 'best';
  const ckpt = run.checkpoint?.[kind] ? await loadCheckpoint(host.db, run.runId, kind) : undefined;
  if (!ckpt) throw new EngineError('E_NOT_FOUND', `run ${run.runId} has no ${kind} checkpoint to evaluate (it stopped before its first epoch ended)`);
  const prepared = await host.prepare(run.config);
  checkSameSplit(run, prepared.dataset?.splitId);
  const { data, split } = prepared;
  if (split.test.length === 0) throw new EngineError('E_DATASET', `run ${run.runId}'s dataset has no test split to evaluate on; import it with a test fraction above 0`);
  const K = data.numClasses;
  const batchSize = req.batchSize ?? run.config.batchSize;
  onEvent({ type: 'start', runId: run.runId, checkpointEpoch: ckpt.epoch, test: split.test.length, val: split.val.length });

  const built = await restoredModel(host.db, run, ckpt, data, run.dataset?.normalization ?? prepared.normalization);
  const model = built.model;
  try {
    const source = imageBatchSource(data);
    const preprocess = normalizeWith(built.normalization);
    /** Logits of images; `alter` corrupts the pixels first (robustness), returning a new tensor. */
    const forward = (indices: readonly number[], alter?: (x: tf.Tensor4D) => tf.Tensor4D) => {
      const { x, y } = source.batch(indices);
      try {
        return tf.tidy(() => model.predict(preprocess(alter ? alter(x as tf.Tensor4D) : (x as tf.Tensor4D))) as tf.Tensor2D);
      } finally {
        tf.dispose([x, y]);
      }
    };
    const logitsOf = async (indices: number[], phase: 'validation' | 'test') => {
      const out = new Float32Array(indices.length * K);
      for (let start = 0; start < indices.length; start += batchSize) {
        if (host.shouldStop()) throw new EngineError('E_CANCELLED', 'the evaluation was cancelled; nothing was stored');
        const logits = forward(indices.slice(start, start + batchSize));
        out.set(await logits.data(), start * K);
        logits.dispose();
        onEvent({ type: 'progress', phase, done: Math.min(start + batchSize, indices.length), total: indices.length });
        await host.yieldToHost();
      }
      return out;
    };
    const valLogits = await logitsOf(split.val, 'validation');
    // Throughput: the test split in batches, from upload to the last logits read back.
    const started = performance.now();
    const testLogits = await logitsOf(split.test, 'test');
    const throughput = split.test.length / ((performance.now() - started) / 1000);

    // Latency: single images, each timed from upload to its probabilities read back (what one scan costs),
    // after a few untimed warm-up images so shader compilation is not counted. A seeded sample of the test split.
    const sample = shuffle([...split.test], mulberry32(deriveSeed(run.config.seed, 'latency'))).slice(0, Math.max(1, req.latencySamples ?? 100));
    for (const i of sample.slice(0, WARMUP)) {
      const l = forward([i]);
      await l.data();
      l.dispose();
    }
    const latencyMs: number[] = [];
    for (const i of sample) {
      if (host.shouldStop()) throw new EngineError('E_CANCELLED', 'the evaluation was cancelled; nothing was stored');
      const t0 = performance.now();
      const probs = tf.tidy(() => tf.softmax(forward([i])));
      await probs.data();
      latencyMs.push(performance.now() - t0);
      probs.dispose();
      onEvent({ type: 'progress', phase: 'latency', done: latencyMs.length, total: sample.length });
      await host.yieldToHost();
    }

    const testLabels = Int32Array.from(split.test, (i) => data.labels[i]);
    // Robustness: the test split again under each corruption and severity, noise seeded per batch.
    const robustnessSeed = deriveSeed(run.config.seed, 'robustness');
    const measureRobustness = async (): Promise<RobustnessRow[]> => {
      const rows: RobustnessRow[] = [];
      for (const p of PERTURBATIONS) {
        for (const [s, level] of p.levels.entries()) {
          let correct = 0;
          for (let start = 0; start < split.test.length; start += batchSize) {
            if (host.shouldStop()) throw new EngineError('E_CANCELLED', 'the evaluation was cancelled; nothing was stored');
            const logits = forward(split.test.slice(start, start + batchSize), (x) => perturb(x, p.kind, level, deriveSeed(robustnessSeed, p.kind, s, start)));
            const predicted = tf.tidy(() => logits.argMax(-1));
            logits.dispose();
            (await predicted.data()).forEach((c, j) => void (correct += Number(c === testLabels[start + j])));
            predicted.dispose();
            await host.yieldToHost();
          }
          rows.push({ kind: p.kind, label: p.label, unit: p.unit, severity: (s + 1) as 1 | 2 | 3, level, accuracy: correct / split.test.length });
          onEvent({ type: 'progress', phase: 'robustness', done: rows.length, total: PERTURBATIONS.length * p.levels.length });
        }
      }
      return rows;
    };
    const rows = req.robustness ? await measureRobustness() : null;
    const metrics = evaluate({
      classes: prepared.classes,
      labels: testLabels,
      logits: testLogits,
      val: split.val.length ? { labels: Int32Array.from(split.val, (i) => data.labels[i]), logits: valLogits } : undefined,
      latencyMs,
      throughput,
      bootstrap: { seed: run.config.seed },
    });
    const evaluation: EvaluationRecord = {
      runId: run.runId,
      evaluatedAt: new Date().toISOString(),
      checkpoint: { kind, epoch: ckpt.epoch },
      model: run.model,
      backend: host.backend.name,
      data: {
        kind: run.config.dataset.kind,
        name: run.dataset?.name ?? (run.config.dataset.kind === 'demo' ? 'demo phantoms' : 'folder'),
        fingerprint: run.dataset?.fingerprint ?? null,
        split: 'test',
        images: split.test.length,
        temperatureFittedOn: split.val.length,
      },
      metrics,
      medical: medicalValidation(metrics, {
        thresholds: req.thresholds,
        crossSplit: run.dataset?.duplicates.crossSplit,
        trainCounts: run.dataset ? prepared.classes.map((c) => run.dataset!.counts.train[c] ?? 0) : undefined,
      }),
      latencyMethod: `batch of one, from upload to probabilities read back, on ${latencyMs.length} test images after ${Math.min(WARMUP, sample.length)} untimed warm-up images (${host.backend.name}${host.backend.adapter ? `, ${host.backend.adapter.description || host.backend.adapter.vendor}` : ''})`,
      predictions: predictionsOf(split.test, testLabels, testLogits, K, prepared.keys),
      ...(rows ? { robustness: { baseline: metrics.report.accuracy, images: split.test.length, seed: robustnessSeed, backend: host.backend.name, rows } } : {}),
    };
    await saveEvaluation(host.db, evaluation);
    onEvent({ type: 'done', evaluation });
    return evaluation;
  } finally {
    model.dispose();
  }
}

/** A folder run is evaluated only on the very split it was trained with: same files, same split settings. */
export function checkSameSplit(run: RunRecord, splitId: string | undefined): void {
  const want = run.dataset?.splitId;
  if (want && splitId && want !== splitId) {
    throw new EngineError('E_DATASET', `the imported folder is split differently from run ${run.runId}'s (other seed, fractions, classes or grouping): its test images could have been trained on. Import it with the run's settings`);
  }
}

function predictionsOf(indices: number[], labels: Int32Array, logits: Float32Array, K: number, keys: readonly string[]): EvaluatedImage[] {
  const probs = softmax(logits, K);
  const { predicted } = topClass(probs, K);
  return indices.map((idx, j) => ({ key: keys[idx], label: labels[j], predicted: predicted[j], probs: Array.from(probs.subarray(j * K, (j + 1) * K)) }));
}

/** The report files of a stored evaluation (see src/core/metrics/files.ts), as the CLI writes them and the UI exports them. */
export function evaluationFiles(ev: EvaluationRecord): ReportFile[] {
  const data = `test split of ${ev.data.kind === 'demo' ? 'the demo phantoms' : `"${ev.data.name}"`}${ev.data.fingerprint ? ` (fingerprint ${ev.data.fingerprint.slice(0, 12)}…)` : ''}, checkpoint ${ev.checkpoint.kind} (epoch ${ev.checkpoint.epoch}); temperature fitted on ${ev.data.temperatureFittedOn} validation images`;
  const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
  return [
    { name: 'evaluation_metrics.json', text: json(evaluationMetricsJson(ev.metrics, ev.robustness)) },
    { name: 'medical_validation.json', text: json(medicalValidationJson(ev.medical)) },
    { name: 'evaluation_report.md', text: evaluationReportMarkdown(ev.metrics, ev.medical, { runId: ev.runId, model: ev.model, data, backend: ev.backend, date: ev.evaluatedAt, latencyMethod: ev.latencyMethod }, ev.robustness) },
  ];
}

/**
 * Thumbnails of a run's evaluated images (a confusion cell's gallery): the demo's are regenerated from the run's
 * seed, a folder run's come from its imported folder. At most 200 per call, like `thumbnails`.
 */
export async function evaluationThumbnails(db: StudioDB, prepare: EvaluateHost['prepare'], runId: string, keys: string[], size: number): Promise<Thumbnail[]> {
  const run = await getRun(db, runId);
  if (!run) throw new EngineError('E_NOT_FOUND', `there is no run ${runId}`);
  const prepared = await prepare(run.config);
  checkSameSplit(run, prepared.dataset?.splitId);
  const index = new Map(prepared.keys.map((k, i) => [k, i]));
  const { images, imageSize, channels } = prepared.data;
  return keys.slice(0, 200).flatMap((key) => {
    const i = index.get(key);
    return i === undefined ? [] : [thumbnailOf(images, imageSize, channels, i, key, size)];
  });
}
