/**
 * Training and evaluation: runs (new, resumed, moved off WebGL), evaluations, Grad-CAM, cross-validation, the speed
 * probe, the backend measurement and the memory estimate. The engine hands it what it needs through RunHost and
 * delegates to it; each piece of work claims the engine (claim.ts) for as long as it uses the backend.
 */
import * as tf from '@tensorflow/tfjs';
import type { MemoryEstimate } from '../src/core/models/memory';
import { BACKEND_LABEL, cachesFeatures, forwardBackend, type BackendMeasurement, type RunWork } from '../src/core/routing';
import { resolveTrainConfig } from '../src/core/settings/resolve';
import { augmentDefault, isAugmentIdentity } from '../src/core/settings/augment';
import { checkpointToStore, loadCheckpoint, type Checkpoint } from '../src/core/store/checkpoints';
import { getEvaluation, getRun, saveRun, type StudioDB } from '../src/core/store/db';
import type { Zoo } from '../src/core/models/zoo';
import { getMeasurement } from '../src/core/store/measurements';
import { checkpointMetrics } from '../src/core/store/run-status';
import { bestValidationRecord } from '../src/core/metrics/operating-point';
import { inverseFrequencyClassWeights, isImbalanced } from '../src/core/train/losses';
import { compileOnWebGPU, compilesAhead } from '../src/core/train/compile-ahead';
import { planPhases } from '../src/core/train/phases';
import type { RunRecord, TrainConfig } from '../src/core/train/types';
import { EngineError, isOutOfMemory } from '../src/engine/errors';
import type { BackendInfo, BackendName, CrossValidationEvent, CrossValidationRequest, CrossValidationResult, EvaluateEvent, EvaluateRequest, EvaluationRecord, GradCam, GradCamRequest, MeasureProgress, ModelEvaluateRequest, ReportFile, ReportOptions, SpeedProbe, Thumbnail, TrainEvent } from '../src/engine/types';
import { gpuDeviceLoss, isShaderFailure, onBackend, releaseWebGL, routeRun, useBackend, webglContextLost } from './backend';
import type { BackendChoice } from './backend-choice';
import { checkConfig, checkPhases, zooEntry } from './checks';
import type { Claims } from './claim';
import { crossValidate } from './crossval';
import { evaluateModelFolder, evaluateRun, evaluationFiles, evaluationThumbnails, type EvaluateHost } from './evaluate';
import { explain, type GradCamHost } from './gradcam';
import { candidatesFor, measureBackends, measuredRouting } from './measure';
import { MemoryEstimator } from './memory';
import { browserBackboneLoader, buildModel, resolveOptimizer, resolveStrategy } from './models';
import { trainInPhases } from './phases';
import { RunControl } from './run-control';
import { RunLocks } from './run-lock';
import { probeModel } from './speed';
import { loadTorchvisionState } from './torch-weights';
import { validationSampler } from './val-samples';
import type { Prepared } from './datasets';

/** A run's images, labels, split and normalisation, as the engine prepares them from its config (demo or imported). */
/** What the executor takes from the engine. */
export interface RunHost {
  backends: BackendChoice;
  claims: Claims;
  database(): Promise<StudioDB>;
  prepare(cfg: TrainConfig): Promise<Prepared>;
  /** The dataset imported in this session with this fingerprint, whole (an external test set). */
  importedWhole: EvaluateHost['imported'];
  /** The input and class count a config's model is built for: the demo's, or the imported dataset's (E_NOT_FOUND when it is not). */
  inputShape(cfg: TrainConfig): InputShape;
  decode: GradCamHost['decode'];
  registry: GradCamHost['registry'];
  /** The engine's zoo, imported backbones included, once the database has been read. */
  zoo(): Promise<Zoo>;
}

type InputShape = { imageSize: number; channels: number; numClasses: number };

const newRunId = () => `run-${new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}-${Math.random().toString(36).slice(2, 8)}`;

/** Lets the worker's event loop deliver messages (a cancel) between batches. */
const yieldToHost = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** What a WebGL shader failure means for a run, in the words its error and its move to another backend share. */
const webglCannotBuild = (cfg: TrainConfig) => `WebGL could not build the shaders that ${cfg.model} needs on this GPU${webglContextLost() ? ' (its context was lost)' : ''}`;

