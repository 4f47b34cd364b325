/**
 * "Bring back a cluster run": model.pth and metrics.json from an exported recipe's train.py become a new run linked
 * to the browser run they came from. Its best checkpoint is stored like a trained run's (the weights under the names
 * the run's own network gives them), so evaluation, comparison and registration rebuild and read it unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import { CheckpointFormatError, readCheckpoint } from '../src/core/models/torch/checkpoint';
import { checkMetricsAgainstRun, ClusterImportError, clusterClassifier, parseClusterMetrics, type ClusterMetrics } from '../src/core/models/torch/cluster';
import { sha256Hex } from '../src/core/models/torch/backbone';
import type { Zoo } from '../src/core/models/zoo';
import { StorageFullError } from '../src/core/registry/quota';
import { captureCheckpoint, deleteCheckpoints, saveCheckpoint } from '../src/core/store/checkpoints';
import { getRun, saveRun, type StudioDB } from '../src/core/store/db';
import { createOptimizer } from '../src/core/train/optimizers';
import type { EpochMetrics, RunRecord } from '../src/core/train/types';
import { EngineError } from '../src/engine/errors';
import type { ClusterRunFiles } from '../src/engine/types';

const bytesOf = async (x: Uint8Array | Blob): Promise<Uint8Array> => (x instanceof Uint8Array ? x : new Uint8Array(await x.arrayBuffer()));
const textOf = async (x: Uint8Array | Blob | string): Promise<string> => (typeof x === 'string' ? x : new TextDecoder().decode(await bytesOf(x)));

/** The cluster's epochs in the studio's form. */
function epochMetrics(metrics: ClusterMetrics, trainImages: number): EpochMetrics[] {
  return metrics.epochs.map((e) => ({
    epoch: e.epoch,
    trainLoss: e.loss,
    trainAccuracy: e.accuracy,
    valLoss: e.valLoss,
    valAccuracy: e.valAccuracy,
    seconds: e.seconds,
    // metrics.json times whole epochs (validation included, every process together): a lower bound of the training rate.
    imagesPerSecond: e.seconds > 0 ? trainImages / e.seconds : 0,
    ...(e.lr !== undefined ? { learningRate: e.lr } : {}),
  }));
}

/** `<source>-cluster`, then `-cluster2`, … : readable next to the run it came from, and never an existing id. */
async function freeRunId(db: StudioDB, sourceRunId: string): Promise<string> {
  let id = `${sourceRunId}-cluster`;
  for (let n = 2; await getRun(db, id); n++) id = `${sourceRunId}-cluster${n}`;
  return id;
}

export async function importClusterRun(db: StudioDB, zoo: Zoo, sourceRunId: string, files: ClusterRunFiles): Promise<RunRecord> {
  const source = await getRun(db, sourceRunId);
  if (!source) throw new EngineError('E_NOT_FOUND', `there is no run ${sourceRunId}`);
  if (source.cluster) throw new EngineError('E_CONFIG', `run ${sourceRunId} was itself brought back from a cluster; bring the new model back to the browser run it came from, ${source.cluster.sourceRunId}`);
  if (!source.input || source.classes.length === 0) throw new EngineError('E_CONFIG', `run ${sourceRunId} has no recorded model input or classes (it stopped before it built its model), so its network cannot be rebuilt`);
  const modelBytes = await bytesOf(files.model);
  let built: tf.LayersModel | undefined;
  try {
    const metrics = parseClusterMetrics(await textOf(files.metrics));
    checkMetricsAgainstRun(metrics, source, zoo);
    let state;
    try {
      state = readCheckpoint(modelBytes);
    } catch (err) {
      if (err instanceof CheckpointFormatError) throw new ClusterImportError(`model.pth is not a PyTorch state_dict the studio can read: ${err.message}`);
      throw err;
    }
    built = clusterClassifier(source, state, zoo);
    const runId = await freeRunId(db, sourceRunId);
    const epochs = epochMetrics(metrics, source.split.train);
    const best = epochs.find((e) => e.epoch === metrics.best.epoch)!;
    // The optimiser only carries the checkpoint's (empty) state: restoring a checkpoint needs its class.
    const optimizer = createOptimizer({ name: source.optimizer, learningRate: source.config.learningRate });
    let checkpoint;
    try {
      checkpoint = await captureCheckpoint(built, optimizer, {
        runId,
        kind: 'best',
        epoch: best.epoch,
        metrics: best,
        config: source.config,
        trainer: { epoch: best.epoch, earlyStopping: null, best: { epoch: best.epoch, valAccuracy: best.valAccuracy, valLoss: best.valLoss }, lrScheduler: null },
      });
    } finally {
      optimizer.dispose();
    }
    const run: RunRecord = {
      runId,
      status: 'completed',
      startedAt: metrics.startedAt,
      endedAt: metrics.endedAt,
      config: source.config,
      // The browser's backend is what evaluation and prediction of this run use; the training ran where `cluster` says.
      backend: source.backend,
      adapter: null,
      model: source.model,
      strategy: source.strategy,
      optimizer: source.optimizer,
      // Only the best model comes back (train.py's checkpoints/ folder holds the resumable ones).
      checkpoint: { best: best.epoch, last: null },
      ...(source.classWeights ? { classWeights: source.classWeights } : {}),
      classes: source.classes,
      split: source.split,
      epochs,
      best: { epoch: best.epoch, valAccuracy: best.valAccuracy },
      input: source.input,
      ...(source.dataset ? { dataset: source.dataset } : {}),
      tags: ['cluster'],
      cluster: { sourceRunId, torch: metrics.torch, worldSize: metrics.worldSize, device: metrics.device, amp: metrics.amp, importedAt: new Date().toISOString(), modelSha256: await sha256Hex(modelBytes) },
    };
    await saveCheckpoint(db, checkpoint);
    try {
      await saveRun(db, run);
    } catch (err) {
      await deleteCheckpoints(db, runId);
      throw err;
    }
    return run;
  } catch (err) {
    if (err instanceof ClusterImportError) throw new EngineError('E_CONFIG', err.message, err.problems.join('\n') || undefined);
    if (err instanceof StorageFullError) throw new EngineError('E_QUOTA', err.message);
    throw err;
  } finally {
    built?.dispose();
  }
}
