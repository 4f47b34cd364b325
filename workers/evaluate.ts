/**
 * Evaluates a run's checkpoint on the test split of its own dataset: batched inference for the figures, a separate
 * batch-of-one pass for per-image latency, temperature fitted on the validation split, medical validation; the
 * result is stored with the run. Called by the engine (workers/engine.ts), which owns the dataset and the backend.
 */
import * as tf from '@tensorflow/tfjs';
import type { ChannelStats } from '../src/core/dataset/stats';
import { softmax, topClass } from '../src/core/metrics/calibration';
import { resolveTrainConfig } from '../src/core/settings/resolve';
import { evaluate, type EvaluatedImage, type EvaluationInput, type EvaluationRecord, type RobustnessRow } from '../src/core/metrics/evaluation';
import { checkTargetSensitivity, decide, DEFAULT_TARGET_SENSITIVITY, operatingPointOf } from '../src/core/metrics/operating-point';
import { perturb, PERTURBATIONS } from '../src/core/image/perturb';
import { reportCharts } from '../src/core/metrics/charts';
import { evaluationMetricsJson, evaluationReportMarkdown, medicalValidationJson, misclassified, predictionsCsv, reportImageNames } from '../src/core/metrics/files';
import { medicalValidation, type MedicalContext } from '../src/core/metrics/medical';
import { deriveSeed, mulberry32, shuffle } from '../src/core/random';
import { getEvaluation, saveEvaluation, getRun, type StudioDB } from '../src/core/store/db';
import type { Zoo } from '../src/core/models/zoo';
import { loadCheckpoint } from '../src/core/store/checkpoints';
import { imageBatchSource, normalizeWith, type TensorDataset } from '../src/core/train/trainer';
import { importTfjs, modelFilesOf } from '../src/core/export/tfjs';
import { predictLogits } from '../src/core/inference/tta';
import type { RunRecord, TestTimeAugmentation, TrainConfig } from '../src/core/train/types';
import { EngineError } from '../src/engine/errors';
import type { BackendInfo, EvaluateEvent, EvaluateRequest, ModelEvaluateRequest, ReportFile, ReportOptions, Thumbnail } from '../src/engine/types';
import { renderChartPng } from './charts';
import { thumbnailOf } from './thumbnail';
import { restoredModel } from './models';

/** What the engine lends an evaluation: its database, backend and the dataset a run was trained on. */
export interface EvaluateHost {
  db: StudioDB;
  /** The models a run may name, the profile's imported backbones included. */
  zoo: Zoo;
  backend: BackendInfo;
  /** The run's images, labels and split, rebuilt as for training (E_NOT_FOUND when its folder is not imported). */
  prepare(cfg: TrainConfig): Promise<{ data: TensorDataset; classes: string[]; split: { val: number[]; test: number[] }; normalization: ChannelStats; keys: readonly string[]; dataset?: { splitId?: string } }>;
  /** The folder imported in this session with this fingerprint, whole (E_NOT_FOUND when it is not the one imported). */
  imported(fingerprint: string): { data: TensorDataset; classes: string[]; keys: readonly string[]; name: string; notEvaluated?: number };
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
  const prepared = req.external ? await externalData(host, run, req.external.fingerprint, ckpt.epoch) : await host.prepare(run.config);
  if (!('external' in prepared)) checkSameSplit(run, prepared.dataset?.splitId);
  if (prepared.split.test.length === 0) throw new EngineError('E_DATASET', `run ${run.runId}'s dataset has no test split to evaluate on; import it with a test fraction above 0`);