export class RunExecutor {
  /** The run, evaluation or Grad-CAM in flight, for cancel, pause and unpause (the claims keep them apart). */
  private running: RunControl | null = null;
  /** The cross-validation in progress, for cancel. */
  private crossval: { id: string; stop: boolean } | null = null;
  private readonly memory = new MemoryEstimator();
  /** Each run's lock, held while this worker trains it, so no other tab trains it meanwhile (see run-lock.ts). */
  readonly locks = new RunLocks();

  constructor(private readonly host: RunHost) {}

  async train(cfg: TrainConfig, onEvent: (e: TrainEvent) => void): Promise<RunRecord> {
    checkConfig(cfg);
    const entry = zooEntry(await this.host.zoo(), cfg.model);
    checkPhases(cfg, resolveStrategy(cfg, entry));
    const runId = newRunId();
    // A cross-validation's own folds are the runs it lets train (see claim.ts).
    return this.locks.hold(runId, () => this.execute(runId, cfg.crossValidation?.id, this.locks.announce(onEvent), async (backend) => ({
      run: {
        runId,
        status: 'running',
        startedAt: new Date().toISOString(),
        endedAt: null,
        config: cfg,
        backend: backend.name,
        adapter: backend.adapter,
        model: cfg.model,
        strategy: resolveStrategy(cfg, entry),
        // The optimiser the build will choose (it replaces this once built), not a placeholder a failed build leaves.
        optimizer: resolveOptimizer(cfg, entry, resolveStrategy(cfg, entry)),
        checkpoint: { best: null, last: null },
        classes: [],
        split: { train: 0, val: 0, test: 0 },
        epochs: [],
        best: null,
        ...(cfg.crossValidation ? { tags: [`cv:${cfg.crossValidation.id}`, `fold ${cfg.crossValidation.fold}/${cfg.crossValidation.folds}`] } : {}),
      },
      checkpoint: null,
    })));
  }

  async resume(runId: string, onEvent: (e: TrainEvent) => void): Promise<RunRecord> {
    // The lock first: while another tab trains the run, its record is not this tab's to read or write.
    return this.locks.hold(runId, () => this.execute(runId, undefined, this.locks.announce(onEvent), (backend) => this.reopen(runId, backend)));
  }

  /**
   * A stored run, opened to continue from its last checkpoint. `movedBecause` (a run moved to another backend, see
   * execute) starts one with no checkpoint again from its first epoch, where Resume refuses it.
   */
  private async reopen(runId: string, backend: BackendInfo, movedBecause?: string): Promise<{ run: RunRecord; checkpoint: Checkpoint | null }> {
    const db = await this.host.database();
    const run = await getRun(db, runId);
    if (!run) throw new EngineError('E_NOT_FOUND', `there is no run ${runId}`);
    if (run.status === 'completed') throw new EngineError('E_CONFIG', `run ${runId} has completed; there is nothing to resume`);
    const checkpoint = run.checkpoint?.last ? await loadCheckpoint(db, runId, 'last') : undefined;
    if (!checkpoint && !movedBecause) throw new EngineError('E_NOT_FOUND', `run ${runId} stopped before its first epoch ended, so it has no checkpoint to resume from; start it again`);
    if (!movedBecause && run.config.dataset.kind === 'folder') {
      // Checked before the run is touched, so a refusal leaves it resumable: a run continued on another split (a
      // Re-split, another seed) would validate on images it trained on.
      const held = (await this.host.prepare(run.config)).dataset?.splitId;
      const want = run.dataset?.splitId;
      if (want && held && want !== held) throw new EngineError('E_DATASET', `the imported folder is split differently from run ${runId}'s (other seed, fractions, classes or grouping); import it with the run's settings to resume it`);
    }
    // Epochs after the checkpoint would be redone, so they are dropped; the checkpoint's own epoch is missing from a
    // record cut off between the two writes (see withStoredCheckpoints), and its metrics are in the checkpoint.
    const epochs = checkpoint ? [...run.epochs.filter((m) => m.epoch < checkpoint.epoch), run.epochs.find((m) => m.epoch === checkpoint.epoch) ?? checkpointMetrics(run, checkpoint.metrics)] : [];
    const resumed = { at: new Date().toISOString(), fromEpoch: checkpoint?.epoch ?? 0, ...(movedBecause ? { reason: movedBecause } : {}) };
    return {
      run: { ...run, status: 'running', endedAt: null, error: undefined, backend: backend.name, adapter: backend.adapter, epochs, resumes: [...(run.resumes ?? []), resumed] },
      checkpoint: checkpoint ?? null,
    };
  }

