/**
 * The measured choice of backend (issue 16): the first time a model trains in auto mode on a real GPU adapter (or
 * whenever asked), a few training steps of it are timed on each backend that could run it, and the fastest is kept
 * for that adapter, model, strategy, input and batch (src/core/store/measurements.ts); routing follows it from then on.
 * Each backend gets the model built as the run builds it (random weights: the speed is the same) and a synthetic
 * batch of the run's shape; the model and batch are disposed and the active backend restored after each.
 */
import { measurementCandidates, measurementKey, type BackendMeasurement, type MeasuredBackend, type Routing, type RunWork } from '../src/core/routing';
import { getMeasurement, saveMeasurement } from '../src/core/store/measurements';
import type { StudioDB } from '../src/core/store/db';
import type { Zoo } from '../src/core/models/zoo';
import type { BackendInfo, BackendName, MeasureProgress, TrainConfig } from '../src/engine/types';
import { convGradientBackends, onBackend, releaseWebGL, routeRun } from './backend';
import { browserBackboneLoader, buildModel } from './models';
import { timeSteps } from './speed';
import { resolveTrainConfig } from '../src/core/settings/resolve';

export interface MeasureTarget {
  cfg: TrainConfig;
  data: { imageSize: number; channels: number; numClasses: number };
  work: RunWork;
}


/** The backends a measurement of `work` would time here (fewer than two: there is nothing to measure). */
export function candidatesFor(info: BackendInfo, work: RunWork): BackendName[] {
  if (info.requested !== 'auto') return [info.name];
  return measurementCandidates({ selected: info.name, available: info.available, convGradients: convGradientBackends(), work, refused: info.refused?.map((r) => r.name) });
}

/** Times the candidates in turn and keeps the result; null when every one failed (nothing is stored then). */
export async function measureBackends(db: StudioDB, zoo: Zoo, info: BackendInfo, { cfg, data, work }: MeasureTarget, candidates: BackendName[], onProgress: (p: MeasureProgress) => void = () => {}): Promise<BackendMeasurement | null> {
  const started = performance.now();
  const figures: MeasuredBackend[] = [];
  const failed: BackendMeasurement['failed'] = [];
  const normalization = { mean: new Array(data.channels).fill(0), std: new Array(data.channels).fill(1) };
  for (const [k, backend] of candidates.entries()) {
    onProgress({ backend, index: k + 1, of: candidates.length });
    try {
      const times = await onBackend(backend, async () => {
        // 'shapes': torchvision and Keras weights are not fetched; random ones run at the same speed.
        const built = await buildModel(zoo, cfg, data, normalization, browserBackboneLoader(db), 'shapes');
        try {
          return await timeSteps(built.model, cfg.batchSize);
        } finally {
          built.model.dispose();
        }
      });
      figures.push({ backend, ...times });
    } catch (err) {
      // A backend that cannot run the model (a shader WebGL cannot build, memory) loses the measurement, by name.
      failed.push({ backend, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  // WebGL keeps every texture and program it made; with nothing left on it, it is replaced by a fresh one.
  await releaseWebGL();
  if (!figures.length) return null;
  figures.sort((a, b) => a.secondsPerStep - b.secondsPerStep);
  const shape = { model: cfg.model, strategy: work.strategy, imageSize: data.imageSize, channels: data.channels, batchSize: cfg.batchSize };
  const measurement: BackendMeasurement = {
    key: measurementKey(info.adapter, shape),
    adapter: info.adapter,
    ...shape,
    classes: data.numClasses,
    figures,
    failed,
    fastest: figures[0].backend,
    measuredAt: new Date().toISOString(),
    seconds: (performance.now() - started) / 1000,
    config: { ...cfg, epochs: 1 },
  };
  await saveMeasurement(db, measurement);
  return measurement;
}

/**
 * Where a run goes: a forced backend as chosen; in auto mode by the stored measurement for its key, measured first
 * when there is none and `cfg.measureBackends` asks for it ('auto', the default: on a real GPU adapter, where the
 * fixed order is a guess; 'on': on any adapter; 'off': the fixed order, stored measurements left aside).
 */
export async function measuredRouting(db: StudioDB, zoo: Zoo, info: BackendInfo, target: MeasureTarget, onProgress?: (p: MeasureProgress) => void): Promise<Routing> {
  const policy = resolveTrainConfig(target.cfg).measureBackends;
  if (info.requested !== 'auto' || policy === 'off') return routeRun(info, target.work);
  const { cfg, data, work } = target;
  const key = measurementKey(info.adapter, { model: cfg.model, strategy: work.strategy, imageSize: data.imageSize, channels: data.channels, batchSize: cfg.batchSize });
  let measured = await getMeasurement(db, key);
  const candidates = candidatesFor(info, work);
  const wanted = policy === 'on' || (info.adapter !== null && !info.adapter.isSoftware);
  if (!measured && wanted && candidates.length > 1) measured = await measureBackends(db, zoo, info, target, candidates, onProgress);
  return routeRun(info, work, measured);
}