  const built = await restoredModel(host.db, host.zoo, run, ckpt, prepared.data, run.dataset?.normalization ?? prepared.normalization);
  try {
    return await evaluateSubject(
      host,
      {
        ...prepared,
        id: run.runId,
        model: built.model,
        modelName: run.model,
        normalization: built.normalization,
        tta: resolveTrainConfig(run.config).tta,
        checkpoint: { kind, epoch: ckpt.epoch },
        batchSize: req.batchSize ?? run.config.batchSize,
        seed: run.config.seed,
        info:
          'external' in prepared
            ? prepared.external
            : {
                kind: run.config.dataset.kind,
                name: run.dataset?.name ?? (run.config.dataset.kind === 'demo' ? 'demo phantoms' : 'folder'),
                fingerprint: run.dataset?.fingerprint ?? null,
                split: 'test',
                images: prepared.split.test.length,
                temperatureFittedOn: prepared.split.val.length,
              },
        // The import's leakage check is about the run's own splits, not another folder.
        crossSplit: 'external' in prepared ? undefined : run.dataset?.duplicates.crossSplit,
        trainCounts: run.dataset ? prepared.classes.map((c) => run.dataset!.counts.train[c] ?? 0) : undefined,
        storedValidation: 'external' in prepared ? prepared.storedValidation : undefined,
      },
      req,
      onEvent,
    );
  } finally {
    built.model.dispose();
  }
}

/**
 * An exported TF.js model folder (model.json, shards, metadata.json: see src/core/export) on the folder imported in
 * this session with `fingerprint`: its images are labelled by the metadata's class names and normalised as the
 * metadata says. Stored under `model:NAME@VERSION` (or `model:MODEL_ID`), where `evaluationReport` finds it.
 */
export async function evaluateModelFolder(host: EvaluateHost, req: ModelEvaluateRequest, onEvent: (e: EvaluateEvent) => void): Promise<EvaluationRecord> {
  let imported;
  try {
    imported = await importTfjs(modelFilesOf(req.files));
  } catch (err) {
    throw new EngineError('E_CONFIG', `these files are not a studio model: ${(err as Error).message}`);
  }
  const { model, metadata } = imported;
  try {
    const id = `model:${metadata.name ? `${metadata.name}@${metadata.version}` : metadata.modelId}`;
    const on = onClassNames(host.imported(req.fingerprint), req.fingerprint, metadata.labels, metadata.inputSize, metadata.channels, `the model ${id.slice(6)}`);
    return await evaluateSubject(
      host,
      {
        ...on,
        id,
        model,
        modelName: metadata.modelId,
        normalization: metadata.preprocessing,
        tta: metadata.tta ? metadata.tta.kind : 'none',
        checkpoint: null,
        batchSize: req.batchSize ?? 32,
        seed: 42,
        info: { ...on.external, temperatureFittedOn: metadata.operatingPoint?.validationImages ?? 0 },
        fitted: metadata.operatingPoint ? { temperature: metadata.operatingPoint.temperature, operatingPoint: operatingPointOf(metadata.operatingPoint, metadata.labels) } : undefined,
      },
      req,
      onEvent,
    );
  } finally {
    model.dispose();
  }
}

/** What is evaluated on what: a run's checkpoint on its split or another folder, or a model folder on a folder. */
interface Subject {
  /** The key the evaluation is stored under (a run id, or `model:…`). */
  id: string;
  model: tf.LayersModel;
  modelName: string;
  normalization: ChannelStats;
  /** How the model answers: the image alone, or averaged with its mirror (the run's config or the model's metadata). */
  tta: TestTimeAugmentation;
  checkpoint: EvaluationRecord['checkpoint'];
  batchSize: number;
  /** Seeds the latency sample and the bootstrap. */
  seed: number;
  data: TensorDataset;
  classes: string[];
  keys: readonly string[];
  split: { val: number[]; test: number[] };
  info: EvaluationRecord['data'];
  crossSplit?: MedicalContext['crossSplit'];
  trainCounts?: number[];
  /** For another folder: the run's own validation labels and logits (its best epoch's), to fit the temperature and operating point on. */
  storedValidation?: { labels: number[]; logits: number[] };
  /** For a model folder: the temperature and operating point its metadata carries. */
  fitted?: EvaluationInput['fitted'];
}