  /** Runs (or continues) a run; `open` builds its record, and the checkpoint to continue from, once the run is claimed. */
  private async execute(runId: string, partOf: string | undefined, onEvent: (e: TrainEvent) => void, open: (backend: BackendInfo) => Promise<{ run: RunRecord; checkpoint: Checkpoint | null }>): Promise<RunRecord> {
    // Claimed before the first await, so a second call made meanwhile is refused; a speed probe in flight ends first.
    const claim = this.host.claims.claim('train', runId, partOf);
    const control = (this.running = new RunControl(runId));
    let run: RunRecord;
    let resumeFrom: Checkpoint | null;
    let backend: BackendInfo;
    try {
      await claim.ready;
      backend = await this.host.backends.current();
      ({ run, checkpoint: resumeFrom } = await open(backend));
    } catch (err) {
      this.running = null;
      claim.release();
      throw err;
    }
    const cfg = run.config;
    // Every optional setting resolved once (src/core/settings/resolve.ts); the stored config stays as given.
    const full = resolveTrainConfig(cfg);
    let db: StudioDB | null = null;
    let model: tf.LayersModel | null = null;
    const requested = cfg.augment === 'default' ? augmentDefault : cfg.augment;
    const augment = requested && !isAugmentIdentity(requested) ? requested : undefined;
    const work = { strategy: run.strategy, augment: Boolean(augment), cacheFeatures: full.featureCache !== 'off' };
    // Set when WebGL could not build this run's shaders in auto mode and another backend can take the run over.
    let movedBecause: string | null = null;
    try {
      // Work that no backend here can train is refused before the data is prepared.
      routeRun(backend, work);
      // A lost context cannot run anything; a fresh backend gets a new one.
      if (webglContextLost()) await releaseWebGL();
      db = await this.host.database();
      const store = db;
      const prepared = await this.host.prepare(cfg);
      const { data, split } = prepared;
      const zoo = await this.host.zoo();
      const routing = (run.routing = await measuredRouting(store, zoo, backend, { cfg, data, work }, (p) => onEvent({ type: 'measure', ...p })));
      run.classes = prepared.classes;
      run.split = { train: split.train.length, val: split.val.length, test: split.test.length };
      if (prepared.dataset) run.dataset = prepared.dataset;
      await saveRun(store, run);
      const batchesPerEpoch = Math.ceil(((cfg.mirrorTraining ? 2 : 1) * split.train.length) / cfg.batchSize);
      onEvent({ type: 'start', runId: run.runId, classes: run.classes, split: run.split, totalBatches: batchesPerEpoch * (cfg.epochs - (resumeFrom?.epoch ?? 0)), backend, routing, resumedFrom: resumeFrom?.epoch ?? null });

      const trainCounts = Array.from({ length: data.numClasses }, (_, k) => split.train.filter((i) => data.labels[i] === k).length);
      // The seed balanced classes by default; weights are recorded so a resumed run (and the report) uses the same.
      if (cfg.classWeights === 'auto' && isImbalanced(trainCounts)) run.classWeights = inverseFrequencyClassWeights(trainCounts);
      // Weights are created on the backend that uses them first; later work moves them on use.
      await useBackend(cachesFeatures(work) ? routing.forward : routing.train);
      const built = await buildModel(zoo, cfg, data, prepared.normalization, browserBackboneLoader(store), (entry) => loadTorchvisionState(entry, store, (p) => onEvent({ type: 'weights', ...p })));
      model = built.model;
      run.optimizer = built.optimizer;
      run.input = { imageSize: data.imageSize, channels: data.channels as 1 | 3, normalization: built.normalization };
      let validated: { epoch: number; predicted: Int32Array; logits: Float32Array } | null = null;
      const samples = validationSampler(data, split.val, (i) => prepared.keys[i]);
      const result = await trainInPhases({
        model,
        classifier: built.classifier,
        phases: planPhases(cfg, built.strategy),
        optimizer: built.optimizer,
        lrSchedule: cfg.lrSchedule,
        data,
        split,
        earlyStopping: full.earlyStopping,
        saveEveryEpochs: full.saveEveryEpochs,
        keepEpoch: full.keepEpoch,
        resumeFrom,
        // The frozen part maps each image to the same activations every epoch only without augmentation.
        cacheFeatures: !augment && full.featureCache !== 'off',
        save: (optimizer, best) => {
          const toStore = checkpointToStore(store, built.model, optimizer, { runId: run.runId, config: cfg, best });
          return async (kind, epoch, metrics, state) => {
            await toStore.save(kind, epoch, metrics, state);
            if (kind === 'last') run.checkpoint.last = epoch;
            if (kind === 'best') {
              run.checkpoint.best = epoch;
              run.best = { epoch, valAccuracy: metrics.valAccuracy };
              if (validated?.epoch === epoch) run.bestValidation = bestValidationRecord(run.classes, epoch, split.val.map((i) => data.labels[i]), validated.predicted, validated.logits);
            }
          };
        },
        onFeatureProgress: (done, total) => onEvent({ type: 'features', done, total }),
        onPhase: async (phase, cache) => {
          if (phase.name === null) {
            if (cache) run.featureCache = cache;
            return;
          }
          const phases = (run.phases ?? []).filter((p) => p.fromEpoch < phase.fromEpoch);
          run.phases = [...phases, { name: phase.name, fromEpoch: phase.fromEpoch, toEpoch: phase.toEpoch, trainableBlocks: phase.trainableBlocks ?? 'all', learningRate: phase.learningRate, ...(cache ? { featureCache: cache } : {}) }];
          await saveRun(store, run);
        },
        trainer: {
          batchSize: cfg.batchSize,
          seed: cfg.seed,
          normalization: built.normalization,
          augment,
          clipNorm: full.clipNorm === 0 ? undefined : full.clipNorm,
          classWeights: run.classWeights,
          labelSmoothing: full.labelSmoothing,
          tta: full.tta,
          mirrorTraining: full.mirrorTraining,
          onBatch: (e) => onEvent({ type: 'batch', ...e }),
          onEpoch: async (metrics) => {
            run.epochs.push(metrics);
            await saveRun(store, run);
            const predicted = validated?.epoch === metrics.epoch ? validated.predicted : null;
            onEvent({ type: 'epoch', metrics, numTensors: tf.memory().numTensors, numBytes: tf.memory().numBytes, ...(predicted ? { samples: samples(predicted) } : {}) });
          },
          shouldStop: () => control.stop,
          yieldToHost,
          waitWhilePaused: (flush) =>
            control.waitWhilePaused(async (paused) => {
              run.status = paused ? 'paused' : 'running';
              await saveRun(store, run);
              onEvent({ type: 'paused', paused });
            }, flush),
          validateOn: (validate) => onBackend(routing.forward, validate),
          onValidation: (epoch, predicted, logits) => void (validated = { epoch, predicted, logits }),
        },
        // A frozen part's activations are forward work; the trainable part trains where convolution gradients run.
        onForward: (work) => onBackend(routing.forward, work),
        onTrain: () => useBackend(routing.train),
        ...(compilesAhead(full.compileAhead, routing.train, backend.adapter)
          ? {
              compileAhead: {
                // Fatal, by name: a failed trace leaves pipelines pending in TF.js's cache, which the step would then refuse.
                compile: (trace) =>
                  compileOnWebGPU(trace).catch((err: unknown) => {
                    throw new EngineError('E_BACKEND', `compiling the first step's WebGPU shaders ahead failed (${err instanceof Error ? err.message : String(err)}); train with compileAhead 'off' (the CLI's --compile-ahead off) to compile them as they run`);
                  }),
                onStart: () => onEvent({ type: 'compile', compiled: null }),
                onCompiled: (c) => {
                  // Summed over the phases: an unfrozen phase compiles the gradients of the blocks it adds.
                  run.compiledAhead = { programs: (run.compiledAhead?.programs ?? 0) + c.programs, seconds: (run.compiledAhead?.seconds ?? 0) + c.seconds };
                  onEvent({ type: 'compile', compiled: c });
                },
              },
            }
          : {}),
      });
      run.status = result.stopped ? 'cancelled' : 'completed';
    } catch (thrown) {
      const loss = await gpuDeviceLoss();
      if (loss) {
        // Not the run's failure: its checkpoints stand, and the fresh worker that replaces this one resumes it.
        run.status = 'interrupted';
        throw new EngineError('E_WORKER_LOST', `the engine worker stopped: ${loss}`);
      }
      movedBecause = isShaderFailure(thrown) ? this.moveOffWebGL(cfg, backend, work, thrown as Error) : null;
      if (movedBecause) {
        run.status = 'interrupted';
      } else {
        const err = isOutOfMemory(thrown)
          ? new EngineError('E_MEMORY', `the ${BACKEND_LABEL[tf.getBackend() as BackendName] ?? tf.getBackend()} backend ran out of memory training ${cfg.model} on batches of ${cfg.batchSize}${run.input ? ` at ${run.input.imageSize} px` : ''}; choose a smaller batch size or image size (the browser said: ${(thrown as Error).message})`)
          : isShaderFailure(thrown)
            ? this.shaderFailure(cfg, backend, thrown as Error)
            : thrown;
        run.status = 'failed';
        run.error = err instanceof Error ? err.message : String(err);
        throw err;
      }
    } finally {
      run.endedAt = new Date().toISOString();
      model?.dispose();
      await useBackend(backend.name);
      await releaseWebGL();
      this.running = null;
      claim.release();
      if (db) await saveRun(db, run);
    }
    // The same run, continued from its last checkpoint (or from its start) where routing now sends it.
    if (movedBecause) return this.execute(runId, partOf, onEvent, (b) => this.reopen(runId, b, movedBecause!));
    onEvent({ type: 'done', run });
    return run;
  }

