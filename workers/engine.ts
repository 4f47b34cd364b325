/** The engine behind the `Engine` interface: runs in a dedicated worker and owns every tensor. */
import * as tf from '@tensorflow/tfjs';
import { generateDemoDataset } from '../src/core/dataset/demo';
import { stratifiedSplit, validateFractions } from '../src/core/dataset/split';
import { channelStats } from '../src/core/dataset/stats';
import { buildSimpleCnn } from '../src/core/models/simple_cnn';
import { listRuns, openStudioDB, saveRun, type StudioDB } from '../src/core/store/db';
import { trainClassifier } from '../src/core/train/trainer';
import type { RunRecord, TrainConfig } from '../src/core/train/types';
import { EngineError } from '../src/engine/errors';
import type { BackendInfo, BackendName, Engine, TrainEvent } from '../src/engine/types';
import { selectBackend } from './backend';

function checkConfig(cfg: TrainConfig): void {
  const bad = (what: string) => {
    throw new EngineError('E_CONFIG', what);
  };
  if (!Number.isInteger(cfg.epochs) || cfg.epochs < 1 || cfg.epochs > 10000) bad(`epochs must be a whole number from 1 to 10000 (got ${cfg.epochs})`);
  if (!Number.isInteger(cfg.batchSize) || cfg.batchSize < 1 || cfg.batchSize > 4096) bad(`batch size must be a whole number from 1 to 4096 (got ${cfg.batchSize})`);
  if (!(cfg.learningRate > 0 && cfg.learningRate < 10)) bad(`learning rate must be a positive number below 10 (got ${cfg.learningRate})`);
  if (!Number.isInteger(cfg.seed)) bad(`seed must be a whole number (got ${cfg.seed})`);
  const split = validateFractions(cfg.split);
  if (split) bad(split);
  if (cfg.split.val <= 0) bad('the validation fraction must be above 0: the studio picks the best epoch on validation');
}

const newRunId = () => `run-${new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}-${Math.random().toString(36).slice(2, 8)}`;

/** Lets the worker's event loop deliver messages (a cancel) between batches. */
const yieldToHost = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export class StudioEngine implements Engine {
  private info: BackendInfo | null = null;
  private db: Promise<StudioDB> | null = null;
  private active: { runId: string; stop: boolean } | null = null;

  private database(): Promise<StudioDB> {
    this.db ??= openStudioDB();
    return this.db;
  }

  async init(backend: BackendName | 'auto'): Promise<BackendInfo> {
    if (this.active) throw new EngineError('E_BUSY', 'cannot switch backend while a run is training; cancel it first');
    this.info = await selectBackend(backend);
    return this.info;
  }

  async backend(): Promise<BackendInfo> {
    return this.info ?? this.init('auto');
  }

  async train(cfg: TrainConfig, onEvent: (e: TrainEvent) => void): Promise<RunRecord> {
    if (this.active) throw new EngineError('E_BUSY', `run ${this.active.runId} is still training; cancel it or wait for it to finish`);
    checkConfig(cfg);
    // Claimed before the first await, so a second call made meanwhile is refused.
    const control = { runId: newRunId(), stop: false };
    this.active = control;
    let backend: BackendInfo;
    try {
      backend = await this.backend();
    } catch (err) {
      this.active = null;
      throw err;
    }
    const run: RunRecord = {
      runId: control.runId,
      status: 'running',
      startedAt: new Date().toISOString(),
      endedAt: null,
      config: cfg,
      backend: backend.name,
      adapter: backend.adapter,
      model: cfg.model,
      classes: [],
      split: { train: 0, val: 0, test: 0 },
      epochs: [],
      best: null,
    };
    let db: StudioDB | null = null;
    let model: tf.LayersModel | null = null;
    let optimizer: tf.Optimizer | null = null;
    try {
      db = await this.database();
      const store = db;
      const data = (() => {
        try {
          return generateDemoDataset(cfg.dataset);
        } catch (err) {
          throw new EngineError('E_CONFIG', err instanceof Error ? err.message : String(err));
        }
      })();
      const split = stratifiedSplit(data.keys.map((key, i) => ({ key, label: data.labels[i] })), cfg.split, cfg.seed);
      run.classes = data.classes;
      run.split = { train: split.train.length, val: split.val.length, test: split.test.length };
      await saveRun(store, run);
      const batchesPerEpoch = Math.ceil(split.train.length / cfg.batchSize);
      onEvent({ type: 'start', runId: run.runId, classes: run.classes, split: run.split, totalBatches: batchesPerEpoch * cfg.epochs, backend });

      const size = data.imageSize;
      model = buildSimpleCnn({ imageSize: size, channels: data.channels, numClasses: data.classes.length, seed: cfg.seed });
      optimizer = tf.train.adam(cfg.learningRate);
      const result = await trainClassifier(
        model,
        optimizer,
        { images: data.images, labels: data.labels, imageSize: size, channels: data.channels, numClasses: data.classes.length },
        split,
        {
          epochs: cfg.epochs,
          batchSize: cfg.batchSize,
          seed: cfg.seed,
          normalization: channelStats(data.images, size * size, data.channels, split.train),
          onBatch: (e) => onEvent({ type: 'batch', ...e }),
          onEpoch: async (metrics) => {
            run.epochs.push(metrics);
            if (!run.best || metrics.valAccuracy > run.best.valAccuracy) run.best = { epoch: metrics.epoch, valAccuracy: metrics.valAccuracy };
            await saveRun(store, run);
            onEvent({ type: 'epoch', metrics, numTensors: tf.memory().numTensors });
          },
          shouldStop: () => control.stop,
          yieldToHost,
        },
      );
      run.status = result.stopped ? 'cancelled' : 'completed';
    } catch (err) {
      run.status = 'failed';
      run.error = err instanceof Error ? err.message : String(err);
      throw err;
    } finally {
      run.endedAt = new Date().toISOString();
      model?.dispose();
      optimizer?.dispose();
      this.active = null;
      if (db) await saveRun(db, run);
    }
    onEvent({ type: 'done', run });
    return run;
  }

  async cancel(runId: string): Promise<void> {
    if (this.active?.runId === runId) this.active.stop = true;
  }

  async runs(): Promise<RunRecord[]> {
    return listRuns(await this.database());
  }
}