/** Batched inference for the figures, a batch-of-one pass for latency, the metrics and the medical validation; stored. */
async function evaluateSubject(host: EvaluateHost, s: Subject, req: Pick<EvaluateRequest, 'latencySamples' | 'thresholds' | 'robustness' | 'targetSensitivity'>, onEvent: (e: EvaluateEvent) => void): Promise<EvaluationRecord> {
  const { data, split, model, batchSize } = s;
  const K = data.numClasses;
  const targetProblem = req.targetSensitivity === undefined ? null : checkTargetSensitivity(req.targetSensitivity);
  if (targetProblem) throw new EngineError('E_CONFIG', targetProblem);
  onEvent({ type: 'start', runId: s.id, checkpointEpoch: s.checkpoint?.epoch ?? null, test: split.test.length, val: split.val.length || (s.storedValidation?.labels.length ?? 0) });
  const source = imageBatchSource(data);
  const preprocess = normalizeWith(s.normalization);
  /** Logits of images; `alter` corrupts the pixels first (robustness), returning a new tensor. */
  const forward = (indices: readonly number[], alter?: (x: tf.Tensor4D) => tf.Tensor4D) => {
    const { x, y } = source.batch(indices);
    try {
      return tf.tidy(() => predictLogits(model, preprocess(alter ? alter(x as tf.Tensor4D) : (x as tf.Tensor4D)) as tf.Tensor4D, s.tta));
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
  const sample = shuffle([...split.test], mulberry32(deriveSeed(s.seed, 'latency'))).slice(0, Math.max(1, req.latencySamples ?? 100));
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
  const robustnessSeed = deriveSeed(s.seed, 'robustness');
  const measureRobustness = async (): Promise<RobustnessRow[]> => {
    const rows: RobustnessRow[] = [];
    for (const p of PERTURBATIONS) {
      for (const [k, level] of p.levels.entries()) {
        let correct = 0;
        for (let start = 0; start < split.test.length; start += batchSize) {
          if (host.shouldStop()) throw new EngineError('E_CANCELLED', 'the evaluation was cancelled; nothing was stored');
          const logits = forward(split.test.slice(start, start + batchSize), (x) => perturb(x, p.kind, level, deriveSeed(robustnessSeed, p.kind, k, start)));
          const predicted = tf.tidy(() => logits.argMax(-1));
          logits.dispose();
          (await predicted.data()).forEach((c, j) => void (correct += Number(c === testLabels[start + j])));
          predicted.dispose();
          await host.yieldToHost();
        }
        rows.push({ kind: p.kind, label: p.label, unit: p.unit, severity: (k + 1) as 1 | 2 | 3, level, accuracy: correct / split.test.length });
        onEvent({ type: 'progress', phase: 'robustness', done: rows.length, total: PERTURBATIONS.length * p.levels.length });
      }
    }
    return rows;
  };
  const rows = req.robustness ? await measureRobustness() : null;
  const metrics = evaluate({
    classes: s.classes,
    labels: testLabels,
    logits: testLogits,
    val: split.val.length ? { labels: Int32Array.from(split.val, (i) => data.labels[i]), logits: valLogits } : s.storedValidation,
    screening: { targetSensitivity: req.targetSensitivity ?? DEFAULT_TARGET_SENSITIVITY, tumourClasses: req.thresholds?.tumourClasses },
    fitted: s.fitted,
    latencyMs,
    throughput,
    bootstrap: { seed: s.seed },
  });
  const evaluation: EvaluationRecord = {
    runId: s.id,
    evaluatedAt: new Date().toISOString(),
    checkpoint: s.checkpoint,
    model: s.modelName,
    backend: host.backend.name,
    data: s.info,
    metrics,
    medical: medicalValidation(metrics, { thresholds: req.thresholds, crossSplit: s.crossSplit, trainCounts: s.trainCounts }),
    latencyMethod: `${s.tta === 'flip' ? 'the image and its mirror in one batch of two' : 'batch of one'}, from upload to probabilities read back, on ${latencyMs.length} test images after ${Math.min(WARMUP, sample.length)} untimed warm-up images (${host.backend.name}${host.backend.adapter ? `, ${host.backend.adapter.description || host.backend.adapter.vendor}` : ''})`,
    predictions: predictionsOf(split.test, testLabels, testLogits, K, s.keys, metrics.operatingPoint?.thresholds),
    ...(rows ? { robustness: { baseline: metrics.report.accuracy, images: split.test.length, seed: robustnessSeed, backend: host.backend.name, rows } } : {}),
  };
  await saveEvaluation(host.db, evaluation);
  onEvent({ type: 'done', evaluation });
  return evaluation;
}

/**
 * Another folder as an external test set: every image of a class the model was trained on is evaluated, labelled by
 * class name (the folder's classes may come in another order or be fewer); class folders the model does not know
 * are kept out and reported with their image counts. The folder has no validation split: the temperature and operating
 * point come from the run (or the model folder's metadata), see externalData.
 */
function onClassNames(folder: ReturnType<EvaluateHost['imported']>, fingerprint: string, known: string[], size: number | undefined, channels: number | undefined, who: string) {
  const { data, classes, keys, name } = folder;
  if ((size !== undefined && data.imageSize !== size) || (channels !== undefined && data.channels !== channels)) {
    throw new EngineError('E_DATASET', `"${name}" was imported at ${data.imageSize} px with ${data.channels} channels, but ${who} takes ${size} px with ${channels}: import it with those settings`);
  }
  const toKnown = classes.map((c) => known.indexOf(c));
  const labels = Int32Array.from(data.labels, (l) => toKnown[l]);
  const test = Array.from(labels.keys()).filter((i) => labels[i] >= 0);
  const unknownClasses = classes.flatMap((c, k) => (toKnown[k] >= 0 ? [] : [{ name: c, images: data.labels.filter((l) => l === k).length }]));
  if (test.length === 0) throw new EngineError('E_DATASET', `none of the class folders of "${name}" (${classes.join(', ')}) is a class ${who} was trained on (${known.join(', ')})`);
  return {
    data: { ...data, labels, numClasses: known.length },
    classes: known,
    keys,
    split: { val: [] as number[], test },
    external: { kind: 'folder' as const, name, fingerprint, split: 'external' as const, images: test.length, temperatureFittedOn: 0, unknownClasses, ...(folder.notEvaluated ? { notEvaluated: folder.notEvaluated } : {}) },
  };
}

/**
 * A run on another folder: its classes, input settings and training statistics (normalised as at training time),
 * and the validation labels and logits the run stored at its best epoch, when the best checkpoint is the one
 * evaluated: the temperature and the operating point are fitted on the run's own validation split, never on the
 * folder being evaluated.
 */
async function externalData(host: EvaluateHost, run: RunRecord, fingerprint: string, epoch: number) {
  const demo = run.config.dataset.kind === 'demo' ? run.config.dataset : null;
  const size = demo ? demo.imageSize : run.dataset?.importOptions?.imageSize;
  const channels = demo ? 3 : run.dataset?.importOptions?.channels;
  const on = onClassNames(host.imported(fingerprint), fingerprint, run.classes, size, channels, `run ${run.runId}`);
  const v = run.bestValidation;
  const storedValidation = v?.labels && v.logits && v.epoch === epoch ? { labels: v.labels, logits: v.logits } : undefined;
  // A demo run's statistics are recomputed from its seed (they are not stored with the run).
  return {
    ...on,
    external: { ...on.external, temperatureFittedOn: storedValidation?.labels.length ?? 0 },
    storedValidation,
    normalization: run.dataset?.normalization ?? (await host.prepare(run.config)).normalization,
  };
}

/** A folder run is evaluated only on the very split it was trained with: same files, same split settings. */
export function checkSameSplit(run: RunRecord, splitId: string | undefined): void {
  const want = run.dataset?.splitId;
  if (want && splitId && want !== splitId) {
    throw new EngineError('E_DATASET', `the imported folder is split differently from run ${run.runId}'s (other seed, fractions, classes or grouping): its test images could have been trained on. Import it with the run's settings`);
  }
}

function predictionsOf(indices: number[], labels: Int32Array, logits: Float32Array, K: number, keys: readonly string[], thresholds?: (number | null)[]): EvaluatedImage[] {
  const probs = softmax(logits, K);
  const { predicted } = topClass(probs, K);
  const screened = thresholds && decide(probs, K, thresholds);
  return indices.map((idx, j) => ({ key: keys[idx], label: labels[j], predicted: predicted[j], ...(screened ? { screened: screened[j] } : {}), probs: Array.from(probs.subarray(j * K, (j + 1) * K)) }));
}

/**
 * The report files of a stored evaluation (see src/core/metrics/files.ts and charts.ts), as the CLI writes them and
 * the UI exports them: the PNG charts are drawn here, on an OffscreenCanvas, where there is one (a browser's worker;
 * Node has none, and its reports carry the text files only).
 */
export async function evaluationFiles(ev: EvaluationRecord, opts: ReportOptions = {}): Promise<ReportFile[]> {
  const fingerprint = ev.data.fingerprint ? ` (fingerprint ${ev.data.fingerprint.slice(0, 12)}…)` : '';
  const checkpoint = ev.checkpoint ? `checkpoint ${ev.checkpoint.kind} (epoch ${ev.checkpoint.epoch})` : 'exported model folder';
  const fittedOn = ev.data.temperatureFittedOn
    ? `temperature and operating point fitted on ${ev.checkpoint ? 'the run\'s own' : 'the model\'s'} ${ev.data.temperatureFittedOn} validation images`
    : ev.checkpoint?.kind === 'last'
      ? 'no temperature scaling or operating point (the run keeps the validation outputs of its best checkpoint only)'
      : 'no temperature scaling or operating point (no validation outputs were stored with this model: train it again to have them)';
  const notEvaluated = ev.data.notEvaluated ? `; ${ev.data.notEvaluated} images in its other split folders were not evaluated (only its test folder is)` : '';
  const data =
    ev.data.split === 'external'
      ? `the folder "${ev.data.name}"${fingerprint}, ${checkpoint}; ${fittedOn}${notEvaluated}`
      : `test split of ${ev.data.kind === 'demo' ? 'the demo phantoms' : `"${ev.data.name}"`}${fingerprint}, ${checkpoint}; temperature and operating point fitted on ${ev.data.temperatureFittedOn} validation images`;
  const unknown = ev.data.unknownClasses ?? [];
  const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
  const classes = ev.metrics.classes;
  const names = reportImageNames(ev.predictions, opts.includeFileNames ?? false);
  const charts = typeof OffscreenCanvas === 'undefined' ? [] : await Promise.all(reportCharts(ev.metrics).map(async (c) => ({ name: c.file, bytes: await renderChartPng(c) })));
  return [
    { name: 'evaluation_metrics.json', text: json({ ...evaluationMetricsJson(ev.metrics, ev.robustness), evaluated_on: ev.data.split, ...(ev.data.split === 'external' ? { unknown_classes: Object.fromEntries(unknown.map((c) => [c.name, c.images])) } : {}) }) },
    { name: 'medical_validation.json', text: json(medicalValidationJson(ev.medical)) },
    {
      name: 'evaluation_report.md',
      text: evaluationReportMarkdown(ev.metrics, ev.medical, { runId: ev.runId, model: ev.model, data, backend: ev.backend, date: ev.evaluatedAt, latencyMethod: ev.latencyMethod, unknownClasses: unknown, charts: charts.map((c) => c.name), misclassified: misclassified(classes, ev.predictions, names) }, ev.robustness),
    },
    { name: 'predictions.csv', text: predictionsCsv(classes, ev.predictions, names) },
    ...charts,
  ];
}

/**
 * Thumbnails of a run's evaluated images (a confusion cell's gallery): the demo's are regenerated from the run's
 * seed, a folder run's come from its imported folder, an external evaluation's from the folder it was evaluated
 * on. At most 200 per call, like `thumbnails`.
 */
export async function evaluationThumbnails(host: Pick<EvaluateHost, 'db' | 'prepare' | 'imported'>, runId: string, keys: string[], size: number): Promise<Thumbnail[]> {
  const run = await getRun(host.db, runId);
  if (!run) throw new EngineError('E_NOT_FOUND', `there is no run ${runId}`);
  const evaluated = (await getEvaluation(host.db, runId))?.data;
  let prepared: { data: TensorDataset; keys: readonly string[] };
  if (evaluated?.split === 'external' && evaluated.fingerprint) {
    prepared = host.imported(evaluated.fingerprint);
  } else {
    const own = await host.prepare(run.config);
    checkSameSplit(run, own.dataset?.splitId);
    prepared = own;
  }
  const index = new Map(prepared.keys.map((k, i) => [k, i]));
  const { images, imageSize, channels } = prepared.data;
  return keys.slice(0, 200).flatMap((key) => {
    const i = index.get(key);
    return i === undefined ? [] : [thumbnailOf(images, imageSize, channels, i, key, size)];
  });
}