  /**
   * Auto mode, WebGL could not compile or link a shader of the run: WebGL is refused for the rest of this page (its
   * backend is reset when the run ends anyway), and the run moves on to where routing then sends it. Returns why, or
   * null when the run cannot move (a forced backend, or no other backend that can train it).
   */
  private moveOffWebGL(cfg: TrainConfig, info: BackendInfo, work: RunWork, err: Error): string | null {
    if (info.requested !== 'auto' || info.refused?.some((r) => r.name === 'webgl')) return null;
    const reason = `${webglCannotBuild(cfg)}: ${err.message}`;
    const refusing = { ...info, refused: [...(info.refused ?? []), { name: 'webgl' as const, reason }] };
    try {
      routeRun(refusing, work);
    } catch {
      return null;
    }
    this.host.backends.replace(info, refusing);
    return reason;
  }

  /**
   * WebGL could not compile or link a shader of the run and the run could not move to another backend. Said as
   * E_BACKEND with what to do, the driver's words kept for the details.
   */
  private shaderFailure(cfg: TrainConfig, info: BackendInfo, err: Error): EngineError {
    const next = info.requested === 'auto' ? 'no other backend that started here can train it' : 'choose another backend (auto, CPU or WebGPU) in the settings and resume this run or start it again';
    return new EngineError('E_BACKEND', `${webglCannotBuild(cfg)}; ${next}`, `${err.message} (${info.adapter?.description ?? 'unknown adapter'})`);
  }

  async cancel(runId: string): Promise<void> {
    if (this.crossval?.id === runId) {
      this.crossval.stop = true;
      this.running?.cancel();
    }
    if (this.running?.runId === runId) this.running.cancel();
  }

  async pause(runId: string): Promise<void> {
    if (this.running?.runId === runId) this.running.pause();
  }

  async unpause(runId: string): Promise<void> {
    if (this.running?.runId === runId) this.running.unpause();
  }

  async evaluate(req: EvaluateRequest, onEvent: (e: EvaluateEvent) => void): Promise<EvaluationRecord> {
    // A cross-validation's own folds are the runs it lets be evaluated (see claim.ts).
    const partOf = this.crossval ? (await getRun(await this.host.database(), req.runId))?.config.crossValidation?.id : undefined;
    return this.evaluating(req.runId, partOf, (host) => evaluateRun(host, req, onEvent));
  }

  evaluateModel(req: ModelEvaluateRequest, onEvent: (e: EvaluateEvent) => void): Promise<EvaluationRecord> {
    return this.evaluating('model', undefined, (host) => evaluateModelFolder(host, req, onEvent));
  }

  /** Claims the engine like a run does, so training and evaluation never share the backend, and cancel(id) stops it. */
  private async evaluating(id: string, partOf: string | undefined, work: (host: EvaluateHost) => Promise<EvaluationRecord>): Promise<EvaluationRecord> {
    const claim = this.host.claims.claim('evaluate', id, partOf);
    const control = (this.running = new RunControl(id));
    try {
      await claim.ready;
      const backend = await this.forwardInfo();
      const host: EvaluateHost = { db: await this.host.database(), zoo: await this.host.zoo(), backend, prepare: (cfg) => this.host.prepare(cfg), imported: (fp) => this.host.importedWhole(fp), shouldStop: () => control.stop, yieldToHost };
      return await onBackend(backend.name, () => work(host));
    } finally {
      await releaseWebGL();
      this.running = null;
      claim.release();
    }
  }

  /** The backend that forward-only work (evaluation, prediction) runs on, described as the UI and reports show it. */
  async forwardInfo(): Promise<BackendInfo> {
    const b = await this.host.backends.current();
    const name = forwardBackend({ requested: b.requested, selected: b.name, adapter: b.adapter, available: b.available, refused: b.refused?.map((r) => r.name) });
    // The adapter describes the GPU backends only; WASM and CPU work on the CPU whatever the adapter is.
    return name === b.name ? b : { ...b, name, adapter: name === 'webgpu' || name === 'webgl' ? b.adapter : null };
  }

  async evaluation(runId: string): Promise<EvaluationRecord | null> {
    return (await getEvaluation(await this.host.database(), runId)) ?? null;
  }

  async evaluationThumbnails(runId: string, keys: string[], size: number): Promise<Thumbnail[]> {
    return evaluationThumbnails({ db: await this.host.database(), prepare: (cfg) => this.host.prepare(cfg), imported: (fp) => this.host.importedWhole(fp) }, runId, keys, size);
  }

  async evaluationReport(runId: string, opts?: ReportOptions): Promise<ReportFile[]> {
    const ev = await this.evaluation(runId);
    if (!ev) throw new EngineError('E_NOT_FOUND', `run ${runId} has not been evaluated yet`);
    return evaluationFiles(ev, opts);
  }

  async gradcam(req: GradCamRequest): Promise<GradCam> {
    // Claimed like a run: Grad-CAM switches the active backend, which a run in flight must not see.
    const claim = this.host.claims.claim('gradcam', 'gradcam');
    this.running = new RunControl('gradcam');
    try {
      await claim.ready;
      const { registry, decode } = this.host;
      return await explain({ db: await this.host.database(), zoo: await this.host.zoo(), backend: await this.host.backends.current(), prepare: (cfg) => this.host.prepare(cfg), registry, decode }, req);
    } finally {
      this.running = null;
      claim.release();
    }
  }

  async crossValidate(req: CrossValidationRequest, onEvent: (e: CrossValidationEvent) => void): Promise<CrossValidationResult> {
    const folds = req.folds ?? 5;
    const id = newRunId().replace(/^run-/, 'cv-');
    this.host.claims.check('crossval', id);
    // The whole config (folds included) is checked before the first fold trains.
    checkConfig({ ...req.config, crossValidation: { id, folds, fold: 1 } });
    const claim = this.host.claims.claim('crossval', id);
    const control = (this.crossval = { id, stop: false });
    try {
      await claim.ready;
      return await crossValidate({ train: (cfg, on) => this.train(cfg, on), evaluate: (r, on) => this.evaluate(r, on), stopped: () => control.stop }, id, req.config, folds, onEvent);
    } finally {
      this.crossval = null;
      claim.release();
    }
  }

  async estimateMemory(cfg: TrainConfig): Promise<MemoryEstimate> {
    checkConfig(cfg);
    const zoo = await this.host.zoo();
    zooEntry(zoo, cfg.model);
    const backend = await this.host.backends.current();
    return this.memory.estimate(zoo, cfg, this.host.inputShape(cfg), browserBackboneLoader(await this.host.database()), backend.name);
  }

  async probeSpeed(cfg: TrainConfig): Promise<SpeedProbe> {
    checkConfig(cfg);
    const zoo = await this.host.zoo();
    const entry = zooEntry(zoo, cfg.model);
    this.host.claims.check('probe');
    const backend = await this.host.backends.current();
    const data = this.host.inputShape(cfg);
    const routing = routeRun(backend, { strategy: resolveStrategy(cfg, entry), augment: false, cacheFeatures: false });
    return this.probe(backend, async () => {
      await useBackend(routing.train);
      const built = await buildModel(zoo, cfg, data, { mean: [0, 0, 0], std: [1, 1, 1] }, browserBackboneLoader(await this.host.database()));
      try {
        return await probeModel(built.model, cfg.batchSize, routing.train);
      } finally {
        built.model.dispose();
      }
    });
  }

  /**
   * Runs a timing probe alone: one probe at a time, refused while a run trains, and a run that starts meanwhile waits
   * for it (both switch the active backend, see claim.ts); `backend` is active again afterwards.
   */
  private async probe<T>(backend: BackendInfo, work: () => Promise<T>): Promise<T> {
    const claim = this.host.claims.claim('probe', 'probe');
    try {
      await claim.ready;
      return await work();
    } finally {
      await useBackend(backend.name);
      claim.release();
    }
  }

  /**
   * Times a few training steps of the model on each backend that could train it here, keeps the fastest for this
   * adapter (see workers/measure.ts) and returns the figures: "Re-measure", or a first measurement on demand. `key`
   * re-measures a stored measurement with the settings it was taken with.
   */
  async measureBackends(target: TrainConfig | { key: string }, onProgress?: (p: MeasureProgress) => void): Promise<BackendMeasurement> {
    let cfg: TrainConfig;
    let data: InputShape;
    if ('key' in target) {
      const stored = await getMeasurement(await this.host.database(), target.key);
      if (!stored) throw new EngineError('E_NOT_FOUND', `no backend measurement is stored as "${target.key}"`);
      ({ config: cfg } = stored);
      data = { imageSize: stored.imageSize, channels: stored.channels, numClasses: stored.classes };
    } else {
      cfg = target;
      checkConfig(cfg);
      data = this.host.inputShape(cfg);
    }
    this.host.claims.check('probe');
    const backend = await this.host.backends.current();
    const zoo = await this.host.zoo();
    const work = { strategy: resolveStrategy(cfg, zooEntry(zoo, cfg.model)), augment: false, cacheFeatures: false };
    const candidates = candidatesFor(backend, work);
    if (backend.requested !== 'auto') throw new EngineError('E_CONFIG', `the ${BACKEND_LABEL[backend.name]} backend was chosen, so every run stays on it: choose auto to measure the backends`);
    if (candidates.length < 2) throw new EngineError('E_CONFIG', `only ${candidates.map((b) => BACKEND_LABEL[b]).join(', ') || 'no backend'} can train ${cfg.model} here: there is nothing to measure`);
    return this.probe(backend, async () => {
      const measured = await measureBackends(await this.host.database(), zoo, backend, { cfg, data, work }, candidates, onProgress);
      if (!measured) throw new EngineError('E_BACKEND', `no backend could run a training step of ${cfg.model} here`);
      return measured;
    });
  }
}
